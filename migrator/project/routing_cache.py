"""The routing answers of the last full plan, kept so that a no-op deploy needs no migration import.

Knowing which aliases a run would touch needs every migration's operations (``project``), which
means importing every migration module: the cost the no-op fast path exists to avoid. The app ->
aliases matrix of the last full plan is kept in a file, keyed by everything its answers depend on:

* every migration file (app, name, size, modification time), found as Django's loader finds them;
* the routers' answers for today's models (asked anew each time: cheap, no migration import), so
  a router that reads settings (``DATABASE_APPS_MAPPING``) or a model moved to another app
  invalidates it;
* the source files of the routers' modules and of the settings module (size, modification time);
* ``DATABASES`` aliases and engines, ``DATABASE_ROUTERS``, ``INSTALLED_APPS``,
  ``MIGRATION_MODULES``, ``AUTH_USER_MODEL``, and the Django and migrator versions.

A router whose answers to hints depend on anything else (environment variables, a database)
should turn the cache off: ``MIGRATOR = {"ROUTING_CACHE": None}``. Without a valid entry the
planner imports the migrations, as it always did. The file holds no password (only a hash of the
key, and alias and app names) and lives in a folder only the current user can write.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import django
from django.conf import settings
from django.db import router

from migrator.project.databases import alias_names
from migrator.project.loader import Stamp, disk_migration_stamps, installed_app_labels
from migrator.project.routing import routing_matrix

FORMAT = 1


def default_folder() -> str:
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return os.path.join(tempfile.gettempdir(), f"django-migrator-{uid}")


def folder() -> Path | None:
    """``MIGRATOR["ROUTING_CACHE"]``: a folder (default: one per user in the temp folder), or
    None/False to turn the cache off."""
    raw: Any = getattr(settings, "MIGRATOR", {}) or {}
    value = raw.get("ROUTING_CACHE", default_folder()) if isinstance(raw, Mapping) else None
    return Path(value) if value else None


def _stamp(path: str | None) -> list[Any]:
    if not path:
        return []
    try:
        info = os.stat(path)
    except OSError:
        return [path]
    return [path, info.st_size, info.st_mtime_ns]


def _module_file(name: str) -> str | None:
    module = sys.modules.get(name)
    return getattr(module, "__file__", None)


def fingerprint(stamps: Mapping[str, Mapping[str, Stamp]] | None = None) -> str | None:
    """A hash of everything the routing answers depend on; None when the migration files cannot be
    listed without importing them (the planner then imports them, as Django does). ``stamps``:
    ``disk_migration_stamps()`` when the caller has it already."""
    if stamps is None:
        stamps = disk_migration_stamps()
    if stamps is None:
        return None
    aliases = alias_names()
    apps = [label for label in installed_app_labels() if label in stamps]
    databases = {
        alias: str((settings.DATABASES[alias] or {}).get("ENGINE") or "") for alias in aliases
    }
    key = {
        "format": FORMAT,
        "django": django.__version__,
        "migrator": _migrator_version(),
        "settings": [settings.SETTINGS_MODULE, _stamp(_module_file(settings.SETTINGS_MODULE))],
        "databases": databases,
        "routers": [repr(entry) for entry in settings.DATABASE_ROUTERS],
        "router_files": [_stamp(_module_file(type(r).__module__)) for r in router.routers],
        "installed_apps": list(settings.INSTALLED_APPS),
        "migration_modules": repr(sorted(getattr(settings, "MIGRATION_MODULES", {}).items())),
        "user_model": str(getattr(settings, "AUTH_USER_MODEL", "")),
        "files": {app: sorted(stamps[app].items()) for app in sorted(stamps)},
        "models": routing_matrix(aliases, apps),
    }
    text = json.dumps(key, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _migrator_version() -> str:
    from migrator import __version__

    return __version__


def _entry_path(base: Path) -> Path:
    project = f"{settings.SETTINGS_MODULE}\0{os.getcwd()}\0{sys.path[0] if sys.path else ''}"
    return base / f"routing-{hashlib.sha256(project.encode()).hexdigest()[:16]}.json"


def _safe(base: Path) -> bool:
    """Only a folder of our own that nobody else can write is trusted."""
    try:
        info = base.stat()
    except OSError:
        return False
    own = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    return own and stat.S_ISDIR(info.st_mode) and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def load(key: str | None) -> dict[str, tuple[str, ...]] | None:
    """The matrix stored under ``key``; None when there is none, or when in doubt."""
    base = folder()
    if key is None or base is None or not _safe(base):
        return None
    try:
        document = json.loads(_entry_path(base).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("key") != key:
        return None
    matrix = document.get("matrix")
    if not isinstance(matrix, dict):
        return None
    return {str(app): tuple(str(a) for a in aliases) for app, aliases in matrix.items()}


def store(matrix: Mapping[str, Sequence[str]], key: str) -> None:
    """Keep ``matrix`` under ``key`` (``fingerprint()``) for the next run; silently does nothing
    when it cannot."""
    base = folder()
    if base is None:
        return
    try:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _safe(base):
            return
        target = _entry_path(base)
        handle, temporary = tempfile.mkstemp(dir=base, prefix=".routing-", suffix=".json")
        with os.fdopen(handle, "w") as stream:
            json.dump({"key": key, "matrix": {a: list(m) for a, m in matrix.items()}}, stream)
        os.replace(temporary, target)
    except Exception:  # the cache is an optimisation: never fail a run because of it
        return
