"""Pure rendering for ``--doctor`` (findings as lines or JSON) and ``--graph`` (Mermaid, DOT).

Like ``report``: nothing here prints, reads settings or touches a database; output is sorted so
the same project always renders the same text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from migrator.render import JSON_VERSION, Line, Style
from migrator.text import plural
from migrator.types import Finding, Level, Node

LEVELS = ("error", "warning", "info")
_LEVEL_STYLE: dict[Level, Style] = {"error": "error", "warning": "warning", "info": "notice"}
NO_ALIAS = "(no single alias)"


def ordered(findings: Iterable[Finding], aliases: Sequence[str]) -> list[Finding]:
    """Grouped by alias in settings order (findings for no single alias last), errors first."""
    position = {alias: i for i, alias in enumerate(aliases)}

    def key(finding: Finding) -> tuple[int, int, str, str, str]:
        where = len(position) if finding.alias is None else position.get(finding.alias, -1)
        return (where, LEVELS.index(finding.level), finding.id, finding.obj, finding.message)

    return sorted(findings, key=key)


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    found = list(findings)
    return {level: sum(1 for f in found if f.level == level) for level in LEVELS}


def doctor_lines(findings: Sequence[Finding], aliases: Sequence[str]) -> list[Line]:
    """The findings grouped by alias, each with its fix."""
    databases = plural(len(aliases), "database")
    if not findings:
        return [Line(f"Routing doctor: no problems found on {databases}.", "success")]
    tally = ", ".join(
        plural(n, level, "info" if level == "info" else None)
        for level, n in counts(findings).items()
        if n
    )
    lines = [Line(f"Routing doctor: {tally} on {databases}.", "heading")]
    group: str | None = ""
    for finding in ordered(findings, aliases):
        if finding.alias != group:
            group = finding.alias
            lines.append(Line(group or NO_ALIAS, "heading"))
        lines.append(
            Line(f"  {finding.level} {finding.id} {finding.obj}", _LEVEL_STYLE[finding.level])
        )
        lines.append(Line(f"    {finding.message}"))
        lines.append(Line(f"    Fix: {finding.hint}"))
    return lines


def finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "id": finding.id,
        "level": finding.level,
        "alias": finding.alias,
        "obj": finding.obj,
        "message": finding.message,
        "hint": finding.hint,
    }


def doctor_document(findings: Sequence[Finding], aliases: Sequence[str]) -> dict[str, Any]:
    """The ``--doctor --json`` document (schema in README)."""
    return {
        "version": JSON_VERSION,
        "mode": "doctor",
        "ok": not any(finding.is_error for finding in findings),
        "counts": counts(findings),
        "findings": [finding_json(finding) for finding in ordered(findings, aliases)],
    }


def refusal_message(errors: Sequence[Finding], aliases: Sequence[str], command: str) -> str:
    """Why a run, ``--plan`` or ``--check`` does not start, naming every error and its fix."""
    lines = [f"The routing doctor found {plural(len(errors), 'error')}, so nothing was started:"]
    for finding in ordered(errors, aliases):
        lines.append(f"  {finding.id} {finding.obj}: {finding.message}")
        lines.append(f"    Fix: {finding.hint}")
    lines.append(
        f"Fix {'it' if len(errors) == 1 else 'them'} ('manage.py {command} --doctor' lists every "
        "finding), or pass --skip-checks to run anyway."
    )
    return "\n".join(lines)


# -- the dependency graph -------------------------------------------------------------------------


class _Layout:
    """Nodes per alias and edges, in a fixed order: aliases as in settings, apps as installed."""

    def __init__(
        self,
        nodes: Iterable[Node],
        edges: Iterable[tuple[Node, Node]],
        aliases: Sequence[str],
        apps: Sequence[str],
    ) -> None:
        alias_pos = {alias: i for i, alias in enumerate(aliases)}
        app_pos = {app: i for i, app in enumerate(apps)}

        def key(node: Node) -> tuple[int, str, int, str]:
            return (
                alias_pos.get(node.alias, len(alias_pos)),
                node.alias,
                app_pos.get(node.app, len(app_pos)),
                node.app,
            )

        self.aliases = list(aliases)
        self.by_alias: dict[str, list[Node]] = {alias: [] for alias in aliases}
        for node in sorted(nodes, key=key):
            self.by_alias.setdefault(node.alias, []).append(node)
        self.edges = sorted(edges, key=lambda edge: (key(edge[0]), key(edge[1])))


def _pending_label(node: Node, pending: Mapping[Node, int] | None) -> tuple[str, bool]:
    count = (pending or {}).get(node, 0)
    if not count:
        return node.app, False
    return f"{node.app} ({count} pending)", True


def _idle_label(alias: str, mirrors: Mapping[str, str]) -> str:
    if alias in mirrors:
        return f"no migrations (mirror of {mirrors[alias]})"
    return "no migrations"


def mermaid(
    nodes: Iterable[Node],
    edges: Iterable[tuple[Node, Node]],
    aliases: Sequence[str],
    apps: Sequence[str],
    pending: Mapping[Node, int] | None,
    mirrors: Mapping[str, str],
) -> str:
    """A Mermaid flowchart: one subgraph per alias, an arrow A --> B when B migrates after A,
    thick red arrows across databases, pending (alias, app) pairs highlighted."""
    layout = _Layout(nodes, edges, aliases, apps)
    ids: dict[Node, str] = {}
    taken: set[str] = set()

    def unique(value: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]", "_", value)
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}_{n}"
        taken.add(candidate)
        return candidate

    def node_id(node: Node) -> str:
        if node not in ids:
            ids[node] = unique(f"{node.alias}__{node.app}")
        return ids[node]

    def text(value: str) -> str:
        return value.replace('"', "#quot;")

    lines = [
        "flowchart LR",
        "  %% django-migrator: A --> B means B migrates after A; thick red arrows cross databases",
    ]
    for alias, members in layout.by_alias.items():
        lines.append(f'  subgraph {unique(alias)}["{text(alias)}"]')
        if not members:
            idle = unique(f"{alias}__none")
            lines.append(f'    {idle}["{text(_idle_label(alias, mirrors))}"]:::idle')
        for node in members:
            label, is_pending = _pending_label(node, pending)
            suffix = ":::pending" if is_pending else ""
            lines.append(f'    {node_id(node)}["{text(label)}"]{suffix}')
        lines.append("  end")
    crossing = []
    for index, (source, target) in enumerate(layout.edges):
        cross = source.alias != target.alias
        lines.append(f"  {node_id(source)} {'==>' if cross else '-->'} {node_id(target)}")
        if cross:
            crossing.append(str(index))
    lines.append("  classDef pending fill:#fff3bf,stroke:#f08c00,stroke-width:2px")
    lines.append("  classDef idle fill:#f8f9fa,stroke:#adb5bd,stroke-dasharray:4 4,color:#868e96")
    if crossing:
        lines.append(f"  linkStyle {','.join(crossing)} stroke:#e03131,stroke-width:3px")
    return "\n".join(lines)


def dot(
    nodes: Iterable[Node],
    edges: Iterable[tuple[Node, Node]],
    aliases: Sequence[str],
    apps: Sequence[str],
    pending: Mapping[Node, int] | None,
    mirrors: Mapping[str, str],
) -> str:
    """The same graph in Graphviz DOT: one cluster per alias."""
    layout = _Layout(nodes, edges, aliases, apps)

    def quote(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def node_id(node: Node) -> str:
        return quote(f"{node.alias}/{node.app}")

    lines = [
        "// django-migrator: A -> B means B migrates after A; thick red arrows cross databases",
        "digraph migrator {",
        "  rankdir=LR;",
        '  node [shape=box, style=rounded, fontname="Helvetica"];',
    ]
    for number, (alias, members) in enumerate(layout.by_alias.items(), start=1):
        lines.append(f"  subgraph cluster_{number} {{")
        lines.append(f"    label={quote(alias)};")
        if not members:
            lines.append(
                f"    {node_id(Node(alias, ''))} [label={quote(_idle_label(alias, mirrors))}, "
                'style="rounded,dashed", fontcolor=gray40];'
            )
        for node in members:
            label, is_pending = _pending_label(node, pending)
            extra = ', style="rounded,filled", fillcolor="#fff3bf"' if is_pending else ""
            lines.append(f"    {node_id(node)} [label={quote(label)}{extra}];")
        lines.append("  }")
    for source, target in layout.edges:
        extra = ' [color="#e03131", penwidth=2.5]' if source.alias != target.alias else ""
        lines.append(f"  {node_id(source)} -> {node_id(target)}{extra};")
    lines.append("}")
    return "\n".join(lines)
