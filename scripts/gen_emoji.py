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


def ranges(points: set[int]) -> str:
    """A character class body for ``points``, as runs of \\U escapes."""
    out: list[str] = []
    ordered = sorted(points)
    start = prev = ordered[0]
    for p in [*ordered[1:], -1]:
        if p == prev + 1:
            prev = p
            continue
        out.append(f"\\U{start:08x}" if start == prev else f"\\U{start:08x}-\\U{prev:08x}")
        start = prev = p
    return "".join(out)


def render(sequences: list[str], source: str) -> str:
    escaped = " ".join(s.encode("unicode_escape").decode("ascii") for s in sequences)
    # Code points that sequences are made of, ASCII left out (a keycap's
    # digit is looked for just before its marks).
    parts = {ord(c) for s in sequences for c in s if ord(c) > 0x7F}
    marks = {0xFE0F, 0x200D, 0x20E3, *range(0x1F3FB, 0x1F400), *range(0x1F1E6, 0x1F200)}
    marks.update(range(0xE0020, 0xE0080))
    bases = parts - marks
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
        "#: Every code point above ASCII that a sequence holds, as a character class.",
        f'PARTS = "{ranges(parts)}"',
        "#: Those of them that are no mark (a selector, a joiner, a keycap mark, a skin",
        "#: tone, a regional indicator, a tag): the pictographs sequences are made of.",
        f'BASES = "{ranges(bases)}"',
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
