"""The claims a publishing run holds: leases renewed while a post is in hand,
and waits that renew them as time passes (see :mod:`megaphone.store.lease`)."""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING

from megaphone.errors import LeaseLost, MegaphoneError

if TYPE_CHECKING:
    from datetime import datetime

    from megaphone.publish.values import Clock, Policy
    from megaphone.store.lease import Owner
    from megaphone.store.ledger import Delivery, Ledger

#: A claim: (post id, account name).
Key = tuple[str, str]


class Claims:
    """The claims of one owner (one run, one worker) on one ledger."""

    def __init__(self, ledger: Ledger, owner: Owner, policy: Policy, clock: Clock) -> None:
        self.ledger = ledger
        self.owner = owner
        self.token = owner.token
        self.policy = policy
        self.clock = clock
        self._lock = threading.Lock()
        #: Claims held now, renewed by a thread while held.
        self._held: set[Key] = set()
        #: Runs under way (see join).
        self._joined = 0
        self._renewer: threading.Thread | None = None
        self._stop = threading.Event()

    def lease_until(self) -> datetime:
        return self.clock.now() + self.policy.lease

    def abandoned(self, row: Delivery) -> bool:
        """Whether a ``publishing`` row's holder is gone."""
        return self.token_abandoned(row.claimed_by, row.lease_until)

    def token_abandoned(self, token: str | None, lease_until: datetime | None) -> bool:
        """Whether a lease (a claim's, an account's) may be taken from its holder."""
        from megaphone.store.lease import claim_abandoned

        return claim_abandoned(token, lease_until, self.clock.now(), self.owner)

    def join(self) -> None:
        """This owner publishes now: counted among the runs that share the
        accounts, its leases renewed until the matching :meth:`leave` (a
        worker joins once for its life, and each of its runs within)."""
        with self._lock:
            first = self._joined == 0
            self._joined += 1
            self._start_renewing()
        if first:
            try:
                self.ledger.join(token=self.token, now=self.clock.now(), until=self.lease_until())
            except BaseException:
                with self._lock:
                    self._joined -= 1
                raise

    def leave(self) -> None:
        """The matching end of :meth:`join`; the last one lets every account
        this owner holds go, and its place among the runs."""
        with self._lock:
            self._joined -= 1
            last = self._joined == 0
        if last:
            with contextlib.suppress(MegaphoneError):
                self.ledger.leave(token=self.token)

    def hold(self, key: Key) -> None:
        """Keep renewing ``key``'s lease until :meth:`let_go`."""
        with self._lock:
            self._held.add(key)
            self._start_renewing()

    def _start_renewing(self) -> None:
        if self._renewer is None:
            self._renewer = threading.Thread(
                target=self._renew_loop, name="megaphone-lease", daemon=True
            )
            self._renewer.start()

    def let_go(self, key: Key) -> None:
        with self._lock:
            self._held.discard(key)

    def _renew_loop(self) -> None:
        """Renew every lease this owner holds (its claims, its accounts, its
        place among the runs) in one write, while it works (an upload, a
        wait for processing): a claim whose renewal fails is no longer this
        run's, and the sender learns it at its next fence."""
        interval = min(15.0, max(0.2, self.policy.lease.total_seconds() / 4))
        while not self._stop.wait(interval):
            with self._lock:
                busy = bool(self._held) or self._joined > 0
            if busy:
                # The fence decides; a ledger that fails is seen there.
                with contextlib.suppress(MegaphoneError):
                    self.ledger.renew_all(
                        token=self.token, now=self.clock.now(), lease_until=self.lease_until()
                    )

    def wait(self, key: Key, seconds: float) -> None:
        """Wait while holding a claim, renewing its lease as time passes;
        :class:`LeaseLost` when it is no longer this run's."""
        step = max(0.2, self.policy.lease.total_seconds() / 4)
        remaining = seconds
        while remaining > 0:
            self.clock.sleep(min(step, remaining))
            remaining -= step
            if not self.ledger.renew(
                *key, token=self.token, now=self.clock.now(), lease_until=self.lease_until()
            ):
                raise LeaseLost(
                    f"{key[0]} ({key[1]}): this run's claim ran out or was taken over while "
                    "it waited; it leaves the post to the run that holds it"
                )

    def pause(self, key: Key | None, seconds: float) -> None:
        """Wait: renewing ``key``'s lease when a claim is held."""
        if key is None:
            self.clock.sleep(seconds)
        else:
            self.wait(key, seconds)

    def close(self) -> None:
        self._stop.set()
        self.owner.retire()
