"""Preflight reads the settings as the servers do: PostgreSQL's identifier folding and 63-byte
names, the search_path the session really has (behind PgBouncer too), ``$user``, and an SQLite
folder that takes no new file. Each case used to pass preflight and stop halfway through the run."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from migrator.survey import survey
from tests.conftest import aliases_pointed_at, sqlite_entry
from tests.helpers import run
from tests.integration.conftest import Servers
from tests.pgbouncer import bouncer
from tests.servers import pg_connect, pg_entry, pg_schemas, pg_tables, unique

ANALYTICS_TABLES = {"analytics_event", "django_migrations"}
PREFLIGHT = "CommandError: Preflight found 1 problem; nothing was changed on any database:\n"


def nothing_changed(servers: Servers, *schemas: str) -> None:
    assert "django_migrations" not in pg_tables(servers.site)
    existing = pg_schemas(servers.site)
    assert [schema for schema in schemas if schema in existing] == []


def test_an_unquoted_non_ascii_schema_is_found_as_postgresql_folds_it(servers: Servers) -> None:
    """PostgreSQL folds only A-Z of an unquoted name: ``Ünïcode`` selects the schema "Ünïcode"
    (Python's lower() made it "ünïcode", reported missing)."""
    with pg_connect(servers.site) as admin:
        admin.execute('CREATE SCHEMA "Ünïcode"')
    with aliases_pointed_at(servers.entries(analytics_options="-c search_path=Ünïcode")):
        _, err, code = run("migrate_all", apps=["analytics"], interactive=False)
    assert (code, err) == (0, "")
    assert pg_tables(servers.site, "Ünïcode") == ANALYTICS_TABLES
    assert "ünïcode" not in pg_schemas(servers.site)


def test_create_schemas_creates_the_schema_postgresql_selects(servers: Servers) -> None:
    with aliases_pointed_at(servers.entries(analytics_options="-c search_path=ÜNÏCODE")):
        out, err, code = run("migrate_all", apps=["analytics"], create_schemas=True)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "Created schema 'ÜnÏcode' for analytics_db."
    assert pg_tables(servers.site, "ÜnÏcode") == ANALYTICS_TABLES
    assert "analytics_event" not in pg_tables(servers.site)  # nothing landed in public
    assert "ünïcode" not in pg_schemas(servers.site)


def test_a_schema_name_over_63_bytes_stops_preflight_before_any_creation(
    servers: Servers,
) -> None:
    long = "analytics_" + "ü" * 30  # 70 bytes in UTF-8
    cut = "analytics_" + "ü" * 26  # 62 bytes: PostgreSQL cuts whole characters only
    with aliases_pointed_at(servers.entries(analytics_options=f"-c search_path={long}")):
        _, err, code = run("migrate_all", create_schemas=True, interactive=False)
    assert code == 1
    assert err == (
        f"{PREFLIGHT}  analytics_db (postgresql 127.0.0.1:5432/{servers.site}): schema "
        f"{long!r} of the search_path in OPTIONS['options'] is 70 bytes long (UTF-8); PostgreSQL "
        f"truncates names to 63 bytes, so it would look up and create {cut!r} instead; shorten "
        "the name to 63 bytes or fewer in OPTIONS['options'].\n"
    )
    nothing_changed(servers, long, cut)


def test_a_missing_role_schema_first_on_the_path_is_a_problem_then_created(
    servers: Servers,
) -> None:
    """``"$user"`` alone: no schema is selected until the role's own exists; --create-schemas
    creates it (it comes first, so the tables belong there)."""
    with aliases_pointed_at(servers.entries(analytics_options='-c search_path="$user"')):
        _, err, code = run("migrate_all", apps=["analytics"], interactive=False)
        assert code == 1
        assert err == (
            f"{PREFLIGHT}  analytics_db -> schema 'postgres' does not exist (search_path: $user; "
            "$user is the role postgres) and no schema of the path does, so PostgreSQL cannot "
            'create tables ("no schema has been selected to create in"); run with '
            "--create-schemas to create it, or fix OPTIONS['options'].\n"
        )
        nothing_changed(servers, "postgres")
        out, err, code = run("migrate_all", apps=["analytics"], create_schemas=True)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "Created schema 'postgres' for analytics_db."
    assert pg_tables(servers.site, "postgres") == ANALYTICS_TABLES


def test_a_missing_role_schema_before_an_existing_one_is_left_alone(servers: Servers) -> None:
    """PostgreSQL's default ``"$user", public``: the tables go to public, also with
    --create-schemas (creating the role's schema would move them)."""
    with aliases_pointed_at(servers.entries(analytics_options='-c search_path="$user",public')):
        out, err, code = run("migrate_all", apps=["analytics"], create_schemas=True)
    assert (code, err) == (0, "")
    assert "Created schema" not in out
    assert "postgres" not in pg_schemas(servers.site)
    assert pg_tables(servers.site) == ANALYTICS_TABLES


def test_an_empty_search_path_stops_preflight(servers: Servers) -> None:
    with aliases_pointed_at(servers.entries(analytics_options="-c search_path=")):
        _, err, code = run("migrate_all", create_schemas=True, interactive=False)
    assert code == 1
    assert err == (
        f"{PREFLIGHT}  analytics_db (postgresql 127.0.0.1:5432/{servers.site}): search_path is "
        'empty, so PostgreSQL cannot create tables ("no schema has been selected to create in"); '
        "name an existing schema in OPTIONS['options'] (e.g. '-c search_path=public'), or set one "
        f'on the server, e.g. ALTER ROLE "postgres" IN DATABASE "{servers.site}" SET search_path '
        "= public.\n"
    )
    nothing_changed(servers)


def test_a_pooler_that_drops_the_search_path_stops_preflight(
    servers: Servers, tmp_path: Path
) -> None:
    """PgBouncer with ignore_startup_parameters = options accepts the connection and drops
    ``-c search_path=analytics``: the tables and django_migrations would go to public."""
    with bouncer([servers.site], ignore_startup_parameters="options") as pooler:
        port = pooler.port
        entries = servers.entries()
        entries["analytics_db"] = pg_entry(
            servers.site, PORT=str(port), OPTIONS={"options": "-c search_path=analytics"}
        )
        with aliases_pointed_at(entries):
            _, err, code = run("migrate_all", create_schemas=True, interactive=False)
    assert code == 1
    assert err == (
        f"{PREFLIGHT}  analytics_db (postgresql 127.0.0.1:{port}/{servers.site}): "
        "OPTIONS['options'] sets search_path=analytics but the server session has "
        'search_path="$user", public: a pooler or proxy between Django and PostgreSQL dropped '
        "the startup option (PgBouncer does with ignore_startup_parameters = options), so tables "
        "and django_migrations would land in schema 'public' instead of 'analytics'. Set the path "
        f'on the server for this role and database: ALTER ROLE "postgres" IN DATABASE '
        f'"{servers.site}" SET search_path = "analytics" (then RECONNECT in PgBouncer\'s admin '
        "console: its open server connections keep the old path); or connect to PostgreSQL "
        "directly, not through the pooler.\n"
    )
    nothing_changed(servers, "analytics")
    assert "django_migrations" not in pg_tables(servers.users)


def test_the_fix_for_a_dropped_search_path_works_behind_the_pooler(
    servers: Servers, tmp_path: Path
) -> None:
    """The fix the message gives (the path set on the role in that database) passes preflight
    through the same PgBouncer, and the tables land in the configured schema."""
    role = unique("migrator_pool")
    with pg_connect(servers.site) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        admin.execute(f'CREATE SCHEMA analytics AUTHORIZATION "{role}"')
        admin.execute(
            f'ALTER ROLE "{role}" IN DATABASE "{servers.site}" SET search_path = "analytics"'
        )
    try:
        with bouncer([servers.site], users=[role], ignore_startup_parameters="options") as pooler:
            port = pooler.port
            entries = servers.entries()
            entries["analytics_db"] = pg_entry(
                servers.site,
                PORT=str(port),
                USER=role,
                OPTIONS={"options": "-c search_path=analytics"},
            )
            with aliases_pointed_at(entries):
                _, err, code = run("migrate_all", apps=["analytics"], interactive=False)
        assert (code, err) == (0, "")
        assert pg_tables(servers.site, "analytics") == ANALYTICS_TABLES
        assert "analytics_event" not in pg_tables(servers.site)
    finally:
        with pg_connect(servers.site) as admin:
            admin.execute(f'DROP OWNED BY "{role}"')
            admin.execute(f'DROP ROLE "{role}"')


@contextmanager
def folder_taking_no_new_file(folder: Path) -> Iterator[str]:
    """``folder`` refuses new files for the duration; yields the reason the system gives. Root
    writes through permission bits, so as root the folder is made immutable (chattr +i)."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield os.strerror(13)  # EACCES
        finally:
            folder.chmod(0o755)
        return
    made = subprocess.run(
        ["chattr", "+i", str(folder)], capture_output=True, text=True, check=False
    )
    if made.returncode != 0:
        pytest.skip(f"cannot make a folder immutable here (chattr +i): {made.stderr.strip()}")
    try:
        yield os.strerror(1)  # EPERM
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_an_sqlite_folder_that_takes_no_new_file_stops_preflight(sqlite_project: Path) -> None:
    """The database file exists and is writable, its folder is not: SQLite cannot write its
    rollback journal there, nor migrator its lock file."""
    folder = sqlite_project / "locked"
    folder.mkdir()
    database = folder / "cache.sqlite3"
    database.touch()  # an empty file is an empty SQLite database
    with (
        aliases_pointed_at({"cache_db": sqlite_entry(database)}),
        folder_taking_no_new_file(folder) as reason,
    ):
        assert os.access(database, os.W_OK)
        _, err, code = run("migrate_all", apps=["cache"], create_schemas=True, interactive=False)
    assert code == 1
    assert err == (
        f"{PREFLIGHT}  cache_db (sqlite {database}): cannot create files in the folder {folder} "
        f"({reason}): SQLite writes its rollback journal cache.sqlite3-journal there and migrator "
        "its lock file cache.sqlite3.migrator-lock; make the folder writable for the user "
        "running migrations, or move the database to a writable folder (NAME).\n"
    )
    assert database.read_bytes() == b""
    assert sorted(path.name for path in folder.iterdir()) == ["cache.sqlite3"]


def test_modes_that_change_nothing_do_not_try_a_file_in_the_folder(sqlite_project: Path) -> None:
    """A run tries a file in each SQLite folder for real (created and removed); --plan, --check,
    --drift and the menu's status only ask the permission bits, so the folder is not written to
    at all (its modification time stays)."""
    for alias in ("default", "users_db", "analytics_db", "legacy_db", "cache_db"):
        sqlite3.connect(sqlite_project / f"{alias}.sqlite3").close()
    before = sqlite_project.stat().st_mtime_ns
    for options in ({"plan_only": True}, {"check": True}, {"drift": True}):
        run("migrate_all", **options)
        assert sqlite_project.stat().st_mtime_ns == before, options
    survey()
    assert sqlite_project.stat().st_mtime_ns == before
    _, err, code = run("migrate_all", interactive=False)
    assert (code, err) == (0, "")
    assert sqlite_project.stat().st_mtime_ns != before  # a run writes: its probe, lock, journal
