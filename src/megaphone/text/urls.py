"""Is a string a well-formed ``http(s)`` link?  (RFC 3986, as twitter-text reads it.)"""

from __future__ import annotations

import re
from functools import cache

_UNRESERVED = r"[a-z\u0400-\u04ff0-9\-._~]"
_PCT = r"%[0-9a-f]{2}"
_SUB_DELIMS = r"[!$&'()*+,;=]"
_PCHAR = rf"(?:{_UNRESERVED}|{_PCT}|{_SUB_DELIMS}|[:|@])"


@cache
def _patterns() -> dict[str, re.Pattern[str]]:
    non_ascii = r"[^\x00-\x7f]"
    dec_octet = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9][0-9]|[0-9])"
    ipv4 = rf"{dec_octet}(?:\.{dec_octet}){{3}}"
    h16 = r"[0-9a-f]{1,4}"
    ipv6 = rf"\[(?:{h16}|:)(?:{h16}|:|\.)*\]"
    sub_segment = (
        rf"(?:[a-z0-9]|{non_ascii})(?:(?:[a-z0-9_\-]|{non_ascii})*(?:[a-z0-9]|{non_ascii}))?"
    )
    segment = rf"(?:[a-z0-9]|{non_ascii})(?:(?:[a-z0-9\-]|{non_ascii})*(?:[a-z0-9]|{non_ascii}))?"
    tld = rf"(?:[a-z]|{non_ascii})(?:(?:[a-z0-9\-]|{non_ascii})*(?:[a-z0-9]|{non_ascii}))?"
    domain = rf"(?:{sub_segment}\.)*(?:{segment}\.){tld}"
    userinfo = rf"(?:{_UNRESERVED}|{_PCT}|{_SUB_DELIMS}|:)*"
    flags = re.IGNORECASE
    return {
        "parts": re.compile(
            r"(?:([^:/?#]+)://)?([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#(.*))?", re.DOTALL
        ),
        "authority": re.compile(
            rf"(?:{userinfo}@)?(?:{ipv4}|{ipv6}|{domain})(?::[0-9]{{1,5}})?", flags
        ),
        "path": re.compile(rf"(?:/{_PCHAR}*)*", flags),
        "query": re.compile(rf"(?:{_PCHAR}|/|\?)*", flags),
    }


def is_valid_url(url: str, *, require_protocol: bool = True) -> bool:
    """``url`` is a complete, well-formed link with an ``http`` or ``https``
    scheme (or none, when ``require_protocol`` is false)."""
    p = _patterns()
    parts = p["parts"].fullmatch(url)
    if not parts:
        return False
    scheme, authority, path, query, fragment = parts.groups()
    if scheme is None:
        if require_protocol:
            return False
    elif scheme.lower() not in ("http", "https"):
        return False
    return bool(
        p["authority"].fullmatch(authority)
        and p["path"].fullmatch(path)
        and (query is None or p["query"].fullmatch(query))
        and (fragment is None or p["query"].fullmatch(fragment))
    )
