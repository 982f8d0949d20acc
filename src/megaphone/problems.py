"""Validation problems: what is wrong, how badly, and exactly where."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Loc(NamedTuple):
    """A position in a file: 1-based line and column.  (A named tuple: one is
    made for every value read, so it has to be cheap.)"""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    severity: Severity
    message: str
    loc: Loc
    post_id: str | None = None
    #: The network whose rule it is (None: a rule of every network).
    network: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": str(self.severity),
            "message": self.message,
            "file": self.loc.file,
            "line": self.loc.line,
            "column": self.loc.column,
            "post_id": self.post_id,
            "network": self.network,
        }


E, W = Severity.ERROR, Severity.WARNING

#: Every problem megaphone reports: code -> (severity, what it means).
#: Codes are stable: scripts and CI configurations may rely on them.
CODES: dict[str, tuple[Severity, str]] = {
    # The file itself
    "file-refused": (
        E,
        "a file that leads outside the project (a link, '..'), is not a regular file, "
        "or is larger than 10 MB: it is not read",
    ),
    "encoding": (E, "the file is not valid UTF-8"),
    "yaml-syntax": (E, "the file is not well-formed YAML"),
    "unsafe-tag": (E, "a YAML tag other than the standard ones (such as !!python/object)"),
    "alias-bomb": (
        E,
        "YAML aliases that would expand to an enormous document, or refer to themselves",
    ),
    "duplicate-key": (E, "the same key twice in one mapping"),
    "unknown-key": (E, "a key megaphone does not know (often a typo)"),
    "wrong-type": (E, "a value of the wrong kind (a list where text is expected...)"),
    "missing-field": (E, "a required field is absent"),
    "duplicate-id": (E, "two posts share an id (ids must be unique across the project)"),
    "config": (E, "the project configuration file is wrong"),
    "bad-id": (E, "a post id with '/' or '@', which name a delivery's language and time"),
    # Text
    "empty-text": (E, "a post or thread part has no text"),
    "text-comment": (
        W,
        "an unquoted text followed by ' #tag': YAML reads the hashtag as a comment",
    ),
    "text-too-long": (
        E,
        "the text is longer than the network allows, as it counts (X: weighted, 280)",
    ),
    "invalid-characters": (
        E,
        "the text holds characters the network refuses (U+FFFE, U+FEFF, U+FFFF)",
    ),
    "invalid-hashtag": (E, "a hashtag the network would not recognise"),
    "too-many-hashtags": (W, "more hashtags than the project's limit"),
    "hashtag-case": (W, "one hashtag spelt in different case across the project"),
    "invalid-mention": (E, "an @mention that is not a possible username"),
    "too-many-mentions": (W, "more @mentions than the project's limit"),
    "bad-link": (W, "a link that is malformed or not http(s), so it will not be a link"),
    "bare-domain": (
        W,
        "a bare domain name: X turns it into a link (and counts it as one), Mastodon does not",
    ),
    "unsupported-field": (E, "a post field the network lacks (visibility, spoiler, poll on X)"),
    "bad-poll": (E, "a poll the network refuses (options, length, expiry, with media)"),
    "quote-as-link": (W, "the network has no quotes: the quoted post's link ends the first part"),
    "plain-mention": (
        W,
        "an @name that is no handle on the network (Bluesky): it stays plain text",
    ),
    "local-mention": (W, "an @name without its instance: on Mastodon, a user of the same instance"),
    "bad-reference": (
        E,
        "reply_to or quote is neither a post URL nor the id of a post in the project",
    ),
    "reply-order": (W, "a post replies to or quotes a post of the project scheduled after it"),
    "reference-cycle": (
        E,
        "posts that reply to or quote each other in a ring, so that none can go out first",
    ),
    "bad-lang": (W, "lang is not a language tag such as en or es-MX"),
    # Media
    "media-missing": (E, "a media file does not exist"),
    "media-outside-project": (E, "a media path leads outside the project folder"),
    "media-type": (E, "a media file is not JPEG, PNG, GIF, WEBP or MP4 (judged by its content)"),
    "media-too-large": (E, "a media file is over the network's size limit"),
    "media-count": (
        E,
        "more images than the network takes in one post (X: 4), "
        "or a video or GIF with anything else",
    ),
    "alt-missing": (E, "an image or GIF without alt text"),
    "alt-too-long": (E, "alt text longer than the network takes (X: 1000 characters)"),
    # Schedule and accounts
    "unknown-timezone": (E, "not an IANA time zone name"),
    "bad-time": (E, "a time that cannot be read"),
    "nonexistent-time": (E, "a local time skipped by a daylight-saving change"),
    "ambiguous-time": (E, "a local time that happens twice at a daylight-saving change"),
    "expires-before-at": (E, "expires is not after at"),
    "past-due": (W, "a post's time has passed and it has not been published"),
    "expired": (W, "a post's expiry has passed: it will never be published"),
    "bad-slot": (E, "a queue's slots line cannot be read (days, then times: 'mon-fri 09:00')"),
    "edited-after-publish": (W, "a published post was changed since: the change is never sent"),
    "duplicate-text": (E, "the same text scheduled twice for one account (the network rejects it)"),
    "no-account": (E, "a post with no account to publish it"),
    "no-taker": (
        W,
        "a language of a post that none of its accounts posts (their 'langs'): it is not sent",
    ),
    "cross-network-mention": (
        W,
        "an @mention in a text cross-posted to several networks, where it may be someone else",
    ),
    "bad-repeat": (E, "a repeat rule that cannot be read (every, on, times, until, count)"),
    "repeat-duplicate": (
        W,
        "a repeating post would send the same text again within the window in which the "
        "network refuses it (add texts to 'rotate')",
    ),
    "unknown-account": (E, "an account not named in the project configuration"),
}


def problem(
    code: str, message: str, loc: Loc, post_id: str | None = None, network: str | None = None
) -> Problem:
    """A problem with its code's severity."""
    return Problem(code, CODES[code][0], message, loc, post_id, network)
