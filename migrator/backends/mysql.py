"""MySQL/MariaDB: the database exists, read-only detection, GET_LOCK, lock_wait_timeout."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from django.db import connections

from migrator.backends import LOCK_NAME, LockTimeout, lock_connect_timeout, restore_quietly
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


class MySQL:
    def probe(self, info: AliasInfo, timeout: float) -> Probe:
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
    def lock(self, info: AliasInfo, timeout: float) -> Iterator[LockInfo]:
        connection = connect(info.alias, lock_connect_timeout(timeout), with_database=False)
        try:
            cursor = connection.cursor()
            if not info.name:  # the option file selected the database: lock that one
                cursor.execute("SELECT DATABASE()")
                info = replace(info, name=str(cursor.fetchone()[0] or ""))
            name = lock_name(info)
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
