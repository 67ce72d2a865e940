from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

PASSWORD = "Pa55-w0rd-never-shown"


@contextmanager
def aliases_pointed_at(entries: Mapping[str, Mapping[str, Any]]) -> Iterator[None]:
    """Point testproject aliases at other databases for the duration, then restore them.

    Django's connection handler reads each alias's settings dict when it makes a connection, so
    changing the dict and dropping the cached wrapper is enough.
    """
    saved = {alias: dict(connections.settings[alias]) for alias in connections.settings}
    for alias, entry in entries.items():
        connections[alias].close()
        connections.settings[alias].update(
            {"HOST": "", "PORT": "", "USER": "", "PASSWORD": "", "OPTIONS": {}, **entry}
        )
        del connections[alias]
    try:
        yield
    finally:
        for alias, entry in saved.items():
            connections[alias].close()
            connections.settings[alias].clear()
            connections.settings[alias].update(entry)
            del connections[alias]


def sqlite_entry(path: Path) -> dict[str, Any]:
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path), "PASSWORD": PASSWORD}


@pytest.fixture
def unblocked(django_db_blocker: Any) -> Iterator[None]:
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def sqlite_project(tmp_path: Path, unblocked: None) -> Iterator[Path]:
    """Every alias of the testproject on a fresh SQLite file in ``tmp_path``.

    Each alias also gets a PASSWORD (SQLite ignores it) so tests can prove it is never printed.
    """
    entries = {alias: sqlite_entry(tmp_path / f"{alias}.sqlite3") for alias in connections.settings}
    with aliases_pointed_at(entries):
        yield tmp_path
