"""The (alias, app) dependency graph: one node per pair the routers allow, an edge where one
app's migrations depend on another's; cycles found and named deterministically (``cycle_path``),
apps that depend on each other on one alias condensed into one group."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx

from migrator.exceptions import ConfigurationError
from migrator.types import Node


def build_graph(
    matrix: Mapping[str, Sequence[str]], app_deps: Mapping[str, Iterable[str]]
) -> nx.DiGraph[Node]:
    """Nodes are the (alias, app) pairs the routers allow; an edge B -> A means A runs after B.

    For a migration dependency of app A on app B, every node of B points to every node of A. A
    dependency on an app that runs nowhere is followed through to that app's own dependencies.
    """
    import networkx as nx

    graph: nx.DiGraph[Node] = nx.DiGraph()
    for app, aliases in matrix.items():
        for alias in aliases:
            graph.add_node(Node(alias, app))
    for app, aliases in matrix.items():
        for dep in _effective_deps(app, matrix, app_deps):
            for dep_alias in matrix[dep]:
                for alias in aliases:
                    graph.add_edge(Node(dep_alias, dep), Node(alias, app))
    return graph


def _effective_deps(
    app: str, matrix: Mapping[str, Sequence[str]], app_deps: Mapping[str, Iterable[str]]
) -> set[str]:
    found: set[str] = set()
    seen = {app}
    todo = list(app_deps.get(app, ()))
    while todo:
        dep = todo.pop()
        if dep in seen:
            continue
        seen.add(dep)
        if matrix.get(dep):
            found.add(dep)
        else:
            todo.extend(app_deps.get(dep, ()))
    return found


def order_key(aliases: Sequence[str], apps: Sequence[str]) -> dict[Node, tuple[int, int, str, str]]:
    alias_pos = {alias: i for i, alias in enumerate(aliases)}
    app_pos = {app: i for i, app in enumerate(apps)}
    return {
        Node(alias, app): (
            alias_pos.get(alias, len(alias_pos)),
            app_pos.get(app, len(app_pos)),
            alias,
            app,
        )
        for alias in aliases
        for app in apps
    }


def cycle_path(cycle: Sequence[Node]) -> str:
    """A closed path as the planner and the doctor print it:
    ``users@users_db -> blog@default -> users@users_db``."""
    return " -> ".join(str(node) for node in cycle)


def condense(graph: nx.DiGraph[Node]) -> nx.DiGraph[int]:
    """Collapse apps that depend on each other on one alias into one group; refuse real cycles.

    Two apps on the same alias whose migrations depend on each other (a common Django pattern) are
    migrated together, as Django's ``migrate`` resolves their order migration by migration. A cycle
    that crosses aliases cannot be ordered by running whole aliases, so it is an error.
    """
    import networkx as nx

    components = list(nx.strongly_connected_components(graph))
    for cycle in alias_cycles(graph, components)[:1]:
        raise ConfigurationError(
            f"Dependency cycle between databases: {cycle_path(cycle)}. "
            "Migrations of these apps depend on each other across aliases, so no order of "
            "aliases satisfies them; route the apps to one alias or break the migration "
            "dependency."
        )
    condensed: nx.DiGraph[int] = nx.condensation(graph, scc=components)
    return condensed


def alias_cycles(
    graph: nx.DiGraph[Node], components: Iterable[set[Node]] | None = None
) -> list[tuple[Node, ...]]:
    """Every dependency cycle that crosses aliases, one per strongly connected group
    (``components``, when the caller has them), as the nodes of a closed path (first node
    repeated last). Deterministic, whatever the hash seed: the path starts with the smallest
    cross-alias edge of the group and returns along a shortest path."""
    import networkx as nx  # local on purpose: works whether the module imports it eagerly or lazily

    cycles = []
    for component in nx.strongly_connected_components(graph) if components is None else components:
        if len({node.alias for node in component}) < 2:
            continue
        ordered: nx.DiGraph[Node] = nx.DiGraph()
        ordered.add_nodes_from(sorted(component, key=str))
        ordered.add_edges_from(sorted(graph.subgraph(component).edges, key=str))
        start, after = min(
            ((u, v) for u, v in ordered.edges if u.alias != v.alias),
            key=lambda edge: (str(edge[0]), str(edge[1])),
        )
        back: list[Node] = nx.shortest_path(ordered, after, start)
        cycles.append((start, *back))
    return sorted(cycles, key=lambda cycle: [str(node) for node in cycle])
