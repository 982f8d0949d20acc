"""Regenerate ``src/megaphone/text/_emoji.py`` from Unicode's emoji data.

X counts an emoji sequence it supports — a fully-qualified sequence of
Unicode's emoji data (``emoji-test.txt``: ZWJ sequences, flags, keycaps,
skin tones, tag sequences, presentation sequences) — as one character of
weight 2, and anything else by its parts.  The ``emoji`` package ships that
data; run this after upgrading it (a development-time dependency only)::

    pip install emoji
    python scripts/gen_emoji.py
"""

from __future__ import annotations

import sys
from pathlib import Path

TARGET = Path(__file__).resolve().parents[1] / "src" / "megaphone" / "text" / "_emoji.py"


def read_sequences() -> tuple[list[str], str]:
    import emoji

    qualified = emoji.STATUS["fully_qualified"]
    found = {
        e for e, data in emoji.EMOJI_DATA.items() if data["status"] == qualified and len(e) > 1
    }
    # A keycap without its selector (1 and U+20E3) is a keycap to X too
    # (twitter-text's conformance data counts it 2), unlike other sequences
    # short of their selectors.
    found.update(f"{c}\u20e3" for c in "0123456789#*")
    sequences = sorted(found)
    version = max(data["E"] for data in emoji.EMOJI_DATA.values())
    return sequences, f"emoji {emoji.__version__} (Emoji {version})"


def render(sequences: list[str], source: str) -> str:
    escaped = " ".join(s.encode("unicode_escape").decode("ascii") for s in sequences)
    lines = [
        f'"""Emoji sequences X counts as one character: generated from {source}',
        'by scripts/gen_emoji.py; do not edit."""',
        "",
        "# fmt: off",
        f"#: The {len(sequences)} emoji sequences of more than one code point: the fully-qualified",
        "#: ones, and keycaps without their selector.",
        "SEQUENCES = frozenset(",
        "    (",
    ]
    chunk = 12
    words = escaped.split(" ")
    for i in range(0, len(words), chunk):
        lines.append(f'        "{" ".join(words[i : i + chunk])} "')
    lines += [
        "    ).split()",
        ")",
        "# fmt: on",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    sequences, source = read_sequences()
    TARGET.write_text(render(sequences, source), encoding="utf-8")
    print(f"{len(sequences)} sequences from {source} -> {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
