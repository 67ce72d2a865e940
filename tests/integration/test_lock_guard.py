"""The guard around each migration: when another run applies a migration while this run waits
to apply it (this run's lock was lost, or another run's never held), the migration is not
applied twice. Another run is played by a connection of the test that takes the guard's lock,
records the migration, and lets go; the run under test waits on the guard meanwhile (seen in
the server's lock tables, never guessed with a sleep)."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db.backends.signals import connection_created
from django.test import override_settings

from migrator.backends import holder_name
from migrator.backends.mysql import lock_name
from migrator.backends.postgresql import APPLY, lock_key
from tests.conftest import aliases_pointed_at
from tests.helpers import finish, manage_background, read_until, run, sqlite_tables
from tests.integration.conftest import Servers
from tests.servers import (
    maria_connect,
    maria_entry,
    maria_recorded,
    maria_tables,
    pg_connect,
    pg_entry,
    pg_recorded,
)

DEADLINE = 30.0


def _until(condition: Callable[[], bool], what: str) -> None:
    ends = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < ends, f"gave up waiting for {what}"
        time.sleep(0.05)


def _in_thread(**options: Any) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def target() -> None:
        outcome["out"], outcome["err"], outcome["code"] = run("migrate_all", **options)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


@pytest.mark.parametrize(
    ("isolation", "migrations"),
    [
        ("read committed", "users.migrations"),
        ("repeatable read", "users.migrations"),
        ("read committed", "tests.fixtures.nonatomic_users_migrations"),
    ],
)
def test_postgresql_migration_applied_meanwhile_is_not_applied_again(
    on_servers: Servers, isolation: str, migrations: str
) -> None:
    """Under REPEATABLE READ (``OPTIONS["isolation_level"]``) the guard's transaction has a
    snapshot from before the other run's commit: the re-read must not use it. A non-atomic
    migration has no transaction of its own: the guard's lock is held elsewhere."""
    import psycopg

    options = (
        {}
        if isolation == "read committed"
        else {"isolation_level": psycopg.IsolationLevel.REPEATABLE_READ}
    )
    with (
        aliases_pointed_at({"users_db": pg_entry(on_servers.users, OPTIONS=options)}),
        override_settings(MIGRATION_MODULES={"users": migrations}),
    ):
        _applied_meanwhile_on_postgresql(on_servers)


def _applied_meanwhile_on_postgresql(on_servers: Servers) -> None:
    other = pg_connect(on_servers.users)
    other.autocommit = False
    key = lock_key(f"{on_servers.users}/public", APPLY)
    other.execute("SELECT pg_advisory_xact_lock(%s, %s)", key)
    thread, outcome = _in_thread(apps=["users"], lock_timeout="20")
    try:

        def waits_on_guard() -> bool:
            # A connection of the run tries the guard's lock (its key class is the guard's).
            with pg_connect(on_servers.users) as admin:
                row = admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND query LIKE %s "
                    "AND pid <> pg_backend_pid()",
                    (on_servers.users, f"%pg_try_advisory_xact_lock({key[0]}, %"),
                ).fetchone()
            return bool(row and row[0])

        _until(waits_on_guard, "the run to wait on the guard of users.0001_initial")
        # The other run's migration ends: its row is committed with the guard's lock released.
        other.execute(
            "INSERT INTO django_migrations (app, name, applied) "
            "VALUES ('users', '0001_initial', now())"
        )
        other.commit()
    finally:
        other.close()
        thread.join(DEADLINE)
    assert outcome["code"] == 1, outcome["err"]
    assert (
        "  FAILED on users_db: ChangedMeanwhile: users.0001_initial was applied on users_db by "
        "another run while this run waited to apply it (a run whose lock was lost, or a plain "
        "migrate); it was not applied again. Run again to continue."
    ) in outcome["out"]
    assert pg_recorded(on_servers.users) == ["users.0001_initial"]
    with pg_connect(on_servers.users) as admin:
        made = admin.execute("SELECT to_regclass('public.users_user')").fetchone()
    assert made == (None,)  # the migration's CREATE TABLE did not run


