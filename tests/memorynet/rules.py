"""The memory network's rules: plain characters (grapheme clusters would do
as well for the tests), 300 of them, links as written, no duplicate check."""

from __future__ import annotations

import unicodedata

from megaphone.networks.base import (
    AccountLimits,
    Capabilities,
    Finding,
    Measure,
    MediaLimits,
    NetworkRules,
)
from megaphone.text import extract_urls


class MemoryRules(NetworkRules):
    name = "memory"
    title = "Memory"
    caps = Capabilities(
        quotes=True,
        threads=True,
        languages=True,
        rejects_duplicate_text=False,
        # Like Mastodon's Idempotency-Key: the same key, the same post.
        idempotency="key",
    )
    media_limits = MediaLimits(max_bytes={"image": 1024 * 1024}, max_images=2, max_alt=100)
    credential_fields = ("TOKEN",)
    post_url_example = "https://memory.example/NAME/posts/NUMBER"

    def measure(
        self, text: str, limits: AccountLimits | None = None, *, spoiler: str = ""
    ) -> Measure:
        text = unicodedata.normalize("NFC", text)
        limit = (limits and limits.max_characters) or 300
        links = [u for u in extract_urls(text) if "://" in u.text]
        return Measure(len(text), limit, "characters", min(len(text), limit), text, links)

    def check_text(self, measure: Measure, where: str) -> list[Finding]:
        if "\u0000" in measure.text:
            return [Finding("invalid-characters", f"{where} holds a NUL character")]
        return []

    def parse_post_url(self, url: str) -> str | None:
        prefix, _, post_id = url.rpartition("/posts/")
        ok = prefix.startswith("https://memory.example/") and post_id.isdigit()
        return post_id if ok else None


RULES = MemoryRules()
