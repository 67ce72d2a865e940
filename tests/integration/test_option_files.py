"""Connection settings Django takes from files instead of NAME: PostgreSQL's libpq service file
(``OPTIONS["service"]``) and MySQL's option file (``OPTIONS["read_default_file"]``). Preflight
asks the server which database it selected and uses that name in messages and locks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from migrator.backends.mysql import lock_name
from migrator.backends.postgresql import lock_key
from migrator.project.databases import alias_infos
from tests.conftest import aliases_pointed_at
from tests.helpers import every_migration, manage, run, sqlite_recorded, sqlite_tables, summary_rows
from tests.integration.conftest import Servers
from tests.servers import (
    MARIA,
    PG,
    maria_connect,
    maria_databases,
    maria_recorded,
    maria_tables,
    pg_connect,
    pg_recorded,
    pg_tables,
    unique,
)

SERVICE = "migrator_users"


def my_cnf(path: Path, database: str | None) -> Path:
    """A MySQL option file with everything Django's NAME, HOST, PORT and USER would give."""
    lines = [
        "[client]",
        f"host = {MARIA['host']}",
        f"port = {MARIA['port']}",
        f"user = {MARIA['user']}",
    ]
    if database is not None:
        lines.append(f"database = {database}")
    path.write_text("\n".join(lines) + "\n")
    return path


def pg_service_file(path: Path, dbname: str) -> Path:
    path.write_text(
        f"[{SERVICE}]\nhost={PG['host']}\nport={PG['port']}\nuser={PG['user']}\ndbname={dbname}\n"
    )
    return path


def from_files(servers: Servers, cnf: Path) -> dict[str, dict[str, Any]]:
    """The servers' entries with users_db named by the service and legacy_db by the option
    file: no NAME, HOST, PORT or USER in settings."""
    return {
        **servers.entries(),
        "users_db": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "",
            "OPTIONS": {"service": SERVICE},
        },
        "legacy_db": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": "",
            "OPTIONS": {"read_default_file": str(cnf)},
        },
    }


