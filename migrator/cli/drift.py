"""``--drift`` and ``--drift --repair`` for ``migrate_all`` and ``migrator``: options in, output
through the command's ``Output``, drift as exit 1.

``--database`` and ``--app`` narrow the check as they narrow a run's plan; options of a run that
would migrate or fake something are refused. ``--repair`` asks before it writes (default No)
unless ``--noinput``; without a terminal to ask on it refuses (exit 2) before anything is read.
"""

from __future__ import annotations

from collections.abc import Callable

from migrator import drift
from migrator.cli import output as output_module
from migrator.cli.options import CommandOptions
from migrator.cli.output import Output
from migrator.drift import render as drift_render
from migrator.exceptions import RunError, UsageError
from migrator.render import Line
from migrator.types import DriftReport, RepairResult


def run_instead(output: Output, opts: CommandOptions) -> bool:
    """Run ``--drift`` (``--repair``) when asked; True when that was the whole command."""
    if not opts.drift:
        return False
    interactive = opts.run.interactive
    if opts.repair and interactive and not output_module.stdin_is_terminal():
        raise UsageError(
            "--drift --repair asks before it changes django_migrations, and there is no "
            "terminal to ask on: pass --noinput to make the repairs without asking."
        )
    show(output, opts, repair=opts.repair, interactive=interactive)
    return True


def show(output: Output, opts: CommandOptions, *, repair: bool, interactive: bool) -> None:
    name = output.name
    report = drift.detect(opts.selection, command=name)
    output.emit(drift_render.finding_lines(report, name, repairing=repair))
    if not repair:
        if opts.json:
            output.write_json(drift_render.document(report))
        if report.findings:
            raise RunError(drift_render.failure_message(report, name))
        return
    output.emit(drift_render.repair_plan_lines(report, name))
    if not report.repairs:
        if opts.json:
            output.write_json(drift_render.document(report, repairing=True))
        if report.findings:
            raise RunError(drift_render.failure_message(report, name))
        return
    if interactive and not output.ask(drift_render.question(report) + " [y/N] "):
        output.emit(Line("Nothing was changed.", "warning"))
        if opts.json:
            output.write_json(drift_render.document(report, repairing=True))
        raise RunError(drift_render.repair_failure_message(report, (), None))
    results, after = repair_and_check_again(report, opts, name, output.emit)
    if opts.json:
        output.write_json(
            drift_render.document(report, results=results, after=after, repairing=True)
        )
    if after.findings or any(result.status != "done" for result in results):
        raise RunError(drift_render.repair_failure_message(report, results, after))


def repair_and_check_again(
    report: DriftReport, opts: CommandOptions, name: str, show: Callable[[list[Line]], None]
) -> tuple[tuple[RepairResult, ...], DriftReport]:
    """Make the report's repairs, then check again: what ``--drift --repair`` and the menu do
    once the repairs are confirmed."""
    results = drift.repair(report, lock_timeout=opts.run.lock_timeout, command=name)
    show(drift_render.result_lines(results))
    after = drift.detect(opts.selection, command=name)
    show(drift_render.after_lines(after, results, name))
    return results, after
