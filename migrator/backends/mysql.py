"""MySQL/MariaDB: the database exists, read-only detection, GET_LOCK, lock_wait_timeout."""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from django.db import connections

from migrator.backends import (
    LOCK_NAME,
    NO_WAIT,
    Guard,
    LockWait,
    acquire,
    changed_meanwhile,
    lock_connect_timeout,
    own_connection,
    recorded_rows,
    restore_quietly,
)
from migrator.text import first_line
from migrator.types import AliasInfo, LockInfo, Missing, Probe

READ_ONLY_VARIABLES = ("read_only", "super_read_only", "transaction_read_only", "tx_read_only")


def connect(
    alias: str, timeout: float, *, with_database: bool = True, extra: Mapping[str, Any] = {}
) -> Any:
    """A new autocommit connection with the alias's parameters and Django's set-up
    (``own_connection``), optionally without selecting the database (so a missing database can
    be reported and created)."""
    options = {**extra, "connect_timeout": max(1, math.ceil(timeout))}
    if with_database:
        connection = own_connection(alias, options)
    else:
        connection = own_connection(alias, options, name="", drop=("db", "database"))
    connection.autocommit(True)
    return connection


def quote(name: str) -> str:
    """A MySQL identifier in backticks, backticks inside doubled."""
    return "`" + name.replace("`", "``") + "`"


def lock_name(database: str, kind: str = "") -> str:
    """GET_LOCK names are server-wide and at most 64 characters: one per database (the guard
    around each migration has its own ``kind``)."""
    prefix = f"{LOCK_NAME}{'-' + kind if kind else ''}"
    name = f"{prefix}:{database}"
    if len(name) > 64:
        name = f"{prefix}:{hashlib.sha256(database.encode()).hexdigest()[:40]}"
    return name


# The lock's own session: no statement time limit on its GET_LOCK (MariaDB, MySQL), and no idle
# timeout while the migrations run on Django's connection (31536000 s: the largest allowed).
_LOCK_SESSION = (
    "SET SESSION max_statement_time = 0",
    "SET SESSION max_execution_time = 0",
    "SET SESSION wait_timeout = 31536000",
)
# The lock's connection gives up on a server that stopped answering (a GET_LOCK waits a second).
_LOCK_OPTIONS = {"read_timeout": 30, "write_timeout": 30}


def _unknown_database(exc: Exception) -> str:
    """The name in MySQL's error 1049 (``Unknown database 'x'``), else empty."""
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    if len(args) >= 2 and args[0] == 1049:
        match = re.search(r"'(.*)'", str(args[1]))
        return match.group(1) if match else ""
    return ""


def _resolved(info: AliasInfo, database: str, connection: Any, port: str) -> AliasInfo:
    """``info`` with what the server reports for the settings left to the option file."""
    host = info.host
    if not host:
        described = str(connection.get_host_info())  # "127.0.0.1 via TCP/IP"
        host = described.split(" via ")[0]
        if "TCP/IP" not in described:
            port = ""
    return replace(info, name=database, host=host, port=info.port or port)


def attempt_wait(seconds: float) -> int:
    """``lock_wait_timeout``/``innodb_lock_wait_timeout`` for a retried migration's attempt of
    ``seconds`` (MIGRATOR["LOCK_RETRIES"] DDL_LOCK_TIMEOUT): whole seconds, at least 1."""
    return max(1, math.ceil(seconds))


