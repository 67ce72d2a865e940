"""--parallel's scheduling choice and a dead worker's result, as pure functions: no database."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from migrator.concurrency import server
from migrator.execution.workers import committed, next_startable, overlap
from migrator.preflight import resolved, scope
from migrator.types import AliasInfo, PendingMigration, Plan, Probe, Step, StepState

PG = "django.db.backends.postgresql"


def pg(alias: str, name: str = "site", **extra: Any) -> AliasInfo:
    return AliasInfo(alias, "postgresql", PG, name, host="db.internal", port="5432", **extra)


def mysql(alias: str, name: str) -> AliasInfo:
    return AliasInfo(alias, "mysql", "django.db.backends.mysql", name, host="db.internal")


def sqlite(alias: str, name: str) -> AliasInfo:
    return AliasInfo(alias, "sqlite", "django.db.backends.sqlite3", name)


def test_postgresql_scope_is_the_database_and_the_schema_the_probe_found() -> None:
    assert scope(pg("default"), Probe(pg("default"), schema="public")) == (
        "postgresql",
        "site",
        "public",
    )
    # Without a probe (or a schema) the schema is unknown: every schema of the database.
    assert scope(pg("default")) == ("postgresql", "site")
    assert scope(pg("default"), Probe(pg("default"))) == ("postgresql", "site")


def test_an_alias_whose_database_a_service_names_covers_the_vendor_until_probed() -> None:
    info = pg("reports", name="", source="service reports")
    assert scope(info) == ("postgresql",)
    # Preflight asked the server: the probe names the database the service selected.
    plan = Plan(levels=(), aliases=(info, pg("default")))
    probes = (
        Probe(pg("reports", source="service reports"), schema="public"),
        Probe(pg("default"), schema="public"),
    )
    got = resolved(plan, probes)
    assert [a.scope for a in got.aliases] == [("postgresql", "site", "public")] * 2
    assert got.alias_info("reports").name == "site"


def test_resolved_leaves_aliases_without_a_probe_alone() -> None:
    plan = Plan(levels=(), aliases=(pg("default"), pg("other", "other")))
    got = resolved(plan, (Probe(pg("default"), schema="app"),))
    assert got.aliases == (pg("default", scope=("postgresql", "site", "app")), pg("other", "other"))
    assert resolved(got, (Probe(pg("default"), schema="app"),)) is got


def test_mysql_scope_is_the_database_whatever_its_case() -> None:
    assert scope(mysql("legacy_db", "Legacy")) == ("mysql", "legacy")
    assert scope(mysql("legacy_db", "legacy")) == scope(mysql("reporting", "LEGACY"))


def test_sqlite_scope_is_the_real_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "sub")
    real = scope(sqlite("default", str(tmp_path / "sub" / "site.sqlite3")))
    assert real == ("sqlite", os.path.realpath(tmp_path / "sub" / "site.sqlite3"))
    assert scope(sqlite("a", str(tmp_path / "sub" / ".." / "sub" / "site.sqlite3"))) == real
    assert scope(sqlite("b", str(tmp_path / "link" / "site.sqlite3"))) == real
    monkeypatch.chdir(tmp_path)
    assert scope(sqlite("c", "sub/site.sqlite3")) == real
    assert scope(sqlite("d", str(tmp_path / "sub" / "other.sqlite3"))) != real


def test_in_memory_sqlite_is_private_and_a_file_uri_covers_every_file() -> None:
    assert scope(sqlite("a", ":memory:")) != scope(sqlite("b", ":memory:"))
    assert scope(sqlite("c", "file:site?mode=memory")) == ("sqlite",)


def test_other_vendors_fall_back_to_vendor_and_name() -> None:
    info = AliasInfo("ora", "oracle", "django.db.backends.oracle", "ORCL")
    assert scope(info) == ("oracle", "ORCL")


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (("postgresql", "site", "public"), ("postgresql", "site", "public"), True),
        (("postgresql", "site", "public"), ("postgresql", "site", "analytics"), False),
        (("postgresql", "site", "public"), ("postgresql", "users", "public"), False),
        # a schema left unknown: any schema of the database
        (("postgresql", "site"), ("postgresql", "site", "analytics"), True),
        (("postgresql",), ("postgresql", "users", "public"), True),
        (("postgresql", "site", "public"), ("mysql", "site"), False),
        (("sqlite", "/var/a.sqlite3"), ("sqlite", "/var/b.sqlite3"), False),
    ],
)
def test_overlap(a: tuple[str, ...], b: tuple[str, ...], expected: bool) -> None:
    assert overlap(a, b) is expected
    assert overlap(b, a) is expected


SCOPES = {
    "default": ("postgresql", "site", "public"),
    "analytics_db": ("postgresql", "site", "public"),  # default's database and schema
    "reports": ("postgresql", "site"),  # schema unknown: all of them
    "users_db": ("postgresql", "users", "public"),
    "legacy_db": ("mysql", "legacy"),
}
DEFAULT, ANALYTICS, REPORTS, USERS, LEGACY = (Step(alias, ("app",), level=0) for alias in SCOPES)


def test_a_step_whose_target_is_busy_waits_while_the_next_one_starts() -> None:
    waiting = [ANALYTICS, LEGACY]
    assert next_startable(waiting, [DEFAULT, USERS], SCOPES) is LEGACY
    assert next_startable(waiting, [USERS], SCOPES) is ANALYTICS


def test_nothing_starts_while_every_waiting_step_shares_a_target() -> None:
    assert next_startable([ANALYTICS, REPORTS], [DEFAULT], SCOPES) is None
    assert next_startable([DEFAULT, ANALYTICS], [REPORTS], SCOPES) is None
    assert next_startable([], [], SCOPES) is None


def test_steps_start_in_plan_order_when_nothing_is_busy() -> None:
    assert next_startable([DEFAULT, ANALYTICS, USERS], [], SCOPES) is DEFAULT
    # the first started, its twin waits, the next independent one goes
    assert next_startable([ANALYTICS, USERS], [DEFAULT], SCOPES) is USERS


def m(name: str, app: str = "users", backwards: bool = False) -> PendingMigration:
    return PendingMigration(app, name, backwards)


STATE = StepState(
    Step("users_db", ("users",), level=0),
    pending=(m("0001_initial"), m("0002_is_active"), m("0003_slow")),
    recorded_dependencies=(m("0001_initial", "contenttypes"),),
    record_after=(m("0001_initial", "auth"), m("0001_initial", "blog")),
)


def test_committed_lists_what_django_migrations_shows_in_the_steps_order() -> None:
    rows = {
        ("users", "0002_is_active"),
        ("users", "0001_initial"),
        ("contenttypes", "0001_initial"),
        ("auth", "0001_initial"),
        ("shop", "0001_initial"),  # not this step's: never listed
    }
    assert committed(STATE, rows, {}) == (
        (m("0001_initial"), m("0002_is_active")),
        (m("0001_initial", "contenttypes"), m("0001_initial", "auth")),
    )
    assert committed(STATE, set(), {}) == ((), ())


def test_a_squashed_migration_counts_once_every_migration_it_replaces_is_recorded() -> None:
    state = StepState(STATE.step, pending=(m("0001_squashed_0002"),))
    replaces = {("users", "0001_squashed_0002"): [("users", "0001"), ("users", "0002")]}
    assert committed(state, {("users", "0001")}, replaces) == ((), ())
    both = {("users", "0001"), ("users", "0002")}
    assert committed(state, both, replaces) == ((m("0001_squashed_0002"),), ())


def test_an_unapplied_migration_is_done_when_its_row_is_gone() -> None:
    state = StepState(
        STATE.step, pending=(m("0002_is_active", backwards=True), m("0001_initial", backwards=True))
    )
    rows = {("users", "0001_initial")}
    assert committed(state, rows, {}) == ((m("0002_is_active", backwards=True),), ())


# Five tenants on one PostgreSQL server and one on another; disjoint scopes.
TENANTS = {f"t{n}": ("postgresql", f"t{n}", "public") for n in range(6)}
ON = dict.fromkeys(TENANTS, ("postgresql", "db1", "5432", ""))
ON["t5"] = ("postgresql", "db2", "5432", "")
T0, T1, T2, T3, T4, T5 = (Step(alias, ("app",), level=0) for alias in TENANTS)


def test_a_full_server_starts_nothing_more_while_another_server_does() -> None:
    """MIGRATOR["MAX_CONNECTIONS_PER_SERVER"] = 2: with two steps running on db1, the next
    db1 step waits and db2's starts; with one of them done, db1 takes another."""
    assert next_startable([T2, T3, T5], [T0, T1], TENANTS, ON, per_server=2) is T5
    assert next_startable([T2, T3], [T0, T1, T5], TENANTS, ON, per_server=2) is None
    assert next_startable([T2, T3], [T1, T5], TENANTS, ON, per_server=2) is T2
    # Without a bound (the default), only the scopes count.
    assert next_startable([T2, T3], [T0, T1], TENANTS, ON) is T2


def test_the_server_of_an_alias_is_vendor_host_port_or_its_service() -> None:
    pg = AliasInfo("a", "postgresql", "django.db.backends.postgresql", "a", "db1", "5432")
    assert server(pg) == ("postgresql", "db1", "5432", "")
    service = AliasInfo("b", "postgresql", "", "", source="service billing")
    assert server(service) == ("postgresql", "", "", "service billing")
    lite = AliasInfo("c", "sqlite", "django.db.backends.sqlite3", "/tmp/c.sqlite3")
    assert server(lite) is None  # SQLite files count only against MAX_CONNECTIONS
