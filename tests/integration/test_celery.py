"""--executor celery: real ``celery worker`` processes (two, each its own OS process, on a queue
of the test's own) against the Redis and RabbitMQ servers of this machine migrate PostgreSQL
tenant databases made from a template (tests/pg_fleet.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.fixtures.hold import handshake, wait_until_entered
from tests.helpers import (
    OUTPUTS,
    REPO,
    every_migration,
    finish,
    manage,
    manage_background,
    read_until,
)
from tests.pg_fleet import names, pg_fleet
from tests.servers import pg_recorded, unique

pytestmark = [pytest.mark.postgres, pytest.mark.celery_workers]

REDIS = "redis://127.0.0.1:6379/0"
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
BROKERS = [pytest.param(REDIS, id="redis"), pytest.param(RABBITMQ, id="rabbitmq")]
CACHE = ["cache.0001_initial", "cache.0002_hold_one"]
RECORDED_EVERYWHERE = {
    *(m for m in every_migration() if not m.startswith("cache.")),
    *CACHE,
}


def _reachable(host: str, port: int) -> None:
    """The broker answers, or the test fails under CI=true (skips elsewhere)."""
    import socket

    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        message = (
            f"the broker on {host}:{port} is not reachable ({exc}); start it with: sh .ci/services"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


class Workers:
    """``celery worker`` processes, each in a process group of its own (a test may kill one
    whole), logging to files in ``folder``."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, **extra: str) -> subprocess.Popen[bytes]:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("MIGRATOR_")}
        full_env.update(self.env)
        full_env.update(extra)
        full_env["PYTHONPATH"] = f"{REPO}{os.pathsep}{REPO / 'testproject'}"
        log = self.folder / f"{name}.log"
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tests.celery_app",
                "worker",
                "-Q",
                self.env["MIGRATOR_TEST_QUEUE"],
                "-n",
                f"{name}@%h",
                "--concurrency",
                "1",
                "--pool",
                "prefork",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "INFO",
                "--logfile",
                str(log),
            ],
            env=full_env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.processes.append(process)
        deadline = time.monotonic() + 60
        while "ready." not in (log.read_text() if log.exists() else ""):
            assert process.poll() is None, f"worker {name} exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"worker {name} did not start"
            time.sleep(0.05)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for log in self.folder.glob("*.log"):
            OUTPUTS.append(log.read_text())


@contextmanager
def celery_fleet(
    count: int, folder: Path, broker: str, **extra: str
) -> Iterator[tuple[dict[str, str], Workers]]:
    """``count`` PostgreSQL tenants and a queue of the test's own; yields the environment of
    the command and its workers, and the workers (killed at the end)."""
    where = urlsplit(broker)
    _reachable(str(where.hostname), int(where.port or 0))
    with pg_fleet(count, folder) as fleet:
        env = {
            **fleet,
            "DJANGO_SETTINGS_MODULE": "tests.settings.celery_fleet",
            "MIGRATOR_TEST_BROKER": broker,
            "MIGRATOR_TEST_QUEUE": unique("migrator_q"),
            **extra,
        }
        workers = Workers(env, folder)
        try:
            yield env, workers
        finally:
            workers.stop()


def assert_recorded_once(database: str) -> None:
    """Every migration of the project recorded on ``database``, each in exactly one row (Django
    records on each alias what executes nothing there too)."""
    rows = pg_recorded(database)
    assert len(rows) == len(set(rows)), sorted(rows)
    assert set(CACHE) <= set(rows)
    assert len(rows) == len(RECORDED_EVERYWHERE)


def _prefix(env: dict[str, str]) -> str:
    return env["MIGRATOR_TEST_PG_FLEET"].partition(":")[0]


def _steps(out: str) -> dict[str, dict[str, Any]]:
    document = json.loads(out)
    return {step["alias"]: step for step in document["results"]["steps"]}


@pytest.mark.parametrize("broker", BROKERS)
def test_two_workers_migrate_fifty_databases_each_migration_once(
    tmp_path: Path, broker: str
) -> None:
    with celery_fleet(50, tmp_path, broker) as (env, workers):
        first = workers.start("one")
        second = workers.start("two")
        result = manage("migrate_all", "--executor", "celery", "--noinput", "--json", env=env)
        assert result.returncode == 0, result.stderr
        steps = _steps(result.stdout)
        tenants = [alias for alias in steps if alias.startswith("tenant_")]
        assert len(tenants) == 50
        for alias in tenants:
            assert steps[alias]["status"] == "applied"
            assert [f"{m['app']}.{m['name']}" for m in steps[alias]["applied"]] == CACHE
        # Two worker processes, each its own OS process, ran steps.
        ran = {steps[alias]["worker"].split("@")[0] for alias in tenants}
        assert ran == {"one", "two"}
        pids = {int(steps[alias]["worker"].rpartition(" pid ")[2]) for alias in tenants}
        assert len(pids) == 2
        assert not pids & {first.pid, second.pid}  # the pools' children ran them
        for name in names(_prefix(env), 50):
            assert_recorded_once(name)
        again = manage("migrate_all", "--executor", "celery", "--noinput", "--json", env=env)
        assert again.returncode == 0, again.stderr
        assert {s["status"] for s in _steps(again.stdout).values()} == {"up-to-date"}


