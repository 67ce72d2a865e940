"""The real PostgreSQL and MariaDB servers of this machine, for server-backed tests.

Tests create uniquely named databases and drop them afterwards. With CI=true an unreachable server
fails the test; elsewhere it skips with the command that starts the server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypedDict

import pytest

from tests.helpers import PG_PASSWORD


class Server(TypedDict):
    host: str
    port: int
    user: str


PG: Server = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
MARIA: Server = {"host": "127.0.0.1", "port": 3306, "user": "root"}
START = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "MariaDB": "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd",
}


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def unavailable(server: str, exc: Exception) -> None:
    where = (
        f"{PG['host']}:{PG['port']}"
        if server == "PostgreSQL"
        else f"{MARIA['host']}:{MARIA['port']}"
    )
    message = f"{server} on {where} is not reachable ({exc}); start it with: {START[server]}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def pg_connect(dbname: str = "postgres", **extra: Any) -> Any:
    import psycopg

    return psycopg.connect(dbname=dbname, autocommit=True, connect_timeout=3, **PG, **extra)


def maria_connect(**extra: Any) -> Any:
    import MySQLdb

    connection = MySQLdb.connect(connect_timeout=3, **MARIA, **extra)
    connection.autocommit(True)
    return connection


@contextmanager
def pg_databases(count: int) -> Iterator[list[str]]:
    try:
        admin = pg_connect()
    except Exception as exc:
        unavailable("PostgreSQL", exc)
    names = [unique("migrator_t") for _ in range(count)]
    try:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
        yield names
    finally:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextmanager
def maria_databases(count: int, *, create: bool = True) -> Iterator[list[str]]:
    try:
        admin = maria_connect()
    except Exception as exc:
        unavailable("MariaDB", exc)
    names = [unique("migrator_t") for _ in range(count)]
    cursor = admin.cursor()
    try:
        if create:
            for name in names:
                cursor.execute(f"CREATE DATABASE `{name}`")
        yield names
    finally:
        for name in names:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def pg_entry(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "HOST": PG["host"],
        "PORT": str(PG["port"]),
        "USER": PG["user"],
        "PASSWORD": PG_PASSWORD,  # trust authentication ignores it; no output may show it
        **extra,
    }


def maria_entry(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "ENGINE": "django.db.backends.mysql",
        "NAME": name,
        "HOST": MARIA["host"],
        "PORT": str(MARIA["port"]),
        "USER": MARIA["user"],
        **extra,
    }


def pg_url(name: str, options: str = "") -> str:
    query = f"?options={options}" if options else ""
    return f"postgres://{PG['user']}:{PG_PASSWORD}@{PG['host']}:{PG['port']}/{name}{query}"


def maria_url(name: str) -> str:
    return f"mysql://{MARIA['user']}@{MARIA['host']}:{MARIA['port']}/{name}"


def pg_tables(dbname: str, schema: str = "public") -> set[str]:
    with pg_connect(dbname) as connection:
        rows = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
    return {row[0] for row in rows}


def pg_schemas(dbname: str) -> set[str]:
    with pg_connect(dbname) as connection:
        rows = connection.execute("SELECT nspname FROM pg_namespace").fetchall()
    return {row[0] for row in rows}


def pg_recorded(dbname: str, schema: str = "public") -> list[str]:
    """``app.name`` rows of django_migrations (a list: duplicates would show)."""
    if "django_migrations" not in pg_tables(dbname, schema):
        return []
    with pg_connect(dbname) as connection:
        rows = connection.execute(
            f'SELECT app, name FROM "{schema}".django_migrations ORDER BY app, name'
        ).fetchall()
    return [f"{app}.{name}" for app, name in rows]


def maria_tables(dbname: str) -> set[str]:
    connection = maria_connect()
    try:
        cursor = connection.cursor()
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (dbname,)
        )
        return {row[0] for row in cursor.fetchall()}
    finally:
        connection.close()


def maria_recorded(dbname: str) -> list[str]:
    if "django_migrations" not in maria_tables(dbname):
        return []
    connection = maria_connect(database=dbname)
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        return [f"{app}.{name}" for app, name in cursor.fetchall()]
    finally:
        connection.close()


def maria_database_exists(name: str) -> bool:
    connection = maria_connect()
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (name,))
        return cursor.fetchone() is not None
    finally:
        connection.close()
