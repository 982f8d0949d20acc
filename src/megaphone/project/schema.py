"""The JSON Schema of a queue file: editor completion and a second opinion.

megaphone's own reader checks far more than a schema can (weighted length,
time zones, media content); the schema gives editors completion, hover help
and early red squiggles.  The reader takes its lists of known keys from here,
so the two cannot drift apart.
"""

from __future__ import annotations

import json
from typing import Any

_TIME = {
    "type": "string",
    "description": "Local time in the queue's time zone ('2026-12-01 09:00') "
    "or ISO 8601 with an offset ('2026-12-01T09:00-08:00').",
    "pattern": r"^\d{4}-\d{2}-\d{2}[Tt ]\d{1,2}:\d{2}",
}
_ACCOUNTS = {
    "description": "An account name from megaphone.yaml, or a list of them (cross-posting).",
    "oneOf": [
        {"type": "string", "minLength": 1},
        {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
    ],
}
_HASHTAGS = {
    "type": "array",
    "description": "Hashtags appended to the (first part of the) post, with or without '#'.",
    "items": {"type": "string", "minLength": 1},
}
_LANG = {"type": "string", "description": "Language tag such as 'en' or 'es-MX'."}
_MEDIA: dict[str, Any] = {
    "type": "array",
    "description": "Images (up to 4), or one GIF, or one video.",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["path"],
        "properties": {
            "path": {
                "type": "string",
                "description": "File path, relative to this queue file; "
                "must stay inside the project.",
            },
            "alt": {
                "type": "string",
                "maxLength": 1000,
                "description": "Alt text for readers who cannot see the image "
                "(required for images).",
            },
        },
    },
}
_TEXT = {"type": "string", "minLength": 1, "description": "The text of the post."}
_REFERENCE = {
    "type": "string",
    "description": "The URL of a post on the network, or the id of a post in this project.",
}

_THREAD: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "description": "Posts published as a thread, each replying to the one before.",
    "items": {
        "oneOf": [
            _TEXT,
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["text"],
                "properties": {"text": _TEXT, "media": _MEDIA},
            },
        ]
    },
}
#: A text or a thread given instead of the post's own.
_OTHER_TEXT: dict[str, Any] = {
    "oneOf": [
        _TEXT,
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {"text": _TEXT, "thread": _THREAD},
            "oneOf": [{"required": ["text"]}, {"required": ["thread"]}],
        },
    ]
}
_NETWORKS = {
    "type": "object",
    "description": "A text (or thread) of its own for a network: x, mastodon, bluesky.",
    "propertyNames": {"enum": ["x", "mastodon", "bluesky"]},
    "additionalProperties": _OTHER_TEXT,
}
_ROTATE = {
    "type": "array",
    "minItems": 1,
    "description": "Other texts of a repeating or evergreen post, used in turn after its own.",
    "items": _OTHER_TEXT,
}
_VARIANTS_AS = {
    "type": "string",
    "description": "How an account that posts several of the languages gets them: 'reply' "
    "(each translation answers the original) or a delay after the original ('+30m').",
    "pattern": r"^(reply|\+?\d+ ?(s|sec|m|min|h|d|w))$",
}
_VARIANT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "The post in another language.",
    "properties": {
        "text": _TEXT,
        "thread": _THREAD,
        "alt": {
            "description": "The media's alt text in this language: one text, or a list in "
            "the order of the media.",
            "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        },
        "networks": _NETWORKS,
        "rotate": _ROTATE,
    },
    "oneOf": [{"required": ["text"]}, {"required": ["thread"]}],
}
_REPEAT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "The post comes back: from its 'at', every period, on some days and times, "
    "until a time or a number of times.",
    "properties": {
        "every": {
            "type": "string",
            "description": "day, week, month, or a number of them: '2 weeks' (default: week).",
        },
        "on": {
            "description": "Weekdays, and times when given: 'mon, thu', 'mon-fri 09:00'.",
            "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        },
        "times": {
            "description": "Times of day ('09:00, 17:00'); default: the time of 'at'.",
            "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        },
        "until": {**_TIME, "description": "No occurrence after this time."},
        "count": {"type": "integer", "minimum": 1, "description": "How many times in all."},
    },
}

POST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id"],
    "properties": {
        "id": {
            "type": "string",
            "minLength": 1,
            "description": "Unique across the project; publishing is keyed on it.",
        },
        "at": _TIME,
        "text": _TEXT,
        "thread": _THREAD,
        "media": _MEDIA,
        "hashtags": _HASHTAGS,
        "accounts": _ACCOUNTS,
        "reply_to": _REFERENCE,
        "quote": _REFERENCE,
        "expires": {**_TIME, "description": "Never publish after this time."},
        "draft": {"type": "boolean", "description": "Validated, never published."},
        "lang": _LANG,
        "visibility": {
            "enum": ["public", "unlisted", "private", "direct"],
            "description": "Mastodon: who sees it (default public).",
        },
        "spoiler": {
            "type": "string",
            "description": "Mastodon: a content warning over the post (counts in its length).",
        },
        "sensitive": {"type": "boolean", "description": "Mastodon: its media marked sensitive."},
        "poll": {
            "type": "object",
            "additionalProperties": False,
            "required": ["options", "expires"],
            "description": "Mastodon: a poll on the first post (not with media).",
            "properties": {
                "options": {"type": "array", "items": {"type": "string"}, "minItems": 2},
                "expires": {"type": "string", "description": "How long it runs: 1h, 1d, 7d."},
                "multiple": {"type": "boolean", "description": "Several options may be chosen."},
            },
        },
        "card": {
            "description": "Bluesky: the first link's card; false for none, or its own "
            "title, description and image (made from the page's tags by default).",
            "oneOf": [
                {"type": "boolean"},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["title"],
                    "properties": {
                        "title": {"type": "string"},
                        "description": {"type": "string"},
                        "image": {"type": "string", "description": "A media path."},
                    },
                },
            ],
        },
        "variants": {
            "type": "object",
            "description": "The post in other languages, by language tag: each is its own "
            "delivery, to the accounts that post that language.",
            "additionalProperties": _VARIANT,
        },
        "variants_as": _VARIANTS_AS,
        "networks": _NETWORKS,
        "repeat": _REPEAT,
        "rotate": _ROTATE,
    },
    "oneOf": [{"required": ["text"]}, {"required": ["thread"]}],
}

