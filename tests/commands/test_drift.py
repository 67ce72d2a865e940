"""--drift and --drift --repair on the SQLite testproject: drift made by hand in each test, exact
findings and repairs, detection that changes nothing, and the run after a repair."""

from __future__ import annotations

import fcntl
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings

from migrator import drift
from migrator.types import DriftRepair, Selection
from tests.helpers import PROJECT_MIGRATIONS, manage, recorded, run, tables

NO_DRIFT = (
    "No schema drift on 5 databases: every table and column recorded as applied is there, and "
    "every table of a routed app is recorded.\n"
)
USERS = {"users.0001_initial", "users.0002_user_is_active"}
# Recorded on users_db by a full run (they execute nothing there, as with Django's migrate
# --database users_db) and depend on users.0001_initial: unrecorded with it.
AFTER_USERS = {"blog.0001_initial", "blog.0002_post_slug", "shop.0001_initial"}
UNRECORD_USERS = (
    "users.0001_initial, blog.0001_initial, blog.0002_post_slug, shop.0001_initial and "
    "users.0002_user_is_active"
)
# What Django's migrate --database X records on every alias of the testproject, and so a full run.
ALL = set(PROJECT_MIGRATIONS)


def files(tmp: Path) -> dict[str, bytes]:
    """Every file's bytes: detection must change none and create none."""
    return {path.name: path.read_bytes() for path in sorted(tmp.iterdir())}


def sql(tmp: Path, alias: str, *statements: str) -> None:
    """Drift made by hand, as an operator would (outside Django)."""
    with sqlite3.connect(tmp / f"{alias}.sqlite3") as db:
        for statement in statements:
            db.execute(statement)
    db.close()


def migrated(tmp: Path) -> None:
    _, err, code = run("migrate_all", interactive=False)
    assert (code, err) == (0, "")


def dropped(table: str, migration: str, repair: str) -> list[str]:
    return [
        f"  missing-table {table}: {migration} is recorded, but the table is not in the database",
        f"    Probable cause: dropped by hand, or {migration} was recorded without running "
        "(migrate --fake).",
        f"    Repair: {repair}",
    ]


def test_the_migrated_testproject_has_no_drift(sqlite_project: Path) -> None:
    migrated(sqlite_project)
    before = files(sqlite_project)
    assert run("migrate_all", drift=True) == (NO_DRIFT, "", 0)
    assert run("migrator", drift=True) == (NO_DRIFT, "", 0)
    out, err, code = run("migrate_all", drift=True, json=True)
    assert (err, code) == ("", 0)
    document = json.loads(out)
    assert document == {
        "version": 1,
        "mode": "drift",
        "ok": True,
        "databases": [
            {
                "alias": alias,
                "vendor": "sqlite",
                "host": "",
                "port": "",
                "name": str(sqlite_project / f"{alias}.sqlite3"),
                "schema": None,
                "findings": 0,
            }
            for alias in ("default", "users_db", "analytics_db", "legacy_db", "cache_db")
        ],
        "findings": [],
        "repairs": [],
        "remaining": None,
    }
    assert files(sqlite_project) == before


def test_nothing_migrated_is_no_drift_and_creates_no_file(sqlite_project: Path) -> None:
    assert run("migrate_all", drift=True) == (NO_DRIFT, "", 0)
    assert run("migrate_all", drift=True, repair=True, interactive=False) == (NO_DRIFT, "", 0)
    assert list(sqlite_project.iterdir()) == []


