"""PostgreSQL: schemas from search_path, read-only detection, advisory locks, session timeouts."""

from __future__ import annotations

import importlib
import math
import re
import time
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from django.db import connections

from migrator.backends import (
    LOCK_NAME,
    LockTimeout,
    holder_name,
    lock_connect_timeout,
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
from migrator.inspect import first_line
from migrator.types import AliasInfo, LockInfo, Missing, Probe

OPTIONS_SOURCE = "OPTIONS['options']"
SERVER_SOURCE = "the server's setting (ALTER ROLE/ALTER DATABASE ... SET search_path)"
LOCK_CLASS = zlib.crc32(LOCK_NAME.encode()) & 0x7FFFFFFF  # first int4 of the advisory lock key


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


def connect(alias: str, timeout: float, application_name: str | None = None) -> Any:
    """A new autocommit driver connection with the alias's parameters and a connect timeout."""
    wrapper: Any = connections[alias]  # the vendor's DatabaseWrapper, with .Database
    params = wrapper.get_connection_params()
    for key in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(key, None)
    params["connect_timeout"] = bounded_connect_timeout(params.get("connect_timeout"), timeout)
    params["application_name"] = application_name or holder_name()
    connection = wrapper.Database.connect(**params)
    connection.autocommit = True
    return connection


def lock_key(info: AliasInfo, schema: str) -> tuple[int, int]:
    """Two int4s: a fixed one for migrator, one from the database and schema."""
    digest = zlib.crc32(f"{info.name}/{schema}".encode())
    return LOCK_CLASS, digest - (1 << 32) if digest >= (1 << 31) else digest


def _resolved(info: AliasInfo, database: str, connection: Any) -> AliasInfo:
    """``info`` with what the connection reports for the settings left to the service."""
    details = getattr(connection, "info", None)
    host = info.host or str(getattr(details, "host", "") or "")
    if host.startswith("/"):
        host = ""  # a Unix socket directory: shown as localhost
    port = info.port or str(getattr(details, "port", "") or "")
    return replace(info, name=database, host=host, port=port)


class PostgreSQL:
    def probe(self, info: AliasInfo, timeout: float) -> Probe:
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
    def lock(self, info: AliasInfo, timeout: float) -> Iterator[LockInfo]:
        connection = connect(info.alias, lock_connect_timeout(timeout))
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_schemas(false), current_database()")
                schemas, database = cursor.fetchone()
                # Without NAME (OPTIONS['service']), the database the service selected.
                key = lock_key(replace(info, name=info.name or database), (schemas or [""])[0])
                started = time.monotonic()
                while True:
                    cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
                    if cursor.fetchone()[0]:
                        break
                    if time.monotonic() - started >= timeout:
                        raise LockTimeout(self._holder(cursor, key))
                    time.sleep(0.1)
                yield LockInfo(info.alias, time.monotonic() - started)
                # Closing the session below releases the lock too, also when this unlock fails.
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)
        finally:
            connection.close()

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
