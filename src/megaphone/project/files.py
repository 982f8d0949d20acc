"""Reading a project's own files, and nothing else.

Every file megaphone reads as input — ``megaphone.yaml``, queue files,
``.env`` — goes through :func:`read_inside`: after following symbolic
links it must still be inside the project folder, be a regular file (not a
FIFO, a device, ``/dev/zero`` or ``/proc/self/environ``), and be of a sane
size.  A committed ``posts/x.yaml -> ../../.ssh/id_rsa`` is refused, never
read, and so never quoted in an error.
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

from megaphone.errors import MegaphoneError

if TYPE_CHECKING:
    from pathlib import Path

#: The largest input file megaphone reads (a queue of thousands of posts is
#: a few megabytes).
MAX_BYTES = 10 * 1024 * 1024
QUEUE_SUFFIXES = (".yaml", ".yml")


class FileRefused(MegaphoneError):
    """A file that megaphone will not read, and why."""


def inside(path: Path, root: Path) -> bool:
    """Whether ``path``, its links followed, is in the folder ``root``."""
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):
        return False
    return True


def read_inside(
    path: Path, root: Path, *, suffixes: tuple[str, ...] = (), limit: int = MAX_BYTES
) -> bytes:
    """The bytes of ``path``; :class:`FileRefused` when it is not a file of
    the project that megaphone may read.  ``suffixes``: what the real file's
    name (its links followed) must end with."""
    try:
        real = path.resolve(strict=True)
    except FileNotFoundError:
        raise FileRefused("no such file") from None
    except (OSError, RuntimeError) as e:
        raise FileRefused(
            f"cannot follow its links ({getattr(e, 'strerror', None) or e})"
        ) from None
    if not inside(real, root):
        raise FileRefused(
            "it leads outside the project folder (through a symbolic link or '..'); "
            "megaphone reads only the project's own files"
        )
    if suffixes and not real.name.lower().endswith(suffixes):
        raise FileRefused(
            f"it is a link to {real.name}, which is not a {' or '.join(suffixes)} file"
        )
    try:
        # O_NONBLOCK: a FIFO put in its place since is not waited on.
        fd = os.open(real, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as e:
        raise FileRefused(f"cannot read it: {e.strerror or e}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused("not a regular file (a folder, FIFO, device or socket)")
        if info.st_size > limit:
            raise FileRefused(
                f"{info.st_size // (1024 * 1024)} MB: larger than {limit // (1024 * 1024)} MB"
            )
        chunks = []
        total = 0
        while chunk := os.read(fd, 1 << 20):
            total += len(chunk)
            if total > limit:
                raise FileRefused(f"larger than {limit // (1024 * 1024)} MB")
            chunks.append(chunk)
        return b"".join(chunks)
    except BlockingIOError:
        raise FileRefused("not a regular file") from None
    except OSError as e:
        raise FileRefused(f"cannot read it: {e.strerror or e}") from None
    finally:
        os.close(fd)
