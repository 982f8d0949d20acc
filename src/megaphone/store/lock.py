"""A lock file that says who holds it: one publishing run (or worker) per
project at a time.  The operating system releases it when its holder dies,
so a crash never leaves a stale lock behind."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from megaphone.errors import MegaphoneError

if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType


class Busy(MegaphoneError):
    """Another process holds the lock."""

    exit_code = 75  # EX_TEMPFAIL: try again later

    def __init__(self, message: str, holder: str) -> None:
        super().__init__(message)
        self.holder = holder


class ProjectLock:
    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise MegaphoneError(
                f"cannot take the lock {self.path.name} in {self.path.parent}: "
                f"{e.strerror or e} (is {self.path.parent.name} a folder?)"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise Busy(f"{self.what} is already running ({holder})", holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ProjectLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
