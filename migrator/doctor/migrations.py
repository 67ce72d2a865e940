"""Findings about migration files: E008 an unimportable ``MIGRATION_MODULES`` entry, E007 a
dependency cycle between aliases, I001 a data migration that depends on another alias's app, W006
a data migration without the hints the routers read about its app."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from django.db.migrations.loader import MigrationLoader

from migrator.exceptions import ConfigurationError
from migrator.planning.graph import alias_cycles, build_graph, cycle_path
from migrator.project import router_hints
from migrator.project.databases import alias_names
from migrator.project.loader import (
    app_dependencies,
    counted_models,
    data_migrations,
    data_operations,
    load_migrations,
    migrated_app_labels,
    unimportable_migration_modules,
)
from migrator.project.operations import routed_matrix
from migrator.project.routing import (
    allow_migrate,
    routing_matrix,
)
from migrator.text import join, quoted
from migrator.types import Finding


def module_findings(app_labels: Collection[str] | None = None) -> list[Finding]:
    """E008: MIGRATION_MODULES entries that cannot be imported (of ``app_labels``, all apps
    when None). Imports those modules only, as Django's loader would."""
    return [
        Finding(
            id="migrator.E008",
            level="error",
            alias=None,
            obj=problem.app,
            message=problem.message,
            hint=problem.fix,
        )
        for problem in unimportable_migration_modules()
        if app_labels is None or problem.app in app_labels
    ]


def migration_findings(app_labels: Collection[str] | None = None) -> list[Finding]:
    """E007, I001 and W006: loads the migration files (no database); concerns ``app_labels``
    (all apps when None). Nothing when the routers misbehave: ``routing_findings`` names them."""
    try:
        loader = load_migrations(strict=False)  # E008 names unimportable modules
        apps = migrated_app_labels(loader)
        matrix = routed_matrix(loader)
    except ConfigurationError:
        return []  # a router problem (E005/E006), or conflicting migrations (Django's to report)

    def concerned(*labels: str) -> bool:
        return app_labels is None or any(label in app_labels for label in labels)

    found = []
    for cycle in alias_cycles(build_graph(matrix, app_dependencies(loader))):
        if not concerned(*(node.app for node in cycle)):
            continue
        path = cycle_path(cycle)
        found.append(
            Finding(
                id="migrator.E007",
                level="error",
                alias=None,
                obj=path,
                message=(
                    f"Dependency cycle between databases: {path}. Migrations of these apps "
                    "depend on each other across aliases, so no order of aliases satisfies "
                    "them and migrate_all refuses to plan."
                ),
                hint=(
                    "Route these apps to one alias, or remove the migration dependency that "
                    "closes the cycle."
                ),
            )
        )
    for (app, name), parents in data_migrations(loader).items():
        runs_on = matrix.get(app, ())
        elsewhere = {
            parent: [alias for alias in matrix.get(parent[0], ()) if alias not in runs_on]
            for parent in parents
        }
        elsewhere = {parent: aliases for parent, aliases in elsewhere.items() if aliases}
        if not runs_on or not elsewhere or not concerned(app):
            continue
        first = sorted({alias for aliases in elsewhere.values() for alias in aliases})
        depends = "; ".join(
            f"{dep_app}.{dep_name} (tables on {join(aliases)})"
            for (dep_app, dep_name), aliases in elsewhere.items()
        )
        found.append(
            Finding(
                id="migrator.I001",
                level="info",
                alias=runs_on[0],
                obj=f"{app}.{name}",
                message=(
                    f"{app}.{name} runs RunPython on {join(runs_on)} and depends on {depends}: "
                    "if its code reads those tables, it reads another database, so the order of "
                    f"databases matters. migrate_all migrates {join(first)} first."
                ),
                hint=(
                    f"Migrate with migrate_all (or migrate {join(first)} before "
                    f"{join(runs_on)}); in the RunPython code, read the other app's rows "
                    "through the routers or .using(alias), not schema_editor.connection."
                ),
            )
        )
    found.extend(_unhinted_data_migrations(loader, [a for a in apps if concerned(a)]))
    found.extend(_data_migrations_away_from_tables(loader, [a for a in apps if concerned(a)]))
    return found


