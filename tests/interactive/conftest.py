"""The ``menu`` fixture: ``manage.py migrator`` as on a terminal, on the SQLite testproject."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.interactive.driver import MenuDriver


@pytest.fixture
def menu(sqlite_project: Path, monkeypatch: pytest.MonkeyPatch) -> MenuDriver:
    monkeypatch.setattr("migrator.cli.output.stdin_is_terminal", lambda: True)
    return MenuDriver(monkeypatch)
