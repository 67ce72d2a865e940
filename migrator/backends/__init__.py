"""Vendor-specific preflight, creation, locking and session settings.

Probes and locks work on their own short-lived driver connections (never Django's), opened from
the alias's own connection parameters, so preflight can time out quickly and a lock lives exactly
as long as the run that holds it. A lock is *watched*: ``LockInfo.lost`` is asked before and after
every migration, and a lock whose connection died stops the step. Around each migration, the
backend's ``guard`` runs on Django's own connection: it applies the session settings and, where
the database allows, takes a second lock and checks ``django_migrations`` again, so that a
migration another run applied meanwhile (after this run's lock was lost) is never applied twice.
"""

from __future__ import annotations

import copy
import os
import socket
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from django.db import connections

from migrator.types import AliasInfo, LockInfo, Missing, Probe, never

LOCK_NAME = "django-migrator"


class LockTimeout(Exception):
    """Another run holds the alias's lock past the timeout; the message names the holder."""


def lock_timeout_error(alias: str, timeout: float, exc: LockTimeout) -> str:
    """A step's (or a repair's) error when the lock did not come within ``timeout``."""
    return (
        f"LockTimeout: could not lock {alias} within {timeout:g}s: {exc}. Another "
        "migrate_all/migrator run is migrating it; wait for it to finish or raise --lock-timeout"
    )


class LockInterrupted(Exception):
    """A stop was requested (SIGTERM/SIGINT) while waiting for a lock; the message names it."""


class ChangedMeanwhile(Exception):
    """Another run applied (or unapplied) the migration while this one waited to run it."""


def _ignore(holder: str) -> None:
    return None


@dataclass(frozen=True)
class LockWait:
    """What a lock does while it waits: ``should_stop`` is asked between two attempts (a signal
    name ends the wait with ``LockInterrupted``); ``waiting`` is told the holder once, when the
    lock is found taken."""

    should_stop: Callable[[], str | None] = never
    waiting: Callable[[str], None] = _ignore


NO_WAIT = LockWait()


def acquire(
    attempt: Callable[[bool], bool],
    holder: Callable[[], str],
    timeout: float,
    wait: LockWait,
    pause: float = 0.0,
) -> float:
    """Call ``attempt(waited_before)`` until it gets the lock; returns the seconds waited.

    Past ``timeout`` raises ``LockTimeout`` naming the ``holder()``; the holder is announced once
    through ``wait.waiting``, and a stop request (``wait.should_stop``) between two attempts
    raises ``LockInterrupted``. ``pause``: seconds between attempts that return at once."""
    started = time.monotonic()
    announced = False
    while not attempt(announced):
        if time.monotonic() - started >= timeout:
            raise LockTimeout(holder())
        if not announced:
            announced = True
            wait.waiting(holder())
        stop = wait.should_stop()
        if stop:
            raise LockInterrupted(stop)
        time.sleep(pause)
    return time.monotonic() - started


@dataclass(frozen=True)
class Guard:
    """What the guard around one migration needs: the lock's scope (the server's own name for
    the database and schema), the migration, its direction, the session settings, and how long
    to wait for another run's migration to end."""

    alias: str
    scope: str
    migration: Any  # django.db.migrations.Migration
    backwards: bool
    values: Mapping[str, str]
    timeout: float
    wait: LockWait = NO_WAIT  # a stop request ends the wait for another run's migration
    # MIGRATOR["LOCK_RETRIES"]["DDL_LOCK_TIMEOUT"] for a migration that is retried on a lock
    # timeout: the lock wait of this attempt only (None: the server's, or SESSION's).
    ddl_lock_timeout: float | None = None

    def held_by_another(self) -> str:
        name = f"{self.migration.app_label}.{self.migration.name}"
        return f"the guard of {name} is held by another run applying it"


class Backend(Protocol):
    # writes=False: only read (--plan, --check, --drift, the menu's status); a backend that would
    # try something for real (SQLite: a file in the folder) asks instead.
    def probe(self, info: AliasInfo, timeout: float, *, writes: bool = True) -> Probe: ...

    def create(self, missing: Missing, timeout: float) -> None: ...

    def lock(
        self, info: AliasInfo, timeout: float, wait: LockWait = NO_WAIT
    ) -> AbstractContextManager[LockInfo]: ...

    def guard(self, guard: Guard) -> AbstractContextManager[None]: ...


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


def own_connection(
    alias: str,
    options: Mapping[str, Any],
    *,
    defaults: Mapping[str, Any] | None = None,
    name: str | None = None,
    drop: Iterable[str] = (),
) -> Any:
    """A new driver connection for ``alias`` of migrator's own (a probe's, a lock's), set up the
    way Django sets up its connections: the backend's connection parameters, then its
    initialisation (``OPTIONS["assume_role"]``, the time zone, ``init_command``, the
    ``connection_created`` signal). ``options`` override the alias's ``OPTIONS``, ``defaults``
    apply where it has none, ``drop`` are left out; ``name`` replaces ``NAME`` (``""``: connect to
    no database).
    Never taken from a connection pool (``OPTIONS["pool"]``); autocommit, as Django's are."""
    from django.db.utils import load_backend

    settings = copy.deepcopy(connections.settings[alias])
    merged = {**(defaults or {}), **(settings.get("OPTIONS") or {}), **options}
    for key in ("pool", *drop):
        merged.pop(key, None)
    settings["OPTIONS"] = merged
    if name is not None:
        settings["NAME"] = name
    wrapper = load_backend(settings["ENGINE"]).DatabaseWrapper(settings, alias)
    try:
        wrapper.ensure_connection()
    except Exception as exc:
        release(exc)
        raise
    return wrapper.connection


def release(exc: BaseException) -> None:
    """Drop the local variables of the frames a failed connect left in ``exc`` (and the errors
    it chains): psycopg keeps a timed-out attempt's socket there until the garbage collector
    runs, so the server would see it open long after the attempt gave up (and many probes at
    once would hold many sockets)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        current = current.__cause__ or current.__context__


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


def recorded_rows(cursor: Any, migration: Any) -> set[tuple[str, str]]:
    """The ``django_migrations`` rows of ``migration`` (of what it replaces, for a squash) that
    exist now, read with ``cursor`` (Django's or a driver's: both take ``%s`` parameters)."""
    keys = list(migration.replaces or [(migration.app_label, migration.name)])
    apps = sorted({app for app, _ in keys})
    cursor.execute(
        f"SELECT app, name FROM django_migrations WHERE app IN ({', '.join(['%s'] * len(apps))})",
        apps,
    )
    wanted = set(keys)
    return {(str(app), str(name)) for app, name in cursor.fetchall()} & wanted


def changed_meanwhile(
    alias: str, migration: Any, backwards: bool, rows: set[tuple[str, str]]
) -> None:
    """Raise ``ChangedMeanwhile`` when ``rows`` (``recorded_rows``, read once this run holds the
    guard) show that another run recorded ``migration`` (any of what a squash replaces) since this
    run planned it, or, unapplying, removed any of its rows."""
    keys = set(migration.replaces or [(migration.app_label, migration.name)])
    name = f"{migration.app_label}.{migration.name}"
    if not backwards and rows:
        raise ChangedMeanwhile(
            f"{name} was applied on {alias} by another run while this run waited to apply it (a "
            "run whose lock was lost, or a plain migrate); it was not applied again. Run again to "
            "continue."
        )
    if backwards and rows != keys:
        raise ChangedMeanwhile(
            f"{name} was unapplied on {alias} by another run while this run waited; it was not "
            "unapplied again. Run again to continue."
        )
