"""--parallel on real servers: aliases that share one database and schema take turns while the
other steps run in other workers; a worker killed mid-step reports what it committed."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.db import connections
from django.test import override_settings

from tests.conftest import aliases_pointed_at
from tests.helpers import every_migration, run
from tests.integration.conftest import Servers
from tests.servers import maria_recorded, pg_connect, pg_entry, pg_recorded, pg_tables

SHARED_TARGET = override_settings(
    DATABASE_ROUTERS=[
        "testproject.routers.ReplicaRouter",
        "tests.fixtures.shared_target.SharedTargetRouter",
    ],
    MIGRATION_MODULES={
        "analytics": "tests.fixtures.meeting_analytics_migrations",
        "legacy": "tests.fixtures.meeting_legacy_migrations",
    },
)
# Every migration of the project with the meeting fixtures in place of analytics' and legacy's.
MEETING_MIGRATIONS = sorted(
    {*every_migration(), "analytics.0002_meet", "legacy.0002_meet"}
    - {"analytics.0002_seed_event_names"}
)


def steps(out: str) -> list[tuple[str, tuple[str, ...], str]]:
    document = json.loads(out)
    return [(s["alias"], tuple(s["apps"]), s["status"]) for s in document["results"]["steps"]]


def step_of(out: str, alias: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        s for s in json.loads(out)["results"]["steps"] if s["alias"] == alias
    ]
    assert len(found) == 1
    return found[0]


@SHARED_TARGET
def test_aliases_on_one_database_and_schema_take_turns(servers: Servers, tmp_path: Path) -> None:
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    entries = servers.entries()
    entries["analytics_db"] = pg_entry(servers.site)  # default's database, default's schema
    # default's analytics.0002_meet waits for legacy_db's legacy.0002_meet: both must run at
    # once. With --parallel 2, default and users_db start; when users_db ends, analytics_db
    # (busy: default holds the lock of their database and schema while it waits) must let
    # legacy_db go first, or default never meets it and analytics_db fails on the lock.
    parties = {"folder": str(meeting), "parties": ["default", "legacy_db"]}
    with aliases_pointed_at(entries), override_settings(PARALLEL_MEETING=parties):
        out, err, code = run("migrate_all", parallel="2", lock_timeout="0", json=True)
    assert (code, err) == (0, "")
    assert steps(out) == [
        ("default", ("contenttypes", "analytics"), "applied"),
        ("users_db", ("users",), "applied"),
        # after default, nothing left to do on the history the twins share
        ("analytics_db", ("contenttypes", "analytics"), "up-to-date"),
        ("legacy_db", ("legacy",), "applied"),
        ("cache_db", ("cache",), "applied"),
        ("default", ("auth", "blog", "shop"), "applied"),
        ("analytics_db", ("auth", "blog", "shop"), "up-to-date"),
    ]
    # The two meeting migrations ran at the same time in two workers, neither of them this
    # process; analytics_db never ran it (default had recorded it for both).
    pids = {party: int((meeting / party).read_text()) for party in ("default", "legacy_db")}
    assert sorted(path.name for path in meeting.iterdir()) == ["default", "legacy_db"]
    assert len(set(pids.values())) == 2
    assert os.getpid() not in pids.values()
    # One history for the two aliases, each migration recorded once; the tables all there.
    assert pg_recorded(servers.site) == MEETING_MIGRATIONS
    assert {"analytics_event", "auth_user", "blog_post", "shop_order"} <= pg_tables(servers.site)
    assert maria_recorded(servers.legacy) == MEETING_MIGRATIONS


@override_settings(MIGRATION_MODULES={"users": "tests.fixtures.killed_users_migrations"})
def test_a_worker_killed_mid_step_reports_what_it_committed(on_servers: Servers) -> None:
    with pg_connect(on_servers.site) as admin:
        admin.execute("CREATE SCHEMA analytics")
    out, err, code = run("migrate_all", parallel="2", json=True)
    assert code == 1
    assert err == (
        "CommandError: users_db (users) failed at users.0002_killed: WorkerDied: the worker for "
        "users_db exited with code -9 before reporting a result. 1 dependent step skipped. Fix "
        "the cause and run again; steps that completed are not repeated.\n"
    )
    users = step_of(out, "users_db")
    assert users["status"] == "failed"
    assert users["error"] == (
        "WorkerDied: the worker for users_db exited with code -9 before reporting a result"
    )
    # users.0001_initial committed before the worker died in users.0002_killed, whose
    # transaction died with it; nothing of the step's recording at its end was reached.
    assert users["applied"] == [{"app": "users", "name": "0001_initial", "backwards": False}]
    assert users["recorded"] == []
    assert users["failed_migration"] == "users.0002_killed"
    assert pg_recorded(on_servers.users) == ["users.0001_initial"]
    with pg_connect(on_servers.users) as db:
        columns = db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'users_user'"
        ).fetchall()
    assert "is_active" not in {row[0] for row in columns}
    summary = json.loads(out)["results"]["summary"]
    assert next(row for row in summary if row["alias"] == "users_db")["applied"] == 1
    assert step_of(out, "legacy_db")["status"] == "applied"  # the other workers went on
    # The read-back connection is closed again: no later worker inherits its socket.
    assert connections["users_db"].connection is None
