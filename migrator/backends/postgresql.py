"""PostgreSQL: schemas from search_path, read-only detection, advisory locks, session timeouts."""

from __future__ import annotations

import contextlib
import importlib
import math
import re
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from django.db import connections, transaction

from migrator.backends import (
    LOCK_NAME,
    NO_WAIT,
    Guard,
    LockWait,
    acquire,
    changed_meanwhile,
    holder_name,
    lock_connect_timeout,
    own_connection,
    recorded_rows,
    restore_quietly,
)
from migrator.backends.pgoptions import (
    configured_value,
    dropped_search_path,
    long_names,
    no_schema,
    parse_search_path,
    resolved,
    schemas_to_create,
)
from migrator.text import first_line
from migrator.types import AliasInfo, LockInfo, Missing, Probe

OPTIONS_SOURCE = "OPTIONS['options']"
SERVER_SOURCE = "the server's setting (ALTER ROLE/ALTER DATABASE ... SET search_path)"
LOCK_CLASS = zlib.crc32(LOCK_NAME.encode()) & 0x7FFFFFFF  # first int4 of the advisory lock key
APPLY = zlib.crc32(f"{LOCK_NAME}:apply".encode()) & 0x7FFFFFFF  # the key class of the guard
# TCP keepalives on the lock's connection: a server or proxy that went away is noticed (and the
# lock reported lost) within about a minute, not after the kernel's two hours.
KEEPALIVE = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 60000,  # a query sent to a server that went away fails within a minute
}


def bounded_connect_timeout(configured: Any, timeout: float) -> int:
    """libpq's ``connect_timeout`` for migrator's own connections: ``OPTIONS["connect_timeout"]``
    when it is shorter, never longer than ``MIGRATOR["CONNECT_TIMEOUT"]`` (``0``, libpq's "wait
    for ever", would hang preflight)."""
    ours = max(2, math.ceil(timeout))
    try:
        theirs = int(configured)
    except (TypeError, ValueError):
        return ours
    return min(ours, max(2, theirs)) if theirs > 0 else ours


def connect(
    alias: str, timeout: float, application_name: str | None = None, *, keepalive: bool = False
) -> Any:
    """A new autocommit connection with the alias's parameters and Django's set-up
    (``own_connection``), a bounded connect timeout and migrator's ``application_name``.

    psycopg 3 never prepares statements on it: behind a transaction pooler a prepared statement
    stays on one server connection ("prepared statement ... does not exist")."""
    configured = connections[alias].settings_dict.get("OPTIONS") or {}
    options: dict[str, Any] = {
        "connect_timeout": bounded_connect_timeout(configured.get("connect_timeout"), timeout),
        "application_name": application_name or holder_name(),
    }
    if "prepare_threshold" in configured:  # psycopg 3 only (Django's default there: None)
        options["prepare_threshold"] = None
    connection = own_connection(alias, options, defaults=KEEPALIVE if keepalive else None)
    if hasattr(connection, "prepare_threshold"):
        connection.prepare_threshold = None
    connection.autocommit = True
    return connection


def lock_key(scope: str, kind: int = LOCK_CLASS) -> tuple[int, int]:
    """Two int4s: a fixed one for migrator (or for its guard), one from the scope (the database
    and schema as the server names them)."""
    digest = zlib.crc32(scope.encode())
    return kind, digest - (1 << 32) if digest >= (1 << 31) else digest


def _resolved(info: AliasInfo, database: str, connection: Any) -> AliasInfo:
    """``info`` with what the connection reports for the settings left to the service."""
    details = getattr(connection, "info", None)
    host = info.host or str(getattr(details, "host", "") or "")
    if host.startswith("/"):
        host = ""  # a Unix socket directory: shown as localhost
    port = info.port or str(getattr(details, "port", "") or "")
    return replace(info, name=database, host=host, port=port)


