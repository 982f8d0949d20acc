"""The worker's heartbeat in the ledger: who runs it, since when, when it
last beat, what it will send next — read by ``status`` and the alerts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from megaphone.store.ledger import Ledger

#: Where the worker's heartbeat is kept in the ledger.
HEARTBEAT_KEY = "worker"
#: A heartbeat older than this many sweeps means the worker is gone.
STALE_AFTER = 3
#: How often the worker sweeps (and beats), by default.
SWEEP_SECONDS = 10.0


@dataclass
class Heartbeat:
    """One worker's heartbeat: each worker has its own (one per machine, or
    several), kept under its own key."""

    pid: int
    host: str
    started_at: datetime
    beat_at: datetime
    dry_run: bool
    next: list[tuple[str, str, datetime]] = field(default_factory=list)
    stopped: bool = False
    #: Seconds between the worker's sweeps (and beats).
    sweep: float = SWEEP_SECONDS
    #: The machine's boot id (two machines may share a host name).
    boot: str = ""

    @property
    def key(self) -> str:
        return (
            f"{HEARTBEAT_KEY}:{self.host}:{self.boot[:8]}:{self.pid}:"
            f"{int(self.started_at.timestamp())}"
        )

    def alive(self, now: datetime, sweep: float | None = None) -> bool:
        every = self.sweep if sweep is None else sweep
        return not self.stopped and (now - self.beat_at).total_seconds() < every * STALE_AFTER

    def to_json(self) -> str:
        return json.dumps(
            {
                "pid": self.pid,
                "host": self.host,
                "boot": self.boot,
                "started_at": self.started_at.isoformat(),
                "beat_at": self.beat_at.isoformat(),
                "dry_run": self.dry_run,
                "stopped": self.stopped,
                "next": [[p, a, t.isoformat()] for p, a, t in self.next],
                "sweep": self.sweep,
            }
        )

    @staticmethod
    def from_json(raw: str) -> Heartbeat:
        d = json.loads(raw)
        return Heartbeat(
            int(d["pid"]),
            str(d["host"]),
            datetime.fromisoformat(d["started_at"]),
            datetime.fromisoformat(d["beat_at"]),
            bool(d.get("dry_run", False)),
            [(p, a, datetime.fromisoformat(t)) for p, a, t in d.get("next", [])],
            bool(d.get("stopped", False)),
            float(d.get("sweep", SWEEP_SECONDS)),
            str(d.get("boot", "")),
        )


#: A stopped or silent worker's heartbeat is forgotten after this long.
FORGET_AFTER = timedelta(days=7)


def read_heartbeats(ledger: Ledger) -> list[Heartbeat]:
    """Every worker's heartbeat, the latest first (unreadable ones left out)."""
    beats = []
    for key, raw in ledger.meta_items(HEARTBEAT_KEY).items():
        if key != HEARTBEAT_KEY and not key.startswith(HEARTBEAT_KEY + ":"):
            continue
        try:
            beats.append(Heartbeat.from_json(raw))
        except (ValueError, KeyError, TypeError):
            continue
    beats.sort(key=lambda b: b.beat_at, reverse=True)
    return beats


def read_heartbeat(ledger: Ledger) -> tuple[Heartbeat, float] | None:
    """The latest heartbeat of any worker, and its sweep."""
    beats = read_heartbeats(ledger)
    return (beats[0], beats[0].sweep) if beats else None


def forget_old(ledger: Ledger, now: datetime) -> None:
    """Drop the heartbeats of workers stopped or silent for FORGET_AFTER."""
    for key, raw in ledger.meta_items(HEARTBEAT_KEY).items():
        try:
            beat = Heartbeat.from_json(raw)
        except (ValueError, KeyError, TypeError):
            continue
        if now - beat.beat_at > FORGET_AFTER:
            ledger.delete_meta(key)