def test_faked_and_dropped_tables_are_unrecorded_unrecorded_tables_recorded(
    sqlite_project: Path,
) -> None:
    # A migration faked by mistake, a table dropped by hand, history rows deleted.
    _, _, code = run("migrate_all", apps=["cache"], fake=True, interactive=False)
    assert code == 0
    migrated(sqlite_project)
    sql(sqlite_project, "users_db", "DROP TABLE users_user")
    sql(sqlite_project, "default", "DELETE FROM django_migrations WHERE app = 'shop'")
    before = files(sqlite_project)

    out, err, code = run("migrate_all", drift=True)
    assert code == 1
    unrecord = "'manage.py migrate_all --drift --repair' unrecords"
    record_shop = (
        "'manage.py migrate_all --drift --repair' records shop.0001_initial on default, as "
        "--fake-initial would: shop_order and shop_product have every column shop.0001_initial "
        "creates."
    )
    shop_cause = (
        "    Probable cause: created outside migrations (by hand, a restored dump, a legacy "
        "system), or the django_migrations row of shop.0001_initial was deleted."
    )
    assert out.splitlines() == [
        "Schema drift: 4 findings on 3 databases (5 checked).",
        f"default (sqlite {sqlite_project / 'default.sqlite3'})",
        "  unrecorded shop_order (shop.Order): the table exists in the database, but "
        "shop.0001_initial, which creates it, is not recorded",
        shop_cause,
        f"    Repair: {record_shop}",
        "  unrecorded shop_product (shop.Product): the table exists in the database, but "
        "shop.0001_initial, which creates it, is not recorded",
        shop_cause,
        f"    Repair: {record_shop}",
        f"users_db (sqlite {sqlite_project / 'users_db.sqlite3'})",
        *dropped(
            "users_user (users.User)",
            "users.0001_initial",
            f"{unrecord} {UNRECORD_USERS} on users_db; the next 'manage.py migrate_all' creates "
            "users_user again.",
        ),
        f"cache_db (sqlite {sqlite_project / 'cache_db.sqlite3'})",
        *dropped(
            "cache_cacheentry (cache.CacheEntry)",
            "cache.0001_initial",
            f"{unrecord} cache.0001_initial on cache_db; the next 'manage.py migrate_all' creates "
            "cache_cacheentry again.",
        ),
        "No drift on analytics_db, legacy_db.",
        "3 repairs can be made without touching a table (only django_migrations rows change): "
        "'manage.py migrate_all --drift --repair' lists them and asks first.",
    ]
    assert err == (
        "CommandError: Schema drift found: 4 findings on default, users_db and cache_db. Repair "
        "them with 'manage.py migrate_all --drift --repair'.\n"
    )
    out, _, code = run("migrate_all", drift=True, json=True)
    assert code == 1
    document = json.loads(out)
    assert (document["mode"], document["ok"]) == ("drift", False)
    assert document["findings"][2] == {
        "alias": "users_db",
        "kind": "missing-table",
        "app": "users",
        "model": "users.User",
        "table": "users_user",
        "columns": [],
        "schema": None,
        "found_in": [],
        "migration": "users.0001_initial",
        "cause": "dropped by hand, or users.0001_initial was recorded without running "
        "(migrate --fake)",
        "repair": f"{unrecord} {UNRECORD_USERS} on users_db; the next 'manage.py migrate_all' "
        "creates users_user again.",
        "manual": [],
    }
    assert document["repairs"] == [
        {
            "alias": "default",
            "action": "record",
            "migrations": ["shop.0001_initial"],
            "tables": ["shop_order", "shop_product"],
            "status": "planned",
            "error": None,
        },
        {
            "alias": "users_db",
            "action": "unrecord",
            "migrations": [
                "users.0001_initial",
                "blog.0001_initial",
                "blog.0002_post_slug",
                "shop.0001_initial",
                "users.0002_user_is_active",
            ],
            "tables": ["users_user"],
            "status": "planned",
            "error": None,
        },
        {
            "alias": "cache_db",
            "action": "unrecord",
            "migrations": ["cache.0001_initial"],
            "tables": ["cache_cacheentry"],
            "status": "planned",
            "error": None,
        },
    ]
    assert files(sqlite_project) == before  # detection changed nothing

    out, err, code = run("migrate_all", drift=True, repair=True, interactive=False)
    assert (err, code) == ("", 0)
    assert out.splitlines()[-9:] == [
        "Repairs to make, each under the alias's lock (only django_migrations rows change; no "
        "table is touched):",
        "  default: record shop.0001_initial (shop_order and shop_product exist with every column)",
        f"  users_db: unrecord {UNRECORD_USERS} (users_user is missing; the next 'manage.py "
        "migrate_all' creates it again)",
        "  cache_db: unrecord cache.0001_initial (cache_cacheentry is missing; the next "
        "'manage.py migrate_all' creates it again)",
        "Repaired default: recorded shop.0001_initial.",
        f"Repaired users_db: unrecorded {UNRECORD_USERS}.",
        "Repaired cache_db: unrecorded cache.0001_initial.",
        "No schema drift left on 5 databases.",
        "Run 'manage.py migrate_all' to create the tables of the unrecorded migrations again.",
    ]
    assert recorded("users_db") == ALL - USERS - AFTER_USERS
    assert recorded("cache_db") == ALL - {"cache.0001_initial"}
    assert recorded("default") == ALL
    assert "shop_order" in tables("default")  # recording touched no table
    assert not (sqlite_project / "cache_db.sqlite3.migrator-lock").exists()  # lock released

    out, err, code = run("migrate_all", interactive=False)
    assert (err, code) == ("", 0)
    assert out.splitlines()[-1] == "Done: 3 migrations applied, 3 only recorded on 5 databases."
    assert "users_user" in tables("users_db")
    assert "cache_cacheentry" in tables("cache_db")
    assert recorded("users_db") == ALL
    assert recorded("cache_db") == ALL
    assert run("migrate_all", drift=True) == (NO_DRIFT, "", 0)