@contextmanager
def _held_transaction(alias: str, timeout: float) -> Iterator[Any]:
    """A cursor in a transaction of a connection of migrator's own, kept open until the block
    ends: transaction-scoped advisory locks taken there hold behind a transaction pooler (the
    transaction keeps its server connection) and end with the connection."""
    connection = connect(alias, timeout, keepalive=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute("BEGIN")
            # The transaction stays idle while the migrations run on Django's connection.
            cursor.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
            cursor.execute("SET LOCAL statement_timeout = 0")
            # PostgreSQL 17's transaction_timeout (a role's or database's) would end it too.
            cursor.execute(
                "SELECT set_config('transaction_timeout', '0', true) "
                "WHERE current_setting('transaction_timeout', true) IS NOT NULL"
            )
            yield cursor
    finally:
        # Ending the transaction releases its locks (a pooler then frees its server connection
        # at once); closing the connection does too, should this fail.
        with contextlib.suppress(Exception), connection.cursor() as cursor:
            cursor.execute("ROLLBACK")
        connection.close()


def _recorded_elsewhere(guard: Guard) -> set[tuple[str, str]]:
    connection = connect(guard.alias, 5.0)
    try:
        with connection.cursor() as cursor:
            return recorded_rows(cursor, guard.migration)
    finally:
        connection.close()


def _recorded(cursor: Any) -> frozenset[tuple[str, str]]:
    """The rows of ``django_migrations`` as this session sees it (the table found through its
    search_path, as Django's ``MigrationRecorder`` finds it); empty when there is none."""
    cursor.execute("SELECT to_regclass('django_migrations') IS NOT NULL")
    if not cursor.fetchone()[0]:
        return frozenset()
    cursor.execute("SELECT app, name FROM django_migrations")
    return frozenset((str(app), str(name)) for app, name in cursor.fetchall())


def ddl_lock_timeout_value(seconds: float) -> str:
    """``lock_timeout`` for ``seconds`` (whole milliseconds, at least 1: 0 would mean none)."""
    return f"{max(1, round(seconds * 1000))}ms"


def lock_holders(alias: str, statement: str) -> str:
    """Who holds locks on the tables ``statement`` names (its double-quoted identifiers), read
    on Django's connection once a migration gave up waiting: ``pid 4242 (psql, idle in
    transaction for 12s: LOCK TABLE ...)``; empty when none is found or it cannot be read."""
    names = sorted(set(re.findall(r'"((?:[^"]|"")+)"', statement)))[:20]
    if not names:
        return ""
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT a.pid, a.application_name, a.state, "
                "floor(extract(epoch FROM now() - coalesce(a.xact_start, a.query_start))), "
                "left(regexp_replace(a.query, '\\s+', ' ', 'g'), 60) "
                "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.granted AND l.locktype = 'relation' AND l.pid <> pg_backend_pid() "
                "AND l.relation IN (SELECT to_regclass(quote_ident(n)) FROM unnest(%s::text[]) n) "
                "ORDER BY a.pid LIMIT 5",
                ([name.replace('""', '"') for name in names],),
            )
            rows = cursor.fetchall()
    except Exception:
        return ""
    found = []
    for pid, application, state, seconds, query in rows:
        who = application or "no application_name"
        since = f" for {int(seconds)}s" if seconds is not None else ""
        found.append(f"pid {pid} ({who}, {state or 'unknown state'}{since}: {query})")
    return ", ".join(found)