def test_mariadb_migration_applied_meanwhile_is_not_applied_again(on_servers: Servers) -> None:
    other = maria_connect(database=on_servers.legacy)
    cursor = other.cursor()
    name = lock_name(on_servers.legacy, kind="apply")
    cursor.execute("SELECT GET_LOCK(%s, 0)", (name,))
    assert cursor.fetchone()[0] == 1
    thread, outcome = _in_thread(apps=["legacy"], lock_timeout="20")
    try:

        def waits_on_guard() -> bool:
            with maria_connect() as admin:
                probe = admin.cursor()
                probe.execute(
                    "SELECT count(*) FROM information_schema.PROCESSLIST "
                    "WHERE INFO LIKE 'SELECT GET_LOCK(%%' AND INFO LIKE %s",
                    (f"%{name}%",),
                )
                return bool(probe.fetchone()[0])

        _until(waits_on_guard, "the run to wait on the guard of legacy.0001_initial")
        cursor.execute(
            "INSERT INTO django_migrations (app, name, applied) "
            "VALUES ('legacy', '0001_initial', NOW())"
        )
        cursor.execute("SELECT RELEASE_LOCK(%s)", (name,))
    finally:
        other.close()
        thread.join(DEADLINE)
    assert outcome["code"] == 1, outcome["err"]
    assert (
        "ChangedMeanwhile: legacy.0001_initial was applied on legacy_db by another run while "
        "this run waited to apply it"
    ) in outcome["out"]
    assert maria_recorded(on_servers.legacy) == ["legacy.0001_initial"]
    assert maria_tables(on_servers.legacy) == {"django_migrations"}


USERS_KILLING = ["users.0001_initial", "users.0002_kill_lock", "users.0003_user_is_active"]
LEGACY_KILLING = ["legacy.0001_initial", "legacy.0002_kill_lock", "legacy.0003_note_pinned"]


@override_settings(
    MIGRATION_MODULES={
        "users": "tests.fixtures.lock_killing_users_migrations",
        "legacy": "tests.fixtures.lock_killing_legacy_migrations",
    }
)
def test_a_lost_lock_stops_the_step_before_the_next_migration(on_servers: Servers) -> None:
    out, err, code = run("migrate_all", apps=["users", "legacy"])
    assert code == 1, err
    # PostgreSQL: the migration that ended the lock connection committed (its guard held);
    # the next one did not start.
    assert re.search(
        r"  FAILED on users_db: LockLost: lock lost on users_db before users\.0003_user_is_active: "
        r"its connection ended \(.+\)\. Stopped, so that no other run applies a migration twice; "
        r"what was applied is recorded\. Run again to continue",
        out,
    ), out
    assert pg_recorded(on_servers.users) == USERS_KILLING[:2]
    assert re.search(
        r"  FAILED on legacy_db: LockLost: lock lost on legacy_db before "
        r"legacy\.0003_note_pinned: its connection ended \(.+\)\.",
        out,
    ), out
    assert maria_recorded(on_servers.legacy) == LEGACY_KILLING[:2]
    # A second run (whose lock holds) carries on where the first stopped, once.
    with override_settings(
        MIGRATION_MODULES={
            "users": "tests.fixtures.lock_killing_users_migrations",
            "legacy": "tests.fixtures.lock_killing_legacy_migrations",
        }
    ):
        out, err, code = run("migrate_all", apps=["users", "legacy"])
    assert code == 0, err
    assert pg_recorded(on_servers.users) == USERS_KILLING
    assert maria_recorded(on_servers.legacy) == LEGACY_KILLING


