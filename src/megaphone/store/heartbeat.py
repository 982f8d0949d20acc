"""The worker's heartbeat in the ledger: who runs it, since when, when it
last beat, what it will send next — read by ``status`` and the alerts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
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
    pid: int
    host: str
    started_at: datetime
    beat_at: datetime
    dry_run: bool
    next: list[tuple[str, str, datetime]] = field(default_factory=list)
    stopped: bool = False

    def alive(self, now: datetime, sweep: float) -> bool:
        return not self.stopped and (now - self.beat_at).total_seconds() < sweep * STALE_AFTER

    def to_json(self) -> str:
        return json.dumps(
            {
                "pid": self.pid,
                "host": self.host,
                "started_at": self.started_at.isoformat(),
                "beat_at": self.beat_at.isoformat(),
                "dry_run": self.dry_run,
                "stopped": self.stopped,
                "next": [[p, a, t.isoformat()] for p, a, t in self.next],
                "sweep": SWEEP_SECONDS,
            }
        )

    @staticmethod
    def from_json(raw: str) -> tuple[Heartbeat, float]:
        d = json.loads(raw)
        beat = Heartbeat(
            d["pid"],
            d["host"],
            datetime.fromisoformat(d["started_at"]),
            datetime.fromisoformat(d["beat_at"]),
            d.get("dry_run", False),
            [(p, a, datetime.fromisoformat(t)) for p, a, t in d.get("next", [])],
            d.get("stopped", False),
        )
        return beat, float(d.get("sweep", SWEEP_SECONDS))


def read_heartbeat(ledger: Ledger) -> tuple[Heartbeat, float] | None:
    raw = ledger.get_meta(HEARTBEAT_KEY)
    if not raw:
        return None
    try:
        return Heartbeat.from_json(raw)
    except (ValueError, KeyError, TypeError):
        return None