def test_what_is_not_safe_to_repair_gets_manual_steps(sqlite_project: Path) -> None:
    migrated(sqlite_project)
    sql(
        sqlite_project,
        "default",
        "DROP TABLE auth_user_groups",  # part of auth.0001_initial: the other tables exist
        "DROP TABLE django_content_type",  # auth's recorded migrations depend on contenttypes
        "DELETE FROM django_migrations WHERE app = 'blog'",  # blog_post has 0002's column
    )
    sql(sqlite_project, "users_db", "ALTER TABLE users_user DROP COLUMN is_active")
    before = files(sqlite_project)
    sqlmigrate = "'manage.py sqlmigrate {} --database {}'"
    expected = [
        "Schema drift: 4 findings on 2 databases (5 checked).",
        f"default (sqlite {sqlite_project / 'default.sqlite3'})",
        "  missing-table django_content_type (contenttypes.ContentType): "
        "contenttypes.0001_initial is recorded, but the table is not in the database",
        "    Probable cause: dropped by hand, or contenttypes.0001_initial was recorded without "
        "running (migrate --fake).",
        "    Fix by hand:",
        "      contenttypes.0001_initial cannot simply be unrecorded: recorded migrations of other "
        "apps on default depend on it (auth.0001_initial, auth.0002_alter_permission_name_max_"
        "length, auth.0003_alter_user_email_max_length and 8 more).",
        "      Recreate django_content_type by hand: "
        + sqlmigrate.format("contenttypes 0001_initial", "default")
        + " prints its CREATE TABLE statement; run it on default (with the statements of later "
        "migrations that change the table), or restore the table from a backup.",
        "  missing-table auth_user_groups (auth.User_groups): auth.0001_initial is recorded, but "
        "the table is not in the database",
        "    Probable cause: dropped by hand, or auth.0001_initial was recorded without running "
        "(migrate --fake).",
        "    Fix by hand:",
        "      auth.0001_initial cannot simply be unrecorded: auth_group, which auth.0001_initial "
        "creates too, exists.",
        "      Recreate auth_user_groups by hand: "
        + sqlmigrate.format("auth 0001_initial", "default")
        + " prints its CREATE TABLE statement; run it on default (with the statements of later "
        "migrations that change the table), or restore the table from a backup.",
        "  unrecorded blog_post (blog.Post): the table exists in the database, but "
        "blog.0001_initial, which creates it, is not recorded",
        "    Probable cause: created outside migrations (by hand, a restored dump, a legacy "
        "system), or the django_migrations row of blog.0001_initial was deleted.",
        "    Fix by hand:",
        "      blog.0001_initial cannot simply be recorded: blog_post already has slug, which "
        "later migrations add.",
        "      Compare the table with what "
        + sqlmigrate.format("blog 0001_initial", "default")
        + " creates and the later migrations up to blog.0002_post_slug change. When they match, "
        "record them with 'manage.py migrate blog 0002_post_slug --fake --database default'; "
        "when the data is not needed, drop the table and run 'manage.py migrate_all' to create "
        "it.",
        f"users_db (sqlite {sqlite_project / 'users_db.sqlite3'})",
        "  missing-columns users_user (users.User): users.0002_user_is_active is recorded, but "
        "users_user has no column is_active",
        "    Probable cause: dropped by hand, or users.0002_user_is_active was recorded without "
        "running (migrate --fake).",
        "    Fix by hand:",
        '      Add is_active to "users_user" by hand: '
        + sqlmigrate.format("users 0002_user_is_active", "users_db")
        + " prints the SQL that adds it; run the statements for is_active on users_db, or "
        "restore it from a backup.",
        "No drift on analytics_db, legacy_db, cache_db.",
    ]
    out, err, code = run("migrate_all", drift=True)
    assert code == 1
    assert out.splitlines() == expected
    assert err == (
        "CommandError: Schema drift found: 4 findings on default and users_db. They need the "
        "manual steps shown.\n"
    )
    out, err, code = run("migrate_all", drift=True, repair=True, interactive=False)
    assert code == 1
    assert out.splitlines() == [
        *expected,
        "Nothing can be repaired automatically: every finding needs the steps shown.",
    ]
    assert files(sqlite_project) == before


def _repairable(tmp: Path) -> None:
    migrated(tmp)
    sql(tmp, "cache_db", "DROP TABLE cache_cacheentry")


@pytest.mark.parametrize("answer", ["", "n", "no", "yes please"])
def test_repair_asks_and_no_changes_nothing(
    sqlite_project: Path, monkeypatch: pytest.MonkeyPatch, answer: str
) -> None:
    _repairable(sqlite_project)
    before = files(sqlite_project)
    monkeypatch.setattr("migrator.cli.output.stdin_is_terminal", lambda: True)
    monkeypatch.setattr("builtins.input", lambda: answer)
    out, err, code = run("migrate_all", drift=True, repair=True)
    assert code == 1
    assert out.splitlines()[-3:] == [
        "Repairs to make, each under the alias's lock (only django_migrations rows change; no "
        "table is touched):",
        "  cache_db: unrecord cache.0001_initial (cache_cacheentry is missing; the next "
        "'manage.py migrate_all' creates it again)",
        "Make this repair? [y/N] Nothing was changed.",
    ]
    assert err == (
        "CommandError: Nothing was repaired; schema drift remains: 1 finding on cache_db.\n"
    )
    assert files(sqlite_project) == before


