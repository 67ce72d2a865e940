"""Every alias as the menu's status shows it: unlike ``api.prepare``, a database that is down or
not ready is part of the answer (``AliasStatus.error``, the probe), not an error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from migrator import concurrency, history, preflight
from migrator.api import load_settings, make_plan, step_states
from migrator.project.loader import (
    app_leaves,
    migrated_app_labels,
)
from migrator.text import first_line
from migrator.types import (
    AliasInfo,
    AliasStatus,
    Missing,
    PendingMigration,
    Plan,
)


@dataclass(frozen=True)
class Survey:
    """Every alias as the menu shows it. Unlike ``prepare``, a database that is down or not
    ready is part of the answer (``AliasStatus.error``, the probe), not an error."""

    plan: Plan
    aliases: tuple[AliasStatus, ...]
    migrations: Mapping[str, tuple[str, ...]]  # app -> its migration names, dependency order

    @property
    def missing(self) -> tuple[Missing, ...]:
        return tuple(m for row in self.aliases if row.probe for m in row.probe.missing)

    def routed(self, app: str) -> tuple[str, ...]:
        """The aliases the routers send ``app``'s migrations to."""
        return tuple(row.info.alias for row in self.aliases if app in row.apps)

    def pending(self, app: str) -> int | None:
        """Migrations of ``app`` still to run on all its aliases; None when one is unknown."""
        counts = [
            sum(1 for m in row.pending if m.app == app) if row.pending is not None else None
            for row in self.aliases
            if app in row.apps
        ]
        return None if None in counts else sum(c or 0 for c in counts)

    def applied(self, app: str) -> tuple[str, ...]:
        """Migrations of ``app`` recorded on any of its aliases, in dependency order."""
        names = {
            m.name
            for row in self.aliases
            if row.applied and app in row.apps  # where it executes, not where only recorded
            for m in row.applied
            if m.app == app
        }
        ordered = [name for name in self.migrations.get(app, ()) if name in names]
        return tuple(ordered + sorted(names - set(ordered)))


def survey() -> Survey:
    """Plan everything, probe every planned alias and read ``django_migrations`` where it can be
    read: the same probes, reads and pending computation as ``prepare``, nothing created."""
    settings = load_settings()
    plan, loader = make_plan()
    probes = {
        probe.info.alias: probe
        for probe in preflight.probe_all(
            plan, settings.connect_timeout, writes=False, bounds=settings.bounds
        )
    }
    plan = preflight.resolved(plan, probes.values())
    leaves = app_leaves(loader)

    def read(info: AliasInfo) -> set[tuple[str, str]] | str:
        probe = probes[info.alias]
        if any(m.kind in ("database", "folder") for m in probe.missing):
            return set()
        try:
            return history.read_applied(info.alias)
        except Exception as exc:
            return first_line(exc)

    def job(info: AliasInfo) -> concurrency.Job[set[tuple[str, str]] | str]:
        return concurrency.Job(info, lambda: read(info))

    readable = [
        info for info in plan.aliases if info.alias in probes and probes[info.alias].reachable
    ]
    found = dict(
        zip(
            (info.alias for info in readable),
            concurrency.run([job(info) for info in readable], settings.bounds),
            strict=True,
        )
    )
    rows = []
    for info in plan.aliases:
        steps = [step for step in plan.steps if step.alias == info.alias]
        apps = tuple(dict.fromkeys(app for step in steps for app in step.apps))
        probe = probes.get(info.alias)
        if probe is None:
            rows.append(AliasStatus(info))
            continue
        if not probe.reachable:
            rows.append(AliasStatus(info, apps, probe, error="; ".join(probe.problems)))
            continue
        applied = found[info.alias]
        if isinstance(applied, str):
            rows.append(AliasStatus(info, apps, probe, error=applied))
            continue
        pending = tuple(
            m
            for state in step_states(plan, loader, {info.alias: applied}, leaves, tuple(steps))
            for m in (*state.pending, *state.recorded)
        )
        recorded = tuple(PendingMigration(app, name) for app, name in sorted(applied))
        inconsistent = "; ".join(
            problem.removeprefix(f"{info.alias}: ")
            for problem in history.history_problems(loader, info.alias, applied)
        )
        rows.append(AliasStatus(info, apps, probe, recorded, pending, error=inconsistent))
    migrations = {}
    for app in migrated_app_labels(loader):
        names: dict[str, None] = {}
        for leaf in sorted(loader.graph.leaf_nodes(app)):
            names.update(
                (key[1], None) for key in loader.graph.forwards_plan(leaf) if key[0] == app
            )
        migrations[app] = tuple(names)
    return Survey(plan=plan, aliases=tuple(rows), migrations=migrations)
