"""The networks megaphone speaks to: the registry, each network's pure
rules, and the few helpers every command shares (which networks a post goes
to, the text and fields it goes out with, URL hygiene).  Light on purpose:
``validate`` imports it.  The adapter contract (the values that cross it,
the Network and AuthFlow protocols) is in :mod:`megaphone.networks.contract`;
one folder per network implements it, and the rest of megaphone sees only
those types and the errors of :mod:`megaphone.errors`, never a network
library."""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from megaphone.model import Account, Config, Post
    from megaphone.networks.base import AccountLimits, Credentials, Measure, NetworkRules
    from megaphone.networks.contract import AuthFlow, Network, Timeouts


_sending = threading.local()


@contextlib.contextmanager
def send_by(deadline: float) -> Iterator[None]:
    """The requests this thread makes meanwhile may leave only until
    ``deadline`` (``time.monotonic()``): the HTTP session checks it the
    moment before a request's first byte is written (after connecting), and
    raises :class:`~megaphone.errors.SentTooLate` past it.  A post's send
    runs in one, so that a process paused between its fence and its request
    does not send the request when it wakes, after another run may have
    taken the post over."""
    previous = getattr(_sending, "by", None)
    _sending.by = deadline
    try:
        yield
    finally:
        _sending.by = previous


def send_deadline() -> float | None:
    """This thread's :func:`send_by` deadline, if any."""
    by: float | None = getattr(_sending, "by", None)
    return by


def sign_in(
    account: Account,
    lookup: Callable[[str], str | None],
    prefix: str,
    *,
    timeouts: Timeouts | None = None,
) -> AuthFlow:
    """Begin the sign-in of ``account`` on its network (``lookup``: the value
    of one of its credential fields; ``prefix``: how their variables begin,
    for messages)."""
    import importlib

    from megaphone.errors import MegaphoneError

    found = rules(account.network)
    if found.auth_module is None:
        fields = ", ".join(prefix + f for f in found.credential_fields)
        raise MegaphoneError(
            f"{found.title} has no sign-in here: set {fields} in the environment or .env"
        )
    module = importlib.import_module(found.auth_module)
    from megaphone.networks.contract import Timeouts

    flow: AuthFlow = module.start(account, lookup, prefix, timeouts=timeouts or Timeouts())
    return flow


def redact_url(url: str) -> str:
    """``url`` as it may be shown: a password (or token) in it replaced by ``***``."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        split = urlsplit(url)
    except ValueError:
        return "(a URL that cannot be read)"
    if split.password is None and split.username is None:
        return url
    host = split.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{split.port}" if split.port else ""
    except ValueError:
        port = ""
    return urlunsplit(split._replace(netloc=f"***@{host}{port}"))


def api_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be an account's API URL, or None: it must be
    https, or plain http to a loopback address (a test server, a local
    proxy)."""
    import contextlib
    import ipaddress
    from urllib.parse import urlsplit

    try:
        split = urlsplit(url.strip())
        host = split.hostname
        split.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "not a URL"
    scheme = split.scheme.lower()
    if scheme not in ("https", "http"):
        return f"a {scheme or 'scheme-less'} URL; only https:// (or http:// to this machine) works"
    if not host:
        return "a URL without a host"
    if scheme == "http":
        loopback = host == "localhost"
        with contextlib.suppress(ValueError):
            loopback = loopback or ipaddress.ip_address(host).is_loopback
        if not loopback:
            return "plain http to another machine would send the credentials unencrypted; use https"
    return None


#: The networks megaphone speaks to: name -> the package holding its
#: ``rules`` (pure), ``client`` (``open(credentials, timeouts)``) and
#: ``auth``.  Adding a network is a folder under networks/ and a line here.
REGISTRY: dict[str, str] = {
    "x": "megaphone.networks.x",
    "mastodon": "megaphone.networks.mastodon",
    "bluesky": "megaphone.networks.bluesky",
}


def names() -> tuple[str, ...]:
    return tuple(REGISTRY)