@pytest.mark.parametrize("answer", ["y", "YES", " yes "])
def test_repair_asks_and_yes_repairs(
    sqlite_project: Path, monkeypatch: pytest.MonkeyPatch, answer: str
) -> None:
    _repairable(sqlite_project)
    monkeypatch.setattr("migrator.cli.output.stdin_is_terminal", lambda: True)
    monkeypatch.setattr("builtins.input", lambda: answer)
    out, err, code = run("migrator", drift=True, repair=True)
    assert (err, code) == ("", 0)
    assert out.splitlines()[-4:] == [
        "  cache_db: unrecord cache.0001_initial (cache_cacheentry is missing; the next "
        "'manage.py migrator --auto' creates it again)",
        "Make this repair? [y/N] Repaired cache_db: unrecorded cache.0001_initial.",
        "No schema drift left on 5 databases.",
        "Run 'manage.py migrator --auto' to create the tables of the unrecorded migrations again.",
    ]
    assert recorded("cache_db") == ALL - {"cache.0001_initial"}


def test_end_of_input_is_no(sqlite_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _repairable(sqlite_project)

    def closed() -> str:
        raise EOFError

    monkeypatch.setattr("migrator.cli.output.stdin_is_terminal", lambda: True)
    monkeypatch.setattr("builtins.input", closed)
    out, _, code = run("migrate_all", drift=True, repair=True)
    assert code == 1
    assert out.splitlines()[-1] == "Make this repair? [y/N] Nothing was changed."
    assert recorded("cache_db") == ALL


def test_repair_json(sqlite_project: Path) -> None:
    _repairable(sqlite_project)
    out, err, code = run("migrate_all", drift=True, repair=True, interactive=False, json=True)
    assert (err, code) == ("", 0)
    document = json.loads(out)
    assert (document["mode"], document["ok"], document["remaining"]) == ("repair", True, [])
    assert [f["table"] for f in document["findings"]] == ["cache_cacheentry"]
    assert document["repairs"] == [
        {
            "alias": "cache_db",
            "action": "unrecord",
            "migrations": ["cache.0001_initial"],
            "tables": ["cache_cacheentry"],
            "status": "done",
            "error": None,
        }
    ]


def test_repair_json_asks_on_stderr(sqlite_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _repairable(sqlite_project)
    monkeypatch.setattr("migrator.cli.output.stdin_is_terminal", lambda: True)
    monkeypatch.setattr("builtins.input", lambda: "n")
    out, err, code = run("migrate_all", drift=True, repair=True, json=True)
    assert code == 1
    document = json.loads(out)  # only JSON on stdout
    assert (document["ok"], document["repairs"][0]["status"]) == (False, "declined")
    assert err == (
        "Make this repair? [y/N] CommandError: Nothing was repaired; schema drift remains: 1 "
        "finding on cache_db.\n"
    )


def test_repair_waits_for_the_lock_and_fails_past_the_timeout(sqlite_project: Path) -> None:
    _repairable(sqlite_project)
    lock_file = sqlite_project / "cache_db.sqlite3.migrator-lock"
    with open(lock_file, "w") as handle:
        handle.write("django-migrator pid 4242 on host-b")
        handle.flush()
        fcntl.flock(handle, fcntl.LOCK_EX)
        out, err, code = run(
            "migrate_all", drift=True, repair=True, interactive=False, lock_timeout="0.3"
        )
    assert code == 1
    message = (
        "LockTimeout: could not lock cache_db within 0.3s: held by django-migrator pid 4242 on "
        f"host-b (lock file {lock_file}). Another migrate_all/migrator run is migrating it; wait "
        "for it to finish or raise --lock-timeout"
    )
    assert f"Repair failed on cache_db: {message}" in out.splitlines()
    assert err == (
        f"CommandError: 1 repair not made (cache_db: {message}). Schema drift left: 1 finding on "
        "cache_db; it needs the manual steps shown.\n"
    )
    assert recorded("cache_db") == ALL


def test_database_and_app_narrow_the_check(sqlite_project: Path) -> None:
    migrated(sqlite_project)
    sql(sqlite_project, "cache_db", "DROP TABLE cache_cacheentry")
    sql(sqlite_project, "default", "DROP TABLE shop_order", "DROP TABLE shop_product")
    out, _, code = run("migrate_all", drift=True, databases=["users_db", "cache_db"])
    assert code == 1
    assert out.splitlines()[0] == "Schema drift: 1 finding on 1 database (2 checked)."
    assert out.splitlines()[-2] == "No drift on users_db."
    out, _, code = run("migrate_all", drift=True, apps=["blog"])
    assert (out, code) == (NO_DRIFT.replace("5 databases", "1 database"), 0)
    out, _, code = run("migrate_all", drift=True, apps=["shop"], repair=True, interactive=False)
    assert code == 0
    assert "Repaired default: unrecorded shop.0001_initial." in out.splitlines()
    assert recorded("cache_db") == ALL  # not selected: not repaired


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"plan_only": True}, "--plan"),
        ({"check": True}, "--check"),
        ({"fake": True}, "--fake"),
        ({"fake_initial": True}, "--fake-initial"),
        ({"makemigrations": True}, "--makemigrations"),
        ({"force_migrate": True}, "--force-migrate"),
        ({"target": "users:0001"}, "--target"),
        ({"create_schemas": True}, "--create-schemas"),
        ({"parallel": "2"}, "--parallel"),
        ({"fail_fast": True}, "--fail-fast"),
    ],
)
def test_drift_refuses_run_options(
    sqlite_project: Path, options: dict[str, Any], message: str
) -> None:
    out, err, code = run("migrate_all", drift=True, **options)
    assert (out, code) == ("", 2)
    assert err == (
        "CommandError: --drift compares the databases with their recorded migrations and "
        f"migrates nothing, so {message} makes no sense with it; drop one of them.\n"
    )
    assert list(sqlite_project.iterdir()) == []