def test_sigterm_ends_a_wait_for_the_lock(tmp_path: Path) -> None:
    """SQLite: the test holds users_db's lock file; the run says it waits, and SIGTERM ends the
    wait at once (not when the lock comes free or --lock-timeout passes)."""
    lock_path = tmp_path / "users_db.sqlite3.migrator-lock"
    descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    os.write(descriptor, b"the test")
    env = {"MIGRATOR_VAR_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    process = manage_background("migrate_all", "--lock-timeout", "600", env=env)
    try:
        seen = read_until(process, "Waiting for the lock on users_db", DEADLINE)
        process.send_signal(signal.SIGTERM)
        out, err = finish(process, timeout=30)
    finally:
        os.close(descriptor)
    assert process.returncode == 143, err
    assert (
        f"  Waiting for the lock on users_db: held by the test (lock file {lock_path}); "
        "waiting up to 600s\n"
    ) in seen
    assert (
        "users_db (users) interrupted: Interrupted: stopped by SIGTERM while waiting for the lock "
        "on users_db"
    ) in seen + out
    assert "CommandError: Interrupted by SIGTERM" in err
    assert "django_migrations" not in sqlite_tables(tmp_path / "users_db.sqlite3")


def test_mariadb_statement_time_limit_does_not_end_the_lock_wait(on_servers: Servers) -> None:
    """``max_statement_time`` from the alias's own settings would end a long GET_LOCK early; the
    lock waits for --lock-timeout all the same and then names the holder."""
    entry = maria_entry(
        on_servers.legacy, OPTIONS={"init_command": "SET SESSION max_statement_time = 1"}
    )
    holder = maria_connect()
    try:
        cursor = holder.cursor()
        cursor.execute("SELECT GET_LOCK(%s, 0), CONNECTION_ID()", (lock_name(on_servers.legacy),))
        got, connection_id = cursor.fetchone()
        assert got == 1
        with aliases_pointed_at({"legacy_db": entry}):
            started = time.monotonic()
            out, _, code = run("migrate_all", apps=["legacy"], lock_timeout="3")
            waited = time.monotonic() - started
    finally:
        holder.close()
    assert code == 1
    assert waited >= 3
    assert (
        f"could not lock legacy_db within 3s: held by connection id {connection_id}, user root "
        "from "
    ) in out
    assert maria_tables(on_servers.legacy) == set()


def test_the_guard_waits_at_most_the_lock_timeout(on_servers: Servers) -> None:
    """Another run that keeps a migration's guard (its migration hangs) is waited for no longer
    than --lock-timeout; nothing is applied meanwhile."""
    pg_other = pg_connect(on_servers.users)
    pg_other.autocommit = False
    pg_other.execute(
        "SELECT pg_advisory_xact_lock(%s, %s)", lock_key(f"{on_servers.users}/public", APPLY)
    )
    maria_other = maria_connect()
    maria_other.cursor().execute(
        "SELECT GET_LOCK(%s, 0)", (lock_name(on_servers.legacy, kind="apply"),)
    )
    try:
        started = time.monotonic()
        out, _, code = run("migrate_all", apps=["users", "legacy"], lock_timeout="1")
        waited = time.monotonic() - started
    finally:
        pg_other.close()
        maria_other.close()
    assert code == 1
    assert waited < 20
    assert (
        "  FAILED on users_db: LockTimeout: could not lock users_db within 1s: the guard of "
        "users.0001_initial is held by another run applying it. Another migrate_all/migrator run "
        "is migrating it; wait for it to finish or raise --lock-timeout"
    ) in out
    assert (
        "  FAILED on legacy_db: LockTimeout: could not lock legacy_db within 1s: the guard of "
        "legacy.0001_initial is held by another run applying it (held by connection id "
    ) in out
    assert pg_recorded(on_servers.users) == []
    assert maria_recorded(on_servers.legacy) == []


def test_migrators_own_connections_are_set_up_as_djangos(on_servers: Servers) -> None:
    """Probe and lock connections go through Django's connection set-up (``assume_role``,
    ``init_command``, time zone, the ``connection_created`` signal that projects hook into)."""
    seen: list[tuple[str, str]] = []

    def created(sender: Any, connection: Any, **kwargs: Any) -> None:
        if connection.vendor == "postgresql":
            with connection.connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('application_name')")
                seen.append((connection.alias, cursor.fetchone()[0]))

    connection_created.connect(created)
    try:
        _, err, code = run("migrate_all", apps=["users"])
    finally:
        connection_created.disconnect(created)
    assert code == 0, err
    # Preflight's probe and the step's lock, each a connection of its own.
    assert seen.count(("users_db", holder_name())) == 2
