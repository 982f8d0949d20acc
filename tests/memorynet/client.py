from __future__ import annotations

from typing import Any

from tests.fakenet import Memory, MemoryNetwork

#: The network's side, shared by every account the tests open.
MEMORY = Memory()


def open_account(credentials: Any, *, timeouts: Any) -> MemoryNetwork:
    assert credentials.field("TOKEN").reveal()  # its own credential field
    return MEMORY.network()