@pytest.mark.parametrize(
    ("command", "options", "message"),
    [
        (
            "migrate_all",
            {"drift": True, "doctor": True},
            "--drift and --doctor print different reports; run them one at a time.",
        ),
        (
            "migrate_all",
            {"drift": True, "graph": "dot"},
            "--drift and --graph print different reports; run them one at a time.",
        ),
        (
            "migrate_all",
            {"repair": True},
            "--repair repairs what --drift finds; run 'manage.py migrate_all --drift --repair'.",
        ),
        (
            "migrator",
            {"repair": True, "doctor": True},
            "--repair repairs what --drift finds; run 'manage.py migrator --drift --repair'.",
        ),
        (
            "migrate_all",
            {"drift": True, "lock_timeout": "5"},
            "--lock-timeout is for --drift --repair (each repair waits for the alias's lock); "
            "--drift alone reads without locking. Drop it or add --repair.",
        ),
        (
            "migrate_all",
            {"drift": True, "repair": True},
            "--drift --repair asks before it changes django_migrations, and there is no terminal "
            "to ask on: pass --noinput to make the repairs without asking.",
        ),
    ],
)
def test_drift_usage_errors(
    sqlite_project: Path, command: str, options: dict[str, Any], message: str
) -> None:
    out, err, code = run(command, **options)
    assert (out, err, code) == ("", f"CommandError: {message}\n", 2)
    assert list(sqlite_project.iterdir()) == []


def test_usage_error_as_json(sqlite_project: Path) -> None:
    out, _, code = run("migrate_all", drift=True, repair=True, json=True)
    assert code == 2
    assert json.loads(out)["mode"] == "repair"
    assert json.loads(out)["error"]["exit_code"] == 2


def test_exit_codes_from_the_command_line(tmp_path: Path) -> None:
    env = {"MIGRATOR_VAR_DIR": str(tmp_path)}
    assert manage("migrate_all", "--noinput", "-v", "0", env=env).returncode == 0
    assert manage("migrate_all", "--drift", env=env).stdout == NO_DRIFT
    with sqlite3.connect(tmp_path / "cache_db.sqlite3") as db:
        db.execute("DROP TABLE cache_cacheentry")
    db.close()
    result = manage("migrator", "--drift", env=env)
    assert result.returncode == 1
    assert result.stderr == (
        "CommandError: Schema drift found: 1 finding on cache_db. Repair it with "
        "'manage.py migrator --drift --repair'.\n"
    )
    result = manage("migrator", "--drift", "--repair", env=env)
    assert result.returncode == 2  # no terminal to ask on
    result = manage("migrator", "--drift", "--repair", "--noinput", env=env)
    assert result.returncode == 0, result.stderr
    assert manage("migrator", "--auto", "--noinput", "-v", "0", env=env).returncode == 0
    assert manage("migrate_all", "--drift", env=env).returncode == 0


