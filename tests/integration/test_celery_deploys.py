"""Issue 16's run-time features through ``--executor celery``: a real ``celery worker`` (its own
OS process, on a queue of the tests' own, Redis broker) runs the steps of the deploy-phases
project (tests/settings/celery_phases.py: contenttypes and the phased app, django-syzygy, one
PostgreSQL alias). What a worker receives (``migrator/execution/celery_steps.py``): the
migrations ``--phase pre`` holds back (``held``), the alias's ``MIGRATOR["LOCK_RETRIES"]`` (the
worker's own settings have none: only the command's do), and what it sends back: each retry's
progress event and the step's ``retries``.

One worker serves the module (its start-up is the slow part); each test starts from an empty
database (its public schema made again). Hand-offs go through the command's stdout pipe, or the
server's own view of the waiting migration (``pg_stat_activity``), never a sleep."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import OUTPUTS, finish, manage, manage_background, read_until
from tests.integration.test_celery import REDIS, Workers, _reachable
from tests.integration.test_lock_retries import columns, pg_holding
from tests.servers import pg_connect, pg_databases, pg_entry, pg_recorded, unique

pytestmark = [pytest.mark.postgres, pytest.mark.celery_workers]

CONTENTTYPES = ["contenttypes.0001_initial", "contenttypes.0002_remove_content_type_name"]
PRE = [*CONTENTTYPES, "phased.0001_initial", "phased.0002_item_sku"]
POST = "phased.0003_remove_item_legacy_code"
RETRIES = {"RETRIES": 3, "BACKOFF": 0.2, "MAX_BACKOFF": 1, "DDL_LOCK_TIMEOUT": 0.5}
HOLD = "LOCK TABLE phased_item IN ACCESS SHARE MODE"  # RemoveField's DROP COLUMN waits for it
DEADLINE = 60.0


@dataclass
class Deploy:
    """The project's database, and the environment of its worker and of the command."""

    database: str
    env: dict[str, str]
    folder: Path

    def manage(self, *args: str, **extra: str) -> tuple[str, str, int]:
        result = manage(*args, env={**self.env, **extra})
        return result.stdout, result.stderr, result.returncode

    def celery(self, *args: str, **extra: str) -> tuple[str, str, int]:
        return self.manage("migrate_all", "--executor", "celery", "--noinput", *args, **extra)

    def before_the_deploy(self) -> None:
        """Everything but phased.0003 applied (on this machine): 0003 is pending."""
        _, err, code = self.manage("migrate_all", "--phase", "pre", "--noinput", "-v", "0")
        assert (code, err) == (0, "")
        assert pg_recorded(self.database) == PRE

    def last_run(self) -> list[dict[str, Any]]:
        """The journal's records of the last run."""
        path = self.folder / "journal.jsonl"
        records = [json.loads(line) for line in path.read_text().splitlines()]
        return [r for r in records if r["run_id"] == records[-1]["run_id"]]


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deploy]:
    _reachable("127.0.0.1", 6379)
    folder = tmp_path_factory.mktemp("celery_deploys")
    with pg_databases(1) as (database,):
        env = {
            "DJANGO_SETTINGS_MODULE": "tests.settings.celery_phases",
            "MIGRATOR_VAR_DIR": str(folder),
            "MIGRATOR_TEST_DATABASES": json.dumps({"default": pg_entry(database)}),
            "MIGRATOR_PHASE_APPS": "syzygy",
            "MIGRATOR_TEST_BROKER": REDIS,
            "MIGRATOR_TEST_QUEUE": unique("migrator_q"),
        }
        workers = Workers(env, folder)
        try:
            workers.start("deploys")
            yield Deploy(database, env, folder)
        finally:
            workers.stop()


@pytest.fixture
def deploy(worker: Deploy) -> Iterator[Deploy]:
    """The module's worker, on an empty database and an empty journal; its log is checked for
    passwords with the test's outputs."""
    with pg_connect(worker.database) as admin:
        admin.execute("DROP SCHEMA public CASCADE")
        admin.execute("CREATE SCHEMA public")
    (worker.folder / "journal.jsonl").unlink(missing_ok=True)
    yield worker
    OUTPUTS.extend(log.read_text() for log in worker.folder.glob("*.log"))


def steps(out: str) -> list[dict[str, Any]]:
    return list(json.loads(out)["results"]["steps"])


