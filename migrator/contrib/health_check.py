"""A django-health-check check (the ``[health]`` extra): unhealthy while a planned alias has
migrations to apply or record, or cannot be checked (unreachable, missing, unreadable history).

It asks ``api.health``: with a warm routing cache, the no-op fast path (no migration module
imported, no graph loaded); read-only, nothing is written to any database. Use it in
django-health-check's view::

    path("ht/", HealthCheckView.as_view(checks=["migrator.contrib.health_check.MigrationsApplied"]))

or with options: ``("migrator.contrib.health_check.MigrationsApplied", {"cache_seconds": 5})``.
"""

from __future__ import annotations

import dataclasses
import datetime
import threading
import time

from django.db import connections
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable

from migrator import api
from migrator.exceptions import MigratorError
from migrator.project.databases import passwords
from migrator.text import join, plural, redact, secrets_of
from migrator.types import Health, Selection

# (databases, apps) -> (monotonic time, result): results kept for ``cache_seconds``
_results: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[float, Health]] = {}
_lock = threading.Lock()


@dataclasses.dataclass
class MigrationsApplied(HealthCheck):  # type: ignore[misc]  # django-health-check is untyped
    """Every planned alias reachable and migrated (what ``migrate_all --check`` counts).

    ``databases``/``apps``: narrow the check as ``--database``/``--app`` narrow a run (patterns
    allowed). ``cache_seconds``: reuse a result for that long (default 0: every request checks
    anew); probes every second against many aliases then cost one check per interval.
    ``timeout``: the wall-clock budget of the django-health-check releases that have one.
    """

    databases: tuple[str, ...] = ()
    apps: tuple[str, ...] = ()
    cache_seconds: float = dataclasses.field(default=0.0, repr=False)
    timeout: datetime.timedelta = dataclasses.field(
        default=datetime.timedelta(seconds=30), repr=False
    )

    def run(self) -> None:
        try:
            health = self.health()
        except MigratorError as exc:  # settings, routers or this check's options are wrong
            raise ServiceUnavailable(redact(str(exc), secrets_of(passwords()))) from None
        if not health.ok:
            raise ServiceUnavailable(redact(describe(health), secrets_of(passwords())))

    def health(self) -> Health:
        key = (tuple(self.databases), tuple(self.apps))
        now = time.monotonic()
        with _lock:
            kept = _results.get(key)
        if kept is not None and now - kept[0] < self.cache_seconds:
            return kept[1]
        health = _checked(Selection(databases=key[0], apps=key[1]))
        with _lock:
            _results[key] = (time.monotonic(), health)
        return health


def _checked(selection: Selection) -> Health:
    """``api.health``, closing the connections it opened (django-health-check runs a synchronous
    check in a worker thread, whose connections nothing else would close)."""
    opened = {c.alias for c in connections.all(initialized_only=True) if c.connection is not None}
    try:
        return api.health(selection)
    finally:
        for connection in connections.all(initialized_only=True):
            if connection.alias not in opened:
                connection.close()


def describe(health: Health) -> str:
    """Why ``health`` is not ok, naming every alias: ``Migrations to apply or record on 2
    databases: default (16), users_db (23); run manage.py migrate_all.``"""
    parts = []
    if health.pending:
        counts = join(f"{alias} ({count})" for alias, count in health.pending)
        parts.append(
            f"Migrations to apply or record on {plural(len(health.pending), 'database')}: "
            f"{counts}; run manage.py migrate_all."
        )
    if health.problems:
        parts.append(
            f"Cannot check every database ({plural(len(health.problems), 'problem')}): "
            + "; ".join(health.problems)
            + "."
        )
    return " ".join(parts)
