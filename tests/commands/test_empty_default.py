"""``"default": {}`` as Django's "Multiple databases" topic configures it: no ENGINE, so Django
uses its dummy backend there. It is not a database: never routed, planned, probed or connected
to (the dummy backend would raise ImproperlyConfigured on the first query), and every command
says so.

The project is ``tests/settings/empty_default.py``: auth and contenttypes on ``auth_db``, the
other apps on ``primary``; its PrimaryRouter's allow_migrate answers True for ``default``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.test import override_settings

from migrator import render
from migrator.survey import survey
from tests.commands.test_migrate_all import ALL_MIGRATIONS
from tests.conftest import close_all, forget, sqlite_entry
from tests.helpers import manage, run, sqlite_recorded, sqlite_tables

SETTINGS = ("--settings", "tests.settings.empty_default")
ROUTERS = [
    "tests.commands.test_empty_default.RecordingRouter",
    "tests.settings.empty_default.AuthRouter",
    "tests.settings.empty_default.PrimaryRouter",
]
NOT_TOUCHED = (
    "Not touched: default (not a database: no ENGINE, Django's dummy backend; never connected to)."
)
USAGE = (
    "CommandError: --database default: DATABASES['default'] is not a database: it has no ENGINE, "
    "so Django uses its dummy backend there (every query fails) and nothing can be migrated on "
    "it. Databases: auth_db, primary.\n"
)
ASKED: list[str] = []  # the aliases the routers were asked about, in this process


class RecordingRouter:
    """First in the chain: records every alias allow_migrate is asked about, decides nothing."""

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> None:
        ASKED.append(db)


def child_env(tmp_path: Path) -> dict[str, str]:
    return {"MIGRATOR_VAR_DIR": str(tmp_path)}


def summary_aliases(out: str) -> list[str]:
    """The aliases of the summary table, in order."""
    lines = out.splitlines()
    rows = lines[lines.index("Summary") + 2 :]
    return [line.split()[0] for line in rows if not line.startswith("Done:")]


AUTH_TABLES = {
    "django_migrations",
    "django_content_type",
    "auth_permission",
    "auth_group",
    "auth_group_permissions",
    "auth_user",
    "auth_user_groups",
    "auth_user_user_permissions",
}


@pytest.fixture
def empty_default(tmp_path: Path, unblocked: None) -> Iterator[Path]:
    """This process's DATABASES replaced by the topic's layout on SQLite files in tmp_path."""
    saved = {alias: dict(entry) for alias, entry in connections.settings.items()}
    close_all()
    for alias in saved:
        forget(alias)
    layout = connections.configure_settings(
        {
            "default": {},
            "auth_db": sqlite_entry(tmp_path / "auth_db.sqlite3"),
            "primary": sqlite_entry(tmp_path / "primary.sqlite3"),
        }
    )
    connections.settings.clear()
    connections.settings.update(layout)
    ASKED.clear()
    try:
        with override_settings(DATABASE_ROUTERS=ROUTERS):
            yield tmp_path
    finally:
        close_all()
        for alias in layout:
            forget(alias)
        connections.settings.clear()
        connections.settings.update(saved)


def test_run_plan_check_and_json_in_process(empty_default: Path) -> None:
    out, err, code = run("migrate_all", plan_only=True, skip_checks=False)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    # auth.0006_require_contenttypes_0002 has no operation: only recorded, as everything each
    # alias records for the apps of the other.
    assert lines[0] == (
        "Plan: 4 steps in 2 levels on 2 databases, 22 migrations to run, 24 only to record."
    )
    assert lines[-1] == NOT_TOUCHED

    out, err, code = run("migrate_all", interactive=False, skip_checks=False)
    assert (code, err) == (0, "")
    assert summary_aliases(out) == ["auth_db", "primary"]
    assert out.splitlines()[-1] == "Done: 22 migrations applied, 24 only recorded on 2 databases."
    assert sqlite_tables(empty_default / "auth_db.sqlite3") == AUTH_TABLES
    assert {table.split("_")[0] for table in sqlite_tables(empty_default / "primary.sqlite3")} == {
        "django",
        "users",
        "blog",
        "shop",
        "analytics",
        "legacy",
        "cache",
    }
    # As Django's migrate --database X records them: every migration on both aliases.
    assert sqlite_recorded(empty_default / "auth_db.sqlite3") == ALL_MIGRATIONS
    assert sqlite_recorded(empty_default / "primary.sqlite3") == ALL_MIGRATIONS
    assert sorted(path.name for path in empty_default.iterdir()) == [
        "auth_db.sqlite3",
        "primary.sqlite3",
    ]

    out, err, code = run("migrate_all", check=True, json=True)
    assert (code, err) == (0, "")
    plan = json.loads(out)["plan"]
    assert [db["alias"] for db in plan["databases"]] == ["auth_db", "primary"]
    assert plan["unplanned_aliases"] == ["default"]
    assert plan["unplanned"] == [{"alias": "default", "reason": "not-a-database"}]
    # The routers (and the doctor's system checks) were asked about real databases only.
    assert set(ASKED) == {"auth_db", "primary"}

    _, err, code = run("migrate_all", databases=["default"])
    assert (code, err) == (2, USAGE)


def test_menu_status_names_it_not_a_database(empty_default: Path) -> None:
    lines = [line.text for line in render.status_lines(survey().aliases)]
    assert lines[2].split() == ["default", "dummy", "-", "-", "-", "-", "-"]
    assert "default: not a database (no ENGINE: Django's dummy backend); never connected to." in (
        lines
    )
    assert lines[-1] == "46 migrations pending on 2 databases."
    assert "default" not in ASKED


def test_every_mode_in_a_child_process(tmp_path: Path) -> None:
    env = child_env(tmp_path)
    plan = manage("migrate_all", "--plan", *SETTINGS, env=env)
    assert (plan.returncode, plan.stderr) == (0, "")
    assert plan.stdout.splitlines()[-1] == NOT_TOUCHED

    doctor = manage("migrate_all", "--doctor", *SETTINGS, env=env)
    assert (doctor.returncode, doctor.stdout, doctor.stderr) == (
        0,
        "Routing doctor: no problems found on 2 databases.\n",
        "",
    )
    graph = manage("migrate_all", "--graph", *SETTINGS, env=env)
    assert (graph.returncode, graph.stderr) == (0, "")
    assert 'subgraph auth_db["auth_db"]' in graph.stdout
    assert "default" not in graph.stdout

    pending = manage("migrate_all", "--check", "-v", "0", *SETTINGS, env=env)
    assert (pending.returncode, pending.stderr) == (
        1,
        "CommandError: 46 migrations pending on auth_db, primary (24 of them only to record: they "
        "execute nothing there, but Django's migrate --check counts them). Run 'manage.py "
        "migrate_all' to apply them.\n",
    )
    refused = manage("migrate_all", "--database", "default", *SETTINGS, env=env)
    assert (refused.returncode, refused.stderr) == (2, USAGE)
    assert list(tmp_path.iterdir()) == []

    result = manage("migrate_all", "--noinput", "--parallel", "2", *SETTINGS, env=env)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines()[-1] == (
        "Done: 22 migrations applied, 24 only recorded on 2 databases."
    )
    assert sqlite_tables(tmp_path / "auth_db.sqlite3") == AUTH_TABLES
    assert "users_user" in sqlite_tables(tmp_path / "primary.sqlite3")

    check = manage("migrate_all", "--check", "--json", *SETTINGS, env=env)
    assert (check.returncode, check.stderr) == (0, "")
    document = json.loads(check.stdout)
    assert (document["ok"], document["plan"]["unplanned"]) == (
        True,
        [{"alias": "default", "reason": "not-a-database"}],
    )
    drift = manage("migrate_all", "--drift", *SETTINGS, env=env)
    assert (drift.returncode, drift.stderr) == (0, "")
    assert drift.stdout.startswith("No schema drift on 2 databases")
    again = manage("migrator", "--auto", "--force-migrate", *SETTINGS, env=env)
    assert (again.returncode, again.stderr) == (0, "")
    assert again.stdout.splitlines()[-1] == "Done: 0 migrations applied on 2 databases."
    # Django's own commands are unaffected by migrator on this layout.
    django_check = manage("check", *SETTINGS, env=env)
    assert (django_check.returncode, django_check.stderr) == (0, "")
