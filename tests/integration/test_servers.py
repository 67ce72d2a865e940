"""The testproject on real PostgreSQL (with a schema via search_path), MariaDB and SQLite."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from django.db import connections
from django.test import override_settings

from migrator.backends.mysql import lock_name
from migrator.backends.postgresql import lock_key
from migrator.project.databases import alias_infos
from tests.conftest import aliases_pointed_at
from tests.helpers import (
    UNREACHABLE_PASSWORD,
    every_migration,
    finish,
    manage,
    manage_background,
    run,
    summary_rows,
)
from tests.integration.conftest import Servers
from tests.servers import (
    maria_connect,
    maria_database_exists,
    maria_databases,
    maria_entry,
    maria_recorded,
    maria_tables,
    pg_connect,
    pg_entry,
    pg_recorded,
    pg_schemas,
    pg_tables,
    unique,
)

USERS = ["users.0001_initial", "users.0002_user_is_active"]


def nothing_recorded_anywhere(servers: Servers) -> None:
    assert "django_migrations" not in pg_tables(servers.site)
    assert "django_migrations" not in pg_tables(servers.users)
    assert maria_tables(servers.legacy) == set()
    assert list(servers.tmp.iterdir()) == []


def test_whole_site_on_servers(on_servers: Servers) -> None:
    with pg_connect(on_servers.site) as admin:
        admin.execute("CREATE SCHEMA analytics")
    out, err, code = run("migrate_all", interactive=False)
    assert (code, err) == (0, "")
    site, users, legacy = on_servers.site, on_servers.users, on_servers.legacy
    assert {"blog_post", "shop_order", "auth_user", "django_migrations"} <= pg_tables(site)
    assert "analytics_event" not in pg_tables(site)
    assert pg_tables(site, "analytics") == {"analytics_event", "django_migrations"}
    assert pg_tables(users) == {"users_user", "django_migrations"}
    # Every alias migrated records what Django's migrate --database X records there: all of the
    # project's migrations, those that execute nothing there only recorded.
    assert pg_recorded(site) == every_migration()
    assert pg_recorded(users) == every_migration()
    assert pg_recorded(site, "analytics") == every_migration()
    # legacy: the unmanaged customers table is not created; the managed model next to it is.
    assert maria_tables(legacy) == {"django_migrations", "legacy_customernote"}
    assert maria_recorded(legacy) == every_migration()
    assert not (on_servers.tmp / "read_replica.sqlite3").exists()
    assert out.splitlines()[-1] == "Done: 22 migrations applied, 93 only recorded on 5 databases."

    rows = summary_rows(out)
    assert rows["default"]["vendor"].startswith("postgresql ")
    assert rows["legacy_db"]["vendor"].startswith("mysql 10.")
    assert rows["analytics_db"]["database"] == f"127.0.0.1:5432/{site}"

    out, _, code = run("migrate_all", plan_only=True)
    assert code == 0
    assert (
        f"  analytics_db (postgresql {rows['default']['vendor'].split()[1]} 127.0.0.1:5432/{site}, schema analytics): analytics"
        in out
    )
    assert out.splitlines()[0] == "Plan: 6 steps in 2 levels on 5 databases, 0 migrations to run."


def test_missing_schema_stops_everything(on_servers: Servers) -> None:
    out, err, code = run("migrate_all")
    assert code == 1
    assert out == ""
    assert err == (
        "CommandError: Preflight found 1 problem; nothing was changed on any database:\n"
        "  analytics_db -> schema 'analytics' does not exist (search_path: analytics); run with "
        "--create-schemas to create it, or fix OPTIONS['options'].\n"
    )
    nothing_recorded_anywhere(on_servers)
    assert "analytics" not in pg_schemas(on_servers.site)


def test_create_schemas_plan_then_run(on_servers: Servers) -> None:
    out, _, code = run("migrate_all", plan_only=True, create_schemas=True)
    assert code == 0
    assert out.splitlines()[0] == "Would create schema 'analytics' for analytics_db."
    assert "analytics" not in pg_schemas(on_servers.site)
    nothing_recorded_anywhere(on_servers)

    out, _, code = run("migrate_all", create_schemas=True)
    assert code == 0, out
    assert out.splitlines()[0] == "Created schema 'analytics' for analytics_db."
    assert pg_tables(on_servers.site, "analytics") == {"analytics_event", "django_migrations"}
    assert "analytics_event" not in pg_tables(on_servers.site, "public")


def test_schema_name_with_quotes_and_semicolon_is_created_verbatim(servers: Servers) -> None:
    evil = 'x"; DROP SCHEMA public CASCADE; --'
    quoted = '"' + evil.replace('"', '""') + '"'
    options = "-c search_path=" + quoted.replace(" ", "\\ ")
    with aliases_pointed_at(servers.entries(analytics_options=options)):
        out, err, code = run("migrate_all", create_schemas=True, apps=["analytics"])
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"Created schema {evil!r} for analytics_db."
    schemas = pg_schemas(servers.site)
    assert evil in schemas
    assert "public" in schemas  # nothing else ran
    assert pg_tables(servers.site, evil) == {"analytics_event", "django_migrations"}


def test_schema_with_capitals_and_spaces(servers: Servers) -> None:
    name = "Reporting Data"
    options = '-c search_path="Reporting\\ Data",public'
    with aliases_pointed_at(servers.entries(analytics_options=options)):
        out, _, code = run("migrate_all", create_schemas=True, apps=["analytics"])
    assert code == 0
    assert out.splitlines()[0] == "Created schema 'Reporting Data' for analytics_db."
    assert pg_tables(servers.site, name) == {"analytics_event", "django_migrations"}


def test_read_only_alias_is_refused(servers: Servers) -> None:
    role = unique("migrator_ro")
    with pg_connect() as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        admin.execute(f'ALTER ROLE "{role}" SET default_transaction_read_only = on')
    try:
        entries = servers.entries()
        entries["users_db"] = pg_entry(servers.users, USER=role)
        with aliases_pointed_at(entries):
            _, err, code = run("migrate_all", create_schemas=True)
            connections["users_db"].close()
    finally:
        with pg_connect() as admin:
            admin.execute(f'DROP ROLE "{role}"')
    assert code == 1
    assert err == (
        "CommandError: Preflight found 1 problem; nothing was changed on any database:\n"
        f"  users_db (postgresql 127.0.0.1:5432/{servers.users}) is read-only "
        "(default_transaction_read_only is on); migrations cannot run there. If it is a replica, "
        "make the routers' allow_migrate return False for it.\n"
    )
    assert "analytics" not in pg_schemas(servers.site)  # --create-schemas created nothing either
    nothing_recorded_anywhere(servers)


def test_all_problems_reported_at_once(servers: Servers) -> None:
    entries = servers.entries()
    entries["users_db"] = pg_entry(servers.users, PORT="1", PASSWORD=UNREACHABLE_PASSWORD)
    entries["legacy_db"] = maria_entry(servers.legacy + "_missing")
    with aliases_pointed_at(entries):
        _, err, code = run("migrate_all")
    assert code == 1
    lines = err.splitlines()
    assert (
        lines[0] == "CommandError: Preflight found 3 problems; nothing was changed on any database:"
    )
    assert lines[1].startswith(
        f"  users_db (postgresql 127.0.0.1:1/{servers.users}): cannot connect: "
    )
    assert lines[2:] == [
        "  analytics_db -> schema 'analytics' does not exist (search_path: analytics); run with "
        "--create-schemas to create it, or fix OPTIONS['options'].",
        f"  legacy_db -> database '{servers.legacy}_missing' does not exist; run with "
        "--create-schemas to create it, or fix NAME.",
    ]
    assert UNREACHABLE_PASSWORD not in err
    nothing_recorded_anywhere(servers)


def test_missing_mariadb_database_is_created(servers: Servers) -> None:
    with maria_databases(1, create=False) as (name,):
        entries = servers.entries()
        entries["legacy_db"] = maria_entry(name)
        with aliases_pointed_at(entries):
            out, _, code = run("migrate_all", create_schemas=True, apps=["legacy"])
        assert code == 0, out
        assert out.splitlines()[0] == f"Created database {name!r} for legacy_db."
        assert maria_database_exists(name)
        assert maria_tables(name) == {"django_migrations", "legacy_customernote"}


def test_missing_postgresql_database_names_createdb(servers: Servers) -> None:
    entries = servers.entries()
    entries["users_db"] = pg_entry("migrator_t_does_not_exist")
    with aliases_pointed_at(entries):
        _, err, code = run("migrate_all", apps=["users"])
    assert code == 1
    assert err == (
        "CommandError: Preflight found 1 problem; nothing was changed on any database:\n"
        "  users_db (postgresql 127.0.0.1:5432/migrator_t_does_not_exist): database "
        "'migrator_t_does_not_exist' does not exist on 127.0.0.1; create it (createdb "
        "migrator_t_does_not_exist) or fix NAME.\n"
    )


def test_sqlite_folder_created(servers: Servers) -> None:
    entries = servers.entries()
    entries["cache_db"] = {**entries["cache_db"], "NAME": str(servers.tmp / "deep" / "er" / "c.db")}
    with aliases_pointed_at(entries):
        _, err, code = run("migrate_all", apps=["cache"])
        assert code == 1
        assert (
            f"  cache_db -> folder '{servers.tmp / 'deep' / 'er'}' does not exist; run with --create-schemas to create it, or fix the NAME path."
            in err
        )
        out, _, code = run("migrate_all", apps=["cache"], create_schemas=True)
    assert code == 0
    assert out.splitlines()[0] == f"Created folder '{servers.tmp / 'deep' / 'er'}' for cache_db."
    assert (servers.tmp / "deep" / "er" / "c.db").exists()


@override_settings(
    MIGRATOR={
        "SESSION": {
            "default": {"lock_timeout": "1234ms", "statement_timeout": "5min"},
            "legacy_db": {"lock_wait_timeout": 7},
        }
    },
    MIGRATION_MODULES={
        "shop": "tests.fixtures.session_probe_migrations",
        "legacy": "tests.fixtures.session_probe_migrations",
    },
)
def test_session_timeouts_apply_to_the_migration_session_only(on_servers: Servers) -> None:
    probe = __import__("tests.fixtures.session_probe_migrations.0001_initial", fromlist=["SEEN"])
    probe.SEEN.clear()
    _, err, code = run("migrate_all", apps=["shop", "legacy"])
    assert (code, err) == (0, "")
    assert probe.SEEN == [
        ("default", {"lock_timeout": "1234ms", "statement_timeout": "5min"}),
        ("legacy_db", {"lock_wait_timeout": "7"}),
    ]
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('lock_timeout'), current_setting('statement_timeout')"
        )
        assert cursor.fetchone() == ("0", "0")
    with connections["legacy_db"].cursor() as cursor:
        cursor.execute("SELECT @@SESSION.lock_wait_timeout")
        assert cursor.fetchone()[0] != 7


def test_lock_timeout_names_the_postgresql_holder(on_servers: Servers) -> None:
    info = next(i for i in alias_infos() if i.alias == "users_db")
    holder = pg_connect(on_servers.users, application_name="deploy-on-host-b")
    try:
        holder.execute("SELECT pg_advisory_lock(%s, %s)", lock_key(f"{info.name}/public"))
        pid = holder.info.backend_pid
        started = time.monotonic()
        out, err, code = run("migrate_all", apps=["users"], lock_timeout="1")
        waited = time.monotonic() - started
    finally:
        holder.close()
    assert code == 1
    assert 1 <= waited < 10
    assert (
        f"  FAILED on users_db: LockTimeout: could not lock users_db within 1s: held by backend "
        f"pid {pid} (deploy-on-host-b, user postgres from 127.0.0.1). Another migrate_all/migrator "
        "run is migrating it; wait for it to finish or raise --lock-timeout"
    ) in out
    assert err.startswith(
        "CommandError: users_db (users) failed: LockTimeout: could not lock users_db"
    )
    assert "django_migrations" not in pg_tables(on_servers.users)
    # The lock is free again once the holder is gone.
    _, _, code = run("migrate_all", apps=["users"], lock_timeout="1")
    assert code == 0
    assert pg_recorded(on_servers.users) == USERS


def test_lock_timeout_names_the_mariadb_holder(on_servers: Servers) -> None:
    info = next(i for i in alias_infos() if i.alias == "legacy_db")
    holder = maria_connect()
    try:
        cursor = holder.cursor()
        cursor.execute("SELECT GET_LOCK(%s, 0), CONNECTION_ID()", (lock_name(info.name),))
        got, connection_id = cursor.fetchone()
        assert got == 1
        out, _, code = run("migrate_all", apps=["legacy"], lock_timeout="0.5")
    finally:
        holder.close()
    assert code == 1
    assert (
        f"could not lock legacy_db within 0.5s: held by connection id {connection_id}, user root from "
        in out
    )
    assert maria_tables(on_servers.legacy) == set()


def test_lock_timeout_on_sqlite_names_the_lock_file(sqlite_project: Path) -> None:
    import fcntl

    lock_file = sqlite_project / "cache_db.sqlite3.migrator-lock"
    with open(lock_file, "w") as handle:
        handle.write("django-migrator pid 4242 on host-b")
        handle.flush()
        fcntl.flock(handle, fcntl.LOCK_EX)
        out, _, code = run("migrate_all", apps=["cache"], lock_timeout="0.3")
    assert code == 1
    assert (
        "could not lock cache_db within 0.3s: held by django-migrator pid 4242 on host-b "
        f"(lock file {lock_file})"
    ) in out


@pytest.mark.parametrize("value", ["-1", "soon", "nan"])
def test_bad_lock_timeout_is_a_usage_error(sqlite_project: Path, value: str) -> None:
    out, err, code = run("migrate_all", lock_timeout=value)
    assert (out, code) == ("", 2)
    assert err == (
        f"CommandError: --lock-timeout {value!r}: expected a number of seconds, 0 or more "
        "(e.g. --lock-timeout 60).\n"
    )


def test_two_concurrent_runs_never_interleave(servers: Servers) -> None:
    with pg_connect(servers.site) as admin:
        admin.execute("CREATE SCHEMA analytics")
    env = {**servers.env(), "DJANGO_SETTINGS_MODULE": "tests.settings.slow_users"}
    runs = [manage_background("migrate_all", "--json", "--noinput", env=env) for _ in range(2)]
    documents = []
    for process in runs:
        stdout, stderr = finish(process, timeout=180)
        assert process.returncode == 0, stderr
        documents.append(json.loads(stdout))
    every = every_migration("0002_slow")  # each once: the lists would show a duplicate
    assert pg_recorded(servers.users) == every
    assert maria_recorded(servers.legacy) == every
    assert pg_recorded(servers.site) == every
    assert pg_recorded(servers.site, "analytics") == every
    users_steps = [
        next(step for step in document["results"]["steps"] if step["alias"] == "users_db")
        for document in documents
    ]
    written = sorted((len(step["applied"]), len(step["recorded"])) for step in users_steps)
    # One run applied both users migrations and recorded the 21 others; the other found all 23
    # recorded.
    assert written == [(0, 0), (2, 21)]
    waiter = next(step for step in users_steps if not step["applied"])
    assert waiter["lock_wait"] >= 1.0  # it waited for the slow migration of the other run
    with pg_connect(servers.site) as connection:
        rows = connection.execute(
            "SELECT name, count(*) FROM analytics.analytics_event GROUP BY name"
        ).fetchall()
    assert rows == [("analytics.installed", 1)]  # the data migration ran exactly once


def test_urls_from_the_environment_reach_the_servers(servers: Servers) -> None:
    result = manage("migrate_all", "--plan", "--create-schemas", env=servers.env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "Would create schema 'analytics' for analytics_db."


def test_the_longest_lock_timeout_works_on_every_server(on_servers: Servers) -> None:
    """--lock-timeout up to the longest PostgreSQL accepts reaches MariaDB's GET_LOCK and
    PostgreSQL's lock without overflowing a driver's connect timeout (it used to on MariaDB)."""
    out, err, code = run(
        "migrate_all", lock_timeout="2147483", create_schemas=True, interactive=False
    )
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == "Done: 22 migrations applied, 93 only recorded on 5 databases."
    assert maria_recorded(on_servers.legacy) == every_migration()


def test_options_connect_timeout_zero_does_not_hang_preflight(servers: Servers) -> None:
    """OPTIONS["connect_timeout"] = 0 is libpq's "wait for ever": against a server that accepts
    the TCP connection and never answers, preflight still gives up after MIGRATOR's
    CONNECT_TIMEOUT and names the alias."""
    import socket
    import threading

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes the handshake; nobody ever answers
    port = str(silent.getsockname()[1])
    entries = servers.entries()
    entries["users_db"] = pg_entry(servers.users, PORT=port, OPTIONS={"connect_timeout": "0"})
    outcome: list[tuple[str, str, int]] = []
    try:
        with aliases_pointed_at(entries), override_settings(MIGRATOR={"CONNECT_TIMEOUT": 2}):
            worker = threading.Thread(
                target=lambda: outcome.append(run("migrate_all", plan_only=True))
            )
            worker.start()
            worker.join(timeout=120)  # a guard against a hang, not a timing assertion
    finally:
        silent.close()
    assert not worker.is_alive(), "preflight hung on connect_timeout=0"
    _, err, code = outcome[0]
    assert code == 1
    assert f"  users_db (postgresql 127.0.0.1:{port}/{servers.users}): cannot connect: " in err


def test_a_schema_the_server_refuses_to_create_is_a_preflight_error(servers: Servers) -> None:
    """CREATE SCHEMA of a reserved pg_ name fails: a CommandError (one JSON document under
    --json) that names the alias, the schema, the server's reason and the fix; no migration ran."""
    entries = servers.entries(analytics_options="-c search_path=pg_reports")
    expected = (
        "--create-schemas failed (nothing was changed on any database); no migration ran:\n"
        "  analytics_db -> schema 'pg_reports' could not be created: unacceptable schema name "
        '"pg_reports"; create it as a role allowed to (CREATE SCHEMA needs the CREATE privilege '
        "on the database; names starting with pg_ are reserved), or fix OPTIONS['options']."
    )
    with aliases_pointed_at(entries):
        _, err, code = run("migrate_all", create_schemas=True, interactive=False)
        assert (code, err) == (1, f"CommandError: {expected}\n")
        out, _, code = run("migrate_all", create_schemas=True, json=True)
    assert code == 1
    assert json.loads(out)["error"] == {"message": expected, "exit_code": 1}
    nothing_recorded_anywhere(servers)