@override_settings(MIGRATION_MODULES={"users": "tests.fixtures.users_squashed_migrations"})
def test_a_squashed_migration_is_unrecorded_with_the_ones_it_replaces(
    sqlite_project: Path,
) -> None:
    migrated(sqlite_project)
    squashed = "users.0001_squashed_0002_user_is_active"
    assert recorded("users_db") == {*ALL, squashed}
    assert run("migrate_all", drift=True) == (NO_DRIFT, "", 0)
    sql(sqlite_project, "users_db", "DROP TABLE users_user")
    out, _, code = run("migrate_all", drift=True, repair=True, interactive=False)
    assert code == 0
    assert (
        f"Repaired users_db: unrecorded {squashed}, blog.0001_initial, blog.0002_post_slug and "
        "shop.0001_initial." in out.splitlines()
    )
    assert recorded("users_db") == ALL - USERS - AFTER_USERS
    _, _, code = run("migrate_all", interactive=False)
    assert code == 0
    assert recorded("users_db") == {*ALL, squashed}
    assert run("migrate_all", drift=True) == (NO_DRIFT, "", 0)
    with sqlite3.connect(sqlite_project / "users_db.sqlite3") as db:
        db.execute("DELETE FROM django_migrations")
    db.close()
    out, _, code = run("migrate_all", drift=True, repair=True, interactive=False)
    assert code == 0
    assert f"Repaired users_db: recorded {squashed}." in out.splitlines()
    assert recorded("users_db") == {*USERS, squashed}


def test_plain_functions_skip_a_repair_the_database_no_longer_needs(sqlite_project: Path) -> None:
    """The functions the menu calls; between the check and the repair another operator changed
    the database, and the check made again under the lock notices."""
    _repairable(sqlite_project)
    report = drift.detect(Selection(databases=("cache_db",)))
    assert [(f.kind, f.table) for f in report.findings] == [("missing-table", "cache_cacheentry")]
    planned = DriftRepair("cache_db", "unrecord", ("cache.0001_initial",), ("cache_cacheentry",))
    assert report.repairs == (planned,)
    sql(sqlite_project, "cache_db", "DELETE FROM django_migrations")
    (result,) = drift.repair(report, lock_timeout=1)
    assert (result.repair, result.status, result.error) == (
        planned,
        "skipped",
        "cache_db changed since it was checked; run --drift again",
    )
    assert drift.detect().ok


def test_record_only_rows_of_other_apps_are_unrecorded_with_the_migration(
    sqlite_project: Path,
) -> None:
    """blog and shop execute nothing on users_db, but a full run records them there (as Django's
    migrate --database users_db does) after users.0001_initial, which they depend on. Unrecording
    users.0001_initial takes their rows with it, as Django's 'migrate users zero --database
    users_db' would; the next run creates the table and records them again."""
    migrated(sqlite_project)
    assert recorded("users_db") == ALL
    sql(sqlite_project, "users_db", "DROP TABLE users_user")
    before = files(sqlite_project)
    expected = [
        "Schema drift: 1 finding on 1 database (5 checked).",
        f"users_db (sqlite {sqlite_project / 'users_db.sqlite3'})",
        *dropped(
            "users_user (users.User)",
            "users.0001_initial",
            f"'manage.py migrate_all --drift --repair' unrecords {UNRECORD_USERS} on users_db; "
            "the next 'manage.py migrate_all' creates users_user again.",
        ),
        "No drift on default, analytics_db, legacy_db, cache_db.",
    ]
    out, err, code = run("migrate_all", drift=True)
    assert (out.splitlines(), err, code) == (
        [
            *expected,
            "1 repair can be made without touching a table (only django_migrations rows change): "
            "'manage.py migrate_all --drift --repair' lists it and asks first.",
        ],
        "CommandError: Schema drift found: 1 finding on users_db. Repair it with 'manage.py "
        "migrate_all --drift --repair'.\n",
        1,
    )
    assert files(sqlite_project) == before

    out, err, code = run("migrate_all", drift=True, repair=True, interactive=False)
    assert (err, code) == ("", 0)
    assert out.splitlines() == [
        *expected,
        "Repairs to make, each under the alias's lock (only django_migrations rows change; no "
        "table is touched):",
        f"  users_db: unrecord {UNRECORD_USERS} (users_user is missing; the next 'manage.py "
        "migrate_all' creates it again)",
        f"Repaired users_db: unrecorded {UNRECORD_USERS}.",
        "No schema drift left on 5 databases.",
        "Run 'manage.py migrate_all' to create the tables of the unrecorded migrations again.",
    ]
    # users's rows and the record-only rows that depend on them are gone; the other 18 stay.
    assert recorded("users_db") == ALL - USERS - AFTER_USERS
    assert len(recorded("users_db")) == 18
    assert tables("users_db") == {"django_migrations"}
    for alias in ("default", "analytics_db", "legacy_db", "cache_db"):
        assert recorded(alias) == ALL  # only users_db's rows changed

    out, err, code = run("migrate_all", interactive=False)
    assert (err, code) == ("", 0)
    assert out.splitlines()[0] == (
        "Plan: 6 steps in 2 levels on 5 databases, 2 migrations to run, 3 only to record."
    )
    assert out.splitlines()[-1] == "Done: 2 migrations applied, 3 only recorded on 5 databases."
    assert tables("users_db") == {"django_migrations", "users_user"}
    assert recorded("users_db") == ALL
    assert run("migrate_all", drift=True) == (NO_DRIFT, "", 0)


