"""Settling what a run left in doubt: a delivery left ``publishing`` by a
run that is gone (or whose lease ran out), and ``unknown`` ones.  A part
that may have gone out is looked for before anything is sent again: found
live, it is recorded and the rest of the post sent; certainly not there (a
full lookup, long enough after the attempt), it is sent again and the
ledger says why; too late by then, it is ``missed``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from megaphone.errors import LeaseLost, MegaphoneError
from megaphone.model import Account
from megaphone.publish.decide import human
from megaphone.publish.values import Job, Outcome, internal

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime

    from megaphone.model import Post, Project
    from megaphone.networks.contract import RemotePost
    from megaphone.publish.claims import Claims
    from megaphone.publish.send import Sender
    from megaphone.publish.sessions import Sessions
    from megaphone.publish.values import Clock, Policy
    from megaphone.store.ledger import Delivery, Ledger, PartRecord


class Reconciler:
    """Settles the deliveries of one project that a run left in doubt."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        claims: Claims,
        sessions: Sessions,
        sender: Sender,
        policy: Policy,
        clock: Clock,
        deliver: Callable[..., Outcome],
        report: Callable[[Outcome], None],
        holding: Callable[[str, Callable[[], Outcome | None]], Outcome | None],
    ) -> None:
        self.ledger = ledger
        self.claims = claims
        self.sessions = sessions
        self.sender = sender
        self.policy = policy
        self.clock = clock
        #: Sends what is left of a post (the publisher's deliver).
        self.deliver = deliver
        self.report = report
        #: Runs an act under an account's lease (None: another run holds it).
        self.holding = holding

    @property
    def project(self) -> Project:
        return self.sender.project

    def reconcile(self, row: Delivery, post: Post | None, account: Account) -> Outcome:
        """A delivery left ``publishing`` by a run that is gone (or whose
        lease ran out): find out what became of the part in flight; never
        send it again blindly."""
        pid, name = row.post_id, row.account
        now = self.clock.now()
        owner_gone = row.lease_until is not None and row.lease_until > now
        if not self.ledger.take_over(
            pid,
            name,
            old_token=row.claimed_by,
            token=self.claims.token,
            now=now,
            lease_until=self.claims.lease_until(),
            owner_gone=owner_gone,
        ):
            return Outcome(pid, name, "skipped", "another run is reconciling it")
        done = self.ledger.parts(pid, name)

        def unknown(message: str) -> Outcome:
            self.ledger.finish(
                pid, name, token=self.claims.token, state="unknown", now=now, error=message
            )
            return Outcome(pid, name, "unknown", message)

        if post is None:
            return unknown("interrupted, and no longer in the queue files: check it on the network")
        texts = post.texts()
        index = next((i for i in range(len(texts)) if i not in done), None)
        if index is None:
            return self._all_live(pid, name, done, now)
        if row.in_flight != index:
            # Interrupted before the next part's request was sent: nothing
            # is in doubt.  A thread under way is finished, late or not.
            self.ledger.finish(
                pid,
                name,
                token=self.claims.token,
                state="scheduled",
                now=now,
                error=f"interrupted before part {index + 1} was sent",
            )
            return self.deliver(Job(post, account, post.at or now), force=bool(done))
        # The part in flight may have gone out: unknown until looked up.
        message = f"interrupted while part {index + 1} was being sent"
        outcome = unknown(f"{message}; {self.sender.next_for_unknown(pid)}")
        settled = self.ledger.get(pid, name)
        if settled is not None and settled.state == "unknown":
            found = self.look_again(settled, post, account)
            if found is not None:
                return found
        return outcome

    def reconcile_abandoned(self, posts: Mapping[str, Post]) -> list[Outcome]:
        """Reconcile every delivery whose publishing run is gone, and settle
        ``unknown`` ones: found live → recorded (and the rest of a thread
        sent); certainly not there → sent again (never blindly)."""
        outcomes = []
        now = self.clock.now()
        for row in self.ledger.in_doubt():
            abandoned = row.state == "publishing" and self.claims.abandoned(row)
            since = row.sent_at or row.claimed_at or row.updated_at
            to_settle = (
                row.state == "unknown"
                and row.post_id in posts
                and now - since <= self.policy.lookback
            )
            if not (abandoned or to_settle):
                continue
            account = self.project.config.account(row.account) or Account(row.account, row.network)

            def settle(
                row: Delivery = row, account: Account = account, to_settle: bool = to_settle
            ) -> Outcome | None:
                # As the account's network has it (a text of its own).
                post = posts.get(row.post_id)
                post = post.for_network(account.network) if post is not None else None
                if to_settle:
                    assert post is not None
                    return self.look_again(row, post, account)
                return self.reconcile(row, post, account)

            try:
                # Under the account's lease: a run that holds it settles it.
                found = self.holding(row.account, settle)
            except LeaseLost as e:
                found = Outcome(row.post_id, row.account, "skipped", str(e))
            except MegaphoneError as e:
                found = Outcome(row.post_id, row.account, "failed", str(e))
            except Exception as e:
                found = Outcome(row.post_id, row.account, "failed", internal(e))
            if found is None:
                continue
            outcome = found
            self.report(outcome)
            outcomes.append(outcome)
        return outcomes

    def look_again(self, row: Delivery, post: Post, account: Account) -> Outcome | None:
        """Settle an ``unknown`` delivery.  Its part in doubt found among the
        account's posts: recorded, and the rest sent.  Not found by a lookup
        that read every post since the attempt, long enough after it (the
        network shows a new post within seconds): it never arrived — sent
        again, and why is recorded.  A lookup that fails, or comes too
        soon: None, it stays unknown and a later run looks again."""
        pid, name = row.post_id, row.account
        done = self.ledger.parts(pid, name)
        texts = post.texts()
        index = next((i for i in range(len(texts)) if i not in done), None)
        since = row.sent_at or row.claimed_at or row.updated_at

        def reclaim(why: str | None = None) -> bool:
            # Through the claim: only one run resolves it.
            return self.ledger.reclaim(
                pid,
                name,
                from_state="unknown",
                token=self.claims.token,
                now=self.clock.now(),
                lease_until=self.claims.lease_until(),
                why=why,
            )

        if index is None:  # every part is recorded live
            return self._all_live(pid, name, done, self.clock.now()) if reclaim() else None
        request = self.sender.request_of(
            post, account, index, done, row.idem_key if row.in_flight == index else None
        )
        if request is None:
            return None
        try:
            found = self.sessions.network(account).find_sent(request, since=since)
        except MegaphoneError:
            return None
        if found is not None:
            return (
                self._found_live(post, account, index, found, "on a later look")
                if reclaim()
                else None
            )
        now = self.clock.now()
        waited = now - since
        if self.policy.unknown == "hold" or waited < self.policy.unknown_after:
            return None
        why = (
            f"part {index + 1} is not among the account's posts {human(waited)} after "
            "it was sent (every post since then was read): it never arrived"
        )
        late = now - post.at if post.at else None
        if late is not None and late > self.policy.grace and not row.late_ok:
            message = f"{why}; now {human(late)} late, more than the grace period"
            if self.ledger.settle(
                pid, name, state="missed", now=now, error=message, only_from=("unknown",)
            ):
                return Outcome(pid, name, "missed", message, late=late)
            return None
        if not reclaim(f"{why}: sending it again"):
            return None
        return self._go_on(post, account, now, f"{why}: sent again")

    def _all_live(
        self, pid: str, name: str, done: Mapping[int, PartRecord], now: datetime
    ) -> Outcome:
        """Every part is recorded live: the post is published (under this
        run's claim)."""
        first = done[0]
        self.ledger.finish(
            pid,
            name,
            token=self.claims.token,
            state="published",
            now=now,
            remote_id=first.remote_id,
            url=first.url,
        )
        return Outcome(pid, name, "published", "all parts were live", url=first.url)

    def _found_live(
        self, post: Post, account: Account, index: int, found: RemotePost, when: str
    ) -> Outcome:
        """The part in doubt is live after all: record it (under this run's
        claim), and send the rest — a thread under way is finished."""
        now = self.clock.now()
        pid, name = post.id, account.name
        self.ledger.record_part(
            pid,
            name,
            index,
            token=self.claims.token,
            remote_id=found.id,
            url=found.url,
            now=now,
            lease_until=self.claims.lease_until(),
        )
        return self._go_on(post, account, now, f"part {index + 1} found live {when}")

    def _go_on(self, post: Post, account: Account, now: datetime, why: str) -> Outcome:
        """Release a settled claim as ``scheduled`` (saying ``why``) and send
        what is left of the post now — a thread under way is finished, late or
        not."""
        self.ledger.finish(
            post.id, account.name, token=self.claims.token, state="scheduled", now=now, error=why
        )
        return self.deliver(Job(post, account, post.at or now), force=True)
