"""Passwords never appear in any output, in any encoding: raw, percent-encoded inside a URL,
repr()-escaped inside a KeyError, JSON-escaped, and in the chained causes --traceback prints."""

from __future__ import annotations

import json
from pathlib import Path

from migrator.text import secret_forms
from tests.helpers import SPECIAL_PASSWORD, manage

SETTINGS = "tests.settings.special_password_leak"


def leaks(text: str) -> list[str]:
    return sorted(form for form in secret_forms(SPECIAL_PASSWORD) if form in text)


def test_every_form_of_a_password_is_scrubbed(tmp_path: Path) -> None:
    env = {"MIGRATOR_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": SETTINGS}
    plain = manage("migrate_all", "--noinput", "--skip-checks", env=env)
    assert plain.returncode == 2
    assert plain.stderr.startswith("CommandError: Router tests.routers.EncodingLeakyRouter")
    assert "postgres://app:********@db.internal/rules (password ********)" in plain.stderr
    as_json = manage("migrate_all", "--json", "--skip-checks", env=env)
    message = json.loads(as_json.stdout)["error"]["message"]
    assert "postgres://app:********@db.internal/rules (password ********)" in message
    traced = manage("migrate_all", "--noinput", "--skip-checks", "--traceback", env=env)
    assert traced.returncode == 1  # Django re-raises under --traceback
    # The real cause is shown: the router's frame and its KeyError, scrubbed.
    assert "migrator.exceptions.ScrubbedCause: Traceback (most recent call last):" in traced.stderr
    assert 'tests/routers.py", line' in traced.stderr
    assert "KeyError: 'no rule for postgres://app:********@db.internal/rules" in traced.stderr
    for result in (plain, as_json, traced):
        assert leaks(result.stdout + result.stderr) == []
    assert list(tmp_path.iterdir()) == []  # nothing was touched
