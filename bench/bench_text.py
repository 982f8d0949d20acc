"""Benchmark: X's count (and the full parse) against the official
twitter-text library, on the same generated texts, in the same run.

Run from the project root after ``pip install -e '.[test]'``; the JavaScript
side needs node and twitter-text (``npm install --prefix .cache/twitter-text
twitter-text@3.1.0``, which ``.ci/run`` does) and is left out, saying so,
where they are missing::

    python bench/bench_text.py              # 2,000 texts of each kind
    python bench/bench_text.py --texts 500

Texts per second, in process, after a warm-up, best of five rounds; "count"
is the weighted length and where the text stops fitting (twitter-text's
``parseTweet``), "full parse" adds links, hashtags, mentions and cashtags
(``extractEntitiesWithIndices``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import twitter_text_js  # noqa: E402
from tests.text_corpora import KINDS, corpus  # noqa: E402

from megaphone.text import (  # noqa: E402
    count,
    extract_cashtags,
    extract_hashtags,
    extract_mentions,
)

if TYPE_CHECKING:
    from collections.abc import Callable


def full(text: str) -> None:
    result = count(text)
    extract_hashtags(text, urls=result.urls)
    extract_mentions(text)
    extract_cashtags(text)


def rate(texts: list[str], one: Callable[[str], object], rounds: int = 5) -> float:
    for t in texts:  # warm-up: patterns compiled, tables loaded
        one(t)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for t in texts:
            one(t)
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


def js_rate(texts: list[str], *extra: str) -> float | None:
    if twitter_text_js.missing() is not None:
        return None
    [answer] = twitter_text_js.run(texts, "--bench", "5", *extra)
    return float(answer["texts"]) / float(answer["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=2000)
    args = parser.parse_args()
    why = twitter_text_js.missing()
    if why is not None:
        print(f"twitter-text JS left out: {why}")
    print(
        "| kind of text | megaphone count | twitter-text JS | ratio | megaphone full parse "
        "| JS full parse | ratio |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for kind in KINDS:
        texts = corpus(kind, args.texts)
        mine, mine_full = rate(texts, count), rate(texts, full)
        theirs, theirs_full = js_rate(texts), js_rate(texts, "--full")

        def cell(value: float | None) -> str:
            return "—" if value is None else f"{value:,.0f}"

        def ratio(a: float, b: float | None) -> str:
            return "—" if b is None else f"{a / b:.2f}×"

        print(
            f"| {kind} | {mine:,.0f} | {cell(theirs)} | {ratio(mine, theirs)} | "
            f"{mine_full:,.0f} | {cell(theirs_full)} | {ratio(mine_full, theirs_full)} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
