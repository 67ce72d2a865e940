"""Making the repairs ``detect`` offered: alias by alias under the alias's lock, each checked
again under it (a repair that is no longer planned is skipped), writing only ``django_migrations``
rows; a lock that no longer holds stops the remaining repairs."""

from __future__ import annotations

from django.db import connections, transaction
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.migration import Migration
from django.db.migrations.recorder import MigrationRecorder

from migrator import api
from migrator.backends import LockTimeout, backend, lock_timeout_error
from migrator.drift.compare import AliasCheck, _planned_apps
from migrator.drift.recorded import Project
from migrator.history import read_applied
from migrator.text import first_line
from migrator.types import (
    DriftRepair,
    DriftReport,
    PlanState,
    RepairResult,
)


def _rows(graph: MigrationGraph, label: str) -> list[tuple[str, str]]:
    """The django_migrations rows of a migration: a squashed one has the rows of the ones it
    replaces and its own, as Django's executor records it."""
    app, _, name = label.partition(".")
    migration: Migration | None = graph.nodes.get((app, name))
    replaced = [(str(a), str(n)) for a, n in migration.replaces] if migration else []
    return [*replaced, (app, name)]


def repair(
    report: DriftReport,
    *,
    lock_timeout: float | None = None,
    command: str = "migrate_all",
) -> tuple[RepairResult, ...]:
    """Make the report's repairs, alias by alias under the alias's lock (as a run takes it).

    Under the lock each alias is checked again: a repair that is no longer planned (another run
    changed the database since) is skipped. Only ``django_migrations`` rows are written: unrecord
    deletes the rows last migration first; record inserts them in plan order.
    """
    if not report.repairs:
        return ()
    settings = api.load_settings()
    timeout = settings.lock_timeout if lock_timeout is None else lock_timeout
    project = Project.load(command)
    state = report.state
    results: list[RepairResult] = []
    for alias in report.aliases:
        todo = [r for r in report.repairs if r.alias == alias]
        if todo:
            results.extend(_repair_alias(project, state, alias, todo, timeout))
    return tuple(results)


def _repair_alias(
    project: Project, state: PlanState, alias: str, todo: list[DriftRepair], timeout: float
) -> list[RepairResult]:
    info = state.plan.alias_info(alias)
    results: list[RepairResult] = []
    try:
        with backend(info.vendor).lock(info, timeout) as lock:
            check = AliasCheck.run(
                project,
                alias,
                _planned_apps(state, alias),
                read_applied(alias),
                state.probe(alias),
            )
            recorder = MigrationRecorder(connections[alias])
            for item in todo:
                if results and results[-1].status == "failed":
                    results.append(
                        RepairResult(item, "skipped", "not made: the repair before it failed")
                    )
                    continue
                lost = lock.lost()
                if lost:  # another run may hold the alias now: write nothing more
                    error = (
                        f"LockLost: lock lost on {alias} before this repair: {lost}. Nothing "
                        "more was changed; run --drift again"
                    )
                    results.append(RepairResult(item, "failed", error, lock.waited))
                    continue
                if item not in check.repairs:
                    results.append(
                        RepairResult(
                            item,
                            "skipped",
                            f"{alias} changed since it was checked; run --drift again",
                            lock.waited,
                        )
                    )
                    continue
                try:
                    # Outside the transaction: SQLite cannot create a table inside one.
                    recorder.ensure_schema()
                    with transaction.atomic(using=alias):
                        if item.action == "unrecord":
                            for label in reversed(item.migrations):
                                for app, name in reversed(_rows(check.graph, label)):
                                    recorder.record_unapplied(app, name)
                        else:
                            for label in item.migrations:
                                for app, name in _rows(check.graph, label):
                                    recorder.record_applied(app, name)
                        lost = lock.lost()
                        if lost:  # lost while writing: roll this repair back too
                            raise LockLost(
                                f"lock lost on {alias} during this repair: {lost}. It was "
                                "rolled back; run --drift again"
                            )
                except Exception as exc:
                    error = f"{type(exc).__name__}: {first_line(exc)}"
                    results.append(RepairResult(item, "failed", error, lock.waited))
                    continue
                results.append(RepairResult(item, "done", None, lock.waited))
    except LockTimeout as exc:
        error = lock_timeout_error(alias, timeout, exc)
        results = [RepairResult(item, "failed", error) for item in todo]
    except Exception as exc:  # the database went away: say so for what was not made yet
        error = f"{type(exc).__name__}: {first_line(exc)}"
        made = {result.repair for result in results}
        results += [RepairResult(item, "failed", error) for item in todo if item not in made]
    return results


class LockLost(Exception):
    """The alias's lock no longer holds while a repair writes: the repair is rolled back."""
