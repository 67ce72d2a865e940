"""On an untested Django the commands stop before touching anything (exit 2), in every mode, unless
``MIGRATOR["ALLOW_UNTESTED_DJANGO"]`` is True; so does the plain-function API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import django
import pytest
from django.test import override_settings

from migrator import api, django_compat
from migrator.exceptions import ConfigurationError
from tests.helpers import run


@pytest.fixture
def django_6_2(monkeypatch: pytest.MonkeyPatch) -> str:
    """django.VERSION faked as 6.2 (newer than the newest tested series); the gate's message."""
    monkeypatch.setattr(django, "VERSION", (6, 2, 0, "final", 0))
    message = django_compat.untested_django()
    assert message is not None
    return message


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("migrate_all", {}),
        ("migrate_all", {"plan_only": True}),
        ("migrate_all", {"check": True}),
        ("migrate_all", {"doctor": True}),
        ("migrate_all", {"graph": "mermaid"}),
        ("migrate_all", {"drift": True}),
        ("migrator", {"auto": True}),
        ("migrator", {}),  # the menu, on a terminal
    ],
)
def test_every_mode_is_refused_before_touching_anything(
    sqlite_project: Path,
    django_6_2: str,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    options: dict[str, Any],
) -> None:
    monkeypatch.setattr("migrator.cli.output.stdin_is_terminal", lambda: True)
    out, err, code = run(command, skip_checks=False, **options)
    assert (out, err, code) == ("", f"CommandError: {django_6_2}\n", 2)
    assert list(sqlite_project.iterdir()) == []


def test_refused_as_json_and_the_opt_out(sqlite_project: Path, django_6_2: str) -> None:
    assert django_6_2.startswith("Django 6.2 is installed, but django-migrate-all ")
    out, err, code = run("migrate_all", plan_only=True, json=True)
    assert (err, code) == (f"CommandError: {django_6_2}\n", 2)
    assert json.loads(out)["error"] == {"message": django_6_2, "exit_code": 2}
    with pytest.raises(ConfigurationError):
        api.migrate_all()
    assert list(sqlite_project.iterdir()) == []

    with override_settings(MIGRATOR={"ALLOW_UNTESTED_DJANGO": True}):
        out, err, code = run("migrate_all", skip_checks=False)
    assert (err, code) == ("", 0)
    assert out.splitlines()[-1] == "Done: 22 migrations applied, 93 only recorded on 5 databases."
