"""Pure rendering: plans, runs and status as ``Line``s (text with a style name) and JSON. Nothing
here prints, reads settings or touches a database; the commands hand the lines to their output."""

from __future__ import annotations

from migrator.render.lines import JSON_VERSION, Line, Style, table
from migrator.render.phases import held_notice
from migrator.render.plan import (
    UNPLANNED_REASONS,
    alias_json,
    created_lines,
    describe,
    plan_json,
    plan_lines,
    unplanned_code,
    unplanned_reason,
)
from migrator.render.run import (
    AliasSummary,
    document,
    problem_lines,
    progress_line,
    result_json,
    summarize,
    summary_lines,
    traceback_lines,
)
from migrator.render.status import status_lines

__all__ = [
    "JSON_VERSION",
    "UNPLANNED_REASONS",
    "AliasSummary",
    "Line",
    "Style",
    "alias_json",
    "created_lines",
    "describe",
    "document",
    "held_notice",
    "plan_json",
    "plan_lines",
    "problem_lines",
    "progress_line",
    "result_json",
    "status_lines",
    "summarize",
    "summary_lines",
    "table",
    "traceback_lines",
    "unplanned_code",
    "unplanned_reason",
]
