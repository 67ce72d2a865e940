"""A failed migration keeps its cause: ``--traceback`` and ``-v 3`` print the traceback with the
migration file's frame, as Django's ``migrate`` does; the ``migrator`` logger gets it; ``--json``
carries it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from django.test import override_settings

from tests.helpers import REPO, run

FAILING = override_settings(MIGRATION_MODULES={"users": "tests.fixtures.failing_users_migrations"})
MIGRATION_FILE = REPO / "tests" / "fixtures" / "failing_users_migrations" / "0001_initial.py"
FRAME = f'  File "{MIGRATION_FILE}", line 13, in explode'


@FAILING
@pytest.mark.parametrize("options", [{"traceback": True}, {"verbosity": 3}])
def test_the_failing_migrations_frame_is_shown(
    sqlite_project: Path, options: dict[str, object]
) -> None:
    out, _, code = run("migrate_all", apps=["users"], **options)
    assert code == 1
    lines = out.splitlines()
    failed = lines.index("  FAILED on users_db: RuntimeError: cache warm-up failed on purpose")
    trace = lines[failed + 1 :]
    assert trace[0] == "    Traceback (most recent call last):"
    assert f"    {FRAME}" in trace
    assert '        raise RuntimeError("cache warm-up failed on purpose")' in trace
    assert "    RuntimeError: cache warm-up failed on purpose" in trace


@FAILING
def test_without_traceback_the_first_line_is_enough(sqlite_project: Path) -> None:
    out, _, code = run("migrate_all", apps=["users"])
    assert code == 1
    assert "  FAILED on users_db: RuntimeError: cache warm-up failed on purpose" in out
    assert "Traceback" not in out


@FAILING
def test_the_migrator_logger_and_json_get_the_traceback(
    sqlite_project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="migrator"):
        out, _, code = run("migrate_all", apps=["users"], json=True)
    assert code == 1
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.name == "migrator"
    message = record.getMessage()
    assert message.startswith(
        "users_db (users) failed at users.0001_initial: RuntimeError: cache warm-up failed on "
        "purpose\nTraceback (most recent call last):\n"
    )
    assert FRAME in message
    [step] = [s for s in json.loads(out)["results"]["steps"] if s["alias"] == "users_db"]
    assert FRAME in step["traceback"]
    assert step["traceback"].endswith("RuntimeError: cache warm-up failed on purpose")
