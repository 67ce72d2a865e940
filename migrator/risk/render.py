"""Pure: a lock-risk review as ``Line``s and JSON (schema in README "Risk review"), and the
one-line form of a finding that the gate's refusal names. No Django, no database."""

from __future__ import annotations

from typing import Any

from migrator.render.lines import Line, Style
from migrator.text import plural
from migrator.types import RiskFinding, RiskLevel, RiskReport

SQL_WIDTH = 120  # the statement's length shown without -v 2
_STYLE: dict[RiskLevel, Style] = {"info": "", "warning": "warning", "danger": "error"}


def rows_text(finding: RiskFinding) -> str:
    if not finding.table:
        return "no table"
    if not finding.exists:
        return "new table (empty)"
    rows = "rows unknown (never analysed)" if finding.rows is None else f"~{finding.rows:,} rows"
    return rows if finding.size is None else f"{rows}, {size_text(finding.size)}"


def size_text(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def risk_lines(report: RiskReport, verbosity: int = 1) -> list[Line]:
    """The findings per alias, one block per finding; ``-v 2`` adds the statement."""
    count = len(report.findings)
    levels = {level: sum(1 for f in report.findings if f.level == level) for level in _STYLE}
    counted = ", ".join(f"{n} {level}" for level, n in levels.items() if n)
    lines = [
        Line(
            f"Lock-risk review: {plural(sum(n for _, _, n in report.reviewed), 'migration')} on "
            f"{plural(len(report.reviewed), 'database')}, {plural(count, 'finding')}"
            + (f" ({counted})" if counted else "")
            + ".",
            "heading",
        )
    ]
    for alias, why in report.skipped:
        lines.append(Line(f"{alias}: not reviewed ({why}).", "notice"))
    for alias, vendor, migrations in report.reviewed:
        mine = [f for f in report.findings if f.alias == alias]
        lines.append(
            Line(
                f"{alias} ({vendor}, {plural(migrations, 'migration')}): "
                + (plural(len(mine), "finding") if mine else "no finding"),
                "heading",
            )
        )
        for finding in mine:
            lines.extend(finding_lines(finding, verbosity))
    return lines


def finding_lines(finding: RiskFinding, verbosity: int = 1, indent: str = "  ") -> list[Line]:
    more = indent + "    "
    where = f"{finding.where} ({finding.description})" if finding.migration else finding.description
    head = f"{indent}{finding.level.upper()} {finding.rule}: {where}"
    lines = [Line(head, _STYLE[finding.level])]
    if finding.table:
        lines.append(Line(f"{more}table {finding.table}: {rows_text(finding)}"))
    if finding.lock or finding.blocks:
        lock = finding.lock or "-"
        blocks = f"; blocks {finding.blocks}" if finding.blocks else ""
        lines.append(Line(f"{more}lock {lock}{blocks}"))
    lines.append(Line(f"{more}{finding.message}"))
    lines.append(Line(f"{more}safer: {finding.safer}"))
    if finding.statement:
        sql = " ".join(finding.statement.split())
        if verbosity < 2 and len(sql) > SQL_WIDTH:
            sql = sql[: SQL_WIDTH - 3] + "..."  # -v 2: whole
        lines.append(Line(f"{more}SQL: {sql}"))
    return lines


def migration_lines(report: RiskReport, alias: str, migration: str) -> list[Line]:
    """A migration's findings on an alias, as ``--plan -v 2`` shows them under it."""
    return [
        Line(f"        risk: {f.summary}", _STYLE[f.level])
        for f in report.findings
        if f.alias == alias and f.migration == migration
    ]


def finding_json(finding: RiskFinding) -> dict[str, Any]:
    return {
        "alias": finding.alias,
        "migration": finding.migration or None,
        "operation": {"index": finding.operation, "description": finding.description}
        if finding.operation
        else None,
        "rule": finding.rule,
        "source": finding.source,
        "level": finding.level,
        "table": finding.table or None,
        "table_exists": finding.exists if finding.table else None,
        "rows": finding.rows,
        "size_bytes": finding.size,
        "lock": finding.lock or None,
        "blocks": finding.blocks or None,
        "message": finding.message,
        "safer": finding.safer,
        "statement": finding.statement or None,
    }


def risk_json(report: RiskReport) -> dict[str, Any]:
    thresholds = report.thresholds
    return {
        "highest": report.highest,
        "thresholds": {
            "warning_rows": thresholds.warning_rows,
            "danger_rows": thresholds.danger_rows,
            "warning_bytes": thresholds.warning_bytes,
            "danger_bytes": thresholds.danger_bytes,
            "gate": thresholds.gate,
        },
        "reviewed": [
            {"alias": alias, "vendor": vendor, "migrations": count}
            for alias, vendor, count in report.reviewed
        ],
        "skipped": [{"alias": alias, "reason": why} for alias, why in report.skipped],
        "findings": [finding_json(f) for f in report.findings],
    }
