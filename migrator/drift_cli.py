"""``--drift`` and ``--drift --repair`` for ``migrate_all`` and ``migrator``: options in, output
through the command's ``emit``/``write_json``, drift as exit 1.

``--database`` and ``--app`` narrow the check as they narrow a run's plan; options of a run that
would migrate or fake something are refused. ``--repair`` asks before it writes (default No)
unless ``--noinput``; without a terminal to ask on it refuses (exit 2) before anything is read.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import TYPE_CHECKING, Any

from migrator import drift, drift_report
from migrator.doctor import RUN_ONLY, command_name
from migrator.errors import RunError, UsageError
from migrator.report import Line

if TYPE_CHECKING:
    from migrator.cli import OrchestrateCommand

# Options of a run that --drift does not use: (dest, flag). --database and --app narrow it;
# --lock-timeout goes with --repair (checked below).
_RUN_ONLY = tuple(
    option for option in RUN_ONLY if option[0] not in ("databases", "apps", "lock_timeout")
)


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument(
        "--drift",
        action="store_true",
        help="Compare every planned alias's tables with the migrations recorded there (missing "
        "tables or columns, tables in the wrong schema, unrecorded tables); change nothing; "
        "exit 1 on drift.",
    )
    parser.add_argument(
        "--repair",
        action="store_true",
        help="With --drift: make the repairs that cannot lose data (only django_migrations rows "
        "change), after asking unless --noinput.",
    )


def run_instead(command: OrchestrateCommand, options: dict[str, Any]) -> bool:
    """Run ``--drift`` (``--repair``) when asked; True when that was the whole command."""
    if options.get("repair") and not options.get("drift"):
        raise UsageError(
            "--repair repairs what --drift finds; run 'manage.py "
            f"{command_name(command)} --drift --repair'."
        )
    if not options.get("drift"):
        return False
    _refuse_conflicts(options)
    repair = bool(options.get("repair"))
    interactive = bool(options.get("interactive", True))
    if repair and interactive and not _can_ask():
        raise UsageError(
            "--drift --repair asks before it changes django_migrations, and there is no "
            "terminal to ask on: pass --noinput to make the repairs without asking."
        )
    show(command, repair=repair, interactive=interactive)
    return True


def _refuse_conflicts(options: dict[str, Any]) -> None:
    for other in ("doctor", "graph"):
        if options.get(other):
            raise UsageError(
                f"--drift and --{other} print different reports; run them one at a time."
            )
    for dest, flag in _RUN_ONLY:
        if options.get(dest):
            raise UsageError(
                f"--drift compares the databases with their recorded migrations and migrates "
                f"nothing, so {flag} makes no sense with it; drop one of them."
            )
    if options.get("lock_timeout") is not None and not options.get("repair"):
        raise UsageError(
            "--lock-timeout is for --drift --repair (each repair waits for the alias's lock); "
            "--drift alone reads without locking. Drop it or add --repair."
        )


def _can_ask() -> bool:
    from migrator.cli import stdin_is_terminal

    return stdin_is_terminal()


def ask(command: OrchestrateCommand, question: str) -> bool:
    """Yes or no on the terminal; anything but y/yes (or end of input) is No. The question goes
    to stderr with --json, so stdout holds only the JSON document."""
    out = command.stderr if command._opts.json else command.stdout
    out.write(question, ending="")
    out.flush()
    try:
        answer = input()
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("y", "yes")


def show(command: OrchestrateCommand, *, repair: bool, interactive: bool) -> None:
    opts = command._opts
    name = command_name(command)
    report = drift.detect(opts.selection, command=name)
    command.emit(drift_report.finding_lines(report, name, repairing=repair))
    if not repair:
        if opts.json:
            command.write_json(drift_report.document(report))
        if report.findings:
            raise RunError(drift_report.failure_message(report, name))
        return
    command.emit(drift_report.repair_plan_lines(report, name))
    if not report.repairs:
        if opts.json:
            command.write_json(drift_report.document(report, repairing=True))
        if report.findings:
            raise RunError(drift_report.failure_message(report, name))
        return
    if interactive and not ask(command, drift_report.question(report) + " [y/N] "):
        command.emit(Line("Nothing was changed.", "warning"))
        if opts.json:
            command.write_json(drift_report.document(report, repairing=True))
        raise RunError(drift_report.repair_failure_message(report, (), None))
    results = drift.repair(report, lock_timeout=opts.run.lock_timeout, command=name)
    command.emit(drift_report.result_lines(results))
    after = drift.detect(opts.selection, command=name)
    command.emit(drift_report.after_lines(after, results, name))
    if opts.json:
        command.write_json(
            drift_report.document(report, results=results, after=after, repairing=True)
        )
    if after.findings or any(result.status != "done" for result in results):
        raise RunError(drift_report.repair_failure_message(report, results, after))
