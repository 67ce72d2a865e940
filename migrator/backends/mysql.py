"""MySQL/MariaDB: the database exists, read-only detection, GET_LOCK, lock_wait_timeout."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.db import connections

from migrator.backends import LOCK_NAME, LockTimeout, restore_quietly
from migrator.inspect import first_line
from migrator.types import AliasInfo, LockInfo, Missing, Probe

READ_ONLY_VARIABLES = ("read_only", "super_read_only", "transaction_read_only", "tx_read_only")


def connect(alias: str, timeout: float, *, with_database: bool = True) -> Any:
    """A new driver connection with the alias's parameters, optionally without selecting the
    database (so a missing database can be reported and created)."""
    wrapper: Any = connections[alias]  # the vendor's DatabaseWrapper, with .Database
    params = wrapper.get_connection_params()
    if not with_database:
        params.pop("database", None)
        params.pop("db", None)
    params["connect_timeout"] = max(1, math.ceil(timeout))
    connection = wrapper.Database.connect(**params)
    connection.autocommit(True)
    return connection


def quote(name: str) -> str:
    """A MySQL identifier in backticks, backticks inside doubled."""
    return "`" + name.replace("`", "``") + "`"


def lock_name(info: AliasInfo) -> str:
    """GET_LOCK names are server-wide and at most 64 characters."""
    name = f"{LOCK_NAME}:{info.name}"
    if len(name) > 64:
        name = f"{LOCK_NAME}:{hashlib.sha256(info.name.encode()).hexdigest()[:40]}"
    return name


class MySQL:
    def probe(self, info: AliasInfo, timeout: float) -> Probe:
        try:
            connection = connect(info.alias, timeout, with_database=False)
        except Exception as exc:
            return Probe(info, reachable=False, problems=(f"cannot connect: {first_line(exc)}",))
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT VERSION()")
            version = cursor.fetchone()[0]
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
    def lock(self, info: AliasInfo, timeout: float) -> Iterator[LockInfo]:
        name = lock_name(info)
        connection = connect(info.alias, max(timeout, 5), with_database=False)
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT UNIX_TIMESTAMP(NOW(6))")
            started = float(cursor.fetchone()[0])
            cursor.execute("SELECT GET_LOCK(%s, %s)", (name, timeout))
            if cursor.fetchone()[0] != 1:
                raise LockTimeout(self._holder(cursor, name))
            cursor.execute("SELECT UNIX_TIMESTAMP(NOW(6))")
            waited = float(cursor.fetchone()[0]) - started
            yield LockInfo(info.alias, waited)
            # Closing the session below releases the lock too, also when this fails.
            cursor.execute("SELECT RELEASE_LOCK(%s)", (name,))
        finally:
            connection.close()

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
