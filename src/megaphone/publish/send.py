"""Sending one delivery under its claim: its parts in order, each replying
to the one before, each recorded the moment it is live — so a thread
resumes where it stopped and no part goes out twice.  Every failure ends
in a known state: retried (not sent, or answered 5xx and not found), waited
for (a rate limit), ``unknown`` (sent, no answer, not found yet),
``failed`` (refused) or held for a person (``blocked``)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from megaphone.errors import (
    AuthFailed,
    DuplicateContent,
    LeaseLost,
    MegaphoneError,
    NeedsPerson,
    OutcomeUnknown,
    PublishError,
    RateLimited,
    ReadFailed,
    Rejected,
    SentTooLate,
    ServerError,
    Unavailable,
)
from megaphone.networks import post_options, text_for
from megaphone.networks import rules as network_rules
from megaphone.networks import send_by as send_by_deadline
from megaphone.publish.decide import human
from megaphone.publish.values import Outcome
from megaphone.store.ledger import PartRecord, what_to_do

if TYPE_CHECKING:
    from collections.abc import Mapping

    from megaphone.model import Account, Media, Post, Project
    from megaphone.networks.base import NetworkRules
    from megaphone.networks.contract import Network, PostRequest, RemotePost
    from megaphone.publish.claims import Claims
    from megaphone.publish.sessions import Sessions
    from megaphone.publish.values import Clock, Policy
    from megaphone.store.ledger import Delivery, Ledger


class Sender:
    """Sends claimed deliveries of one project."""

    def __init__(
        self,
        project: Project,
        ledger: Ledger,
        claims: Claims,
        sessions: Sessions,
        policy: Policy,
        clock: Clock,
    ) -> None:
        self.ledger = ledger
        self.claims = claims
        self.sessions = sessions
        self.policy = policy
        self.clock = clock
        #: When the fence of a delivery's next part was written by another
        #: write than this sender's own (the claim, or the post before's
        #: record), by ``time.monotonic()`` just before that write.
        self._fenced_at: dict[tuple[str, str], float] = {}
        self.use(project)

    def fenced(self, post_id: str, account: str, at: float) -> None:
        """The claim of ``post_id`` for ``account`` fenced its first part,
        in a write begun at ``at`` (``time.monotonic()``)."""
        self._fenced_at[(post_id, account)] = at

    def _send_by(self, fenced_at: float) -> float:
        """Until when a part fenced at ``fenced_at`` may be sent: half a
        lease.  Another run takes a claim over only once its lease has run
        out by its own clock, so the other half is room for the two clocks'
        difference."""
        return fenced_at + self.policy.lease.total_seconds() / 2

    def use(self, project: Project) -> None:
        """Send from a newer reading of the project (the worker's)."""
        self.project = project
        # By the id in the queue files (a delivery's entry_id).
        self._queue_paths = {p.id: q.path for q in project.queues for p in q.posts}

    def references(self, post: Post, account: Account) -> tuple[str | None, str | None] | Outcome:
        """The remote id to reply to, and the quote: the remote id to quote
        (a network with quotes) or the quoted post's URL (one without, where
        the link ends the first part); or why the post must wait."""
        from megaphone.networks import REGISTRY, post_id_from_url

        quotes = account.network in REGISTRY and network_rules(account.network).caps.quotes
        found: list[str | None] = []
        if post.translation_of is not None and post.reply_to is None:
            # A translation answers the account's own copy of the original;
            # an account that did not post the original posts it alone.
            from megaphone.store.view import still_open

            rows = self.ledger.of_post(post.translation_of)
            own = next((r for r in rows if r.account == account.name), None)
            if own is not None and still_open(own.state):
                return Outcome(
                    post.id,
                    account.name,
                    "waiting",
                    f"the original {post.translation_of!r} is not published yet",
                )
            found.append(own.remote_id if own is not None and own.state == "published" else None)
        for name, ref in (("reply_to", post.reply_to), ("quote", post.quote)):
            if name == "reply_to" and found:
                continue  # the translation's reply, above
            as_link = name == "quote" and not quotes
            if ref is None:
                found.append(None)
                continue
            if "://" in ref:
                if as_link:
                    found.append(ref)
                    continue
                remote = post_id_from_url(account.network, ref)
                if remote is None:
                    return Outcome(post.id, account.name, "failed", f"{name}: {ref} is not a post")
                found.append(remote)
                continue
            rows = self.ledger.of_post(ref)
            live = [r for r in rows if r.state == "published" and r.remote_id]
            # A reply or a quote names the post on the same network (the
            # account's own copy first); a link may be any network's.
            same = [r for r in live if r.network == account.network]
            chosen = same or (live if as_link else [])
            chosen.sort(key=lambda r: r.account != account.name)
            if not chosen or (as_link and not chosen[0].url):
                return Outcome(
                    post.id, account.name, "waiting", f"{name} {ref!r} is not published yet"
                )
            found.append(chosen[0].url if as_link else chosen[0].remote_id)
        return found[0], found[1]

    def send(
        self,
        row: Delivery,
        post: Post,
        account: Account,
        refs: tuple[str | None, str | None],
        *,
        done: Mapping[int, PartRecord] | None = None,
        then: str | None = None,
    ) -> Outcome:
        """Send the parts of a claimed post not live yet (``done``: those
        that are, read here when not given).  ``then``: the account's next
        post this run claimed, its first part to be sent right after this
        one — marked in flight (with its key) in the write that records this
        post published; the outcome's ``ahead`` then holds its key."""
        from megaphone.networks.contract import PostRequest

        ledger, policy = self.ledger, self.policy
        pid, name = post.id, account.name
        key = (pid, name)

        def finish(
            state: str,
            message: str,
            *,
            url: str | None = None,
            remote_id: str | None = None,
            retry_at: datetime | None = None,
            outcome: str | None = None,
            stop_account: bool = False,
        ) -> Outcome:
            """Release the claim with ``state``; the run's outcome is
            ``outcome`` (default: the state)."""
            if not ledger.finish(
                pid,
                name,
                token=self.claims.token,
                state=state,
                now=self.clock.now(),
                error=message if state != "published" else None,
                url=url,
                remote_id=remote_id,
                next_attempt_at=retry_at,
            ):
                raise LeaseLost(f"{pid} ({name}): another run holds it now")
            return Outcome(pid, name, outcome or state, message, url=url, stop_account=stop_account)

        def blocked(message: str) -> Outcome:
            """Held until a person acts; the account's other posts wait too."""
            if not ledger.finish(
                pid,
                name,
                token=self.claims.token,
                state="scheduled",
                now=self.clock.now(),
                error=message,
                held=True,
            ):
                raise LeaseLost(f"{pid} ({name}): another run holds it now")
            return Outcome(pid, name, "blocked", message, stop_account=True)

        try:
            net = self.sessions.network(account, key)
        except (Unavailable, ServerError, OutcomeUnknown, RateLimited, ReadFailed) as e:
            return finish("scheduled", str(e), outcome="deferred", stop_account=True)
        except MegaphoneError as e:
            # No credentials, refused ones, a clock far off, another account
            # signed in: a person must act.
            return blocked(str(e))

        done = dict(ledger.parts(pid, name) if done is None else done)
        rules = network_rules(account.network)
        reply_to, quote = refs
        texts = [text_for(rules, post, i, text, quote) for i, text in enumerate(post.texts())]
        if not rules.caps.quotes:
            quote = None  # a link in the text
        previous = reply_to
        first_url: str | None = done[0].url if 0 in done else None
        first_id: str | None = done[0].remote_id if 0 in done else None
        attempt = row.attempts
        # The part the last write fenced (marked in flight under a live
        # lease), with nothing but this code between it and the send, and
        # when that write began: a fence this sender did not see begin (an
        # earlier run's) is written again.
        fenced = row.in_flight
        fenced_at = self._fenced_at.pop((pid, name), None)
        if fenced_at is None:
            fenced = None
        #: Times a part's fence was too old to send under (a pause).
        too_late = 0
        #: Each part's idempotency key: the one stored for the part in
        #: flight is sent again as it is.
        keys: dict[int, str | None] = {}
        #: The exact request stored for a part (a Bluesky record), sent again
        #: as it is: its media were uploaded before it was stored.
        records: dict[int, str] = {}
        if row.in_flight is not None and row.idem_key:
            keys[row.in_flight] = row.idem_key
            if row.idem_record:
                records[row.in_flight] = row.idem_record
        prepare = getattr(net, "prepare", None)
        duplicate = False
        keyed = rules.caps.idempotency != "lookup"
        # When the last attempt was answered 5xx (it may have been acted on,
        # and the account's posts may not show it yet): looked for again,
        # after the wait, before anything is sent again.
        doubt_since: datetime | None = None
        attempt_at = self.clock.now()
        index = 0
        while index < len(texts):
            if index in done:
                previous = done[index].remote_id or previous
                index += 1
                continue
            part = post.parts[index]
            try:
                remote = None
                if index not in keys:
                    keys[index] = rules.new_key()
                request = PostRequest(
                    texts[index],
                    reply_to=previous,
                    quote=quote if index == 0 else None,
                    lang=post.lang if rules.caps.languages else None,
                    options=post_options(rules, post, index),
                    key=keys[index],
                )
                if doubt_since is not None:
                    try:
                        remote = net.find_sent(request, since=doubt_since)
                    except PublishError as read:
                        raise OutcomeUnknown(
                            f"the last attempt was answered 5xx, and the account's posts "
                            f"could not be read to check ({read})"
                        ) from None
                    doubt_since = None
                if remote is None:
                    if index in records:
                        request = replace(request, prepared=records[index])
                    else:
                        media_ids = tuple(self._upload(key, net, post, m) for m in part.media)
                        thumb = self._card_image(key, net, post, index, rules)
                        request = replace(request, media_ids=media_ids)
                        if thumb is not None:
                            request = replace(request, options=_with_thumb(request.options, thumb))
                        if part.media or thumb is not None:
                            fenced = None
                        if prepare is not None:
                            records[index] = prepare(request)
                            request = replace(request, prepared=records[index])
                            fenced = None  # the fence stores it
                    if fenced != index or fenced_at is None:
                        fenced_at = time.monotonic()
                        ledger.sending(
                            pid,
                            name,
                            index,
                            token=self.claims.token,
                            now=self.clock.now(),
                            lease_until=self.claims.lease_until(),
                            idem_key=keys[index],
                            idem_record=records.get(index),
                        )
                    fenced = None  # a send spends the fence
                    attempt_at = self.clock.now()
                    remote, was_duplicate = self._create(
                        net,
                        request,
                        since=attempt_at,
                        rules=rules,
                        send_by=self._send_by(fenced_at),
                    )
                    duplicate = duplicate or was_duplicate
            except SentTooLate as e:
                # Paused between the fence and the request, which did not
                # leave: fenced again (which fails if another run has the
                # post now), then sent.
                too_late += 1
                if too_late > 3:
                    return finish("scheduled", str(e), outcome="deferred")
                fenced_at = None
                continue
            except RateLimited as e:
                wait = policy.wait_for(e.reset_at)
                if wait is not None:
                    self.claims.wait(key, wait)
                    continue
                at = (
                    datetime.fromtimestamp(e.reset_at, UTC)
                    if e.reset_at
                    else self.clock.now() + timedelta(minutes=15)
                )
                return finish(
                    "scheduled",
                    f"rate limited until {at:%H:%M:%S} UTC",
                    retry_at=at,
                    outcome="deferred",
                    stop_account=True,
                )
            except (Unavailable, ServerError) as e:
                # Not sent, or answered 5xx and not found among the
                # account's posts: safe to send again, a bounded number of
                # times — after a 5xx, only once a second look after the
                # wait still does not find it.
                if isinstance(e, ServerError) and not keyed:
                    # With a key, sending again is safe as it is.
                    doubt_since = attempt_at
                if attempt >= policy.max_attempts:
                    return finish("failed", f"{e} (gave up after {attempt} attempts)")
                delay = policy.backoff(attempt)
                if delay <= policy.max_wait:
                    attempt += 1
                    ledger.attempt_failed(
                        pid,
                        name,
                        token=self.claims.token,
                        error=str(e),
                        now=self.clock.now(),
                        lease_until=self.claims.lease_until(),
                    )
                    self.claims.wait(key, delay)
                    continue
                return finish(
                    "scheduled",
                    str(e),
                    retry_at=self.clock.now() + timedelta(seconds=delay),
                    outcome="deferred",
                )
            except OutcomeUnknown as e:
                return finish("unknown", f"{e}; {self.next_for_unknown(pid)}")
            except (AuthFailed, NeedsPerson) as e:
                return blocked(str(e))
            except (Rejected, PublishError) as e:
                return finish("failed", str(e))
            except OSError as e:
                return finish("failed", f"cannot read media: {e.strerror or e}")
            if remote is not None and index == 0:
                first_url, first_id = remote.url, remote.id
            following = next((i for i in range(index + 1, len(texts)) if i not in done), None)
            last = following is None and remote is not None
            # The next part is marked in flight in the same write (a fence)
            # when nothing (a media upload) comes between.
            ahead = (
                following
                if following is not None and not post.parts[following].media and remote
                else None
            )
            if ahead is not None:
                keys.setdefault(ahead, rules.new_key())
            next_key = rules.new_key() if last and then is not None else None
            recorded_at = time.monotonic()
            fenced_then = ledger.record_part(
                pid,
                name,
                index,
                token=self.claims.token,
                remote_id=remote.id if remote else None,
                url=remote.url if remote else None,
                now=self.clock.now(),
                lease_until=self.claims.lease_until(),
                next_in_flight=ahead,
                next_key=keys.get(ahead) if ahead is not None else None,
                publish=(first_id, first_url) if last else None,
                idem_key=keys.get(index),
                extra=remote.extra if remote else None,
                then=(then, next_key) if last and then is not None and prepare is None else None,
            )
            fenced, fenced_at = ahead, recorded_at
            if last and then is not None and fenced_then:
                self.fenced(then, name, recorded_at)
            if last:
                said = (
                    f"already posted: {rules.title} refused the text as a duplicate, and "
                    "the post was found"
                    if duplicate
                    else ""
                )
                return Outcome(
                    pid,
                    name,
                    "published",
                    said,
                    url=first_url,
                    parts=len(texts),
                    ahead=(next_key,) if fenced_then else None,
                )
            if remote is None:
                # The network says the text is live already, and it was not
                # found: the chain cannot go on without its id.
                if index + 1 < len(texts):
                    return finish(
                        "unknown",
                        f"part {index + 1} is already posted ({rules.title} refused it as a "
                        "duplicate) but was not found among the account's posts; the rest "
                        "of the thread needs its id: " + what_to_do(pid),
                    )
                return finish(
                    "published",
                    f"already posted: {rules.title} refused the text as a duplicate of one of "
                    "the account's posts, which was not found among its recent ones (no URL)",
                    url=first_url,
                )
            done[index] = PartRecord(index, remote.id, remote.url, self.clock.now())
            previous = remote.id
            index += 1
        # Every part was live already (recorded by an earlier run).
        outcome = finish("published", "", url=first_url, remote_id=first_id)
        outcome.parts = len(texts)
        return outcome

    def next_for_unknown(self, post_id: str) -> str:
        """What happens next to a post whose outcome is unknown."""
        if self.policy.unknown == "hold":
            return what_to_do(post_id)
        return (
            "later runs look for it again, and send it again only if a full look at the "
            f"account's posts, {human(self.policy.unknown_after)} after the attempt, "
            f"still does not find it; to settle it yourself, {what_to_do(post_id)}"
        )

    def _create(
        self,
        net: Network,
        request: PostRequest,
        *,
        since: datetime,
        rules: NetworkRules,
        send_by: float,
    ) -> tuple[RemotePost | None, bool]:
        """Post one part: what is live (None: the network says it is, and it
        was not found), and whether the network refused it as a duplicate.
        When the outcome is in doubt, look for it first.  The request leaves
        only until ``send_by`` (the lookups after it are not held to it)."""
        try:
            with send_by_deadline(send_by):
                return net.create_post(request), False
        except DuplicateContent as e:
            if not rules.caps.rejects_duplicate_text:
                raise Rejected(str(e)) from None
            try:
                return net.find_sent(request, since=since), True
            except PublishError:
                return None, True
        except (ServerError, OutcomeUnknown) as e:
            # Sent again with the same key, a network that takes keys
            # answers with the post it made, if it made one: safe to repeat.
            keyed = request.key is not None and rules.caps.idempotency != "lookup"
            try:
                found = net.find_sent(request, since=since)
            except PublishError as read:
                if keyed:
                    raise Unavailable(
                        f"{e}; the account's posts could not be read ({read}): sent again "
                        "with its idempotency key"
                    ) from None
                raise OutcomeUnknown(
                    f"{e}; the account's posts could not be read to check ({read})"
                ) from None
            if found is not None:
                return found, False
            if keyed:
                raise Unavailable(f"{e}; not found: sent again with its idempotency key") from None
            if isinstance(e, OutcomeUnknown):
                raise OutcomeUnknown(f"{e}; it is not among the account's posts (yet)") from None
            raise

    def _card_image(
        self, key: tuple[str, str], net: Network, post: Post, index: int, rules: NetworkRules
    ) -> str | None:
        """The uploaded image of a card the queue file gives (Bluesky)."""
        card = post.card
        if index or not rules.caps.link_cards or isinstance(card, bool) or card is None:
            return None
        if not card.image:
            return None
        from megaphone.model import Media

        return self._upload(key, net, post, Media(card.image, card.title, post.loc))

    def _upload(self, key: tuple[str, str], net: Network, post: Post, media: Media) -> str:
        from megaphone.checks.media import find, sniff

        queue_path = self._queue_paths.get(post.entry_id)
        if queue_path is None:
            raise Rejected(f"{post.id}: its queue file is unknown")
        path, why = find(queue_path, media.path, self.project.root)
        if why is not None:
            raise Rejected(f"media {media.path}: {why}")
        info = sniff(path)
        if info is None:
            raise Rejected(f"media {media.path}: not a JPEG, PNG, GIF, WEBP or MP4 file")
        # Uploads are not visible to anyone: sending one again is harmless.
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                size = (info.width, info.height) if info.width and info.height else None
                return net.upload_media(
                    path, mime=info.mime, kind=info.kind, alt=media.alt, size=size
                )
            except (Unavailable, ServerError, OutcomeUnknown, ReadFailed) as e:
                if attempt == self.policy.max_attempts:
                    raise Unavailable(f"{e} (upload gave up after {attempt} attempts)") from None
                self.claims.wait(key, min(self.policy.backoff(attempt), self.policy.max_wait))
        raise AssertionError("unreachable")

    def request_of(
        self,
        post: Post,
        account: Account,
        index: int,
        done: Mapping[int, PartRecord],
        key: str | None = None,
    ) -> PostRequest | None:
        """The request part ``index`` was sent with (media aside; ``key``:
        its idempotency key, as stored), to look it up; None when its reply
        target is not known."""
        from megaphone.networks.contract import PostRequest

        rules = network_rules(account.network)
        lang = post.lang if rules.caps.languages else None
        options = post_options(rules, post, index)
        if index > 0:
            parent = done.get(index - 1)
            if parent is None or parent.remote_id is None:
                return None
            text = text_for(rules, post, index, post.texts()[index])
            return PostRequest(text, reply_to=parent.remote_id, lang=lang, options=options, key=key)
        refs = self.references(post, account)
        if isinstance(refs, Outcome):
            return None
        text = text_for(rules, post, 0, post.texts()[0], refs[1])
        quote = refs[1] if rules.caps.quotes else None
        return PostRequest(text, reply_to=refs[0], quote=quote, lang=lang, options=options, key=key)


def _with_thumb(
    options: tuple[tuple[str, object], ...], thumb: str
) -> tuple[tuple[str, object], ...]:
    """The post's options, its card carrying the uploaded image."""
    out = []
    for name, value in options:
        if name == "card" and isinstance(value, dict):
            value = {**value, "thumb": thumb}
        out.append((name, value))
    return tuple(out)
