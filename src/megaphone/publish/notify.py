"""Telling the team: notifications through apprise (Slack, Signal, Matrix,
email, Telegram, ntfy, plain JSON webhooks…).

- Destinations are apprise URLs, from ``notify:`` in megaphone.yaml and from
  ``$MEGAPHONE_NOTIFY`` (URLs hold tokens: they are secrets, never printed,
  logged or stored — a destination is shown as ``json destination 1``).
- After a run has recorded its outcomes, each destination gets **one**
  message listing the posts that concern it (its events and accounts), with
  what went wrong and what to do — never one message per post, never the
  same post and state twice (what was told is kept in the ledger).
- Sending never delays publishing for long, never fails a run: each
  destination has a deadline, a failure is said once, never retried.

apprise is imported only when there is something to send.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from megaphone.errors import MegaphoneError
from megaphone.model import DEFAULT_EVENTS, EVENTS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from pathlib import Path

    from megaphone.model import Config
    from megaphone.publish.publisher import Outcome
    from megaphone.store.ledger import Ledger

#: What a destination may ask to hear of.
ENV = "MEGAPHONE_NOTIFY"
#: The longest one destination may take.
DEADLINE = 10.0


@dataclass(frozen=True)
class Destination:
    url: str = field(repr=False)
    label: str
    events: frozenset[str] = DEFAULT_EVENTS
    accounts: frozenset[str] | None = None

    def wants(self, notice: Notice) -> bool:
        if notice.event not in self.events:
            return False
        return self.accounts is None or notice.account is None or notice.account in self.accounts


@dataclass(frozen=True)
class Notice:
    event: str
    message: str
    post_id: str | None = None
    account: str | None = None
    network: str | None = None
    url: str | None = None

    def line(self) -> str:
        who = f"{self.post_id} ({self.account}, {self.network})" if self.post_id else ""
        todo = _what_to_do(self)
        text = f"{self.event}: {who} — {self.message}" if who else f"{self.event}: {self.message}"
        if self.url:
            text += f" {self.url}"
        return text + (f" → {todo}" if todo else "")


def _what_to_do(notice: Notice) -> str:
    pid = notice.post_id
    if pid is None:
        return ""
    return {
        "failed": f"fix it, then `megaphone retry {pid}`",
        "unknown": f"check the account, then `megaphone retry {pid}` or "
        f"`megaphone mark {pid} published --url URL`",
        "missed": f"give it a new time, or `megaphone retry {pid}` to send it late",
        "blocked": "fix the account's credentials or handle (`megaphone accounts check`)",
        "expired": f"`megaphone retry {pid}` sends it anyway",
        "stuck": f"`megaphone show {pid}` says why",
    }.get(notice.event, "")


def scheme_of(url: str) -> str:
    m = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", url.strip())
    return m.group(1).lower() if m else "unknown"


def destinations(
    config: Config, environ: Mapping[str, str], root: Path | None = None
) -> list[Destination]:
    """The configured destinations and those of ``$MEGAPHONE_NOTIFY`` (URLs
    separated by spaces or new lines), from the environment or, with the
    project's ``root``, its ``.env``."""
    found = [
        Destination(
            spec.url,
            f"{scheme_of(spec.url)} destination {i}",
            spec.events or DEFAULT_EVENTS,
            spec.accounts,
        )
        for i, spec in enumerate(config.notify, 1)
    ]
    listed = environ.get(ENV, "")
    if not listed and root is not None:
        from megaphone.project.credentials import CredentialStore

        try:
            listed = CredentialStore(root, environ).get(ENV)[0] or ""
        except MegaphoneError:
            listed = ""
    for j, url in enumerate(listed.split(), len(found) + 1):
        found.append(Destination(url, f"{scheme_of(url)} destination {j} (from {ENV})"))
    return found


