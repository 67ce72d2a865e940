"""Shared test helpers: run a command in-process or as a subprocess, look into databases."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

REPO = Path(__file__).resolve().parent.parent
MANAGE = REPO / "testproject" / "manage.py"
ALIASES = ("default", "users_db", "analytics_db", "legacy_db", "cache_db", "read_replica")


def run(*args: str, **options: object) -> tuple[str, str, int]:
    """``call_command`` that returns (stdout, stderr, returncode) instead of raising."""
    stdout, stderr = io.StringIO(), io.StringIO()
    code = 0
    try:
        call_command(*args, stdout=stdout, stderr=stderr, no_color=True, **options)
    except CommandError as exc:
        code = exc.returncode
        stderr.write(f"CommandError: {exc}\n")
    return stdout.getvalue(), stderr.getvalue(), code


def manage(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python testproject/manage.py ARGS`` in a child process, stdin not a terminal."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MIGRATOR_")}
    full_env["PYTHONPATH"] = str(REPO)  # so that settings under tests/ can be named
    full_env.update(env)
    return subprocess.run(
        [sys.executable, str(MANAGE), *args],
        env=full_env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )


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