@pytest.mark.parametrize("broker", BROKERS)
@pytest.mark.parametrize("kill", ["worker", "pool-child"])
def test_a_worker_killed_mid_step_has_its_step_retried_once(
    tmp_path: Path, broker: str, kill: str
) -> None:
    hold_env, entered, release = handshake(tmp_path)
    extra = {**hold_env, "MIGRATOR_TEST_HOLD_ALIAS": "tenant_007", "MIGRATOR_TEST_VISIBILITY": "3"}
    with celery_fleet(12, tmp_path, broker, **extra) as (env, workers):
        started = [workers.start("one"), workers.start("two")]
        command = manage_background(
            "migrate_all", "--executor", "celery", "--noinput", "--json", env=env
        )
        wait_until_entered(entered)
        child = int(entered.read_text())
        owner = next(p for p in started if os.getpgid(child) == p.pid)
        if kill == "worker":  # the whole worker: its main process and its pool
            os.killpg(owner.pid, signal.SIGKILL)
        else:  # the pool's child that runs the step; the worker goes on
            os.kill(child, signal.SIGKILL)
        entered.unlink()
        release.write_text("go")
        out, err = finish(command, timeout=180)
        assert command.returncode == 0, err
        steps = _steps(out)
        held = steps["tenant_007"]
        assert held["status"] == "applied"
        assert f"pid {child}" not in held["worker"]  # another process ran it again
        assert entered.exists()  # the retry ran the migration (and passed the released hold)
        for name in names(_prefix(env), 12):
            assert_recorded_once(name)  # never doubled


def test_a_worker_with_other_migration_files_refuses(tmp_path: Path) -> None:
    with celery_fleet(2, tmp_path, REDIS) as (env, workers):
        workers.start(
            "edited", MIGRATOR_TEST_CACHE_MIGRATIONS="tests.fixtures.celery_cache_changed"
        )
        result = manage("migrate_all", "--executor", "celery", "--noinput", "--json", env=env)
        assert result.returncode == 1
        steps = _steps(result.stdout)
        error = steps["tenant_000"]["error"]
        assert error.startswith("MigrationFilesDiffer: worker edited@")
        assert "cache.0002_hold_one differs (content hash)" in error
        assert "Deploy the same code to every worker" in error
        for name in names(_prefix(env), 2):
            assert pg_recorded(name) == []


def test_a_worker_whose_settings_name_another_database_refuses(tmp_path: Path) -> None:
    """A worker whose settings connect an alias elsewhere (its tenant list read before a tenant
    moved, other DIRECT settings) would migrate a database the command never planned: refused."""
    with celery_fleet(2, tmp_path, REDIS) as (env, workers):
        prefix = _prefix(env)
        workers.start("stale", MIGRATOR_TEST_PG_FLEET=f"{prefix}_moved:2")
        result = manage("migrate_all", "--executor", "celery", "--noinput", "--json", env=env)
        assert result.returncode == 1
        error = _steps(result.stdout)["tenant_000"]["error"]
        assert error.startswith("DatabaseDiffers: worker stale@")
        assert "its settings connect tenant_000 to another database than the command's" in error
        for name in names(prefix, 2):
            assert pg_recorded(name) == []


def test_a_worker_that_never_answers_fails_after_the_timeout_naming_it(tmp_path: Path) -> None:
    hold_env, entered, release = handshake(tmp_path)
    extra = {
        **hold_env,
        "MIGRATOR_TEST_HOLD_ALIAS": "tenant_000",
        "MIGRATOR_TEST_STEP_TIMEOUT": "4",
        "MIGRATOR_TEST_VISIBILITY": "2",  # STEP_TIMEOUT must outlast a redelivery (2 + 1 s),
    }
    with celery_fleet(1, tmp_path, REDIS, **extra) as (env, workers):
        worker = workers.start("silent")
        command = manage_background(
            "migrate_all", "--executor", "celery", "--noinput", "--json", env=env
        )
        wait_until_entered(entered)
        os.killpg(worker.pid, signal.SIGSTOP)  # alive, but it never answers again
        try:
            out, _ = finish(command, timeout=120)
        finally:
            os.killpg(worker.pid, signal.SIGCONT)
            release.write_text("go")
        assert command.returncode == 1
        error = _steps(out)["tenant_000"]["error"]
        assert error.startswith("WorkerTimeout: worker silent@")
        assert "did not answer for 4s (MIGRATOR['CELERY']['STEP_TIMEOUT'])" in error


