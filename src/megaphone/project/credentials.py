"""Credentials of an account: from the environment or the project's ``.env``.

For the account NAME, megaphone reads ``MEGAPHONE_<NAME>_<FIELD>`` for each
field its network's rules name (``credential_fields``; X: ``API_KEY``,
``API_SECRET``, ``ACCESS_TOKEN``, ``ACCESS_SECRET``), NAME upper-cased and
``-`` written ``_``, and ``_API_URL`` to send its requests somewhere other
than the network's own host.  The environment wins over ``.env``.

A secret never leaves this module in a form that prints: :class:`Secret`
shows itself as ``'***'`` in ``repr``, ``str`` and f-strings.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from megaphone.errors import MegaphoneError
from megaphone.networks.base import Credentials, Secret

__all__ = ["ENV_FILE", "CredentialStore", "Credentials", "Lookup", "Secret", "env_prefix"]

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

ENV_FILE = ".env"


def env_prefix(account: str) -> str:
    """``MEGAPHONE_UTLA_`` for ``utla``; ``MEGAPHONE_RECLAIM_LA_`` for ``reclaim-la``."""
    return "MEGAPHONE_" + re.sub(r"[^A-Za-z0-9]", "_", account).upper() + "_"


def read_env_file(root: Path) -> dict[str, str]:
    """The variables of the project's ``.env`` (none when there is no file)."""
    path = root / ENV_FILE
    if not path.is_file() and not path.is_symlink():
        return {}
    import io

    from dotenv import dotenv_values

    from megaphone.project.files import FileRefused, read_inside

    try:
        data = read_inside(path, root, limit=1024 * 1024)
        values = dotenv_values(stream=io.StringIO(data.decode("utf-8")), interpolate=False)
    except FileRefused as e:
        raise MegaphoneError(f"{ENV_FILE} is not read: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise MegaphoneError(f"cannot read {ENV_FILE}: {e.__class__.__name__}") from None
    return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class Lookup:
    """What was found for one account: credentials, or the names missing."""

    account: str
    credentials: Credentials | None
    missing: tuple[str, ...]
    source: str  # "environment", ".env", "environment and .env" or ""

    @property
    def api_url(self) -> str | None:
        return self.credentials.api_url if self.credentials else None


class CredentialStore:
    """Looks credentials up in the environment, then in ``.env``."""

    def __init__(self, root: Path, environ: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.environ = os.environ if environ is None else environ
        self._file: dict[str, str] | None = None

    def _env_file(self) -> dict[str, str]:
        if self._file is None:
            self._file = read_env_file(self.root)
        return self._file

    def get(self, name: str) -> tuple[str | None, str]:
        value = self.environ.get(name)
        if value:
            return value, "environment"
        value = self._env_file().get(name)
        if value:
            return value, ENV_FILE
        return None, ""

    def lookup(self, account: str, fields: tuple[str, ...]) -> Lookup:
        """The credentials of ``account``: the variables of its network's
        ``fields``."""
        prefix = env_prefix(account)
        values: dict[str, str] = {}
        sources: set[str] = set()
        missing: list[str] = []
        for field in fields:
            value, source = self.get(prefix + field)
            if value is None:
                missing.append(prefix + field)
            else:
                values[field] = value
                sources.add(source)
        api_url, where = self.get(prefix + "API_URL")
        if api_url is not None:
            from megaphone.networks import api_url_problem, redact_url

            why = api_url_problem(api_url)
            if why is not None:
                raise MegaphoneError(f"{prefix}API_URL (from {where}) {redact_url(api_url)}: {why}")
        source = " and ".join(sorted(sources))
        if missing:
            return Lookup(account, None, tuple(missing), source)
        credentials = Credentials(
            tuple((k, Secret(v)) for k, v in values.items()),
            api_url=api_url.rstrip("/") if api_url else None,
        )
        return Lookup(account, credentials, (), source)

    def require(self, account: str, fields: tuple[str, ...]) -> Credentials:
        found = self.lookup(account, fields)
        if found.credentials is None:
            raise MegaphoneError(
                f"account {account!r} has no credentials: set {', '.join(found.missing)} "
                f"in the environment or in {ENV_FILE} (megaphone auth {account} writes them)"
            )
        return found.credentials


def write_env_values(root: Path, values: Mapping[str, str]) -> Path:
    """Set ``values`` in the project's ``.env``, keeping its other lines, and
    leave the file readable by its owner only (mode 0600).  Atomic: the file
    is replaced whole, never left half-written."""
    path = root / ENV_FILE
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    pending = dict(values)
    out: list[str] = []
    for line in lines:
        key = line.split("=", 1)[0].strip().removeprefix("export ").strip()
        if "=" in line and key in pending:
            out.append(f"{key}={_quote(pending.pop(key))}")
        else:
            out.append(line)
    out.extend(f"{k}={_quote(v)}" for k, v in pending.items())
    from megaphone.project.edit import write_atomic

    write_atomic(path, "\n".join(out) + "\n", mode=0o600)
    return path


def _quote(value: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_\-./:+=@]*", value):
        return value
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"