@pytest.fixture
def service_file(servers: Servers, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = pg_service_file(servers.tmp / "pg_service.conf", servers.users)
    monkeypatch.setenv("PGSERVICEFILE", str(path))
    return path


def test_service_and_option_file_without_name_are_migrated(
    servers: Servers, service_file: Path
) -> None:
    cnf = my_cnf(servers.tmp / "my.cnf", servers.legacy)
    with pg_connect(servers.site) as admin:
        admin.execute("CREATE SCHEMA analytics")
    with aliases_pointed_at(from_files(servers, cnf)):
        infos = {info.alias: info for info in alias_infos()}
        assert (infos["users_db"].name, infos["users_db"].location) == ("", f"service {SERVICE}")
        assert infos["legacy_db"].location == f"read_default_file {cnf}"

        out, err, code = run("migrate_all", plan_only=True)
        assert (code, err) == (0, "")
        lines = out.splitlines()
        assert any(
            line.startswith("  users_db (postgresql ")
            and line.endswith(f" 127.0.0.1:5432/{servers.users}, schema public): users")
            for line in lines
        )
        assert any(
            line.startswith("  legacy_db (mysql ")
            and line.endswith(f" 127.0.0.1:3306/{servers.legacy}): legacy")
            for line in lines
        )

        out, err, code = run("migrate_all", interactive=False)
        assert (code, err) == (0, "")
        rows = summary_rows(out)
        assert rows["users_db"]["database"] == f"127.0.0.1:5432/{servers.users}"
        assert rows["legacy_db"]["database"] == f"127.0.0.1:3306/{servers.legacy}"
        assert out.splitlines()[-1] == (
            "Done: 22 migrations applied, 93 only recorded on 5 databases."
        )

        out, err, code = run("migrate_all", check=True, json=True)
        assert (code, err) == (0, "")
    assert pg_tables(servers.users) == {"users_user", "django_migrations"}
    assert pg_recorded(servers.users) == every_migration()
    assert maria_tables(servers.legacy) == {"django_migrations", "legacy_customernote"}
    assert maria_recorded(servers.legacy) == every_migration()
    assert "users_user" not in pg_tables(servers.site)


def test_locks_use_the_database_the_server_selected(servers: Servers, service_file: Path) -> None:
    """Another run holding the lock of the real database (as named by NAME elsewhere) is
    waited for: both spell the lock with the same database name."""
    cnf = my_cnf(servers.tmp / "my.cnf", servers.legacy)
    with aliases_pointed_at(from_files(servers, cnf)):
        infos = {info.alias: info for info in alias_infos()}
        holder = maria_connect()
        try:
            cursor = holder.cursor()
            legacy = replace(infos["legacy_db"], name=servers.legacy)
            cursor.execute("SELECT GET_LOCK(%s, 0), CONNECTION_ID()", (lock_name(legacy.name),))
            got, connection_id = cursor.fetchone()
            assert got == 1
            out, _, code = run("migrate_all", apps=["legacy"], lock_timeout="0.5")
        finally:
            holder.close()
        assert code == 1
        assert (
            f"could not lock legacy_db within 0.5s: held by connection id {connection_id}, "
            "user root from " in out
        )

        users = replace(infos["users_db"], name=servers.users)
        with pg_connect(servers.users) as pg_holder:
            pg_holder.execute("SELECT pg_advisory_lock(%s, %s)", lock_key(f"{users.name}/public"))
            out, _, code = run("migrate_all", apps=["users"], lock_timeout="0.5")
        assert code == 1
        assert "FAILED on users_db: LockTimeout: could not lock users_db within 0.5s" in out
    assert maria_tables(servers.legacy) == set()
    assert "django_migrations" not in pg_tables(servers.users)


def test_files_that_name_no_database_or_a_missing_one(
    servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = unique("migrator_absent")
    services = pg_service_file(servers.tmp / "pg_service.conf", missing)
    monkeypatch.setenv("PGSERVICEFILE", str(services))
    absent = my_cnf(servers.tmp / "absent.cnf", missing)
    with aliases_pointed_at(from_files(servers, absent)):
        out, err, code = run("migrate_all", apps=["users", "legacy"], plan_only=True)
    assert (code, out) == (1, "")
    assert err == (
        "CommandError: Preflight found 2 problems; nothing was changed on any database:\n"
        f"  users_db (postgresql service {SERVICE}): database {missing!r} does not exist; "
        f"create it (createdb {missing}) or fix the service's dbname.\n"
        f"  legacy_db (mysql read_default_file {absent}): database {missing!r}, which the "
        f"option file names, does not exist; create it (CREATE DATABASE `{missing}`) or fix the "
        "option file (--create-schemas cannot: the option file selects it on every connection).\n"
    )

    nameless = my_cnf(servers.tmp / "nameless.cnf", None)
    entries = from_files(servers, nameless)
    with aliases_pointed_at({"legacy_db": entries["legacy_db"]}):
        out, err, code = run("migrate_all", apps=["legacy"], plan_only=True)
    assert (code, out) == (1, "")
    assert err == (
        "CommandError: Preflight found 1 problem; nothing was changed on any database:\n"
        f"  legacy_db (mysql read_default_file {nameless}): no database: NAME is empty and the "
        "option file names none; set NAME, or 'database = NAME' in the option file's [client] "
        "section.\n"
    )
    assert maria_tables(servers.legacy) == set()


def test_nameless_alias_without_a_service_or_option_file_is_refused(servers: Servers) -> None:
    entry = {"ENGINE": "django.db.backends.mysql", "NAME": "", "HOST": MARIA["host"]}
    with aliases_pointed_at({"legacy_db": entry}):
        out, err, code = run("migrate_all", apps=["legacy"], plan_only=True)
    assert (code, out) == (2, "")
    assert err == (
        "CommandError: DATABASES['legacy_db'] has no NAME: set the database name (the file path "
        "for SQLite), or let OPTIONS['service'] (PostgreSQL) or OPTIONS['read_default_file'] "
        "(MySQL/MariaDB) name it. Nothing was changed.\n"
    )


def test_service_and_option_file_in_a_child_process(tmp_path: Path) -> None:
    with maria_databases(1) as (legacy,):
        from tests.servers import pg_databases

        with pg_databases(1) as (users,):
            cnf = my_cnf(tmp_path / "my.cnf", legacy)
            services = pg_service_file(tmp_path / "pg_service.conf", users)
            env = {
                "MIGRATOR_VAR_DIR": str(tmp_path),
                "PGSERVICEFILE": str(services),
                "MIGRATOR_DB_USERS_DB": f"postgres:///?service={SERVICE}",
                "MIGRATOR_DB_LEGACY_DB": f"mysql:///?read_default_file={cnf}",
            }
            result = manage("migrate_all", "--noinput", env=env)
            assert (result.returncode, result.stderr) == (0, "")
            rows = summary_rows(result.stdout)
            assert rows["users_db"]["database"] == f"127.0.0.1:5432/{users}"
            assert rows["legacy_db"]["database"] == f"127.0.0.1:3306/{legacy}"
            assert pg_recorded(users) == every_migration()
            assert pg_tables(users) == {"users_user", "django_migrations"}
            assert maria_recorded(legacy) == every_migration()
            assert maria_tables(legacy) == {"django_migrations", "legacy_customernote"}
            assert sqlite_tables(tmp_path / "users_db.sqlite3") == set()
            assert sqlite_recorded(tmp_path / "cache_db.sqlite3") == set(every_migration())

            check = manage("migrate_all", "--check", env=env)
            assert (check.returncode, check.stderr) == (0, "")