QUEUE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "megaphone queue file",
    "type": "object",
    "additionalProperties": False,
    "required": ["posts"],
    "properties": {
        "account": _ACCOUNTS,
        "timezone": {
            "type": "string",
            "description": "IANA time zone of the local times in this file "
            "(default: the project's).",
        },
        "slots": {
            "description": "Regular posting times, for 'megaphone add --next-slot': "
            "e.g. 'mon-fri 09:00, 12:30', 'sat 10:00'.",
            "oneOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}},
            ],
        },
        "defaults": {
            "type": "object",
            "additionalProperties": False,
            "description": "Applied to every post of the queue.",
            "properties": {"hashtags": _HASHTAGS, "lang": _LANG, "variants_as": _VARIANTS_AS},
        },
        "evergreen": {
            "type": "boolean",
            "description": "A pool: its posts (without 'at') fill the queue's free slots in turn.",
        },
        "min_gap": {
            "type": "string",
            "description": "Evergreen: the least time between two uses of a post ('30d').",
        },
        "posts": {"type": "array", "items": POST_SCHEMA},
    },
}

QUEUE_KEYS = tuple(QUEUE_SCHEMA["properties"])
DEFAULTS_KEYS = tuple(QUEUE_SCHEMA["properties"]["defaults"]["properties"])
POST_KEYS = tuple(POST_SCHEMA["properties"])
PART_KEYS = tuple(_THREAD["items"]["oneOf"][1]["properties"])
OTHER_TEXT_KEYS = tuple(_OTHER_TEXT["oneOf"][1]["properties"])
VARIANT_KEYS = tuple(_VARIANT["properties"])
REPEAT_KEYS = tuple(_REPEAT["properties"])
MEDIA_KEYS = tuple(POST_SCHEMA["properties"]["media"]["items"]["properties"])
POLL_KEYS = tuple(POST_SCHEMA["properties"]["poll"]["properties"])


def schema_json() -> str:
    return json.dumps(QUEUE_SCHEMA, indent=2, ensure_ascii=False) + "\n"
