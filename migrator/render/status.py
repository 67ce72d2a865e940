"""The status table: per alias, its vendor, location, migrated apps, applied and pending
migrations, and what stops it from being read."""

from __future__ import annotations

from collections.abc import Sequence

from migrator.render.lines import Line, Style
from migrator.render.lines import table as render_table
from migrator.text import plural
from migrator.types import (
    AliasStatus,
)


def status_lines(rows: Sequence[AliasStatus]) -> list[Line]:
    """The menu's status: one row per alias, then what is wrong, then the pending total."""
    header = [
        "alias",
        "vendor",
        "database",
        "schemas",
        "reachable",
        "read-only",
        "applied",
        "pending",
    ]
    cells: list[tuple[str, ...]] = []
    styles: list[Style] = []
    notes: list[Line] = []
    for row in rows:
        info, probe = row.info, row.probe
        if probe is None:
            cells.append((info.alias, info.vendor, info.location, "", "-", "-", "-", "-"))
            styles.append("")
            why = (
                "no app is routed here"
                if info.is_database
                else "not a database (no ENGINE: Django's dummy backend)"
            )
            notes.append(Line(f"{info.alias}: {why}; never connected to.", "notice"))
            continue
        vendor = f"{info.vendor} {probe.version}" if probe.version else info.vendor
        cells.append(
            (
                info.alias,
                vendor,
                info.location,
                ", ".join(probe.schemas),
                "yes" if probe.reachable else "no",
                "yes" if probe.read_only else "no",
                "?" if row.applied is None else str(len(row.applied)),
                "?" if row.pending is None else str(len(row.pending)),
            )
        )
        problems = list(probe.problems) if probe.reachable else []
        if row.error:
            problems.append(row.error)
        if probe.read_only:
            problems.append(f"read-only: {probe.read_only}")
        notes.extend(Line(f"{info.alias}: {problem}", "error") for problem in problems)
        notes.extend(
            Line(
                f"{m} does not exist yet; 'Create missing schemas/databases' creates it.", "warning"
            )
            for m in probe.missing
        )
        if problems:
            styles.append("error")
        else:
            styles.append("warning" if row.pending or probe.missing else "success")
    rendered = render_table(header, cells, right={6, 7})
    lines = [Line("Status", "heading"), Line(rendered[0])]
    lines += [Line(text, style) for text, style in zip(rendered[1:], styles, strict=True)]
    lines += notes
    planned = [row for row in rows if row.probe is not None]
    unknown = [row.info.alias for row in planned if row.pending is None]
    waiting = [row for row in planned if row.pending]
    total = sum(len(row.pending or ()) for row in planned)
    if waiting:
        overview = f"{plural(total, 'migration')} pending on {plural(len(waiting), 'database')}."
    else:
        overview = "Nothing pending."
    if unknown:
        overview += f" State unknown on {', '.join(unknown)}."
    style: Style = "error" if unknown else ("warning" if waiting else "success")
    lines.append(Line(overview, style))
    return lines