def rules(network: str) -> NetworkRules:
    """A network's pure rules; :class:`MegaphoneError` for one megaphone does
    not know, naming those it does."""
    import importlib

    package = REGISTRY.get(network)
    if package is None:
        from megaphone.errors import MegaphoneError

        raise MegaphoneError(
            f"network {network!r} is not supported yet (supported: {', '.join(REGISTRY)})"
        )
    found: NetworkRules = importlib.import_module(package + ".rules").RULES
    return found


class Group(NamedTuple):
    """The accounts of one post on one network, with the same limits: a
    text is measured once per group."""

    rules: NetworkRules
    limits: AccountLimits
    accounts: list[str]


def groups(config: Config, accounts: Iterable[str]) -> list[Group]:
    """The networks ``accounts`` are on, in the order first named, each
    with its accounts.  Accounts not configured, or on a network megaphone
    does not know, are left out (the configuration's check names them)."""
    by_key: dict[tuple[str, AccountLimits], Group] = {}
    for name in accounts:
        account = config.account(name)
        if account is None or account.network not in REGISTRY:
            continue
        limits = account.limits
        key = (account.network, limits)
        if key not in by_key:
            by_key[key] = Group(rules(account.network), limits, [])
        by_key[key].accounts.append(name)
    return list(by_key.values())


#: Counts as any link does where the real one is not known yet (validate).
QUOTED_LINK = "https://quoted.invalid/post"


def text_for(
    rules: NetworkRules, post: Post, index: int, text: str, quote: str | None = None
) -> str:
    """The text part ``index`` goes out with on a network: where the network
    has no quotes, the first part ends with the quoted post's link
    (``quote``; a stand-in that counts the same, to measure it)."""
    if index == 0 and post.quote is not None and not rules.caps.quotes:
        link = quote or (post.quote if "://" in post.quote else QUOTED_LINK)
        return f"{text}\n\n{link}"
    return text


def measure_part(group: Group, post: Post, index: int, text: str) -> Measure:
    """Part ``index`` of ``post`` (``text``: as published) as ``group``'s
    network counts it: with the quoted post's link where the network has no
    quotes, and with the content warning where it counts it.  The one
    measure of validate, preview and the dry run."""
    return group.rules.measure(
        text_for(group.rules, post, index, text), group.limits, spoiler=post.spoiler or ""
    )


def post_options(rules: NetworkRules, post: Post, index: int) -> tuple[tuple[str, object], ...]:
    """The post's fields of the network's own, as its API names them
    (Mastodon: visibility, spoiler_text, sensitive; a poll on the first part)."""
    options: list[tuple[str, object]] = []
    if rules.caps.visibility and post.visibility:
        options.append(("visibility", post.visibility))
    if rules.caps.content_warning:
        if post.spoiler:
            options.append(("spoiler_text", post.spoiler))
        if post.sensitive or post.spoiler:
            options.append(("sensitive", True))
    if rules.caps.link_cards and index == 0 and post.card is not None:
        card = post.card
        if isinstance(card, bool):
            options.append(("card", False))
        else:
            options.append(("card", {"title": card.title, "description": card.description}))
    if rules.caps.polls and post.poll is not None and index == 0:
        poll = post.poll
        options.append(
            (
                "poll",
                {
                    "options": list(poll.options),
                    "expires_in": poll.expires_in,
                    "multiple": poll.multiple,
                },
            )
        )
    return tuple(options)


def post_id_from_url(network: str, url: str) -> str | None:
    """The id of the post at ``url`` on ``network``, or None."""
    if network not in REGISTRY:
        return None
    return rules(network).parse_post_url(url)


def load_client(network: str) -> Any:
    """A network's adapter module, imported now with its library (the
    worker does it as it starts, so that the first post due does not wait
    for the import); :class:`MegaphoneError` for a network megaphone does
    not know."""
    import importlib

    rules(network)  # an unknown network is refused, naming the known ones
    return importlib.import_module(REGISTRY[network] + ".client")


def connect(
    network: str,
    credentials: Credentials,
    *,
    timeouts: Timeouts | None = None,
) -> Network:
    """An adapter for one account.  Imports the network's library only now."""
    client = load_client(network)
    from megaphone.networks.contract import Timeouts

    opened: Network = client.open_account(credentials, timeouts=timeouts or Timeouts())
    return opened