def test_a_mariadb_user_without_create_privilege_gets_a_preflight_error(unblocked: None) -> None:
    """--create-schemas for a missing MariaDB database, as a user the server does not allow to
    CREATE: a CommandError naming the alias, the database, the server's reason and the fix;
    nothing is created, no migration runs."""
    user = unique("migrator_u")[:32]
    secret = "maria-Secret-never-shown"
    with maria_databases(1, create=False) as (legacy,):
        admin = maria_connect()
        cursor = admin.cursor()
        cursor.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{secret}'")
        try:
            entries = {"legacy_db": maria_entry(legacy, USER=user, PASSWORD=secret)}
            with aliases_pointed_at(entries):
                out, err, code = run("migrate_all", "--database", "legacy_db", create_schemas=True)
            assert code == 1
            assert err.startswith(
                "CommandError: --create-schemas failed (nothing was changed on any database); no "
                f"migration ran:\n  legacy_db -> database '{legacy}' could not be created: "
                f"(1044, \"Access denied for user '{user}'@'%' to database '{legacy}'\"); create "
                "it as a user allowed to (CREATE DATABASE needs the CREATE privilege), or fix NAME."
            ), err
            assert secret not in out + err
            assert not maria_database_exists(legacy)
        finally:
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            admin.close()


@override_settings(
    MIGRATION_MODULES={"users": "tests.fixtures.nonatomic_users_migrations"},
    MIGRATOR={"SESSION": {"users_db": {"statement_timeout": "5min"}}},
)
def test_session_settings_for_a_non_atomic_migration_are_refused_unless_direct(
    on_servers: Servers,
) -> None:
    """A non-atomic migration has no transaction to SET LOCAL the SESSION settings in; on the
    session they would stay on a pooled server connection: refused before anything, unless
    MIGRATOR["DIRECT"] says the alias connects directly."""
    _, err, code = run("migrate_all", apps=["users"], interactive=False)
    assert code == 2
    assert err == (
        "CommandError: users_db: users.0001_initial is not atomic, so "
        "MIGRATOR['SESSION']['users_db'] (statement_timeout) cannot be scoped to its "
        "transaction. On the session, the settings would stay on a server connection that a "
        "transaction pooler (PgBouncer) then gives to other clients. If the alias connects to "
        "PostgreSQL directly (or through session pooling), say so with MIGRATOR['DIRECT'] = "
        "{'users_db': {}} (or point it at the server); otherwise drop its SESSION settings for "
        "this deploy (nothing was changed on any database).\n"
    )
    assert "django_migrations" not in pg_tables(on_servers.users)
    direct = {"SESSION": {"users_db": {"statement_timeout": "5min"}}, "DIRECT": {"users_db": {}}}
    with override_settings(MIGRATOR=direct):
        _, err, code = run("migrate_all", apps=["users"], interactive=False)
    assert (code, err) == (0, "")
    assert pg_recorded(on_servers.users) == USERS


@override_settings(MIGRATION_MODULES={"users": "tests.fixtures.nonatomic_users_migrations"})
def test_session_settings_given_to_the_api_are_refused_for_a_non_atomic_migration(
    on_servers: Servers,
) -> None:
    from migrator import api
    from migrator.exceptions import ConfigurationError
    from migrator.types import RunOptions, Selection

    options = RunOptions(session={"users_db": {"statement_timeout": "5min"}})
    with pytest.raises(ConfigurationError) as refused:
        api.migrate_all(Selection(apps=("users",)), options)
    assert str(refused.value).startswith(
        "users_db: users.0001_initial is not atomic, so MIGRATOR['SESSION']['users_db'] "
        "(statement_timeout) cannot be scoped to its transaction."
    )
    assert "django_migrations" not in pg_tables(on_servers.users)