def notices_of(outcomes: Iterable[Outcome], networks: Mapping[str, str]) -> list[Notice]:
    """What a run's outcomes have to tell."""
    out = []
    for o in outcomes:
        event = o.state
        if event not in EVENTS:
            continue
        out.append(
            Notice(
                event,
                o.message or event,
                o.post_id,
                o.account,
                networks.get(o.account, ""),
                o.url,
            )
        )
    return out


def fresh(notices: list[Notice], ledger: Ledger | None) -> list[Notice]:
    """The notices not told before (a post blocked at every cron run is told
    once per state); remembers them in the ledger."""
    if ledger is None:
        return notices
    new = []
    for n in notices:
        if n.post_id is None:
            new.append(n)
            continue
        key = f"notified:{n.post_id}:{n.account}"
        try:
            if ledger.get_meta(key) == n.event:
                continue
            ledger.set_meta(key, n.event)
        except MegaphoneError:
            pass  # a ledger that fails is said elsewhere; tell rather than not
        new.append(n)
    return new


def tell(
    targets: list[Destination],
    outcomes: Iterable[Outcome],
    *,
    config: Config,
    ledger: Ledger | None,
    project: str,
    warn: Callable[[str], None],
    extra: Iterable[Notice] = (),
) -> None:
    """What a run (or a worker's sweep) has to tell, to ``targets``: the
    outcomes worth telling and ``extra`` notices, each post and state once."""
    if not targets:
        return
    networks = {a.name: a.network for a in config.accounts}
    notices = fresh(notices_of(outcomes, networks) + list(extra), ledger)
    if notices:
        send(targets, notices, project=project, warn=warn)


def send(
    targets: list[Destination],
    notices: list[Notice],
    *,
    project: str,
    warn: Callable[[str], None],
    deadline: float | None = None,
) -> dict[str, bool]:
    """One message per destination with the notices it wants; each within
    ``deadline`` seconds, in parallel.  Returns whether each destination took
    its message; a failure is said once through ``warn`` (never its URL)."""
    jobs = []
    for target in targets:
        chosen = [n for n in notices if target.wants(n)]
        if not chosen:
            continue
        if len(chosen) == 1:
            title = f"megaphone ({project}): {chosen[0].event} — {chosen[0].post_id or ''}".rstrip(
                " —"
            )
        else:
            title = f"megaphone ({project}): {len(chosen)} posts need attention"
        body = "\n".join(n.line() for n in chosen)
        jobs.append((target, title, body))
    return _deliver(jobs, warn=warn, deadline=DEADLINE if deadline is None else deadline)


def send_test(
    targets: list[Destination], *, project: str, deadline: float | None = None
) -> dict[str, bool]:
    jobs = [
        (
            t,
            f"megaphone ({project}): test",
            "A test message from megaphone: this destination works.",
        )
        for t in targets
    ]
    return _deliver(
        jobs, warn=lambda message: None, deadline=DEADLINE if deadline is None else deadline
    )


def _deliver(
    jobs: list[tuple[Destination, str, str]], *, warn: Callable[[str], None], deadline: float
) -> dict[str, bool]:
    if not jobs:
        return {}
    results: dict[str, bool] = {t.label: False for t, _, _ in jobs}

    def one(target: Destination, title: str, body: str) -> None:
        try:
            results[target.label] = _apprise_send(target.url, title, body, deadline)
        except Exception:
            results[target.label] = False

    threads = [
        threading.Thread(target=one, args=job, name="megaphone-notify", daemon=True) for job in jobs
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(deadline + 1)
    for target, _, _ in jobs:
        if not results[target.label]:
            warn(f"notification to {target.label} failed (not retried)")
    return results


def _apprise_send(url: str, title: str, body: str, deadline: float) -> bool:
    import logging

    import apprise

    # apprise logs URLs (tokens) at some levels: megaphone says what failed.
    logging.getLogger("apprise").setLevel(logging.CRITICAL + 1)
    timeouts = f"cto={min(deadline, 5):g}&rto={deadline:g}"
    url = url + ("&" if "?" in url else "?") + timeouts
    sender = apprise.Apprise()
    if not sender.add(url):
        return False
    return bool(sender.notify(title=title, body=body))
