"""Link cards: a page's title, description and image from its Open Graph
tags, fetched when a post is published — with a short deadline, at most
three redirects, and a size cap, so a slow or huge page never holds a post
(it goes without a card instead)."""

from __future__ import annotations

import contextlib
from html.parser import HTMLParser
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urljoin, urlsplit

if TYPE_CHECKING:
    from megaphone.networks.contract import Timeouts

#: The most read of a page, and of its image.
PAGE_LIMIT = 1_000_000
#: A card's image must fit in one blob of Bluesky's (about 1 MB).
IMAGE_LIMIT = 976_560
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")


class Page(NamedTuple):
    title: str
    description: str
    image: tuple[bytes, str] | None  # (bytes, mime)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): v or "" for k, v in attrs}
        if tag == "meta":
            key = (values.get("property") or values.get("name") or "").lower()
            if key and "content" in values:
                self.meta.setdefault(key, values["content"].strip())
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title and len(self.title) < 300:
            self.title += data


def fetch(url: str, timeouts: Timeouts) -> Page | None:
    """The card of the page at ``url``, or None when it cannot be had."""
    got = _get(url, timeouts, PAGE_LIMIT)
    if got is None:
        return None
    body, mime, final = got
    if "html" not in mime:
        return None
    tags = _Tags()
    with contextlib.suppress(Exception):
        tags.feed(body.decode("utf-8", errors="replace"))
    title = (tags.meta.get("og:title") or tags.title or "").strip()[:300]
    description = (tags.meta.get("og:description") or tags.meta.get("description") or "")[:1000]
    if not title:
        return None
    image = None
    src = tags.meta.get("og:image")
    if src:
        picture = _get(urljoin(final, src), timeouts, IMAGE_LIMIT)
        if picture is not None and picture[1] in IMAGE_TYPES:
            image = (picture[0], picture[1])
    return Page(title, description.strip(), image)


def _get(url: str, timeouts: Timeouts, limit: int) -> tuple[bytes, str, str] | None:
    """A page's body (at most ``limit`` bytes: more is no card), its type and
    where it was, following at most three redirects of http(s)."""
    import requests

    from megaphone.networks.contract import Timeouts as Times
    from megaphone.networks.http import Session

    short = Times(min(timeouts.connect, 5.0), min(timeouts.read, 5.0), min(timeouts.deadline, 10.0))
    for _ in range(4):
        split = urlsplit(url)
        if split.scheme not in ("http", "https") or not split.hostname:
            return None
        session = Session(f"{split.scheme}://{split.netloc}", short)
        try:
            response = session.request(
                "GET", url, stream=True, headers={"User-Agent": "megaphone (link card)"}
            )
            if 300 <= response.status_code < 400 and response.headers.get("Location"):
                url = urljoin(url, response.headers["Location"])
                continue
            if response.status_code != 200:
                return None
            size = int(response.headers.get("Content-Length") or 0)
            if size > limit:
                return None
            body = b""
            for chunk in response.iter_content(65536):
                body += chunk
                if len(body) > limit:
                    return None
            mime = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            return body, mime, url
        except (requests.RequestException, OSError, ValueError):
            return None
        finally:
            session.close()
    return None
