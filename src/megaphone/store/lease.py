"""Who holds a claim, and when a claim may be taken from its holder.

A claim in the ledger is a **lease**: its owner token, and a time until
which it is the owner's.  The owner renews it while it works (uploads,
waits, retries); every write made under the claim, and the write made just
before each post is created, checks in the same statement that the claim is
still the owner's — a sender that lost it stops.

Another run may take a claim over when its lease has run out.  It may do so
sooner only when it can see for itself that the owner is gone: the owner ran
on *this* machine (same host name, same boot, same process namespace) and
its process no longer runs — or the process with its pid is another one (a
different start time, or this very process under a new token: a worker that
is pid 1 in a restarted container).  Two machines that share a host name
(cloned VMs, containers) differ in boot id or namespace, so a pid seen on one
says nothing about the other: there, only the lease decides.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

#: How long a claim is its owner's without a renewal.  A crashed machine's
#: posts are taken over this long after its last renewal; a machine paused
#: for longer is fenced out when it wakes.
DEFAULT_LEASE = timedelta(seconds=60)
#: The shortest lease a project may set.
MIN_LEASE = timedelta(seconds=1)

_SEP = "|"
#: Tokens of the owners alive in this process (a process may hold several).
_live: set[str] = set()


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read().strip() or None
    except OSError:
        return None


def _namespace() -> str | None:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return None


def process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot), or None."""
    raw = _read(f"/proc/{pid}/stat")
    if raw is None:
        return None
    # The command name (field 2) may hold spaces and parentheses.
    fields = raw.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


@dataclass(frozen=True)
class Machine:
    """What tells this machine (and process namespace) from another."""

    host: str
    boot: str | None
    namespace: str | None

    @property
    def known(self) -> bool:
        return self.boot is not None and self.namespace is not None


def this_machine() -> Machine:
    return Machine(
        socket.gethostname(),
        _read("/proc/sys/kernel/random/boot_id"),
        _namespace(),
    )


@dataclass(frozen=True)
class Owner:
    """A claimer: a machine, a process, and a token that is new each run."""

    machine: Machine
    pid: int
    started: str | None
    token: str

    @staticmethod
    def new(machine: Machine | None = None) -> Owner:
        machine = machine or this_machine()
        pid = os.getpid()
        started = process_start(pid)
        token = _SEP.join(
            [
                machine.host.replace(_SEP, "_")[:60],
                machine.boot or "-",
                machine.namespace or "-",
                str(pid),
                started or "-",
                uuid.uuid4().hex[:12],
            ]
        )
        _live.add(token)
        return Owner(machine, pid, started, token)

    def retire(self) -> None:
        """This owner holds nothing any more (its run ended)."""
        _live.discard(self.token)


@dataclass(frozen=True)
class TokenParts:
    host: str
    boot: str | None
    namespace: str | None
    pid: int
    started: str | None


def parse_token(token: str) -> TokenParts | None:
    """The parts of an owner token; None for a token of another form (an
    older megaphone's): then only the lease decides."""
    fields = token.split(_SEP)
    if len(fields) != 6 or not fields[3].isdigit():
        return None
    host, boot, ns, pid, started, _ = fields
    return TokenParts(
        host,
        None if boot == "-" else boot,
        None if ns == "-" else ns,
        int(pid),
        None if started == "-" else started,
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim_abandoned(
    token: str | None, lease_until: datetime | None, now: datetime, me: Owner
) -> bool:
    """Whether a ``publishing`` claim may be taken from its holder now."""
    if token is None or lease_until is None or lease_until <= now:
        return True
    if token == me.token:
        return False
    holder = parse_token(token)
    if holder is None or not me.machine.known:
        return False
    same_machine = (
        holder.host == me.machine.host[:60].replace(_SEP, "_")
        and holder.boot == me.machine.boot
        and holder.namespace == me.machine.namespace
    )
    if not same_machine:
        return False  # only the lease decides
    if holder.pid == me.pid:
        # This process, but not one of its live owners: an earlier life of
        # a process that got the same pid (pid 1 in a restarted container).
        return token not in _live
    if not _alive(holder.pid):
        return True
    # The pid is another process's now (it was reused).
    started = process_start(holder.pid)
    return holder.started is not None and started is not None and started != holder.started
