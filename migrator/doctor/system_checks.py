"""The findings registered as Django system checks (tag ``migrator``): they show in
``manage.py check`` and before every command that checks; old IDs (``RENAMED``) silence the new
ones; the migration-file checks are left out while a planner that checks them itself runs."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

from migrator.doctor.migrations import migration_findings, module_findings
from migrator.doctor.routing import routing_findings
from migrator.types import Finding

TAG = "migrator"


# Findings that were errors and are warnings now: old ID -> new ID (README: "Routing doctor").
RENAMED = {
    "migrator.E001": "migrator.W003",
    "migrator.E002": "migrator.W004",
    "migrator.E003": "migrator.W005",
}


_MESSAGE_CLASSES: dict[str, Callable[..., checks.CheckMessage]] = {
    "error": checks.Error,
    "warning": checks.Warning,
    "info": checks.Info,
}


def doctor(app_labels: Collection[str] | None = None, *, migrations: bool = True) -> list[Finding]:
    """Every finding not silenced by ``SILENCED_SYSTEM_CHECKS``; ``migrations=False`` leaves out
    the checks that load the migration files (E007, I001, W006, W007)."""
    found = _routing_findings(app_labels) + module_findings(app_labels)
    if migrations:
        found += migration_findings(app_labels)
    return unsilenced(found)


def unsilenced(findings: Sequence[Finding], *, by_old_id_only: bool = False) -> list[Finding]:
    """Leaves out the findings ``SILENCED_SYSTEM_CHECKS`` names, by their ID or their old ID
    (``by_old_id_only``: by the old ID only, for the system checks, as Django filters and counts
    the rest)."""
    named = set(settings.SILENCED_SYSTEM_CHECKS)
    silenced = {new for old, new in RENAMED.items() if old in named}
    if not by_old_id_only:
        silenced |= named
    return [finding for finding in findings if finding.id not in silenced]


def _check_messages(findings: Sequence[Finding]) -> list[checks.CheckMessage]:
    return messages(unsilenced(findings, by_old_id_only=True))


def messages(findings: Sequence[Finding]) -> list[checks.CheckMessage]:
    """Findings as Django's ``Error``/``Warning``/``Info`` system check messages."""
    return [
        _MESSAGE_CLASSES[finding.level](
            finding.message, hint=finding.hint, obj=finding.obj, id=finding.id
        )
        for finding in findings
    ]


@contextmanager
def checked_by_a_run() -> Iterator[None]:
    """While a command that plans runs the system checks (before a run, and on the databases
    after preflight): the migration-file checks are left out (its planner refuses a cycle
    itself), and the routing findings are found once, not once per pass of Django's checks."""
    planner = _planner_checks_migrations.set(True)
    shared = _routing_cache.get()  # an enclosing run's, empty or not
    cache = _routing_cache.set({} if shared is None else shared)
    try:
        yield
    finally:
        _planner_checks_migrations.reset(planner)
        _routing_cache.reset(cache)


def _routing_findings(app_labels: Collection[str] | None) -> list[Finding]:
    cache = _routing_cache.get()
    if cache is None:
        return routing_findings(app_labels)
    key = None if app_labels is None else frozenset(app_labels)
    if key not in cache:
        cache[key] = routing_findings(app_labels)
    return list(cache[key])


def _labels(app_configs: Sequence[AppConfig] | None) -> set[str] | None:
    return None if app_configs is None else {config.label for config in app_configs}


@checks.register(TAG)
def check_routing(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    return _check_messages(_routing_findings(_labels(app_configs)))


# An unimportable MIGRATION_MODULES entry is an error for a deploy (Django's migrate fails on it),
# but must not stop makemigrations, which creates that package: a deploy check (and --doctor, and
# migrate_all's own checks before a run).
@checks.register(TAG, deploy=True)
def check_migration_modules(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    return _check_messages(module_findings(_labels(app_configs)))


# Loading every migration file costs about a second on a large project: too much for every
# runserver start. E007/I001/W006 therefore run with `check --deploy` and `--doctor` (and the planner
# refuses a cycle before every run anyway).
@checks.register(TAG, deploy=True)
def check_migration_graph(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    if _planner_checks_migrations.get():
        return []
    return _check_messages(migration_findings(_labels(app_configs)))


# Set while a command that plans anyway runs Django's system checks: its planner refuses a
# cycle itself before touching anything, so loading the migration files twice is not needed.
_planner_checks_migrations: ContextVar[bool] = ContextVar(
    "migrator_planner_checks_migrations", default=False
)
# Set by checked_by_a_run: the routing findings per set of app labels (None: every app).
_routing_cache: ContextVar[dict[frozenset[str] | None, list[Finding]] | None] = ContextVar(
    "migrator_routing_findings", default=None
)
