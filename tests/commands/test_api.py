"""The documented plain-function API: ``migrator.api.migrate_all(selection, options)`` runs what
``migrate_all`` runs and returns a ``RunReport``; it raises nothing on a failed migration."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import override_settings

from migrator import api
from migrator.exceptions import PreflightError
from migrator.types import Progress, RunOptions, Selection, Shard
from tests.helpers import PROJECT_MIGRATIONS, recorded, tables


def test_migrate_all_runs_the_plan_and_reports(sqlite_project: Path) -> None:
    events: list[Progress] = []
    report = api.migrate_all(Selection(databases=("users_db",)), RunOptions(), events.append)
    assert report.ok
    [result] = report.results
    assert (result.step.alias, result.status) == ("users_db", "applied")
    assert [str(m) for m in result.applied] == ["users.0001_initial", "users.0002_user_is_active"]
    assert tables("users_db") == {"django_migrations", "users_user"}
    assert recorded("users_db") == PROJECT_MIGRATIONS  # everything Django's migrate records
    assert [e.event for e in events if e.event != "migration-start"] == [
        "step-start",
        "migration-done",
        "migration-done",
        "step-done",
    ]
    again = api.migrate_all(Selection(databases=("users_db",)))
    assert [r.status for r in again.results] == ["up-to-date"]


@override_settings(MIGRATION_MODULES={"users": "tests.fixtures.failing_users_migrations"})
def test_a_failed_migration_is_in_the_report_not_raised(sqlite_project: Path) -> None:
    report = api.migrate_all(Selection(databases=("users_db",)))
    assert not report.ok
    [result] = report.results
    assert result.status == "failed"
    assert result.error == "RuntimeError: cache warm-up failed on purpose"
    assert result.failed_migration == "users.0001_initial"
    assert "Traceback (most recent call last):" in result.traceback


def test_migrate_all_takes_a_shard_and_canaries(sqlite_project: Path) -> None:
    with pytest.raises(PreflightError, match=r"^Shard 2/2 cannot run yet: default \(auth, blog"):
        api.migrate_all(shard=Shard(2, 2))
    assert recorded("default") == set()
    first = api.migrate_all(shard=Shard(1, 2), canary=1)
    assert first.ok
    assert first.state.shard == Shard(1, 2, ("users_db", "analytics_db", "cache_db"))
    assert [(r.step.alias, r.canary) for r in first.results] == [
        ("users_db", True),
        ("analytics_db", False),
        ("cache_db", False),
    ]
    second = api.migrate_all(shard=Shard(2, 2))
    assert second.ok
    assert [r.step.alias for r in second.results] == ["default", "legacy_db", "default"]
    for alias in ("default", "users_db", "analytics_db", "legacy_db", "cache_db"):
        assert recorded(alias) == PROJECT_MIGRATIONS