def _data_migrations_away_from_tables(
    loader: MigrationLoader, apps: Sequence[str]
) -> list[Finding]:
    """W007: a RunPython/RunSQL that executes on aliases where none of its app's tables are."""
    aliases = list(alias_names())
    found = []
    tables: dict[str, tuple[str, ...]] = {}
    for (app, name), operations in data_operations(loader).items():
        if app not in apps:
            continue
        if app not in tables:
            has_tables = bool(counted_models(app))
            tables[app] = routing_matrix(aliases, [app])[app] if has_tables else ()
        if not tables[app]:
            continue  # no table of its own anywhere (unmanaged models only): nothing to compare
        for kind, hints in operations:
            try:
                runs_on = [a for a in aliases if allow_migrate(a, app, **hints)]
            except ConfigurationError:
                break  # a router raises: E006
            away = [alias for alias in runs_on if alias not in tables[app]]
            if not away:
                continue
            sent = f"with hints {quoted(sorted(hints))}" if hints else "without hints"
            found.append(
                Finding(
                    id="migrator.W007",
                    level="warning",
                    alias=away[0] if len(away) == 1 else None,
                    obj=f"{app}.{name}",
                    message=(
                        f"{app}.{name} has a {kind} that executes on {join(away)}, where none "
                        f"of {app!r}'s tables are (they are on {join(tables[app])}): the "
                        f"routers allow it there {sent} (allow_migrate(db, {app!r}"
                        + "".join(f", {key}={hints[key]!r}" for key in sorted(hints))
                        + "))."
                    ),
                    hint=(
                        f"If it is meant to run on {join(away)} (a data migration for another "
                        "database), silence migrator.W007; otherwise give it hints your routers "
                        f"send to {join(tables[app])}, or make allow_migrate refuse {app!r} "
                        f"on {join(away)}."
                    ),
                )
            )
    return found


def _unhinted_data_migrations(loader: MigrationLoader, apps: Sequence[str]) -> list[Finding]:
    """W006: RunPython/RunSQL without the hints the routers read about its app."""
    aliases = alias_names()
    probed = router_hints.probe_routers(aliases, apps)
    found = []
    for (app, name), operations in data_operations(loader).items():
        readers = [(p.router, sorted(p.keys_by_app[app])) for p in probed if app in p.keys_by_app]
        read = {key for _, keys in readers for key in keys}
        unhinted = [(kind, hints) for kind, hints in operations if not read & set(hints)]
        if not readers or not unhinted or app not in apps:
            continue
        try:
            allowed = {
                alias
                for _, hints in unhinted
                for alias in aliases
                if allow_migrate(alias, app, **hints)
            }
        except ConfigurationError:
            continue  # a router raises: E006
        runs_on = [alias for alias in aliases if alias in allowed]
        kinds = " and ".join(sorted({kind for kind, _ in unhinted}))
        it = "it" if len(unhinted) == 1 else "them"
        where = f"on {join(runs_on)}" if runs_on else "on no alias"
        readers_text = "; ".join(f"{router} reads {quoted(keys)}" for router, keys in readers)
        example = ", ".join(f"{key!r}: ..." for key in readers[0][1])
        found.append(
            Finding(
                id="migrator.W006",
                level="warning",
                alias=runs_on[0] if len(runs_on) == 1 else None,
                obj=f"{app}.{name}",
                message=(
                    f"{app}.{name} has {kinds} without the hints the routers read about app "
                    f"{app!r} ({readers_text}): Django's migrate asks allow_migrate(db, {app!r}) "
                    f"without them for {it}, so {it} {'runs' if it == 'it' else 'run'} {where}, "
                    "wherever the routers allow the app without those hints."
                ),
                hint=(
                    f"Pass the hints the router reads to each operation ({kinds}(..., "
                    f"hints={{{example}}})), or make the router answer for app {app!r} without "
                    "hints."
                ),
            )
        )
    return found