def test_phase_pre_through_a_worker_leaves_the_held_migration_then_post_applies_it(
    deploy: Deploy,
) -> None:
    out, err, code = deploy.celery("--phase", "pre")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    # The worker plans the step's apps to their leaves (phased.0003 included) and leaves out
    # what the message says is held: never applied, never recorded.
    for migration in PRE:
        assert lines.count(f"[default]   Applied {migration}") == 1
    assert not [line for line in lines if POST in line and "Applied" in line]
    assert lines[-1] == (
        "Held for after the deploy: 1 migration on default; run 'migrate_all --phase post' "
        "once the new code is deployed."
    )
    assert pg_recorded(deploy.database) == PRE
    assert columns(deploy.database, "phased_item") == ["id", "name", "legacy_code", "sku"]

    out, err, code = deploy.celery("--phase", "post", "--json")
    assert (code, err) == (0, "")
    (step,) = steps(out)
    assert step["status"] == "applied"
    assert step["worker"].startswith("deploys@")
    assert [f"{m['app']}.{m['name']}" for m in step["applied"]] == [POST]
    assert pg_recorded(deploy.database) == [*PRE, POST]
    assert columns(deploy.database, "phased_item") == ["id", "name", "sku"]


def test_a_lock_timeout_is_retried_in_the_worker_and_reported_by_the_command(
    deploy: Deploy,
) -> None:
    deploy.before_the_deploy()
    settings = json.dumps({"LOCK_RETRIES": RETRIES})
    retry = (
        "[default]   default: phased.0003_remove_item_legacy_code could not get a lock (55P03 "
        "lock timeout after 0.5s); retry 1 of 3 in 0.2s"
    )
    with pg_holding(deploy.database, HOLD) as holder:
        command = manage_background(
            "migrate_all", "--executor", "celery", "--noinput",
            env={**deploy.env, "MIGRATOR_TEST_SETTINGS": settings},
        )  # fmt: skip
        seen = read_until(command, "retry 1 of 3")
        holder.rollback()  # the second session lets go once the command printed the retry
    out, err = finish(command, timeout=DEADLINE)
    assert (command.returncode, err) == (0, "")
    lines = (seen + out).splitlines()
    assert retry in lines
    assert lines.count(f"[default]   Applied {POST}") == 1
    assert pg_recorded(deploy.database) == [*PRE, POST]  # one row each: applied once
    assert columns(deploy.database, "phased_item") == ["id", "name", "sku"]
    # The retries came back from the worker with its result: the journal has them.
    (record,) = [r for r in deploy.last_run() if r["type"] == "step"]
    assert record["status"] == "applied"
    assert record["retries"][0] == {
        "migration": POST,
        "attempt": 1,
        "error": "55P03 lock timeout after 0.5s: canceling statement due to lock timeout",
        "waited": record["retries"][0]["waited"],
    }
    assert record["retries"][0]["waited"] >= 0.2


def test_the_json_of_a_step_retried_in_the_worker_has_its_retries(deploy: Deploy) -> None:
    """--json prints nothing but the document: the holder lets go once the server shows the
    migration waiting in a transaction other than its first attempt's (a retry)."""
    deploy.before_the_deploy()
    settings = json.dumps({"LOCK_RETRIES": RETRIES})
    with pg_holding(deploy.database, HOLD) as holder:
        command = manage_background(
            "migrate_all", "--executor", "celery", "--noinput", "--json",
            env={**deploy.env, "MIGRATOR_TEST_SETTINGS": settings},
        )  # fmt: skip
        wait_for_a_second_attempt(deploy.database, holder.info.backend_pid)
        holder.rollback()
    out, err = finish(command, timeout=DEADLINE)
    assert (command.returncode, err) == (0, "")
    (step,) = steps(out)
    assert step["status"] == "applied"
    assert step["worker"].startswith("deploys@")
    assert [f"{m['app']}.{m['name']}" for m in step["applied"]] == [POST]
    retries = step["retries"]
    assert retries
    assert [r["attempt"] for r in retries] == list(range(1, len(retries) + 1))
    assert {r["migration"] for r in retries} == {POST}
    assert {r["error"] for r in retries} == {
        "55P03 lock timeout after 0.5s: canceling statement due to lock timeout"
    }
    assert pg_recorded(deploy.database) == [*PRE, POST]
    assert columns(deploy.database, "phased_item") == ["id", "name", "sku"]


def wait_for_a_second_attempt(database: str, holder: int) -> None:
    """Until a session waits for ``holder``'s lock in a transaction other than the first one
    seen waiting: each attempt of a retried migration is a transaction of its own."""
    first: Any = None
    deadline = time.monotonic() + DEADLINE
    with pg_connect(database) as watcher:
        while True:
            row = watcher.execute(
                "SELECT xact_start FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                (holder,),
            ).fetchone()
            if row is not None:
                if first is None:
                    first = row[0]
                elif row[0] != first:
                    return
            assert time.monotonic() < deadline, "no second attempt waited for the lock"
            time.sleep(0.02)
