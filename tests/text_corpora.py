"""Generated post texts of every kind, for comparing megaphone's count with
the official twitter-text library (tests and bench/bench_text.py)."""

from __future__ import annotations

import random

#: Emoji of Emoji 11 and before: those the official library knows.
OLD_EMOJI = [
    "😀",
    "😂",
    "❤\ufe0f",
    "❤",
    "👍",
    "👍🏽",
    "👋🏿",
    "🎉",
    "✊🏾",
    "📣",
    "🏫",
    "🍎",
    "👨\u200d👩\u200d👧\u200d👦",
    "👩\u200d💻",
    "👩🏽\u200d🏫",
    "🏳\ufe0f\u200d🌈",
    "🇺🇸",
    "🇲🇽",
    "🇫🇷",
    "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
    "#\ufe0f\u20e3",
    "1\u20e3",
    "©\ufe0f",
    "©",
    "™",
    "‼\ufe0f",
    "☀",
    "☀\ufe0f",
    "✌🏻",
]
#: Odd pieces: chains and sequences that are no emoji, and stray marks.
ODD = [
    "👦\u200d👩",
    "🦓🏻",
    "😀\ufe0f",
    "🇽🇺",
    "🏴\U000e0075\U000e0073\U000e0074\U000e0078\U000e007f",
    "\u200d",
    "\ufe0f",
    "\u20e3",
    "🏻",
]
WORDS = [
    "union",
    "teachers",
    "town",
    "hall",
    "Thursday",
    "school",
    "funding",
    "sign",
    "the",
    "petition",
    "join",
    "us",
    "rally",
    "LAUSD",
    "UTLA",
    "board",
    "vote",
    "7pm",
    "2026",
    "Café",
    "niños",
    "escuelas",
    "educación",
    "über",
    "naïve",
    "São",
    "Paulo",
]
CJK = list("教師組合の集会は木曜日です学校予算に署名してください한국어교사노동조합")
SCRIPTS = ["Привет", "Γειά", "שלום", "مرحبا", "नमस्ते", "สวัสดี", "ሰላም"]
LINKS = [
    "https://utla.net/townhall",
    "http://utla.net",
    "utla.net",
    "www.utla.net/join?x=1&y=2",
    "https://example.org/path/to/page.html#section",
    "https://t.co/abc123",
    "https://bücher.de/katalog",
    "http://例え.jp",
    "xn--bcher-kva.de",
    "https://x.com/utla/status/1",
    "example.co.uk/a_b",
    "http://a.b.c.example.com:8080/x",
    "https://en.wikipedia.org/wiki/Union_(x)",
    "utla.app",
    "https://utla.net/?q=fund%20schools",
]
TAGS = [
    "#RedForEd",
    "#UTLA",
    "#日本",
    "#über",
    "#한국",
    "#FundOurSchools",
    "#1",
    "#tag_1",
    "＃全角",
    "#ab\u0301c",
]
MENTIONS = ["@utla", "@UTLAnow", "@a_b", "@x/list-name", "＠full", "@toolong_toolong_toolong"]
CASHTAGS = ["$UTLA", "$ab.cd", "$TOOLONG", "$1"]
PUNCT = [" ", " ", " ", ", ", ". ", "! ", "? ", " — ", ": ", " / ", "\n", "…", "-", "(", ")"]


def _nfd(text: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFD", text)


def mixed(rng: random.Random, pieces: int) -> str:
    """A text of ``pieces`` pieces of every kind."""
    kinds = [WORDS, WORDS, WORDS, CJK, SCRIPTS, LINKS, TAGS, MENTIONS, CASHTAGS, OLD_EMOJI, ODD]
    out = []
    for _ in range(pieces):
        out.append(rng.choice(rng.choice(kinds)))
        out.append(rng.choice(PUNCT))
    text = "".join(out)
    return _nfd(text) if rng.random() < 0.1 else text


def campaign(rng: random.Random) -> str:
    """A campaign post: about 240 characters, a link, two hashtags."""
    words = " ".join(rng.choice(WORDS) for _ in range(30))[:190]
    return f"{words}. Sign: {rng.choice(LINKS[:4])} {rng.choice(TAGS[:6])} {rng.choice(TAGS[:6])}"


def ascii_only(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS[:19]) for _ in range(rng.randint(20, 40)))


def emoji_heavy(rng: random.Random) -> str:
    return " ".join(
        rng.choice(OLD_EMOJI) + rng.choice(["", rng.choice(WORDS)])
        for _ in range(rng.randint(20, 40))
    )


def cjk(rng: random.Random) -> str:
    return "".join(rng.choice(CJK) for _ in range(rng.randint(80, 140))) + "。"


def over_limit(rng: random.Random) -> str:
    """Past 280: the place it stops fitting has to be found."""
    return (
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(70, 100)))
        + " "
        + rng.choice(OLD_EMOJI)
    )


KINDS = {
    "campaign post, ~240 chars, a link, two hashtags": campaign,
    "pure ASCII": ascii_only,
    "emoji-heavy": emoji_heavy,
    "CJK": cjk,
    "over 280 (finding where it stops fitting)": over_limit,
}


def corpus(kind: str, n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    make = KINDS[kind]
    return [make(rng) for _ in range(n)]


def differential(n: int, seed: int = 2) -> list[str]:
    rng = random.Random(seed)
    return [mixed(rng, rng.randint(1, 40)) for _ in range(n)]
