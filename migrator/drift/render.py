"""Pure rendering for ``--drift`` and ``--drift --repair``: findings grouped by alias, the
repairs, their results, and the JSON document. Nothing here prints or touches a database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from migrator.render import JSON_VERSION, Line
from migrator.text import and_list, plural, run_command
from migrator.types import DriftFinding, DriftRepair, DriftReport, RepairResult

HISTORY_MODEL = "the migration history"


def _aliases(findings: Sequence[DriftFinding]) -> list[str]:
    return list(dict.fromkeys(finding.alias for finding in findings))


def headline(finding: DriftFinding) -> str:
    """What is wrong, in one line: kind, table, model and the concrete difference."""
    where = f"in schema {finding.schema}" if finding.schema else "in the database"
    recorded = f"{finding.migration} is recorded" if finding.migration else "recorded as applied"
    subject = f"{finding.table} ({finding.model or HISTORY_MODEL})"
    if finding.kind == "missing-table":
        what = f"{recorded}, but the table is not {where}"
    elif finding.kind == "missing-columns":
        noun = "column" if len(finding.columns) == 1 else "columns"
        what = f"{recorded}, but {finding.table} has no {noun} {and_list(finding.columns)}"
    elif finding.kind == "wrong-schema":
        schemas = "schema" if len(finding.found_in) == 1 else "schemas"
        what = (
            f"in {schemas} {and_list(finding.found_in)}, not in {finding.schema}, where "
            f"{finding.alias}'s tables belong"
        )
    else:  # unrecorded
        what = (
            f"the table exists {where}, but {finding.migration}, which creates it, is not recorded"
        )
    return f"{finding.kind} {subject}: {what}"


def finding_lines(report: DriftReport, command: str, *, repairing: bool = False) -> list[Line]:
    """The findings grouped by alias (plan order), each with its probable cause and its repair
    or the steps for a person; then the aliases without drift, and how to repair."""
    checked = len(report.aliases)
    if not report.findings:
        return [
            Line(
                f"No schema drift on {plural(checked, 'database')}: every table and column "
                "recorded as applied is there, and every table of a routed app is recorded.",
                "success",
            )
        ]
    drifted = _aliases(report.findings)
    lines = [
        Line(
            f"Schema drift: {plural(len(report.findings), 'finding')} on "
            f"{plural(len(drifted), 'database')} ({checked} checked).",
            "heading",
        )
    ]
    for alias in drifted:
        info = report.state.plan.alias_info(alias)
        schema = report.schemas.get(alias, "")
        lines.append(
            Line(
                f"{alias} ({info.vendor} {info.location}{f', schema {schema}' if schema else ''})",
                "heading",
            )
        )
        for finding in report.findings:
            if finding.alias != alias:
                continue
            lines.append(Line(f"  {headline(finding)}", "error"))
            lines.append(Line(f"    Probable cause: {finding.cause}."))
            if finding.repair:
                lines.append(Line(f"    Repair: {finding.repair}", "notice"))
            else:
                lines.append(Line("    Fix by hand:"))
                lines.extend(Line(f"      {step}") for step in finding.manual)
    clean = [alias for alias in report.aliases if alias not in drifted]
    if clean:
        lines.append(Line(f"No drift on {', '.join(clean)}.", "success"))
    if report.repairs and not repairing:
        count = len(report.repairs)
        lines.append(
            Line(
                f"{plural(count, 'repair')} can be made without touching a table (only "
                f"django_migrations rows change): 'manage.py {command} --drift --repair' "
                f"lists {'it' if count == 1 else 'them'} and asks first.",
                "notice",
            )
        )
    return lines


def repair_text(repair: DriftRepair, command: str) -> str:
    tables = and_list(repair.tables)
    if repair.action == "unrecord":
        verb = "is" if len(repair.tables) == 1 else "are"
        return (
            f"{repair.alias}: unrecord {and_list(repair.migrations)} ({tables} {verb} missing; "
            f"the next 'manage.py {run_command(command)}' creates "
            f"{'it' if len(repair.tables) == 1 else 'them'} "
            "again)"
        )
    verb = "exists" if len(repair.tables) == 1 else "exist"
    return (
        f"{repair.alias}: record {and_list(repair.migrations)} ({tables} {verb} with every column)"
    )


def repair_plan_lines(report: DriftReport, command: str) -> list[Line]:
    """What ``--repair`` is about to do (before it asks)."""
    if not report.findings:
        return []
    if not report.repairs:
        return [
            Line(
                "Nothing can be repaired automatically: every finding needs the steps shown.",
                "warning",
            )
        ]
    lines = [
        Line(
            "Repairs to make, each under the alias's lock (only django_migrations rows change; "
            "no table is touched):",
            "heading",
        )
    ]
    lines.extend(Line(f"  {repair_text(repair, command)}") for repair in report.repairs)
    return lines


def question(report: DriftReport) -> str:
    count = len(report.repairs)
    return f"Make {'this repair' if count == 1 else f'these {count} repairs'}?"


def result_lines(results: Sequence[RepairResult]) -> list[Line]:
    lines = []
    for result in results:
        repair = result.repair
        if result.status == "done":
            verb = "unrecorded" if repair.action == "unrecord" else "recorded"
            lines.append(
                Line(f"Repaired {repair.alias}: {verb} {and_list(repair.migrations)}.", "success")
            )
        elif result.status == "skipped":
            lines.append(Line(f"Not repaired on {repair.alias}: {result.error}.", "warning"))
        else:
            lines.append(Line(f"Repair failed on {repair.alias}: {result.error}", "error"))
    return lines


def after_lines(after: DriftReport, results: Sequence[RepairResult], command: str) -> list[Line]:
    """The state after the repairs: nothing left, or the findings left for a person."""
    unrecorded = any(r.status == "done" and r.repair.action == "unrecord" for r in results)
    lines = []
    if after.findings:
        drifted = _aliases(after.findings)
        lines.append(
            Line(
                f"Drift left: {plural(len(after.findings), 'finding')} on {and_list(drifted)}, "
                "for the steps shown above:",
                "warning",
            )
        )
        lines.extend(
            Line(f"  {after_finding.alias}: {headline(after_finding)}")
            for after_finding in after.findings
        )
    else:
        lines.append(
            Line(f"No schema drift left on {plural(len(after.aliases), 'database')}.", "success")
        )
    if unrecorded:
        lines.append(
            Line(
                f"Run 'manage.py {run_command(command)}' to create the tables of the unrecorded "
                "migrations "
                "again.",
                "notice",
            )
        )
    return lines


def failure_message(report: DriftReport, command: str) -> str:
    """Why ``--drift`` exits 1."""
    count = len(report.findings)
    start = (
        f"Schema drift found: {plural(count, 'finding')} on {and_list(_aliases(report.findings))}."
    )
    repairable = sum(1 for finding in report.findings if finding.repair)
    fix = f"'manage.py {command} --drift --repair'"
    if repairable == count:
        return f"{start} Repair {'it' if count == 1 else 'them'} with {fix}."
    if repairable:
        return (
            f"{start} {repairable} of them can be repaired with {fix}; the others need the "
            "manual steps shown."
        )
    return f"{start} {'It needs' if count == 1 else 'They need'} the manual steps shown."


def repair_failure_message(
    report: DriftReport, results: Sequence[RepairResult], after: DriftReport | None
) -> str:
    """Why ``--drift --repair`` exits 1 (None ``after``: the repairs were declined)."""
    if after is None:
        return (
            f"Nothing was repaired; schema drift remains: {plural(len(report.findings), 'finding')} "
            f"on {and_list(_aliases(report.findings))}."
        )
    parts = []
    failed = [r for r in results if r.status != "done"]
    if failed:
        parts.append(
            f"{plural(len(failed), 'repair')} not made ("
            + "; ".join(f"{r.repair.alias}: {r.error}" for r in failed)
            + ")."
        )
    if after.findings:
        count = len(after.findings)
        parts.append(
            f"Schema drift left: {plural(count, 'finding')} on "
            f"{and_list(_aliases(after.findings))}; {'it needs' if count == 1 else 'they need'} "
            "the manual steps shown."
        )
    return " ".join(parts)


def finding_json(finding: DriftFinding) -> dict[str, Any]:
    return {
        "alias": finding.alias,
        "kind": finding.kind,
        "app": finding.app or None,
        "model": finding.model or None,
        "table": finding.table,
        "columns": list(finding.columns),
        "schema": finding.schema or None,
        "found_in": list(finding.found_in),
        "migration": finding.migration or None,
        "cause": finding.cause,
        "repair": finding.repair or None,
        "manual": list(finding.manual),
    }


def document(
    report: DriftReport,
    *,
    results: Sequence[RepairResult] | None = None,
    after: DriftReport | None = None,
    repairing: bool = False,
) -> dict[str, Any]:
    """The ``--drift --json`` document (``--drift --repair --json`` with ``repairing``; schema
    in README). Without results in repair mode the repairs were declined (or there were none)."""
    status = {result.repair: result for result in results or ()}

    def repair_json(repair: DriftRepair) -> dict[str, Any]:
        result = status.get(repair)
        state: str  # a repair's status, or "declined"/"planned" when it was not made
        if result is not None:
            state, error = result.status, result.error
        else:
            state, error = ("declined" if repairing else "planned"), None
        return {
            "alias": repair.alias,
            "action": repair.action,
            "migrations": list(repair.migrations),
            "tables": list(repair.tables),
            "status": state,
            "error": error,
        }

    if repairing:
        ok = (
            after is not None
            and not after.findings
            and all(result.status == "done" for result in results or ())
        ) or not report.findings
    else:
        ok = not report.findings
    plan = report.state.plan
    return {
        "version": JSON_VERSION,
        "mode": "repair" if repairing else "drift",
        "ok": ok,
        "databases": [
            {
                "alias": alias,
                "vendor": plan.alias_info(alias).vendor,
                "host": plan.alias_info(alias).host,
                "port": plan.alias_info(alias).port,
                "name": plan.alias_info(alias).name,
                "schema": report.schemas.get(alias) or None,
                "findings": sum(1 for f in report.findings if f.alias == alias),
            }
            for alias in report.aliases
        ],
        "findings": [finding_json(finding) for finding in report.findings],
        "repairs": [repair_json(repair) for repair in report.repairs],
        "remaining": None
        if after is None
        else [finding_json(finding) for finding in after.findings],
    }