@override_settings(
    DATABASE_APPS_MAPPING={
        "users": "users_db",
        "blog": "users_db",
        "analytics": "analytics_db",
        "legacy": "legacy_db",
        "cache": "cache_db",
    }
)
def test_a_later_migration_of_another_app_that_executes_there_refuses_the_repair(
    sqlite_project: Path,
) -> None:
    """blog routed to users_db: its migrations, which depend on users.0001_initial, execute there
    (blog_post is there), so unrecording users.0001_initial would lose them; shop.0001_initial,
    only recorded on users_db, is no reason to refuse and is not named."""
    migrated(sqlite_project)
    assert tables("users_db") == {"django_migrations", "users_user", "blog_post"}
    assert recorded("users_db") == ALL
    sql(sqlite_project, "users_db", "DROP TABLE users_user")
    before = files(sqlite_project)
    expected = [
        "Schema drift: 1 finding on 1 database (5 checked).",
        f"users_db (sqlite {sqlite_project / 'users_db.sqlite3'})",
        "  missing-table users_user (users.User): users.0001_initial is recorded, but the table "
        "is not in the database",
        "    Probable cause: dropped by hand, or users.0001_initial was recorded without running "
        "(migrate --fake).",
        "    Fix by hand:",
        "      users.0001_initial cannot simply be unrecorded: recorded migrations of other apps "
        "on users_db depend on it (blog.0001_initial and blog.0002_post_slug).",
        "      Recreate users_user by hand: 'manage.py sqlmigrate users 0001_initial --database "
        "users_db' prints its CREATE TABLE statement; run it on users_db (with the statements "
        "of later migrations that change the table), or restore the table from a backup.",
        "No drift on default, analytics_db, legacy_db, cache_db.",
    ]
    manual = (
        "CommandError: Schema drift found: 1 finding on users_db. It needs the manual steps "
        "shown.\n"
    )
    assert run("migrate_all", drift=True) == ("\n".join(expected) + "\n", manual, 1)
    out, err, code = run("migrate_all", drift=True, repair=True, interactive=False)
    assert (out.splitlines(), err, code) == (
        [*expected, "Nothing can be repaired automatically: every finding needs the steps shown."],
        manual,
        1,
    )
    assert files(sqlite_project) == before
    assert recorded("users_db") == ALL


RENAMING = "tests.fixtures.renaming_blog_migrations"
# Without the testproject's ReplicaRouter: Django 6.1's post_migrate receiver for RenameModel
# (auth's rename_permissions_after_model_rename) reads permissions through db_for_read, which
# that router sends to read_replica, never migrated; Django's own migrate fails the same way there.
WITHOUT_REPLICA_READS = ["testproject.routers.AppLabelRouter"]
BLOG = ["blog.0001_initial", "blog.0002_post_slug", "blog.0003_draft_article"]


@override_settings(MIGRATION_MODULES={"blog": RENAMING}, DATABASE_ROUTERS=WITHOUT_REPLICA_READS)
def test_a_renamed_table_is_traced_to_the_migration_that_created_it(sqlite_project: Path) -> None:
    """blog_article was created as blog_post by blog.0001_initial and renamed by 0003: its
    repair unrecords the whole chain (0003 creates Draft and renames Post, 0004 deletes Draft:
    each touches only tables the chain created), and the next run creates it again."""
    migrated(sqlite_project)
    everything = {*BLOG, "blog.0004_delete_draft"}
    assert {r for r in recorded("default") if r.startswith("blog.")} == everything
    # A table of a deleted model (0004 deletes Draft) is nobody's: left alone, never reported.
    sql(sqlite_project, "default", "CREATE TABLE blog_draft (id integer PRIMARY KEY)")
    assert run("migrate_all", drift=True) == (NO_DRIFT, "", 0)
    sql(sqlite_project, "default", "DROP TABLE blog_article")
    chain = (
        "blog.0001_initial, blog.0002_post_slug, blog.0003_draft_article and blog.0004_delete_draft"
    )
    out, _, code = run("migrate_all", drift=True)
    assert code == 1
    assert out.splitlines()[2:5] == dropped(
        "blog_article (blog.Article)",
        "blog.0001_initial",
        f"'manage.py migrate_all --drift --repair' unrecords {chain} on default; the next "
        "'manage.py migrate_all' creates blog_article again.",
    )
    out, _, code = run("migrate_all", drift=True, repair=True, interactive=False)
    assert code == 0
    assert f"Repaired default: unrecorded {chain}." in out.splitlines()
    assert not {r for r in recorded("default") if r.startswith("blog.")}
    sql(sqlite_project, "default", "DROP TABLE blog_draft")  # 0003 creates it, 0004 drops it
    _, err, code = run("migrate_all", interactive=False)
    assert (code, err) == (0, "")
    assert {r for r in recorded("default") if r.startswith("blog.")} == everything
    assert "blog_article" in tables("default")
    assert run("migrate_all", drift=True) == (NO_DRIFT, "", 0)