class PostgreSQL:
    def probe(self, info: AliasInfo, timeout: float, *, writes: bool = True) -> Probe:
        options = connections[info.alias].settings_dict.get("OPTIONS") or {}
        # Malformed options: a ConfigurationError before connecting.
        configured = configured_value(options.get("options"))
        long = long_names(parse_search_path(configured or ""), OPTIONS_SOURCE)
        try:
            connection = connect(info.alias, timeout)
        except Exception as exc:
            text = first_line(exc)
            absent = re.search(r'database "(.*?)" does not exist', str(exc))
            if absent and (absent.group(1) == info.name or not info.name):
                name = absent.group(1)
                if info.name:
                    where, fix = f" on {info.host or 'localhost'}", "fix NAME"
                else:
                    where, fix = "", "fix the service's dbname"
                return Probe(
                    info,
                    problems=(
                        f"database {name!r} does not exist{where}; "
                        f"create it (createdb {name}) or {fix}.",
                        *long,
                    ),
                )
            return Probe(info, reachable=False, problems=(f"cannot connect: {text}", *long))
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT current_setting('server_version'), "
                    "current_setting('transaction_read_only'), "
                    "current_setting('default_transaction_read_only'), pg_is_in_recovery(), "
                    "current_setting('search_path'), current_schemas(false), current_database(), "
                    "current_user"
                )
                row = cursor.fetchone()
                version, tx_ro, default_ro, recovery, session, existing, database, user = row
                if (
                    not info.name
                ):  # OPTIONS['service'] chose the database: name it as the server does
                    info = _resolved(info, str(database), connection)
                # The path the run's tables follow: the one settings configure (the session
                # must have it too, see dropped_search_path), else the server's own.
                schemas = parse_search_path(session if configured is None else configured)
                cursor.execute(
                    "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)",
                    (list(resolved(schemas, user)),),
                )
                present = {row[0] for row in cursor.fetchall()}
                applied = _recorded(cursor)
        finally:
            connection.close()
        reasons = []
        if default_ro == "on":  # implies transaction_read_only: name the setting to change
            reasons.append("default_transaction_read_only is on")
        elif tx_ro == "on":
            reasons.append("transaction_read_only is on")
        if recovery:
            reasons.append("the server is a standby in recovery (pg_is_in_recovery())")
        existing = list(existing or [])
        landing = str(existing[0]) if existing else ""
        create = schemas_to_create(schemas, present, user)
        problems = [
            dropped_search_path(configured, session, user=user, database=database, landing=landing),
            *(long if configured is not None else long_names(schemas, SERVER_SOURCE)),
            no_schema(schemas, present, create, user=user, database=database),
        ]
        return Probe(
            info,
            version=str(version).split()[0],
            read_only="; ".join(reasons),
            schemas=schemas,
            schema=landing,
            missing=tuple(Missing(info.alias, "schema", name) for name in create),
            problems=tuple(problem for problem in problems if problem),
            user=str(user),
            database=str(database),
            applied=applied,
        )

    def create(self, missing: Missing, timeout: float) -> None:
        connection = connect(missing.alias, timeout)
        driver: Any = connections[missing.alias]
        sql = importlib.import_module(driver.Database.__name__ + ".sql")
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(missing.name))
                )
        finally:
            connection.close()

    @contextmanager
    def lock(self, info: AliasInfo, timeout: float, wait: LockWait = NO_WAIT) -> Iterator[LockInfo]:
        """A transaction-scoped advisory lock, held by an open transaction on a connection of its
        own until the step ends.

        A transaction keeps its server connection also behind a transaction pooler (PgBouncer),
        where a session lock would stay on a pooled server connection that other clients share;
        it ends with the connection, so a killed run leaves no lock behind. The key is taken
        from what the server calls the database and the first schema of the search_path, so
        every spelling of one database (NAME, a service file, a pooler's alias) gets one lock.
        """
        with _held_transaction(info.alias, lock_connect_timeout(timeout)) as cursor:
            cursor.execute("SELECT current_database(), current_schemas(false)")
            database, schemas = cursor.fetchone()
            scope = f"{database}/{(schemas or [''])[0]}"
            key = lock_key(scope)

            def attempt(again: bool) -> bool:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", key)
                return bool(cursor.fetchone()[0])

            waited = acquire(attempt, lambda: self._holder(cursor, key), timeout, wait, 0.1)

            def lost() -> str | None:
                try:
                    cursor.execute(
                        "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() "
                        "AND locktype = 'advisory' AND granted "
                        "AND classid = %s::bigint::oid AND objid = %s::bigint::oid "
                        "AND objsubid = 2",
                        (key[0], key[1] & 0xFFFFFFFF),
                    )
                    held = cursor.fetchone()[0]
                except Exception as exc:
                    return f"its connection ended ({first_line(exc)})"
                return None if held else "the server no longer lists it in pg_locks"

            yield LockInfo(info.alias, waited, scope=scope, lost=lost)

    @contextmanager
    def guard(self, guard: Guard) -> Iterator[None]:
        """Around one migration on Django's connection. An atomic migration runs inside a
        transaction that first takes a second advisory lock (transaction-scoped: it holds behind
        a transaction pooler) and reads ``django_migrations`` again: should this run's lock have
        been lost while another run applied the same migration, this run waits for that
        migration's transaction to end, sees its row, and stops instead of applying it twice.
        The session settings are ``SET LOCAL`` there. A non-atomic migration cannot be wrapped:
        the settings apply to the session for this migration only, and the watched lock guards
        it."""
        connection: Any = connections[guard.alias]
        key = lock_key(guard.scope, APPLY)
        if not (guard.migration.atomic and connection.features.can_rollback_ddl):
            # No transaction to take the lock in: a transaction of a connection of its own holds
            # it while the migration runs (a session lock would not hold behind a pooler).
            with _held_transaction(guard.alias, 5.0) as cursor:
                self._take_guard(cursor, key, guard)
                with self.session(guard.alias, guard.values):
                    yield
            return
        with transaction.atomic(using=guard.alias):
            with connection.cursor() as cursor:
                self._take_guard(cursor, key, guard)
                values = dict(guard.values)
                if guard.ddl_lock_timeout is not None:
                    # This attempt's own lock wait (LOCK_RETRIES), over SESSION's lock_timeout.
                    values["lock_timeout"] = ddl_lock_timeout_value(guard.ddl_lock_timeout)
                if values:
                    calls = ", ".join(["set_config(%s, %s, true)"] * len(values))
                    cursor.execute(f"SELECT {calls}", [x for pair in values.items() for x in pair])
            yield

    @staticmethod
    def _take_guard(cursor: Any, key: tuple[int, int], guard: Guard) -> None:
        """Take the guard's lock in ``cursor``'s transaction (waiting at most --lock-timeout; a
        stop request ends the wait), then raise ``ChangedMeanwhile`` if another run recorded (or
        unrecorded) the migration since this run planned it."""

        def attempt(again: bool) -> bool:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", key)
            return bool(cursor.fetchone()[0])

        acquire(attempt, guard.held_by_another, guard.timeout, guard.wait, 0.1)
        cursor.execute("SELECT current_setting('transaction_isolation')")
        if cursor.fetchone()[0] == "read committed":
            rows = recorded_rows(cursor, guard.migration)
        else:
            # REPEATABLE READ/SERIALIZABLE (OPTIONS["isolation_level"]): this transaction's
            # snapshot predates the other run's commit; a connection of its own sees it.
            rows = _recorded_elsewhere(guard)
        changed_meanwhile(guard.alias, guard.migration, guard.backwards, rows)

    @staticmethod
    def _holder(cursor: Any, key: tuple[int, int]) -> str:
        cursor.execute(
            "SELECT a.pid, a.application_name, a.usename, host(a.client_addr) "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s::bigint::oid "
            "AND l.objid = %s::bigint::oid AND l.objsubid = 2 "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (key[0], key[1] & 0xFFFFFFFF),
        )
        row = cursor.fetchone()
        if row is None:
            return "the holder released it just now"
        pid, application, user, client = row
        where = f" from {client}" if client else ""
        return f"held by backend pid {pid} ({application or 'no application_name'}, user {user}{where})"

    @contextmanager
    def session(self, alias: str, values: Mapping[str, str]) -> Iterator[None]:
        """Set lock_timeout/statement_timeout on Django's connection for the migration only."""
        if not values:
            yield
            return
        connection = connections[alias]
        previous: dict[str, str] = {}
        with connection.cursor() as cursor:
            for name, value in values.items():
                cursor.execute("SELECT current_setting(%s)", (name,))
                previous[name] = cursor.fetchone()[0]
                cursor.execute("SELECT set_config(%s, %s, false)", (name, value))
        try:
            yield
        finally:
            restore_quietly(connection, "SELECT set_config(%s, %s, false)", previous.items())
