"""migrate_all / migrator --auto on the SQLite testproject, in-process through call_command."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from tests.conftest import PASSWORD
from tests.helpers import ALIASES, PROJECT_MIGRATIONS, REPO, recorded, run, summary_rows, tables

USERS = {"users.0001_initial", "users.0002_user_is_active"}

EXPECTED_TABLES = {
    "default": {
        "auth_group",
        "auth_group_permissions",
        "auth_permission",
        "auth_user",
        "auth_user_groups",
        "auth_user_user_permissions",
        "blog_post",
        "django_content_type",
        "django_migrations",
        "shop_order",
        "shop_product",
    },
    "users_db": {"django_migrations", "users_user"},
    "analytics_db": {"django_migrations", "analytics_event"},
    "legacy_db": {"django_migrations", "legacy_customernote"},
    "cache_db": {"django_migrations", "cache_cacheentry"},
}
ALL_MIGRATIONS = set(PROJECT_MIGRATIONS)
# As Django's migrate --database X records them: every migration on every alias migrate_all
# migrates; those that execute nothing there are only recorded.
EXPECTED_RECORDED = dict.fromkeys(EXPECTED_TABLES, ALL_MIGRATIONS)

SUMMARY_HEADER = "alias         vendor  database"


def files(tmp: Path) -> dict[str, tuple[int, float]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime) for p in sorted(tmp.iterdir())}


def test_tables_land_only_where_the_routers_say(sqlite_project: Path) -> None:
    out, err, code = run("migrate_all", interactive=False)
    assert (code, err) == (0, "")
    for alias, expected in EXPECTED_TABLES.items():
        assert tables(alias) == expected, alias
        assert recorded(alias) == EXPECTED_RECORDED[alias], alias
    assert not (sqlite_project / "read_replica.sqlite3").exists()
    assert "customers" not in tables("legacy_db")  # unmanaged: never created
    assert out.splitlines()[0] == (
        "Plan: 6 steps in 2 levels on 5 databases, 22 migrations to run, 93 only to record."
    )
    assert "Migrating users_db: users" in out
    assert "  Applied users.0002_user_is_active" in out
    assert out.splitlines()[-1] == ("Done: 22 migrations applied, 93 only recorded on 5 databases.")


def test_summary_table(sqlite_project: Path) -> None:
    out, _, _ = run("migrate_all")
    rows = summary_rows(out)
    assert list(rows) == ["default", "users_db", "analytics_db", "legacy_db", "cache_db"]
    version = sqlite3.sqlite_version
    assert {k: v for k, v in rows["default"].items() if k != "seconds"} == {
        "alias": "default",
        "vendor": f"sqlite {version}",
        "database": str(sqlite_project / "default.sqlite3"),
        "apps": "contenttypes, auth, blog, shop",
        "applied": "16",  # auth.0006_require_contenttypes_0002 has no operation: only recorded
        "status": "applied",
    }
    assert rows["users_db"]["apps"] == "users"
    assert rows["users_db"]["applied"] == "2"
    assert float(rows["users_db"]["seconds"]) >= 0


def test_second_run_applies_nothing(sqlite_project: Path) -> None:
    run("migrate_all")
    before = {alias: recorded(alias) for alias in EXPECTED_RECORDED}
    out, _, code = run("migrate_all")
    assert code == 0
    assert out.splitlines()[0] == (
        "All 5 databases up to date: every migration file on disk is recorded (checked without "
        "loading the migration graph)."
    )
    assert "Migrating" not in out
    assert out.splitlines()[-1] == "Done: 0 migrations applied on 5 databases."
    assert {alias: recorded(alias) for alias in EXPECTED_RECORDED} == before


def test_plan_and_check_change_nothing_on_fresh_databases(sqlite_project: Path) -> None:
    out, err, code = run("migrate_all", plan_only=True)
    assert (code, err) == (0, "")
    assert list(sqlite_project.iterdir()) == []  # no database file was created
    assert "Level 1\n  default (sqlite " in out
    assert "    apply blog.0002_post_slug" in out
    assert "Not touched: read_replica (the routers allow no migrations there)." in out

    out, err, code = run("migrate_all", check=True)
    assert code == 1
    assert err == (
        "CommandError: 115 migrations pending on analytics_db, cache_db, default, legacy_db, "
        "users_db (93 of them only to record: they execute nothing there, but Django's migrate "
        "--check counts them). Run 'manage.py migrate_all' to apply them.\n"
    )
    assert list(sqlite_project.iterdir()) == []


def test_plan_and_check_change_nothing_after_a_run(sqlite_project: Path) -> None:
    run("migrate_all")
    run("migrate_all", target="blog:0001")
    before = files(sqlite_project)
    out, _, code = run("migrate_all", plan_only=True)
    assert code == 0
    assert (
        f"  default (sqlite {sqlite3.sqlite_version} {sqlite_project / 'default.sqlite3'}): auth, blog, shop"
        in out
    )
    assert "    apply blog.0002_post_slug" in out
    _, _, code = run("migrate_all", check=True)
    assert code == 1
    assert files(sqlite_project) == before
    run("migrate_all")
    _, err, code = run("migrate_all", check=True)
    assert (code, err) == (0, "")


def test_migrator_auto_is_migrate_all(sqlite_project: Path) -> None:
    out, _, code = run("migrator", auto=True)
    assert code == 0
    assert out.splitlines()[-1] == ("Done: 22 migrations applied, 93 only recorded on 5 databases.")
    assert tables("users_db") == EXPECTED_TABLES["users_db"]


def test_database_filter(sqlite_project: Path) -> None:
    out, _, code = run("migrate_all", databases=["users_db", "cache_db"])
    assert code == 0
    assert sorted(p.name for p in sqlite_project.iterdir()) == [
        "cache_db.sqlite3",
        "users_db.sqlite3",
    ]
    assert recorded("users_db") == ALL_MIGRATIONS  # as migrate --database users_db records
    assert tables("users_db") == EXPECTED_TABLES["users_db"]
    assert out.splitlines()[-1] == "Done: 3 migrations applied, 43 only recorded on 2 databases."


def test_database_patterns(sqlite_project: Path) -> None:
    """--database takes shell-style patterns: every database alias that matches, in settings
    order, each once (read_replica has no app routed to it: left out as by name)."""
    out, _, code = run("migrate_all", plan_only=True, json=True, databases=["*_db", "users_db"])
    assert code == 0
    steps = [step["alias"] for level in json.loads(out)["plan"]["levels"] for step in level]
    assert sorted(set(steps)) == ["analytics_db", "cache_db", "legacy_db", "users_db"]
    out, _, code = run("migrate_all", databases=["[uc]*_db"])
    assert code == 0
    assert sorted(p.name for p in sqlite_project.iterdir()) == [
        "cache_db.sqlite3",
        "users_db.sqlite3",
    ]
    assert out.splitlines()[-1] == "Done: 3 migrations applied, 43 only recorded on 2 databases."
    _, err, code = run("migrate_all", databases=["tenant_*"])
    assert (code, err) == (
        2,
        "CommandError: --database 'tenant_*' matches no database alias. Known aliases: default, "
        "users_db, analytics_db, legacy_db, cache_db, read_replica. Quote the pattern so the "
        "shell does not expand it.\n",
    )


def test_app_filter_records_dependencies_but_creates_only_the_app(sqlite_project: Path) -> None:
    _, _, code = run("migrate_all", apps=["blog"])
    assert code == 0
    assert tables("default") == {"django_migrations", "blog_post"}
    assert recorded("default") == {"users.0001_initial", "blog.0001_initial", "blog.0002_post_slug"}
    assert sorted(p.name for p in sqlite_project.iterdir()) == ["default.sqlite3"]


def test_target_rolls_back_and_forward(sqlite_project: Path) -> None:
    run("migrate_all")
    out, _, code = run("migrate_all", target="blog:0001_initial")
    assert code == 0
    assert "  Unapplied blog.0002_post_slug" in out
    assert "blog.0002_post_slug" not in recorded("default")
    columns = {c.name for c in _columns("default", "blog_post")}
    assert "slug" not in columns
    _, _, code = run("migrate_all", target="blog:zero")
    assert code == 0
    assert "blog_post" not in tables("default")
    assert "shop_order" in tables("default")
    assert recorded("users_db") == ALL_MIGRATIONS  # --target only changes blog on default


def _columns(alias: str, table: str) -> list[Any]:
    from django.db import connections

    with connections[alias].cursor() as cursor:
        return list(connections[alias].introspection.get_table_description(cursor, table))


def test_fake_records_without_tables(sqlite_project: Path) -> None:
    out, _, code = run("migrate_all", apps=["cache"], fake=True)
    assert code == 0
    assert "  Applied cache.0001_initial (faked)" in out
    assert tables("cache_db") == {"django_migrations"}
    assert recorded("cache_db") == {"cache.0001_initial"}


def test_json_run_prints_only_json(sqlite_project: Path) -> None:
    out, err, code = run("migrate_all", json=True)
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert document["version"] == 1
    assert document["mode"] == "run"
    assert document["ok"] is True
    assert [[s["alias"] for s in level] for level in document["plan"]["levels"]] == [
        ["default", "users_db", "analytics_db", "legacy_db", "cache_db"],
        ["default"],
    ]
    assert document["plan"]["unplanned_aliases"] == ["read_replica"]
    assert document["plan"]["pending_count"] == 22
    assert document["plan"]["recorded_count"] == 93
    assert document["plan"]["levels"][0][1]["pending"] == [
        {
            "app": "users",
            "name": "0001_initial",
            "backwards": False,
            "retry": "no",
            "retry_reason": "MIGRATOR['LOCK_RETRIES'] is not set for this alias",
        },
        {
            "app": "users",
            "name": "0002_user_is_active",
            "backwards": False,
            "retry": "no",
            "retry_reason": "MIGRATOR['LOCK_RETRIES'] is not set for this alias",
        },
    ]
    assert {
        row["alias"]: (row["applied"], row["status"]) for row in document["results"]["summary"]
    } == {
        "default": (16, "applied"),
        "users_db": (2, "applied"),
        "analytics_db": (2, "applied"),
        "legacy_db": (1, "applied"),
        "cache_db": (1, "applied"),
    }
    assert document["plan"]["databases"][0] == {
        "alias": "default",
        "vendor": "sqlite",
        "version": sqlite3.sqlite_version,
        "host": "",
        "port": "",
        "name": str(sqlite_project / "default.sqlite3"),
        "schemas": [],
        "schema": "",
        "missing": [],
    }
    assert [step["lock_wait"] < 1 for step in document["results"]["steps"]] == [True] * 6


def test_json_plan_and_error(sqlite_project: Path) -> None:
    out, _, code = run("migrate_all", plan_only=True, json=True)
    assert code == 0
    document = json.loads(out)
    assert (document["mode"], document["results"]) == ("plan", None)
    out, _, code = run("migrate_all", json=True, databases=["nope"])
    assert code == 2
    assert json.loads(out) == {
        "version": 1,
        "mode": "run",
        "ok": False,
        "error": {
            "message": "--database nope: no such alias in DATABASES. Known aliases: "
            + ", ".join(ALIASES)
            + ".",
            "exit_code": 2,
        },
        "run_id": None,
        "plan": None,
        "results": None,
    }


@override_settings(MIGRATION_MODULES={"cache": "tests.fixtures.failing_migrations"})
def test_a_failure_is_isolated_and_rolled_back(sqlite_project: Path) -> None:
    out, err, code = run("migrate_all")
    assert code == 1
    assert err == (
        "CommandError: cache_db (cache) failed at cache.0001_initial: RuntimeError: cache warm-up "
        "failed on purpose. 0 dependent steps skipped. Fix the cause and run again; steps that "
        "completed are not repeated.\n"
    )
    assert "  FAILED on cache_db: RuntimeError: cache warm-up failed on purpose" in out
    rows = summary_rows(out)
    assert rows["cache_db"]["status"] == "failed"
    assert rows["default"]["status"] == "applied"  # does not depend on cache: it ran
    assert out.splitlines()[-2:] == [
        "Failed: 1 step failed, 0 skipped; 21 migrations applied.",
        "  cache_db (cache) failed at cache.0001_initial: RuntimeError: cache warm-up failed on purpose",
    ]
    assert tables("cache_db") == {"django_migrations"}  # atomic: the table was rolled back
    assert recorded("cache_db") == set()
    assert "auth_user" in tables("default")


def test_dependents_of_a_failure_are_skipped_and_a_rerun_resumes(sqlite_project: Path) -> None:
    with override_settings(MIGRATION_MODULES={"users": "tests.fixtures.failing_users_migrations"}):
        out, err, code = run("migrate_all")
    assert code == 1
    assert "Skipped default (auth, blog, shop): depends on users_db (users), which failed" in out
    rows = summary_rows(out)
    assert {alias: row["status"] for alias, row in rows.items()} == {
        "default": "skipped",  # contenttypes ran in level 1; its level-2 step was skipped
        "users_db": "failed",
        "analytics_db": "applied",
        "legacy_db": "applied",
        "cache_db": "applied",
    }
    assert out.splitlines()[-3:] == [
        "Failed: 1 step failed, 1 skipped; 6 migrations applied.",
        "  users_db (users) failed at users.0001_initial: RuntimeError: cache warm-up failed on purpose",
        "  default (auth, blog, shop) skipped: depends on users_db (users), which failed",
    ]
    assert err.startswith("CommandError: users_db (users) failed at users.0001_initial: ")
    assert "1 dependent step skipped." in err
    assert tables("users_db") == {"django_migrations"}
    assert "blog_post" not in tables("default")
    before = {alias: recorded(alias) for alias in ("analytics_db", "legacy_db", "cache_db")}

    out, _, code = run("migrate_all")  # the cause is fixed: the real migrations are back
    assert code == 0
    # users.0002 is new on disk (the failing module had only 0001): the aliases that completed
    # only record it, as Django's migrate --database X would; nothing there is run again.
    assert out.splitlines()[0] == (
        "Plan: 6 steps in 2 levels on 5 databases, 16 migrations to run, 31 only to record."
    )
    rows = summary_rows(out)
    assert {alias: rows[alias]["applied"] for alias in before} == dict.fromkeys(before, "0")
    for alias, rows_before in before.items():
        assert recorded(alias) == rows_before | {"users.0002_user_is_active"}
    assert recorded("default") == EXPECTED_RECORDED["default"]


@override_settings(MIGRATION_MODULES={"users": "tests.fixtures.failing_users_migrations"})
def test_fail_fast_starts_nothing_after_a_failure(sqlite_project: Path) -> None:
    out, _, code = run("migrate_all", fail_fast=True)
    assert code == 1
    rows = summary_rows(out)
    assert {alias: row["status"] for alias, row in rows.items()} == {
        "default": "skipped",
        "users_db": "failed",
        "analytics_db": "skipped",
        "legacy_db": "skipped",
        "cache_db": "skipped",
    }
    assert "  cache_db (cache) skipped: not started: --fail-fast after users_db failed" in out
    assert sorted(p.name for p in sqlite_project.iterdir()) == [
        "default.sqlite3",
        "users_db.sqlite3",
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"databases": ["users"]},
            "--database users: no such alias in DATABASES. Known aliases: "
            "default, users_db, analytics_db, legacy_db, cache_db, read_replica.",
        ),
        (
            {"apps": ["blogs"]},
            "App 'blogs' is not installed. Installed apps with migrations: "
            "contenttypes, auth, users, blog, shop, analytics, legacy, cache.",
        ),
        (
            {"apps": ["migrator"]},
            "App 'migrator' has no migrations. Create them with 'python manage.py makemigrations "
            "migrator', or pick one of: contenttypes, auth, users, blog, shop, analytics, legacy, cache.",
        ),
        (
            {"target": "blog"},
            "--target 'blog': expected APP:MIGRATION, e.g. --target blog:0002_post_slug or "
            "--target blog:zero.",
        ),
        (
            {"target": "blog:0009"},
            "--target blog:0009: 'blog' has no migration named '0009'. Its migrations: "
            "0001_initial, 0002_post_slug (or zero).",
        ),
        (
            {"target": "blog:0001", "apps": ["shop"]},
            "--target blog:0001 migrates only 'blog'; drop --app shop.",
        ),
        (
            {"plan_only": True, "fake": True},
            "--plan changes nothing, so --fake makes no sense with it; drop one of them.",
        ),
        (
            {"check": True, "makemigrations": True},
            "--check changes nothing, so --makemigrations makes no sense with it; drop one of them.",
        ),
        (
            {"fake": True, "fake_initial": True},
            "--fake and --fake-initial contradict each other; pick one.",
        ),
        (
            {"databases": ["read_replica"]},
            "--database read_replica: the routers allow no app's migrations on 'read_replica'. "
            "Aliases with work: default, users_db, analytics_db, legacy_db, cache_db; check "
            "DATABASE_ROUTERS if this is wrong.",
        ),
    ],
)
def test_bad_input_is_refused_and_touches_nothing(
    sqlite_project: Path, options: dict[str, object], message: str
) -> None:
    out, err, code = run("migrate_all", **options)
    assert (out, err, code) == ("", f"CommandError: {message}\n", 2)
    assert list(sqlite_project.iterdir()) == []


@pytest.mark.parametrize(
    ("routers", "message"),
    [
        (
            ["tests.routers.RaisingRouter", "testproject.routers.AppLabelRouter"],
            "Router tests.routers.RaisingRouter.allow_migrate('default', 'shop', "
            "model_name='product') raised KeyError: 'shop_rules'. Fix the router; nothing was migrated.",
        ),
        (
            ["tests.routers.UnknownAliasRouter", "testproject.routers.AppLabelRouter"],
            "Router tests.routers.UnknownAliasRouter.db_for_write(users.User) returned "
            "'users_replica', which is not in DATABASES (analytics_db, cache_db, default, "
            "legacy_db, read_replica, users_db). Fix the router's alias or add it to DATABASES.",
        ),
    ],
)
def test_broken_routers_are_named(sqlite_project: Path, routers: list[str], message: str) -> None:
    with override_settings(DATABASE_ROUTERS=routers):
        out, err, code = run("migrate_all")
    assert (out, err, code) == ("", f"CommandError: {message}\n", 2)
    assert list(sqlite_project.iterdir()) == []


@override_settings(MIGRATION_MODULES={"users": "tests.fixtures.users_cycle_migrations"})
def test_cross_database_cycle_is_refused(sqlite_project: Path) -> None:
    _, err, code = run("migrate_all")
    assert code == 2
    assert err.startswith("CommandError: Dependency cycle between databases: ")
    assert "blog@default -> users@users_db -> blog@default" in err
    assert list(sqlite_project.iterdir()) == []


def test_skip_makemigrations_is_accepted_and_makemigrations_reports(sqlite_project: Path) -> None:
    out, _, code = run("migrate_all", skip_makemigrations=True, apps=["cache"])
    assert code == 0
    assert out.splitlines()[-1] == "Done: 1 migration applied on 1 database."
    out, _, code = run("migrate_all", makemigrations=True, apps=["cache"])
    assert code == 0
    assert out.splitlines()[0] == "No changes detected"


def test_verbosity_zero_prints_nothing(sqlite_project: Path) -> None:
    out, err, code = run("migrate_all", verbosity=0)
    assert (out, err, code) == ("", "", 0)
    assert recorded("cache_db") == ALL_MIGRATIONS


def test_verbosity_two_shows_plan_and_recorded_dependencies(sqlite_project: Path) -> None:
    out, _, _ = run("migrate_all", plan_only=True, verbosity=2)
    assert "    record users.0001_initial (executes nothing here)" in out


def test_no_password_in_any_output(sqlite_project: Path) -> None:
    outputs = [
        run("migrate_all", plan_only=True, verbosity=3),
        run("migrate_all", json=True),
        run("migrate_all", databases=["nope"]),
    ]
    for out, err, _ in outputs:
        assert PASSWORD not in out
        assert PASSWORD not in err


@override_settings(DATABASE_ROUTERS=["tests.routers.LeakyRouter"])
def test_a_password_inside_an_error_is_scrubbed(sqlite_project: Path) -> None:
    for options in ({}, {"json": True}):
        out, err, code = run("migrate_all", **options)
        assert code == 2
        assert (
            "raised ValueError: cannot reach postgres://app:********@db.internal/rules. Fix the "
            "router; nothing was migrated."
        ) in err
        assert PASSWORD not in out + err
    assert json.loads(out)["error"]["message"].endswith("Fix the router; nothing was migrated.")


def test_rolling_back_shows_what_django_unapplies_on_the_alias(sqlite_project: Path) -> None:
    run("migrate_all")
    out, _, code = run("migrate_all", target="contenttypes:zero", plan_only=True)
    assert code == 0
    # auth's migrations depend on contenttypes and live on default too: Django unapplies them
    # first, with SQL. They are part of the plan, not "recorded dependencies".
    assert "    unapply auth.0012_alter_user_first_name_max_length" in out
    assert "    unapply contenttypes.0001_initial" in out
    assert out.splitlines()[0] == (
        "Plan: 1 step in 1 level on 1 database, 13 migrations to run, 1 only to record."
    )
    out, _, code = run("migrate_all", target="contenttypes:zero")
    assert code == 0
    assert "  Unapplied auth.0001_initial" in out
    assert out.splitlines()[-1] == (
        "Done: 0 migrations applied, 13 unapplied, 1 only unrecorded on 1 database."
    )
    assert "auth_user" not in tables("default")
    assert "django_content_type" not in tables("default")
    assert "blog_post" in tables("default")  # blog does not depend on contenttypes


@override_settings(MIGRATION_MODULES={"cache": "tests.fixtures.raising_migrations"})
def test_a_migration_module_that_raises_on_import_is_a_command_error(sqlite_project: Path) -> None:
    where = REPO / "tests" / "fixtures" / "raising_migrations" / "0001_initial.py"
    message = (
        "Django's migration loader failed: RuntimeError: settings for the cache warm-up are "
        f"missing (in {where}, line 5). Fix that migration file (--traceback shows the whole "
        "error); nothing was migrated."
    )
    out, err, code = run("migrate_all", plan_only=True)
    assert (out, err, code) == ("", f"CommandError: {message}\n", 2)
    out, _, code = run("migrate_all", json=True)
    assert code == 2
    assert json.loads(out)["error"] == {"message": message, "exit_code": 2}
    assert list(sqlite_project.iterdir()) == []
