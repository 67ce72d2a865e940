"""The run record (issue 15): every run has an id and writes its plan and each step's outcome to
the journal; ``--resume`` connects only to the aliases the journal does not record as done,
refuses a changed plan, and reports the whole run; the signals of migrator.signals are sent in the
command's process, a receiver that raises breaks nothing. On a fleet of SQLite tenants whose
cache migration fails on the tenants $MIGRATOR_TEST_FAIL_ON names (tests/settings/journal_fleet.py),
and on PostgreSQL tenants (pg_fleet) with the journal in a table."""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from migrator import api, signals
from migrator.types import RunReport, Selection, StepResult
from tests.fixtures.hold import handshake, wait_until_entered
from tests.fleet import TENANT_PASSWORD
from tests.helpers import PROJECT_MIGRATIONS, finish, manage, manage_background, run
from tests.pg_fleet import names, pg_fleet
from tests.servers import pg_connect, pg_recorded

TENANTS = 8


def env_of(folder: Path, **extra: str) -> dict[str, str]:
    return {
        "MIGRATOR_VAR_DIR": str(folder),
        "DJANGO_SETTINGS_MODULE": "tests.settings.journal_fleet",
        "MIGRATOR_TEST_TENANTS": str(TENANTS),
        **extra,
    }


def recorded_rows(path: Path) -> list[str]:
    """``app.name`` rows of an SQLite alias's django_migrations (a list: duplicates would show)."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT app, name FROM django_migrations ORDER BY app, name").fetchall()
    db.close()
    return [f"{app}.{name}" for app, name in rows]


def journal_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def error_of(stderr: str) -> str:
    """The command's error, after the system checks' warnings (the fleet's routing warns)."""
    return stderr[stderr.index("CommandError: ") :]


def summary_of(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["alias"]: row for row in document["results"]["summary"]}


def test_a_failed_fleet_run_is_resumed_without_touching_the_done_aliases(tmp_path: Path) -> None:
    failing = manage(
        "migrate_all",
        "--noinput",
        "--json",
        "--parallel",
        "2",
        env=env_of(tmp_path, MIGRATOR_TEST_FAIL_ON="tenant_002,tenant_006"),
    )
    assert failing.returncode == 1, failing.stderr
    first = json.loads(failing.stdout)
    run_id = first["run_id"]
    assert first["ok"] is False
    statuses = {alias: row["status"] for alias, row in summary_of(first).items()}
    assert statuses["tenant_002"] == statuses["tenant_006"] == "failed"
    assert statuses["tenant_001"] == statuses["default"] == "applied"

    # The journal: the plan first, then one record per finished step, then "finished".
    records = journal_records(tmp_path / "journal.jsonl")
    assert [r["type"] for r in records] == ["plan"] + ["step"] * 14 + ["finished"]
    assert {r["run_id"] for r in records} == {run_id}
    plan = records[0]
    assert [s["alias"] for s in plan["steps"]][-3:] == ["tenant_006", "tenant_007", "default"]
    assert plan["steps"][-2]["migrations"] == ["cache.0001_initial"]
    failed = next(r for r in records if r.get("alias") == "tenant_002")
    assert failed["status"] == "failed"
    assert failed["error"] == "RuntimeError: tenant_002 fails on purpose"
    assert failed["failed_migration"] == "cache.0001_initial"
    assert records[-1]["ok"] is False

    # Done aliases are not connected to: a done tenant's database is gone (SQLite would create
    # an empty file on connect, and a read of its history would find nothing applied).
    (tmp_path / "tenant_001.sqlite3").unlink()
    resumed = manage("migrate_all", "--noinput", "--json", "--resume", env=env_of(tmp_path))
    assert resumed.returncode == 0, resumed.stderr
    second = json.loads(resumed.stdout)
    assert second["run_id"] == run_id
    assert second["ok"] is True
    assert not (tmp_path / "tenant_001.sqlite3").exists()
    # Only the failed tenants were planned, probed and run this time...
    assert [step["alias"] for level in second["plan"]["levels"] for step in level] == [
        "tenant_002",
        "tenant_006",
    ]
    # ...and the report covers both attempts, in plan order, earlier ones marked.
    rows = summary_of(second)
    assert len(rows) == 5 + TENANTS
    assert rows["tenant_002"]["status"] == "applied"
    assert rows["tenant_002"]["earlier"] is False
    assert rows["tenant_001"] == {
        "alias": "tenant_001",
        "apps": ["cache"],
        "applied": 1,
        "recorded": 22,
        "status": "applied",
        "seconds": rows["tenant_001"]["seconds"],
        "earlier": True,
    }
    assert list(rows)[:2] == ["default", "users_db"]
    for n in (0, 2, 6):
        tenant = tmp_path / f"tenant_{n:03d}.sqlite3"
        assert recorded_rows(tenant) == sorted(PROJECT_MIGRATIONS)  # each exactly once
    records = journal_records(tmp_path / "journal.jsonl")
    again = [r for r in records if r["attempt"] == 2]
    assert [r["type"] for r in again] == ["plan", "step", "step", "finished"]
    assert again[0]["hash"] == plan["hash"]
    assert TENANT_PASSWORD not in failing.stdout + failing.stderr + resumed.stdout + resumed.stderr

    # Resumed once more: nothing left to do, nothing connected to.
    (tmp_path / "tenant_002.sqlite3").unlink()
    done = manage("migrate_all", "--noinput", "--resume", run_id, env=env_of(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Run {run_id} finished: every step is done; nothing to resume.\n"
    assert not (tmp_path / "tenant_002.sqlite3").exists()


def test_a_run_stopped_by_sigterm_is_resumed(tmp_path: Path) -> None:
    """SIGTERM while tenant_003's migration runs (handed off through files): it finishes, the
    rest is not started, the journal says so; --resume runs the rest only."""
    held, entered, release = handshake(tmp_path)
    env = env_of(tmp_path, MIGRATOR_TEST_HOLD_ON="tenant_003", PYTHONUNBUFFERED="1", **held)
    process = manage_background("migrate_all", "--noinput", "--json", env=env)
    wait_until_entered(entered)
    process.send_signal(signal.SIGTERM)
    release.touch()
    out, err = finish(process, timeout=120)
    assert process.returncode == 143, err
    first = json.loads(out)
    statuses = {alias: row["status"] for alias, row in summary_of(first).items()}
    assert statuses["tenant_002"] == "applied"
    assert statuses["tenant_003"] == "applied"  # its migration finished
    assert statuses["tenant_004"] in ("interrupted", "skipped")  # stopped before its migration
    assert statuses["tenant_007"] == "skipped"
    records = journal_records(tmp_path / "journal.jsonl")
    assert records[-1]["type"] == "finished"
    assert (records[-1]["ok"], records[-1]["signal"]) == (False, "SIGTERM")
    assert not (tmp_path / "tenant_004.sqlite3").exists()

    (tmp_path / "tenant_001.sqlite3").unlink()  # done: never connected to again
    resumed = manage("migrate_all", "--noinput", "--json", "--resume", env=env_of(tmp_path))
    assert resumed.returncode == 0, resumed.stderr
    second = json.loads(resumed.stdout)
    assert second["run_id"] == first["run_id"]
    ran = {step["alias"] for step in second["results"]["steps"] if not step["earlier"]}
    assert {"tenant_004", "tenant_007"} <= ran
    assert not ran & {"tenant_000", "tenant_001", "tenant_002", "users_db"}
    assert not (tmp_path / "tenant_001.sqlite3").exists()
    for n in (3, 4, 7):
        tenant = tmp_path / f"tenant_{n:03d}.sqlite3"
        assert recorded_rows(tenant) == sorted(PROJECT_MIGRATIONS)  # each exactly once


def test_the_text_report_of_a_resumed_run_marks_the_earlier_attempt(tmp_path: Path) -> None:
    failing = manage(
        "migrate_all", "--noinput", env=env_of(tmp_path, MIGRATOR_TEST_FAIL_ON="tenant_003")
    )
    assert failing.returncode == 1
    run_id = journal_records(tmp_path / "journal.jsonl")[0]["run_id"]
    assert (
        f"Run {run_id} did not finish; 'manage.py migrate_all --resume' continues it."
        in failing.stdout.splitlines()
    )
    resumed = manage("migrate_all", "--noinput", "--resume", env=env_of(tmp_path))
    assert resumed.returncode == 0, resumed.stderr
    lines = resumed.stdout.splitlines()
    assert (
        lines[0]
        == f"Resuming run {run_id} (attempt 2): 12 databases done earlier, not connected to."
    )
    assert (
        lines[1] == "Plan: 1 step in 1 level on 1 database, 1 migration to run, 22 only to record."
    )
    assert lines[-2:] == [
        "* in an earlier attempt of this run (--resume did not connect to it)",
        "Done: 30 migrations applied, 269 only recorded on 13 databases.",
    ]
    rows = {line.split()[0]: line.split() for line in lines if line.startswith("tenant_")}
    assert rows["tenant_003"][-2] == "applied"
    assert rows["tenant_004"][-2] == "applied*"


def test_resume_refuses_a_changed_plan_and_an_unknown_run(tmp_path: Path) -> None:
    failing = manage(
        "migrate_all", "--noinput", env=env_of(tmp_path, MIGRATOR_TEST_FAIL_ON="tenant_001")
    )
    assert failing.returncode == 1
    run_id = journal_records(tmp_path / "journal.jsonl")[0]["run_id"]
    changed = manage(
        "migrate_all", "--noinput", "--resume", env=env_of(tmp_path, MIGRATOR_TEST_MORE="1")
    )
    assert changed.returncode == 2
    error = error_of(changed.stderr)
    assert error.startswith(
        f"CommandError: --resume {run_id}: the plan changed since the run was recorded: "
        "cache_db (cache) has new migrations cache.0002_more; tenant_000 (cache) has new "
        "migrations cache.0002_more;"
    )
    assert error.endswith(
        "Run 'manage.py migrate_all' without --resume: it does only what is pending.\n"
    )
    assert "cache.0002_more" not in recorded_rows(tmp_path / "tenant_000.sqlite3")  # nothing ran
    unknown = manage(
        "migrate_all", "--resume", "20200101T000000000000Z-000000", env=env_of(tmp_path)
    )
    assert unknown.returncode == 2
    assert error_of(unknown.stderr) == (
        "CommandError: --resume 20200101T000000000000Z-000000: no such run in the journal "
        f"({tmp_path / 'journal.jsonl'}); the latest runs are {run_id}. Run 'manage.py "
        "migrate_all --resume' for the latest.\n"
    )
    faked = manage("migrate_all", "--resume", "--fake", env=env_of(tmp_path))
    assert faked.returncode == 2
    assert error_of(faked.stderr) == (
        f"CommandError: --resume {run_id}: that run was started without --fake, and --resume "
        "keeps a run's own options; drop --fake, or run without --resume.\n"
    )
    sharded = manage("migrate_all", "--resume", "--shard", "1/2", env=env_of(tmp_path))
    assert sharded.returncode == 2
    assert error_of(sharded.stderr) == (
        "CommandError: --resume continues a run with the selection it was started with; drop "
        "--shard.\n"
    )
    selected = manage("migrate_all", "--resume", "--database", "tenant_001", env=env_of(tmp_path))
    assert selected.returncode == 2
    assert error_of(selected.stderr) == (
        "CommandError: --resume continues a run with the selection it was started with; drop "
        "--database.\n"
    )


def test_signals_are_sent_in_the_command_process_and_a_raising_receiver_breaks_nothing(
    tmp_path: Path,
) -> None:
    env = env_of(tmp_path, MIGRATOR_TEST_FAIL_ON="tenant_004", MIGRATOR_TEST_HOOKS="1")
    result = manage("migrate_all", "--noinput", "--parallel", "2", "--json", env=env)
    assert result.returncode == 1, result.stderr
    run_id = json.loads(result.stdout)["run_id"]
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert events[0]["event"] == "run_started"
    assert events[0]["sender"] == "migrate_all"
    assert events[0]["steps"][:2] == ["default", "users_db"]
    assert [e["event"] for e in events] == ["run_started"] + ["step_finished"] * 14 + [
        "run_finished"
    ]
    assert {e["run_id"] for e in events} == {run_id}
    assert {e["pid"] for e in events} == {events[0]["pid"]}  # one process: the command's
    finished = {e["alias"]: e["status"] for e in events if e["event"] == "step_finished"}
    assert finished["tenant_004"] == "failed"
    assert finished["tenant_005"] == "applied"
    assert events[-1] == {
        "event": "run_finished",
        "run_id": run_id,
        "ok": False,
        "steps": 14,
        "pid": events[0]["pid"],
    }
    # The raising receiver was logged on the migrator logger, and the run went on.
    assert "A receiver of migrator's signal raised (the run goes on)" in result.stderr
    assert "RuntimeError: a receiver that fails" in result.stderr


def test_a_table_journal_on_sqlite(tmp_path: Path) -> None:
    env = env_of(tmp_path, MIGRATOR_TEST_JOURNAL="table:default")
    # Looking up a run in a journal that does not exist yet creates nothing (no file, no table).
    typo = manage("migrate_all", "--resume", "20200101T000000000000Z-000000", env=env)
    assert typo.returncode == 2
    assert "no run is recorded in the journal (table migrator_journal on default)" in typo.stderr
    assert not (tmp_path / "default.sqlite3").exists()
    failing = manage(
        "migrate_all", "--noinput", "--json", env={**env, "MIGRATOR_TEST_FAIL_ON": "tenant_005"}
    )
    assert failing.returncode == 1, failing.stderr
    run_id = json.loads(failing.stdout)["run_id"]
    assert not (tmp_path / "journal.jsonl").exists()
    resumed = manage("migrate_all", "--noinput", "--json", "--resume", env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["run_id"] == run_id
    with sqlite3.connect(tmp_path / "default.sqlite3") as db:
        rows = db.execute(
            "SELECT run_id, seq, record FROM migrator_journal ORDER BY seq"
        ).fetchall()
    db.close()
    assert {row[0] for row in rows} == {run_id}
    kinds = [(json.loads(row[2])["attempt"], json.loads(row[2])["type"]) for row in rows]
    assert kinds == [
        (1, "plan"),
        *[(1, "step")] * 14,
        (1, "finished"),
        (2, "plan"),
        (2, "step"),
        (2, "finished"),
    ]
    assert "migrator_journal" not in {
        m.split(".")[0] for m in recorded_rows(tmp_path / "default.sqlite3")
    }
    assert recorded_rows(tmp_path / "tenant_005.sqlite3") == sorted(PROJECT_MIGRATIONS)


@pytest.mark.postgres
def test_a_table_journal_on_postgresql_and_a_resumed_pg_fleet(tmp_path: Path) -> None:
    with pg_fleet(4, tmp_path) as env:
        env = {**env, "DJANGO_SETTINGS_MODULE": "tests.settings.journal_pg_fleet"}
        env["MIGRATOR_TEST_JOURNAL"] = "table:tenant_000"
        databases = names(env["MIGRATOR_TEST_PG_FLEET"].partition(":")[0], 4)
        failing = manage(
            "migrate_all", "--noinput", "--json", env={**env, "MIGRATOR_TEST_FAIL_ON": "tenant_002"}
        )
        assert failing.returncode == 1, failing.stderr
        run_id = json.loads(failing.stdout)["run_id"]
        assert pg_recorded(databases[2]) == []
        # A done tenant that is gone: resume never connects to it.
        with pg_connect() as admin:
            admin.execute(f'DROP DATABASE "{databases[3]}" WITH (FORCE)')
        resumed = manage("migrate_all", "--noinput", "--json", "--resume", env=env)
        assert resumed.returncode == 0, resumed.stderr
        document = json.loads(resumed.stdout)
        assert document["run_id"] == run_id
        assert summary_of(document)["tenant_003"]["earlier"] is True
        assert pg_recorded(databases[2]) == sorted(PROJECT_MIGRATIONS)
        with pg_connect(databases[0]) as connection:
            rows = connection.execute(
                "SELECT run_id, record FROM migrator_journal ORDER BY seq"
            ).fetchall()
        assert {row[0] for row in rows} == {run_id}
        assert [json.loads(row[1])["type"] for row in rows][-3:] == ["plan", "step", "finished"]


def test_json_has_the_run_id_and_plan_modes_have_none(sqlite_project: Path) -> None:
    journal = sqlite_project / "journal.jsonl"
    with override_settings(MIGRATOR={"JOURNAL": str(journal)}):
        out, _, code = run("migrate_all", json=True, interactive=False)
        assert code == 0
        run_id = json.loads(out)["run_id"]
        assert next(r["type"] for r in journal_records(journal)) == "plan"
        assert journal_records(journal)[0]["run_id"] == run_id
        before = journal.read_text()
        out, _, code = run("migrate_all", json=True, plan_only=True)
        assert code == 0
        assert json.loads(out)["run_id"] is None
        assert journal.read_text() == before  # --plan writes nothing
    assert len(run_id) == len("20261205T034629027176Z-e7430b")


@pytest.mark.parametrize(
    ("journal", "message"),
    [
        (
            {"ALIAS": "nope"},
            "MIGRATOR['JOURNAL']['ALIAS'] = 'nope' is not a database alias; use one of default, ",
        ),
        (
            {"ALIAS": "default", "TABLE": "django_migrations"},
            "MIGRATOR['JOURNAL']['TABLE'] = 'django_migrations' must be a table name of letters, "
            "digits and underscores other than django_migrations, e.g. 'migrator_journal'.",
        ),
        (
            42,
            "MIGRATOR['JOURNAL'] = 42 must be a file path, None (no journal) or {'ALIAS': "
            "'default', 'TABLE': 'migrator_journal'}.",
        ),
    ],
)
def test_a_bad_journal_setting_is_refused_before_anything_runs(
    sqlite_project: Path, journal: object, message: str
) -> None:
    with override_settings(MIGRATOR={"JOURNAL": journal}):
        _out, err, code = run("migrate_all", interactive=False)
    assert code == 2
    assert err.startswith(f"CommandError: {message}")
    assert not (sqlite_project / "users_db.sqlite3").exists()


def test_resume_without_a_journal_is_refused(sqlite_project: Path) -> None:
    with override_settings(MIGRATOR={"JOURNAL": None}):
        _out, err, code = run("migrate_all", resume="latest", interactive=False)
    assert code == 2
    assert err == (
        "CommandError: --resume reads the run journal, which MIGRATOR['JOURNAL'] = None turns "
        "off; run 'manage.py migrate_all' without --resume (it does only what is pending).\n"
    )


def test_the_api_records_its_runs_and_sends_the_signals(sqlite_project: Path) -> None:
    events: list[tuple[str, str, str]] = []

    def started(sender: str, run_id: str, **kwargs: Any) -> None:
        events.append(("started", sender, run_id))

    def finished_step(sender: str, run_id: str, result: StepResult, **kwargs: Any) -> None:
        events.append(("step", result.step.alias, result.status))

    def finished(sender: str, run_id: str, report: RunReport, **kwargs: Any) -> None:
        events.append(("finished", sender, "ok" if report.ok else "failed"))

    def raising(sender: str, **kwargs: Any) -> None:
        raise RuntimeError("a receiver that fails")

    journal = sqlite_project / "journal.jsonl"
    signals.run_started.connect(raising)
    signals.run_started.connect(started)
    signals.step_finished.connect(finished_step)
    signals.run_finished.connect(finished)
    try:
        with override_settings(MIGRATOR={"JOURNAL": str(journal)}):
            report = api.migrate_all(Selection(databases=("users_db",)))
    finally:
        signals.run_started.disconnect(raising)
        signals.run_started.disconnect(started)
        signals.step_finished.disconnect(finished_step)
        signals.run_finished.disconnect(finished)
    assert report.ok
    run_id = events[0][2]
    assert events == [
        ("started", "migrator.api", run_id),
        ("step", "users_db", "applied"),
        ("finished", "migrator.api", "ok"),
    ]
    records = journal_records(journal)
    assert [(r["type"], r["run_id"]) for r in records] == [
        ("plan", run_id),
        ("step", run_id),
        ("finished", run_id),
    ]
    assert records[0]["selection"]["databases"] == ["users_db"]


def test_a_shard_run_is_continued_by_its_shard_not_by_resume(tmp_path: Path) -> None:
    failing = manage(
        "migrate_all",
        "--noinput",
        "--shard",
        "1/1",
        env=env_of(tmp_path, MIGRATOR_TEST_FAIL_ON="tenant_001"),
    )
    assert failing.returncode == 1
    plan = journal_records(tmp_path / "journal.jsonl")[0]
    assert plan["selection"]["shard"] == "1/1"
    resumed = manage("migrate_all", "--noinput", "--resume", env=env_of(tmp_path))
    assert resumed.returncode == 2
    assert error_of(resumed.stderr) == (
        f"CommandError: --resume {plan['run_id']}: that run was shard 1/1, which --resume does "
        "not continue; run 'manage.py migrate_all --shard 1/1' again: it does only what is "
        "pending.\n"
    )
    again = manage("migrate_all", "--noinput", "--shard", "1/1", env=env_of(tmp_path))
    assert again.returncode == 0, again.stderr
    assert recorded_rows(tmp_path / "tenant_001.sqlite3") == sorted(PROJECT_MIGRATIONS)