@pytest.mark.parametrize(
    ("celery", "message"),
    [
        (None, "--executor celery needs MIGRATOR['CELERY'] = {'APP': 'myproject.celery.app', 'QUEUE': 'migrator'} in settings: the Celery app whose workers run the steps."),
        ("tests.no_such_module.app", "MIGRATOR['CELERY']['APP'] = 'tests.no_such_module.app': cannot import it (No module named 'tests.no_such_module'); name the project's Celery app, e.g. 'myproject.celery.app'."),
        ("tests.fleet.tenants", "MIGRATOR['CELERY']['APP'] = 'tests.fleet.tenants' is a function, not a Celery app."),
    ],
)  # fmt: skip
def test_a_wrong_celery_setting_touches_nothing(
    tmp_path: Path, celery: str | None, message: str
) -> None:
    env = {
        "MIGRATOR_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "tests.settings.celery_fleet",
        "MIGRATOR_TEST_PG_FLEET": "migrator_never_made:2",
        "MIGRATOR_TEST_CELERY_APP": celery or "",
    }
    result = manage("migrate_all", "--executor", "celery", "--noinput", "--json", env=env)
    assert result.returncode == 2
    assert json.loads(result.stdout)["error"]["message"] == message
    assert not list(tmp_path.glob("*.sqlite3"))


def test_progress_and_summary_read_as_a_local_run(tmp_path: Path) -> None:
    with celery_fleet(4, tmp_path, REDIS) as (env, workers):
        workers.start("one")
        workers.start("two")
        result = manage("migrate_all", "--executor", "celery", "--noinput", env=env)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        for n in range(4):
            alias = f"tenant_{n:03d}"
            assert lines.count(f"[{alias}] Migrating {alias}: cache") == 1
            for migration in CACHE:
                assert lines.count(f"[{alias}]   Applied {migration}") == 1
            row = next(line for line in lines if line.startswith(f"{alias} "))
            assert row.split()[-3:-1] == ["2", "applied"]
        assert lines[-1] == "Done: 31 migrations applied, 185 only recorded on 9 databases."


def received(folder: Path) -> list[str]:
    """The task ids the workers received, one per delivery, from their logs."""
    ids = []
    for log in folder.glob("*.log"):
        for text in log.read_text().splitlines():
            if "Task migrator.run_step[" in text and text.endswith("received"):
                ids.append(text.split("Task migrator.run_step[")[1].split("]")[0])
    return ids


def test_a_step_longer_than_the_visibility_timeout_is_delivered_once(tmp_path: Path) -> None:
    """The running step's heartbeat keeps its message from coming back to the idle worker after
    the broker's visibility_timeout (2 s here; workers look every second)."""
    hold_env, entered, release = handshake(tmp_path)
    extra = {**hold_env, "MIGRATOR_TEST_HOLD_ALIAS": "tenant_001", "MIGRATOR_TEST_VISIBILITY": "2"}
    with celery_fleet(3, tmp_path, REDIS, **extra) as (env, workers):
        workers.start("one")
        workers.start("two")
        command = manage_background(
            "migrate_all", "--executor", "celery", "--noinput", "--json", env=env
        )
        wait_until_entered(entered)
        held_since = time.monotonic()
        while time.monotonic() < held_since + 6:  # three visibility timeouts, held all along
            assert command.poll() is None
            time.sleep(0.1)
        release.write_text("go")
        _, err = finish(command, timeout=120)
        assert command.returncode == 0, err
        ids = received(tmp_path)
        assert ids
        assert len(ids) == len(set(ids))  # each task delivered once
        for name in names(_prefix(env), 3):
            assert_recorded_once(name)


def test_sigint_sends_nothing_more_revokes_the_queued_and_waits_for_the_running(
    tmp_path: Path,
) -> None:
    hold_env, entered, release = handshake(tmp_path)
    extra = {**hold_env, "MIGRATOR_TEST_HOLD_ALIAS": "tenant_*"}
    with celery_fleet(4, tmp_path, REDIS, **extra) as (env, workers):
        workers.start("only")  # one step at a time: the tenants after the held one stay queued
        command = manage_background(
            "migrate_all", "--executor", "celery", "--noinput", env=env, own_group=True
        )
        wait_until_entered(entered)
        os.killpg(command.pid, signal.SIGINT)
        seen = read_until(
            command,
            "Stopping: no further step is sent; 3 queued revoked; waiting for the 1 running on "
            "workers.",
        )
        release.write_text("go")
        out, err = finish(command, timeout=120)
        out = seen + out
        assert command.returncode == 130, err
        assert "Ctrl-C: stopping after the current migration." in err
        lines = out.splitlines()
        held = [n for n in range(4) if f"[tenant_{n:03d}]   Applied cache.0002_hold_one" in lines]
        assert len(held) == 1  # the running step finished
        assert_recorded_once(f"{_prefix(env)}_{held[0]:03d}")
        for n in set(range(4)) - set(held):  # queued, revoked: never run
            alias = f"tenant_{n:03d}"
            assert (
                f"[{alias}] Skipped {alias} (cache): not started: the run was interrupted" in lines
            )
            assert pg_recorded(f"{_prefix(env)}_{n:03d}") == []
        assert (
            "[default] Skipped default (auth, blog, shop): not started: the run was interrupted"
            in lines
        )
