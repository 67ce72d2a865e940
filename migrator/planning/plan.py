"""The pure planner: routing matrix and app dependencies in, ordered levels of steps out.

No ``django.db`` import here: everything arrives as plain data, so the planner is tested without a
database.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

from migrator.exceptions import UsageError
from migrator.planning.graph import build_graph, condense, order_key
from migrator.types import AliasInfo, Node, Plan, Selection, Step


def expand_databases(
    names: Sequence[str], aliases: Sequence[str], *, not_databases: Collection[str] = ()
) -> tuple[str, ...]:
    """``--database`` values as aliases: a name as given (``validate_selection`` checks it), a
    shell-style pattern (``tenant_*``, ``eu-?``, ``db[12]``) as every database alias it matches,
    in settings order; each alias once. A pattern that matches no database alias is refused."""
    chosen: list[str] = []
    for name in names:
        if not any(char in name for char in "*?["):
            chosen.append(name)
            continue
        found = [a for a in aliases if fnmatchcase(a, name) and a not in not_databases]
        if not found:
            known = ", ".join(a for a in aliases if a not in not_databases)
            raise UsageError(
                f"--database {name!r} matches no database alias. Known aliases: {known}. "
                "Quote the pattern so the shell does not expand it."
            )
        chosen.extend(found)
    return tuple(dict.fromkeys(chosen))


def validate_selection(
    selection: Selection,
    aliases: Sequence[str],
    installed_apps: Sequence[str],
    migrated_apps: Sequence[str],
    *,
    not_databases: Collection[str] = (),
) -> None:
    """Refuse a selection that names an unknown alias, an alias that is not a database (no
    ENGINE: Django's dummy backend), or an app that is not installed or has no migrations."""
    for alias in selection.databases:
        if alias not in aliases:
            raise UsageError(
                f"--database {alias}: no such alias in DATABASES. Known aliases: {', '.join(aliases)}."
            )
        if alias in not_databases:
            databases = [name for name in aliases if name not in not_databases]
            raise UsageError(
                f"--database {alias}: DATABASES[{alias!r}] is not a database: it has no ENGINE, "
                f"so Django uses its dummy backend there (every query fails) and nothing can be "
                f"migrated on it. Databases: {', '.join(databases) or 'none'}."
            )
    labels = list(selection.apps)
    if selection.target:
        labels.append(selection.target[0])
    for label in labels:
        if label not in installed_apps:
            raise UsageError(
                f"App {label!r} is not installed. Installed apps with migrations: "
                f"{', '.join(migrated_apps)}."
            )
        if label not in migrated_apps:
            raise UsageError(
                f"App {label!r} has no migrations. Create them with "
                f"'python manage.py makemigrations {label}', or pick one of: {', '.join(migrated_apps)}."
            )


def upstream(
    matrix: Mapping[str, Sequence[str]],
    app_deps: Mapping[str, Iterable[str]],
    selection: Selection,
) -> set[Node]:
    """The pairs outside ``selection`` that a selected pair depends on, directly or not."""
    import networkx as nx

    graph = build_graph(matrix, app_deps)
    selected = _selector(selection)
    chosen = {node for node in graph.nodes if selected(node)}
    found: set[Node] = set()
    for node in chosen:
        found |= nx.ancestors(graph, node)
    return found - chosen


def build_plan(
    aliases: Sequence[AliasInfo],
    apps: Sequence[str],
    matrix: Mapping[str, Sequence[str]],
    app_deps: Mapping[str, Iterable[str]],
    selection: Selection = Selection(),
) -> Plan:
    """Order the routed (alias, app) pairs into levels and apply the user's selection."""
    import networkx as nx

    alias_names = [info.alias for info in aliases]
    graph = build_graph(matrix, app_deps)
    condensed = condense(graph)
    order = order_key(alias_names, apps)

    selected = _selector(selection)

    levels: list[tuple[Step, ...]] = []
    step_of: dict[int, Step] = {}  # condensed group -> the step that runs its selected members
    target = selection.target[1] if selection.target else None
    # Generations of the whole graph, then the selection: dropping nodes first would lose the
    # order that runs through the nodes left out.
    for generation in nx.topological_generations(condensed):
        by_alias: dict[str, list[Node]] = {}
        for group in generation:
            for node in condensed.nodes[group]["members"]:
                if selected(node):
                    by_alias.setdefault(node.alias, []).append(node)
        if not by_alias:
            continue
        level = len(levels) + 1
        steps = {
            alias: Step(
                alias=alias,
                apps=tuple(node.app for node in sorted(nodes, key=order.__getitem__)),
                level=level,
                target=target,
            )
            for alias, nodes in by_alias.items()
        }
        for group in generation:
            for node in condensed.nodes[group]["members"]:
                if selected(node):
                    step_of[group] = steps[node.alias]
        levels.append(tuple(sorted(steps.values(), key=lambda step: alias_names.index(step.alias))))

    requires: dict[Step, set[Step]] = {step: set() for level in levels for step in level}
    for group, step in step_of.items():
        for ancestor in nx.ancestors(condensed, group):
            if ancestor in step_of and step_of[ancestor] != step:
                requires[step].add(step_of[ancestor])

    used = {node.alias for node in graph.nodes}
    plan = Plan(
        levels=tuple(levels),
        aliases=tuple(aliases),
        unplanned_aliases=tuple(alias for alias in alias_names if alias not in used),
        homeless_apps=tuple(app for app in apps if not matrix.get(app)),
        requires={step: frozenset(steps) for step, steps in requires.items()},
        routed=_routed(matrix),
    )
    if not plan.steps and (selection.databases or selection.apps or selection.target):
        raise UsageError(_empty_selection_message(selection, matrix, alias_names))
    return plan


def _selector(selection: Selection) -> Callable[[Node], bool]:
    """Whether the user's selection takes an (alias, app) pair: the filters, plus ``include``."""
    wanted_apps = {selection.target[0]} if selection.target else set(selection.apps)
    wanted_aliases = set(selection.databases)
    included = set(selection.include)

    def selected(node: Node) -> bool:
        return node in included or (
            (not wanted_aliases or node.alias in wanted_aliases)
            and (not wanted_apps or node.app in wanted_apps)
        )

    return selected


def unordered_plan(
    aliases: Sequence[AliasInfo],
    apps: Sequence[str],
    matrix: Mapping[str, Sequence[str]],
    selection: Selection = Selection(),
) -> Plan:
    """One step per alias with every selected app routed there, in no particular order.

    Enough to tell whether everything is up to date without loading the migration graph; when
    anything is pending, ``build_plan`` orders the real plan.
    """
    selected = _selector(selection)
    alias_names = [info.alias for info in aliases]
    app_pos = {app: i for i, app in enumerate(apps)}
    by_alias: dict[str, list[str]] = {}
    for app, targets in matrix.items():
        for alias in targets:
            if selected(Node(alias, app)):
                by_alias.setdefault(alias, []).append(app)
    steps = tuple(
        Step(alias=alias, apps=tuple(sorted(by_alias[alias], key=app_pos.__getitem__)), level=1)
        for alias in alias_names
        if alias in by_alias
    )
    used = {alias for targets in matrix.values() for alias in targets}
    if not steps and (selection.databases or selection.apps):
        raise UsageError(_empty_selection_message(selection, matrix, alias_names))
    return Plan(
        levels=(steps,) if steps else (),
        aliases=tuple(aliases),
        unplanned_aliases=tuple(alias for alias in alias_names if alias not in used),
        homeless_apps=tuple(app for app in apps if not matrix.get(app)),
        ordered=False,
        routed=_routed(matrix),
    )


def _routed(matrix: Mapping[str, Sequence[str]]) -> dict[str, frozenset[str]]:
    routed: dict[str, set[str]] = {}
    for app, aliases in matrix.items():
        for alias in aliases:
            routed.setdefault(alias, set()).add(app)
    return {alias: frozenset(apps) for alias, apps in routed.items()}


def _empty_selection_message(
    selection: Selection, matrix: Mapping[str, Sequence[str]], aliases: Sequence[str]
) -> str:
    routed = {alias for targets in matrix.values() for alias in targets}
    for alias in selection.databases:
        if alias not in routed:
            return (
                f"--database {alias}: the routers allow no app's migrations on {alias!r}. "
                f"Aliases with work: {', '.join(a for a in aliases if a in routed)}; "
                "check DATABASE_ROUTERS if this is wrong."
            )
    apps = list(selection.apps) + ([selection.target[0]] if selection.target else [])
    for app in apps:
        if not matrix.get(app):
            return (
                f"App {app!r}: the routers allow its migrations on no alias "
                "(allow_migrate is False everywhere); check DATABASE_ROUTERS."
            )
    pairs = ", ".join(f"{app}@{'/'.join(matrix[app])}" for app in apps)
    return (
        f"Nothing to plan: the selected apps run on other aliases than the selected ones ({pairs}). "
        "Widen --database or --app."
    )


def without_aliases(plan: Plan, done: Collection[str]) -> Plan:
    """``plan`` without the steps on ``done`` aliases (a resumed run's finished ones): the rest
    keeps its order and levels; a level left empty goes."""
    if not done:
        return plan
    levels = tuple(
        kept for level in plan.levels if (kept := tuple(s for s in level if s.alias not in done))
    )
    return replace(
        plan,
        levels=levels,
        requires={
            step: frozenset(r for r in required if r.alias not in done)
            for step, required in plan.requires.items()
            if step.alias not in done
        },
    )
