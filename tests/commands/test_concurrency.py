"""Bounded concurrency for what only reads (issue 15): preflight probes and ``django_migrations``
reads run in threads, at most MIGRATOR["MAX_CONNECTIONS_PER_SERVER"] at once on one server and
MIGRATOR["MAX_CONNECTIONS"] in all; shown by what the servers see (a silent listener that counts
the connections open at once, pg_stat_activity), never by timing."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections, transaction
from django.test import override_settings

from migrator import api
from migrator.project.targets import unload_targets
from migrator.types import Selection
from tests.helpers import PROJECT_MIGRATIONS, finish, manage, manage_background, run
from tests.listener import SilentListener
from tests.pg_fleet import names, pg_fleet
from tests.servers import pg_connect, pg_recorded

pytestmark = pytest.mark.postgres

SERIAL = {"MAX_CONNECTIONS_PER_SERVER": 1, "MAX_CONNECTIONS": 1}


def settings_env(env: dict[str, str], **migrator: Any) -> dict[str, str]:
    return {**env, "MIGRATOR_TEST_SETTINGS": json.dumps(migrator)}


@pytest.mark.parametrize(
    ("bounds", "down", "most"),
    [
        ({}, 20, 8),  # the defaults: 8 per server
        ({"MAX_CONNECTIONS_PER_SERVER": 3}, 7, 3),
        ({"MAX_CONNECTIONS": 2}, 5, 2),  # the overall bound caps the per-server one
    ],
)
def test_unreachable_aliases_are_probed_at_once_within_the_bounds(
    tmp_path: Path, bounds: dict[str, int], down: int, most: int
) -> None:
    """The silent server sees several probes at once, never more than the bound, and the
    preflight error names every unreachable alias."""
    with pg_fleet(3, tmp_path) as env, SilentListener() as silent:
        env = settings_env(env, CONNECT_TIMEOUT=2, **bounds)
        env["MIGRATOR_TEST_PG_UNREACHABLE"] = f"127.0.0.1:{silent.port}:{down}"
        result = manage("migrate_all", "--check", env=env)
        prefix = env["MIGRATOR_TEST_PG_FLEET"].partition(":")[0]
    assert result.returncode == 1, result.stderr
    assert 2 <= silent.peak <= most, (silent.peak, silent.total)
    assert silent.total >= down  # each was tried
    error = result.stderr[result.stderr.index("CommandError: ") :]
    expected = [
        f"  down_{n:03d} (postgresql 127.0.0.1:{silent.port}/{prefix}_down_{n:03d}): cannot "
        "connect: connection timeout expired"
        for n in range(down)
    ]
    assert error.splitlines() == [
        f"CommandError: Preflight found {down} problems; nothing was changed on any database:",
        *expected,  # in plan order, whatever order the probes ended in
    ]


def test_a_fleet_read_at_once_gives_what_a_serial_read_gives(tmp_path: Path) -> None:
    """--plan and --check over 12 PostgreSQL tenants: the same output with the default bounds as
    one connection at a time (MAX_CONNECTIONS 1), before and after the run, also when one
    tenant's history differs from the others'."""
    with pg_fleet(12, tmp_path) as env:
        prefix = env["MIGRATOR_TEST_PG_FLEET"].partition(":")[0]
        bounded, serial = settings_env(env), settings_env(env, **SERIAL)
        plans = [manage("migrate_all", "--plan", "--json", env=e) for e in (bounded, serial)]
        assert [p.returncode for p in plans] == [0, 0], plans[0].stderr
        assert json.loads(plans[0].stdout) == json.loads(plans[1].stdout)
        assert manage("migrate_all", "--noinput", env=bounded).returncode == 0
        checks = [manage("migrate_all", "--check", env=e) for e in (bounded, serial)]
        assert [c.returncode for c in checks] == [0, 0], checks[0].stderr
        assert checks[0].stdout == checks[1].stdout
        with pg_connect(f"{prefix}_005") as tenant:
            tenant.execute("DELETE FROM django_migrations WHERE app = 'cache'")
        checks = [manage("migrate_all", "--check", env=e) for e in (bounded, serial)]
    assert [c.returncode for c in checks] == [1, 1]
    assert checks[0].stdout == checks[1].stdout
    assert checks[0].stderr == checks[1].stderr
    assert checks[0].stderr.splitlines()[-1] == (
        "CommandError: 1 migration pending on tenant_005. Run 'manage.py migrate_all' to apply "
        "them."
    )


def test_ctrl_c_during_preflight_leaves_without_waiting_for_the_probes(tmp_path: Path) -> None:
    """SIGINT while 8 probes hang on a silent server (CONNECT_TIMEOUT 600 s): the command stops
    at once, starts no further probe and does not wait for the 8 to time out."""
    with pg_fleet(1, tmp_path) as env, SilentListener() as silent:
        env = settings_env(env, CONNECT_TIMEOUT=600)
        env["MIGRATOR_TEST_PG_UNREACHABLE"] = f"127.0.0.1:{silent.port}:20"
        process = manage_background("migrate_all", "--check", env=env)
        assert silent.wait_for(8, timeout=120), process.communicate()  # the per-server bound
        process.send_signal(signal.SIGINT)
        # A guard against a hang (each probe would take 600 s), not a timing assertion.
        _, err = finish(process, timeout=120)
        assert silent.total == 8  # none started after Ctrl-C
    assert process.returncode == -signal.SIGINT  # as Python ends on an unhandled Ctrl-C
    assert err.rstrip().endswith("KeyboardInterrupt"), err


def test_parallel_workers_keep_to_the_per_server_bound(tmp_path: Path) -> None:
    """--parallel 6 over 6 tenants on one server with MAX_CONNECTIONS_PER_SERVER 2: as the
    workers report it, never more than 2 steps between "Migrating" and "Applied" at once; all
    six are migrated and recorded."""
    with pg_fleet(6, tmp_path) as env:
        prefix = env["MIGRATOR_TEST_PG_FLEET"].partition(":")[0]
        env = settings_env(env, MAX_CONNECTIONS_PER_SERVER=2)
        result = manage(
            "migrate_all", "--noinput", "--parallel", "6", "--database", "tenant_*", env=env
        )
        recorded = [pg_recorded(name) for name in names(prefix, 6)]
    assert result.returncode == 0, result.stderr
    running, most = 0, 0
    for line in result.stdout.splitlines():
        if " Migrating tenant_" in line:
            running += 1
        elif "Applied cache.0001_initial" in line:
            running -= 1
        most = max(most, running)
    assert most <= 2, result.stdout
    assert result.stdout.count("Applied cache.0001_initial") == 6
    # Each tenant records what Django's migrate --database X would, each row exactly once.
    assert all(sorted(rows) == sorted(PROJECT_MIGRATIONS) for rows in recorded)


@pytest.fixture
def unloaded() -> Iterator[None]:
    yield
    unload_targets()


def test_the_threads_close_their_connections(
    tmp_path: Path, unblocked: None, unloaded: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An in-process ``api.prepare`` over 10 tenants reads each one (in threads) and leaves no
    connection open to any of them."""
    with pg_fleet(10, tmp_path) as env:
        for key in ("MIGRATOR_VAR_DIR", "MIGRATOR_TEST_PG_FLEET"):
            monkeypatch.setenv(key, env[key])
        prefix = env["MIGRATOR_TEST_PG_FLEET"].partition(":")[0]
        with override_settings(
            MIGRATOR={"DATABASES": "tests.pg_fleet.tenants"},
            DATABASE_ROUTERS=["tests.fleet.TenantRouter"],
        ):
            prepared = api.prepare(Selection(databases=("tenant_*",)))
        pending = {s.step.alias: [str(m) for m in s.pending] for s in prepared.state.states}
        assert pending == {f"tenant_{n:03d}": ["cache.0001_initial"] for n in range(10)}
        with pg_connect() as admin:
            rows = admin.execute(
                "SELECT datname FROM pg_stat_activity WHERE datname = ANY(%s)",
                [names(prefix, 10)],
            ).fetchall()
    assert rows == []


