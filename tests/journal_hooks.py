"""Settings pieces for the run journal's tests (tests/settings/journal_fleet.py,
journal_pg_fleet.py) and receivers of migrator's signals that write each event, with the pid of
the process that sent it, to ``$MIGRATOR_VAR_DIR/events.jsonl``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from migrator.signals import run_finished, run_started, step_finished
from migrator.types import RunReport, StepResult


def migration_modules() -> dict[str, str]:
    """The cache app fails on $MIGRATOR_TEST_FAIL_ON; $MIGRATOR_TEST_MORE adds a migration."""
    more = os.environ.get("MIGRATOR_TEST_MORE")
    return {"cache": f"tests.fixtures.flaky_cache_{'more_' if more else ''}migrations"}


def journal() -> Any:
    """$MIGRATOR_TEST_JOURNAL: ``table:ALIAS`` (a table on ALIAS), or a file path; default a
    file in $MIGRATOR_VAR_DIR."""
    value = os.environ.get("MIGRATOR_TEST_JOURNAL", "")
    if value.startswith("table:"):
        return {"ALIAS": value.removeprefix("table:"), "TABLE": "migrator_journal"}
    return value or str(Path(os.environ["MIGRATOR_VAR_DIR"]) / "journal.jsonl")


def _write(event: dict[str, Any]) -> None:
    path = Path(os.environ["MIGRATOR_VAR_DIR"]) / "events.jsonl"
    with path.open("a") as file:
        file.write(json.dumps({**event, "pid": os.getpid()}) + "\n")


def on_run_started(sender: str, run_id: str, state: Any, resumed: bool, **kwargs: Any) -> None:
    steps = [step.alias for step in state.plan.steps]
    _write({"event": "run_started", "sender": sender, "run_id": run_id, "steps": steps})


def on_step_finished(sender: str, run_id: str, result: StepResult, **kwargs: Any) -> None:
    _write(
        {
            "event": "step_finished",
            "run_id": run_id,
            "alias": result.step.alias,
            "status": result.status,
        }
    )


def on_run_finished(sender: str, run_id: str, report: RunReport, **kwargs: Any) -> None:
    _write(
        {"event": "run_finished", "run_id": run_id, "ok": report.ok, "steps": len(report.results)}
    )


def raising(sender: str, **kwargs: Any) -> None:
    raise RuntimeError("a receiver that fails")


def connect() -> None:
    run_started.connect(raising, dispatch_uid="raising-started")  # first: the others still run
    run_started.connect(on_run_started, dispatch_uid="started")
    step_finished.connect(raising, dispatch_uid="raising-step")
    step_finished.connect(on_step_finished, dispatch_uid="step")
    run_finished.connect(on_run_finished, dispatch_uid="finished")
