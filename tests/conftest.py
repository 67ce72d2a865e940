from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from django.core import checks
from django.db import connections

from tests import helpers

PASSWORD = helpers.SQLITE_PASSWORD


@pytest.fixture(autouse=True)
def no_password_in_any_output(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """After every test: no configured password in anything a command printed or logged."""
    helpers.OUTPUTS.clear()
    yield
    captured = capfd.readouterr()
    texts = [captured.out, captured.err, caplog.text, *helpers.OUTPUTS]
    for secret in helpers.SECRETS:
        leaks = [text for text in texts if secret in text]
        assert not leaks, f"password {secret!r} printed: {leaks[0][:500]}"


@pytest.fixture(autouse=True)
def own_routing_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test keeps its routing cache (the fast path's) in a folder of its own, so that test
    runs sharing this checkout never see each other's entries. A test that sets
    ``MIGRATOR["ROUTING_CACHE"]`` itself still wins."""
    from migrator.project import routing_cache

    folder = str(tmp_path_factory.mktemp("routing-cache"))
    monkeypatch.setattr(routing_cache, "default_folder", lambda: folder)


@contextmanager
def aliases_pointed_at(entries: Mapping[str, Mapping[str, Any]]) -> Iterator[None]:
    """Point testproject aliases at other databases for the duration, then restore them.

    Django's connection handler reads each alias's settings dict when it makes a connection, so
    changing the dict and dropping the cached wrapper is enough.
    """
    saved = {alias: dict(connections.settings[alias]) for alias in connections.settings}
    close_all()
    for alias, entry in entries.items():
        connections.settings[alias].update(
            {"HOST": "", "PORT": "", "USER": "", "PASSWORD": "", "OPTIONS": {}, **entry}
        )
        forget(alias)
    try:
        yield
    finally:
        close_all()
        for alias, entry in saved.items():
            connections.settings[alias].clear()
            connections.settings[alias].update(entry)
            forget(alias)


def close_all() -> None:
    """Close the connections made so far (without making one for a broken alias)."""
    for connection in connections.all(initialized_only=True):
        connection.close()


def forget(alias: str) -> None:
    """Drop the cached connection object, so the next use reads the settings again."""
    with suppress(AttributeError):
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


@pytest.fixture
def register_check() -> Iterator[Callable[..., None]]:
    """``register_check(check, *tags)``: a system check registered for one test only."""
    added: list[Callable[..., Any]] = []

    def register(check: Callable[..., Any], *tags: str) -> None:
        checks.register(check, *tags)
        added.append(check)

    yield register
    for check in added:
        checks.registry.registry.registered_checks.discard(check)