@pytest.mark.parametrize("key", ["MAX_CONNECTIONS_PER_SERVER", "MAX_CONNECTIONS"])
@pytest.mark.parametrize("value", [0, -1, "8", 2.5, True, None])
def test_a_bad_bound_is_refused_before_anything(
    sqlite_project: Path, key: str, value: object
) -> None:
    default = 8 if key == "MAX_CONNECTIONS_PER_SERVER" else 32
    with override_settings(MIGRATOR={key: value}):
        out, err, code = run("migrate_all", plan_only=True)
    message = (
        f"MIGRATOR[{key!r}] = {value!r} must be a whole number of connections, 1 or more "
        f"(1: one at a time); use e.g. {key!r}: {default}."
    )
    assert (out, err, code) == ("", f"CommandError: {message}\n", 2)
    assert list(sqlite_project.iterdir()) == []


def test_a_read_on_the_calling_thread_leaves_the_callers_connection_alone(
    sqlite_project: Path,
) -> None:
    """One alias (or MAX_CONNECTIONS 1) is read on the calling thread: the caller's open
    connection, inside its transaction, is not closed under it (api used from code or tests)."""
    run("migrate_all", "--database", "default", interactive=False)
    connection = connections["default"]
    with override_settings(MIGRATOR={"MAX_CONNECTIONS": 1}), transaction.atomic(using="default"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM django_migrations")
        api.prepare(Selection(databases=("default",)), dry_run=True)
        assert connection.connection is not None
        with connection.cursor() as cursor:  # still the same transaction, still usable
            cursor.execute("SELECT COUNT(*) FROM django_migrations")
            assert cursor.fetchone()[0] > 0