@override_settings(MIGRATION_MODULES={"blog": RENAMING}, DATABASE_ROUTERS=WITHOUT_REPLICA_READS)
def test_a_migration_that_renames_an_older_table_is_not_unrecorded(sqlite_project: Path) -> None:
    """blog_draft is missing, but unrecording blog.0003 would rename Post again, a table it did
    not create: manual steps only. A renamed column is traced to the migration that added it,
    and its manual step says the name sqlmigrate shows it under."""
    _, err, code = run("migrate_all", interactive=False, target="blog:0003_draft_article")
    assert (code, err) == (0, "")
    assert {r for r in recorded("default") if r.startswith("blog.")} == set(BLOG)
    sql(
        sqlite_project,
        "default",
        "DROP TABLE blog_draft",
        "ALTER TABLE blog_article DROP COLUMN headline",
    )
    before = files(sqlite_project)
    sqlmigrate = "'manage.py sqlmigrate blog {} --database default'"
    out, err, code = run("migrate_all", drift=True, repair=True, interactive=False)
    assert code == 1
    assert out.splitlines() == [
        "Schema drift: 2 findings on 1 database (5 checked).",
        f"default (sqlite {sqlite_project / 'default.sqlite3'})",
        "  missing-table blog_draft (blog.Draft): blog.0003_draft_article is recorded, but the "
        "table is not in the database",
        "    Probable cause: dropped by hand, or blog.0003_draft_article was recorded without "
        "running (migrate --fake).",
        "    Fix by hand:",
        "      blog.0003_draft_article cannot simply be unrecorded: blog.0003_draft_article "
        "renames Post, whose table it did not create.",
        "      Recreate blog_draft by hand: "
        + sqlmigrate.format("0003_draft_article")
        + " prints its CREATE TABLE statement; run it on default (with the statements of later "
        "migrations that change the table), or restore the table from a backup.",
        "  missing-columns blog_article (blog.Article): blog.0001_initial is recorded, but "
        "blog_article has no column headline",
        "    Probable cause: dropped by hand, or blog.0001_initial was recorded without running "
        "(migrate --fake).",
        "    Fix by hand:",
        '      Add headline to "blog_article" by hand: '
        + sqlmigrate.format("0001_initial")
        + " prints the SQL that adds it (headline as title, renamed by blog.0003_draft_article); "
        "run the statements for headline on default, or restore it from a backup.",
        "No drift on users_db, analytics_db, legacy_db, cache_db.",
        "Nothing can be repaired automatically: every finding needs the steps shown.",
    ]
    assert err == (
        "CommandError: Schema drift found: 2 findings on default. They need the manual steps "
        "shown.\n"
    )
    assert files(sqlite_project) == before


def test_a_repair_whose_lock_is_lost_while_it_writes_is_rolled_back(
    sqlite_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two repairs on default; while the first writes, the lock file is removed (an operator
    cleaning up, say): the first is rolled back and the second not made, so no other run can
    find the rows half changed."""
    migrated(sqlite_project)
    sql(
        sqlite_project,
        "default",
        "DROP TABLE blog_post",
        "DROP TABLE shop_product",
        "DROP TABLE shop_order",
    )
    report = drift.detect(Selection(databases=("default",)))
    assert [r.migrations[0] for r in report.repairs] == ["blog.0001_initial", "shop.0001_initial"]
    lock_file = sqlite_project / "default.sqlite3.migrator-lock"
    record_unapplied = MigrationRecorder.record_unapplied

    def and_remove_the_lock_file(self: MigrationRecorder, app: str, name: str) -> None:
        record_unapplied(self, app, name)
        lock_file.unlink(missing_ok=True)

    monkeypatch.setattr(MigrationRecorder, "record_unapplied", and_remove_the_lock_file)
    first, second = drift.repair(report, lock_timeout=1)
    assert (first.status, first.error) == (
        "failed",
        f"LockLost: lock lost on default during this repair: its lock file {lock_file} was "
        "removed. It was rolled back; run --drift again",
    )
    assert (second.status, second.error) == ("skipped", "not made: the repair before it failed")
    assert recorded("default") == ALL  # nothing unrecorded
