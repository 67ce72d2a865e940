"""Vendor-specific preflight, creation, locking and session settings.

Each backend works on its own short-lived driver connection (never Django's), opened from the
alias's own connection parameters, so preflight can time out quickly and a lock lives exactly as
long as the run that holds it (a session lock dies with its process).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from migrator.types import AliasInfo, LockInfo, Missing, Probe

LOCK_NAME = "django-migrator"


class LockTimeout(Exception):
    """Another run holds the alias's lock past the timeout; the message names the holder."""


class Backend(Protocol):
    def probe(self, info: AliasInfo, timeout: float) -> Probe: ...

    def create(self, missing: Missing, timeout: float) -> None: ...

    def lock(self, info: AliasInfo, timeout: float) -> AbstractContextManager[LockInfo]: ...

    def session(self, alias: str, values: Mapping[str, str]) -> AbstractContextManager[None]: ...


def backend(vendor: str) -> Backend:
    if vendor == "postgresql":
        from migrator.backends.postgresql import PostgreSQL

        return PostgreSQL()
    if vendor == "mysql":
        from migrator.backends.mysql import MySQL

        return MySQL()
    if vendor == "sqlite":
        from migrator.backends.sqlite import SQLite

        return SQLite()
    from migrator.backends.generic import Generic

    return Generic()


def lock_connect_timeout(lock_timeout: float) -> float:
    """How long the lock's own connection may take to connect: long enough for a busy server
    (at least 5 s), never the whole lock wait (a --lock-timeout of days would overflow the
    drivers' connect timeouts)."""
    return min(max(lock_timeout, 5.0), 60.0)


def restore_quietly(connection: Any, statement: str, params: Iterable[Sequence[Any]]) -> None:
    """Put session settings back after a migration (``statement`` once per params tuple); a
    connection that died needs nothing."""
    try:
        with connection.cursor() as cursor:
            for values in params:
                cursor.execute(statement, tuple(values))
    except Exception:
        connection.close()  # Django reconnects with a fresh session, without our settings


def holder_name() -> str:
    """How this process names itself to the servers (PostgreSQL application_name)."""
    return f"{LOCK_NAME} pid {os.getpid()} on {socket.gethostname()}"[:63]
