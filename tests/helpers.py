"""Shared test helpers: run a command in-process or as a subprocess, look into databases."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

REPO = Path(__file__).resolve().parent.parent
MANAGE = REPO / "testproject" / "manage.py"
ALIASES = ("default", "users_db", "analytics_db", "legacy_db", "cache_db", "read_replica")

# Passwords the tests configure; no output of any test may contain one (see conftest.py).
SQLITE_PASSWORD = "Pa55-w0rd-never-shown"  # SQLite ignores it
PG_PASSWORD = "pg-Secret-never-shown"  # trust authentication ignores it
URL_PASSWORD = "subprocess-secret-pw"
UNREACHABLE_PASSWORD = "never-print-me"
WRONG_PASSWORD = "wr0ng-Pa55word"  # MariaDB refuses it
# Changes under URL encoding, repr() and JSON: quotes, a backslash, a slash, an @, a non-ASCII letter.
SPECIAL_PASSWORD = "sp ecial/p@ss'w\u00f6rd\"\\x"
SECRETS = (
    SQLITE_PASSWORD,
    PG_PASSWORD,
    URL_PASSWORD,
    UNREACHABLE_PASSWORD,
    WRONG_PASSWORD,
    SPECIAL_PASSWORD,
)

# The testproject's migrations but the users app's (fixtures replace that app's migrations).
_BUT_USERS = (
    "analytics.0001_initial",
    "analytics.0002_seed_event_names",
    "auth.0001_initial",
    "auth.0002_alter_permission_name_max_length",
    "auth.0003_alter_user_email_max_length",
    "auth.0004_alter_user_username_opts",
    "auth.0005_alter_user_last_login_null",
    "auth.0006_require_contenttypes_0002",
    "auth.0007_alter_validators_add_error_messages",
    "auth.0008_alter_user_username_max_length",
    "auth.0009_alter_user_last_name_max_length",
    "auth.0010_alter_group_name_max_length",
    "auth.0011_update_proxy_permissions",
    "auth.0012_alter_user_first_name_max_length",
    "blog.0001_initial",
    "blog.0002_post_slug",
    "cache.0001_initial",
    "contenttypes.0001_initial",
    "contenttypes.0002_remove_content_type_name",
    "legacy.0001_initial",
    "shop.0001_initial",
)


def every_migration(users_second: str = "0002_user_is_active") -> list[str]:
    """Every migration of the testproject, sorted by app and name: what Django's
    ``migrate --database X`` records on each alias it migrates, so what a full run of migrate_all
    leaves recorded on every alias it migrates (read_replica excepted: never touched).
    ``users_second`` names the users app's second migration (fixtures replace that app's
    migrations through MIGRATION_MODULES, e.g. ``0002_slow``)."""
    return sorted((*_BUT_USERS, "users.0001_initial", f"users.{users_second}"))


# Every migration of the testproject, as a set of "app.name".
PROJECT_MIGRATIONS = frozenset(every_migration())

# Everything commands printed during the current test (checked for passwords after it).
OUTPUTS: list[str] = []


def run(*args: str, **options: Any) -> tuple[str, str, int]:
    """``call_command`` that returns (stdout, stderr, returncode) instead of raising."""
    stdout, stderr = io.StringIO(), io.StringIO()
    code = 0
    try:
        call_command(*args, stdout=stdout, stderr=stderr, no_color=True, **options)
    except CommandError as exc:
        code = exc.returncode
        stderr.write(f"CommandError: {exc}\n")
    OUTPUTS.extend((stdout.getvalue(), stderr.getvalue()))
    return stdout.getvalue(), stderr.getvalue(), code


def manage(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python testproject/manage.py ARGS`` in a child process, stdin not a terminal."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MIGRATOR_")}
    full_env["PYTHONPATH"] = str(REPO)  # so that settings under tests/ can be named
    full_env.update(env)
    result = subprocess.run(
        [sys.executable, str(MANAGE), *args],
        env=full_env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )
    OUTPUTS.extend((result.stdout, result.stderr))
    return result


def tables(alias: str) -> set[str]:
    """Table names on ``alias`` through Django's introspection."""
    with connections[alias].cursor() as cursor:
        return set(connections[alias].introspection.table_names(cursor))


def recorded(alias: str) -> set[str]:
    """``app.name`` of every row of ``django_migrations`` on ``alias`` (empty when no table)."""
    if "django_migrations" not in tables(alias):
        return set()
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations")
        return {f"{app}.{name}" for app, name in cursor.fetchall()}


def sqlite_tables(path: Path) -> set[str]:
    """Tables of an SQLite file, read without Django (for subprocess tests)."""
    with sqlite3.connect(path) as db:
        return {
            row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        } - {"sqlite_sequence"}


def sqlite_recorded(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {f"{a}.{n}" for a, n in db.execute("SELECT app, name FROM django_migrations")}


def table_rows(out: str, title: str) -> dict[str, dict[str, str]]:
    """The table printed under the line ``title``, by alias, cut at the header's column starts;
    it ends at the first line that does not start with an alias."""
    lines = out.splitlines()
    header = lines[lines.index(title) + 1]
    names = header.split()
    starts = [header.index(name) for name in names]
    rows = {}
    for line in lines[lines.index(title) + 2 :]:
        if not line.strip() or line.split()[0] not in ALIASES:
            break
        cells = [
            line[start : starts[i + 1] if i + 1 < len(starts) else None].strip()
            for i, start in enumerate(starts)
        ]
        rows[cells[0]] = dict(zip(names, cells, strict=True))
    return rows


def summary_rows(out: str) -> dict[str, dict[str, str]]:
    """The summary table of a run's output, by alias."""
    return table_rows(out, "Summary")


def manage_background(
    *args: str, env: dict[str, str], own_group: bool = False
) -> subprocess.Popen[str]:
    """Start ``manage.py ARGS`` without waiting (for concurrent-run tests); ``own_group``: in a
    process group of its own, which the test signals as a terminal signals its foreground job."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MIGRATOR_")}
    full_env["PYTHONPATH"] = str(REPO)
    full_env.update(env)
    return subprocess.Popen(
        [sys.executable, str(MANAGE), *args],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=own_group,
    )


def finish(process: subprocess.Popen[str], timeout: float = 300) -> tuple[str, str]:
    """Wait for a background ``manage.py`` and return (stdout, stderr), recorded for the
    password check."""
    out, err = process.communicate(timeout=timeout)
    OUTPUTS.extend((out, err))
    return out, err


def read_until(
    process: subprocess.Popen[str], text: str, timeout: float = 60, stderr: bool = False
) -> str:
    """Read a background child's stdout (or stderr) until ``text`` appears; returns what was
    read."""
    stream = process.stderr if stderr else process.stdout
    assert stream is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen:
        assert time.monotonic() < deadline, seen
        line = stream.readline()
        assert line, f"process ended before {text!r}: {seen}"
        seen += line
    return seen