class MySQL:
    def probe(self, info: AliasInfo, timeout: float, *, writes: bool = True) -> Probe:
        """Reachable, the version, read-only flags, and the database: NAME's exists; without
        NAME (OPTIONS['read_default_file'] names it, as Django allows) the server says which
        database the connection selected, and the returned probe's ``info`` carries its name."""
        from_file = not info.name
        try:
            connection = connect(info.alias, timeout, with_database=from_file)
        except Exception as exc:
            unknown = _unknown_database(exc)
            if from_file and unknown:
                return Probe(
                    info,
                    problems=(
                        f"database {unknown!r}, which the option file names, does not exist; "
                        f"create it (CREATE DATABASE {quote(unknown)}) or fix the option file "
                        "(--create-schemas cannot: the option file selects it on every "
                        "connection).",
                    ),
                )
            return Probe(info, reachable=False, problems=(f"cannot connect: {first_line(exc)}",))
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT VERSION(), DATABASE(), @@port")
            version, selected, port = cursor.fetchone()
            if from_file:
                if not selected:
                    return Probe(
                        info,
                        version=str(version),
                        problems=(
                            "no database: NAME is empty and the option file names none; set "
                            "NAME, or 'database = NAME' in the option file's [client] section.",
                        ),
                    )
                info = _resolved(info, str(selected), connection, str(port))
            cursor.execute(
                "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
                (info.name,),
            )
            exists = cursor.fetchone() is not None
            cursor.execute(
                "SHOW VARIABLES WHERE Variable_name IN (%s, %s, %s, %s)", READ_ONLY_VARIABLES
            )
            flags = {name: str(value).upper() in ("ON", "1") for name, value in cursor.fetchall()}
        finally:
            connection.close()
        reasons = [f"@@{name} is ON" for name in READ_ONLY_VARIABLES if flags.get(name)]
        return Probe(
            info,
            version=str(version),
            read_only="; ".join(reasons),
            missing=() if exists else (Missing(info.alias, "database", info.name),),
        )

    def create(self, missing: Missing, timeout: float) -> None:
        connection = connect(missing.alias, timeout, with_database=False)
        try:
            connection.cursor().execute(f"CREATE DATABASE IF NOT EXISTS {quote(missing.name)}")
        finally:
            connection.close()

    @contextmanager
    def lock(self, info: AliasInfo, timeout: float, wait: LockWait = NO_WAIT) -> Iterator[LockInfo]:
        """``GET_LOCK`` on a connection of its own, named after the database the server selected
        (every spelling of one database gets one lock). The wait goes in steps of a second, so
        a stop request is acted on while waiting, and no server-side statement time limit
        (MariaDB ``max_statement_time``, MySQL ``max_execution_time``) ends it early; the
        connection's ``wait_timeout`` is lifted, so the server does not close it while the
        migrations run on Django's connection."""
        connection = connect(info.alias, lock_connect_timeout(timeout), extra=_LOCK_OPTIONS)
        name = ""
        try:
            cursor = connection.cursor()
            for statement in _LOCK_SESSION:
                with contextlib.suppress(Exception):  # the other vendor's variable
                    cursor.execute(statement)
            cursor.execute("SELECT DATABASE()")
            database = str(cursor.fetchone()[0] or info.name)
            name = lock_name(database)
            started = time.monotonic()

            def attempt(again: bool) -> bool:
                # First at once; then a second at a time, so that a stop request is seen.
                left = timeout - (time.monotonic() - started)
                seconds = max(0, min(1, math.ceil(left))) if again else 0
                cursor.execute("SELECT GET_LOCK(%s, %s)", (name, seconds))
                got = cursor.fetchone()[0]
                if got is None:
                    raise RuntimeError(
                        f"GET_LOCK({name!r}) returned NULL: the lock's connection was killed or "
                        "the server ran out of memory; run again"
                    )
                return bool(got == 1)

            waited = acquire(attempt, lambda: self._holder(cursor, name), timeout, wait)

            def lost() -> str | None:
                try:
                    cursor.execute("SELECT IS_USED_LOCK(%s) = CONNECTION_ID()", (name,))
                    held = cursor.fetchone()[0]
                except Exception as exc:
                    return f"its connection ended ({first_line(exc)})"
                return None if held == 1 else "the server no longer lists it (IS_USED_LOCK)"

            yield LockInfo(info.alias, waited, scope=database, lost=lost)
        finally:
            # Closing the session releases the lock too, also when this fails (the step's
            # outcome does not depend on it).
            with contextlib.suppress(Exception):
                if name:
                    connection.cursor().execute("SELECT RELEASE_LOCK(%s)", (name,))
            connection.close()

    @contextmanager
    def guard(self, guard: Guard) -> Iterator[None]:
        """Around one migration on Django's connection: a second ``GET_LOCK`` held while the
        migration runs and is recorded, and ``django_migrations`` read again once it is held, so
        a migration another run applied meanwhile (after this run's lock was lost) is not
        applied twice; then the session settings for this migration only."""
        connection: Any = connections[guard.alias]
        name = lock_name(guard.scope, kind="apply")
        with connection.cursor() as cursor:

            def attempt(again: bool) -> bool:
                # At once, then a second at a time, so that a stop request is seen.
                cursor.execute("SELECT GET_LOCK(%s, %s)", (name, 1 if again else 0))
                return bool(cursor.fetchone()[0] == 1)

            def holder() -> str:
                return f"{guard.held_by_another()} ({self._holder(cursor, name)})"

            acquire(attempt, holder, guard.timeout, guard.wait)
        try:
            with connection.cursor() as cursor:
                rows = recorded_rows(cursor, guard.migration)
            changed_meanwhile(guard.alias, guard.migration, guard.backwards, rows)
            if guard.ddl_lock_timeout is not None:
                with self.attempt_timeouts(guard.alias, guard.ddl_lock_timeout):
                    yield
            else:
                with self.session(guard.alias, guard.values):
                    yield
        finally:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT RELEASE_LOCK(%s)", (name,))
            except Exception:
                connection.close()  # a dead session holds nothing

    @staticmethod
    def _holder(cursor: Any, name: str) -> str:
        cursor.execute("SELECT IS_USED_LOCK(%s)", (name,))
        holder = cursor.fetchone()[0]
        if holder is None:
            return "the holder released it just now"
        cursor.execute(
            "SELECT USER, HOST FROM information_schema.PROCESSLIST WHERE ID = %s", (holder,)
        )
        row = cursor.fetchone()
        who = f", user {row[0]} from {row[1]}" if row else ""
        return f"held by connection id {holder}{who}"

    @contextmanager
    def session(self, alias: str, values: Mapping[str, str]) -> Iterator[None]:
        """Set lock_wait_timeout on Django's connection for the migration only."""
        if not values:
            yield
            return
        connection = connections[alias]
        with connection.cursor() as cursor:
            cursor.execute("SELECT @@SESSION.lock_wait_timeout")
            previous = cursor.fetchone()[0]
            cursor.execute(
                "SET SESSION lock_wait_timeout = %s", (int(values["lock_wait_timeout"]),)
            )
        try:
            yield
        finally:
            restore_quietly(connection, "SET SESSION lock_wait_timeout = %s", [(int(previous),)])

    @contextmanager
    def attempt_timeouts(self, alias: str, seconds: float) -> Iterator[None]:
        """A retried migration's attempt (MIGRATOR["LOCK_RETRIES"]): ``lock_wait_timeout``
        (metadata locks: DDL) and ``innodb_lock_wait_timeout`` (row locks) of the session set to
        ``seconds`` (whole seconds, at least 1) for the attempt, then put back."""
        connection = connections[alias]
        wait = attempt_wait(seconds)
        with connection.cursor() as cursor:
            cursor.execute("SELECT @@SESSION.lock_wait_timeout, @@SESSION.innodb_lock_wait_timeout")
            previous = cursor.fetchone()
            cursor.execute(
                "SET SESSION lock_wait_timeout = %s, innodb_lock_wait_timeout = %s", (wait, wait)
            )
        try:
            yield
        finally:
            restore_quietly(
                connection,
                "SET SESSION lock_wait_timeout = %s, innodb_lock_wait_timeout = %s",
                [(int(previous[0]), int(previous[1]))],
            )
