"""One signed-in adapter per account: opened on first use, asked who the
account is (it must be the account megaphone.yaml names) and what time the
network's clock says — once per run."""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta
from typing import TYPE_CHECKING

from megaphone.errors import (
    ClockSkewed,
    MegaphoneError,
    OutcomeUnknown,
    RateLimited,
    ReadFailed,
    ServerError,
    Unavailable,
)
from megaphone.publish.decide import human

if TYPE_CHECKING:
    from collections.abc import Callable

    from megaphone.model import Account
    from megaphone.networks.contract import Network, RemoteUser
    from megaphone.publish.claims import Claims, Key
    from megaphone.publish.values import Policy
    from megaphone.store.ledger import Ledger


class Sessions:
    """The run's adapters, one per account."""

    def __init__(
        self,
        connect: Callable[[Account], Network],
        ledger: Ledger,
        claims: Claims,
        policy: Policy,
        warn: Callable[[str], None],
    ) -> None:
        self.connect = connect
        self.ledger = ledger
        self.claims = claims
        self.policy = policy
        self.warn = warn
        self._networks: dict[str, Network] = {}
        self._checked: set[str] = set()
        self._lock = threading.Lock()

    def network(self, account: Account, key: Key | None = None) -> Network:
        """The account's adapter, signed in: the first time, the network is
        asked who the account is (with the retries a post gets) — it must be
        the account's ``handle``, or the one seen at its first sign-in — and
        its clock compared with this one's.  ``key``: the claim held
        meanwhile, renewed while waiting."""
        net = self._open(account)
        if account.name not in self._checked:
            self._sign_in(account, net, self._whoami(net, key))
        return net

    def warm(self, account: Account) -> None:
        """Open the account's adapter and sign in now, ahead of its posts'
        time (the worker does it a little before): the first post does not
        wait for it.  Asked once, without retries; what goes wrong is left
        for the post to meet, and say, when it is due."""
        if account.name in self._checked:
            return
        with contextlib.suppress(MegaphoneError):
            net = self._open(account)
            self._sign_in(account, net, net.whoami())

    def signed_in(self, name: str) -> bool:
        return name in self._checked

    def _open(self, account: Account) -> Network:
        net = self._networks.get(account.name)  # opened already: no lock to wait for
        if net is not None:
            return net
        with self._lock:
            net = self._networks.get(account.name)
            if net is None:
                net = self.connect(account)
                self._networks[account.name] = net
        return net

    def _sign_in(self, account: Account, net: Network, me: RemoteUser) -> None:
        """Who the network says the account is, and its clock, checked."""
        self._check_handle(account, me.username)
        skew = net.clock_skew()
        if skew is not None and abs(skew) > self.policy.skew_limit:
            raise ClockSkewed(
                f"this machine's clock is {human(timedelta(seconds=abs(skew)))} "
                f"{'behind' if skew > 0 else 'ahead of'} the network's: posts would go "
                "out at the wrong time; set the clock right (NTP) and run again"
            )
        if skew is not None and abs(skew) > self.policy.skew_warning:
            self.warn(
                f"{account.name}: this machine's clock is {abs(skew):.0f} s "
                f"{'behind' if skew > 0 else 'ahead of'} the network's"
            )
        self._checked.add(account.name)

    def _whoami(self, net: Network, key: Key | None) -> RemoteUser:
        """Who the account is, retried as a post would be: a rate limit that
        resets soon is waited for, a failure safe to repeat retried with
        backoff."""
        policy = self.policy
        attempt = 1
        while True:
            try:
                return net.whoami()
            except RateLimited as e:
                wait = policy.wait_for(e.reset_at)
                if wait is None:
                    raise
                self.claims.pause(key, wait)
            except (Unavailable, ServerError, OutcomeUnknown, ReadFailed):
                delay = policy.backoff(attempt)
                if attempt >= policy.max_attempts or delay > policy.max_wait:
                    raise
                attempt += 1
                self.claims.pause(key, delay)

    def _check_handle(self, account: Account, username: str) -> None:
        """The credentials must be the account's own: another coalition
        member's would publish one group's words under another's name."""
        from megaphone.errors import AccountMismatch

        shown = f"@{username}" if username else "an account without a name"
        if account.handle:
            if username.lower() != account.handle.lower():
                raise AccountMismatch(
                    f"{account.name}'s credentials sign in as {shown}, but megaphone.yaml "
                    f"says @{account.handle}: its posts are held until the two agree"
                )
            return
        key = f"handle:{account.name}"
        seen = self.ledger.get_meta(key)
        if seen is None:
            if username:
                self.ledger.set_meta(key, username)
        elif seen.lower() != username.lower():
            raise AccountMismatch(
                f"{account.name} signed in as @{seen} before and as {shown} now: its posts "
                f"are held; set handle: in megaphone.yaml to the account it should be"
            )

    def close(self) -> None:
        for net in self._networks.values():
            net.close()
