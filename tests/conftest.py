from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

PASSWORD = "Pa55-w0rd-never-shown"


@pytest.fixture
def sqlite_project(tmp_path: Path, django_db_blocker: Any) -> Iterator[Path]:
    """Every alias of the testproject on a fresh SQLite file in ``tmp_path``.

    Each alias also gets a PASSWORD (SQLite ignores it) so tests can prove it is never printed.
    """
    saved = {alias: dict(connections.settings[alias]) for alias in connections.settings}
    for alias in saved:
        connections[alias].close()
        connections.settings[alias]["NAME"] = str(tmp_path / f"{alias}.sqlite3")
        connections.settings[alias]["PASSWORD"] = PASSWORD
        del connections[alias]
    with django_db_blocker.unblock():
        yield tmp_path
        for alias in saved:
            connections[alias].close()
    for alias, entry in saved.items():
        connections.settings[alias].clear()
        connections.settings[alias].update(entry)
        del connections[alias]
