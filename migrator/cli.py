"""The shared body of ``migrate_all`` and ``migrator --auto``: options in, output through
``self.stdout``/``self.stderr`` and ``self.style``, ``MigratorError`` out as ``CommandError``."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import traceback
from argparse import ArgumentParser
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, NoReturn

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from migrator import api, config, django_compat, doctor, drift_cli, inspect, report
from migrator import run as run_module
from migrator.errors import MigratorError, RunError, UsageError
from migrator.report import Line
from migrator.run import run_plan
from migrator.text import redact, secrets_of
from migrator.types import PlanState, Progress, RunOptions, Selection, StepResult


@dataclass(frozen=True)
class CommandOptions:
    selection: Selection
    run: RunOptions
    create_schemas: bool
    plan_only: bool
    check: bool
    json: bool
    makemigrations: bool
    verbosity: int
    parallel: int = 1
    fail_fast: bool = False
    drift: bool = False  # --drift (with repair: --drift --repair)
    repair: bool = False
    traceback: bool = False  # Django's --traceback: also a failed step's traceback
    skip_checks: bool = False  # --skip-checks (call_command: unless skip_checks=False)

    @property
    def mode(self) -> str:
        if self.drift:
            return "repair" if self.repair else "drift"
        if self.check:
            return "check"
        return "plan" if self.plan_only else "run"


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        action="append",
        default=[],
        dest="databases",
        metavar="ALIAS",
        help="Only migrate this alias (repeatable).",
    )
    parser.add_argument(
        "--app",
        action="append",
        default=[],
        dest="apps",
        metavar="LABEL",
        help="Only migrate this app (repeatable).",
    )
    parser.add_argument(
        "--target",
        metavar="APP:MIGRATION",
        help="Migrate one app to a named migration (or APP:zero) on every alias it is routed to.",
    )
    parser.add_argument(
        "--plan", action="store_true", dest="plan_only", help="Show the plan; change nothing."
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="Change nothing; exit 1 if any migration is pending on a planned alias.",
    )
    parser.add_argument(
        "--json", action="store_true", help="Print only JSON on stdout (schema in the README)."
    )
    parser.add_argument(
        "--fake", action="store_true", help="Record migrations as run without running them."
    )
    parser.add_argument(
        "--fake-initial",
        action="store_true",
        help="Fake initial migrations whose tables already exist (as migrate --fake-initial).",
    )
    parser.add_argument(
        "--noinput",
        "--no-input",
        action="store_false",
        dest="interactive",
        help="Never prompt (Django's post-migrate questions are answered with the safe default).",
    )
    parser.add_argument(
        "--makemigrations",
        action="store_true",
        help="Run makemigrations before planning (writes migration files; off by default).",
    )
    parser.add_argument(
        "--skip-makemigrations",
        action="store_true",
        help="Do not run makemigrations (the default; accepted for scripts written for other tools).",
    )
    parser.add_argument(
        "--create-schemas",
        action="store_true",
        help="Create missing PostgreSQL schemas, MySQL/MariaDB databases and SQLite folders "
        "(with --plan: only show what would be created).",
    )
    parser.add_argument(
        "--lock-timeout",
        metavar="SECONDS",
        help="Wait at most this long for another run's lock on an alias (default: "
        "MIGRATOR['LOCK_TIMEOUT'], 60).",
    )
    parser.add_argument(
        "--parallel",
        metavar="N",
        help="Run up to N independent steps of a level at once in worker processes "
        "(auto: the CPU count; default 1).",
    )
    parser.add_argument(
        "--fail-fast",
        action="store_true",
        help="After a failure start no further step (by default independent steps go on).",
    )
    parser.add_argument(
        "--force-migrate",
        action="store_true",
        help="Hand aliases with nothing pending to Django's migrate too (runs post_migrate signals).",
    )


def command_options(options: dict[str, Any]) -> CommandOptions:
    target = api.parse_target(options["target"]) if options.get("target") else None
    opts = CommandOptions(
        selection=Selection(
            databases=tuple(dict.fromkeys(options.get("databases") or ())),
            apps=tuple(dict.fromkeys(options.get("apps") or ())),
            target=target,
        ),
        run=RunOptions(
            fake=bool(options.get("fake")),
            fake_initial=bool(options.get("fake_initial")),
            interactive=bool(options.get("interactive", True)),
            force_migrate=bool(options.get("force_migrate")),
            lock_timeout=_lock_timeout(options.get("lock_timeout")),
        ),
        create_schemas=bool(options.get("create_schemas")),
        plan_only=bool(options.get("plan_only")),
        check=bool(options.get("check")),
        json=bool(options.get("json")),
        makemigrations=bool(options.get("makemigrations")),
        verbosity=int(options.get("verbosity", 1)),
        parallel=_parallel(options.get("parallel")),
        fail_fast=bool(options.get("fail_fast")),
        drift=bool(options.get("drift")),
        repair=bool(options.get("repair")),
        traceback=bool(options.get("traceback")),
        skip_checks=bool(options.get("skip_checks")),
    )
    _refuse_conflicts(opts, bool(options.get("skip_makemigrations")))
    return opts


def _parallel(value: object) -> int:
    """``--parallel N`` or ``auto`` (the CPU count; capped at the number of aliases later)."""
    if value is None:
        return 1
    if str(value) == "auto":
        return max(1, os.cpu_count() or 1)
    try:
        workers = int(str(value))
    except ValueError:
        workers = 0
    if workers < 1:
        raise UsageError(f"--parallel {value!r}: expected a number of workers, 1 or more, or auto.")
    return workers


def _lock_timeout(value: object) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(str(value))
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise UsageError(
            f"--lock-timeout {value!r}: expected a number of seconds, 0 or more "
            "(e.g. --lock-timeout 60)."
        )
    problem = config.too_long(seconds)
    if problem:
        raise UsageError(f"--lock-timeout {value!r}: {problem}; use e.g. --lock-timeout 3600.")
    return seconds


def _refuse_conflicts(opts: CommandOptions, skip_makemigrations: bool) -> None:
    if opts.makemigrations and skip_makemigrations:
        raise UsageError(
            "--makemigrations and --skip-makemigrations contradict each other; pick one."
        )
    if opts.plan_only or opts.check:
        flag = "--check" if opts.check else "--plan"
        for name, given in (
            ("--fake", opts.run.fake),
            ("--fake-initial", opts.run.fake_initial),
            ("--makemigrations", opts.makemigrations),
            ("--force-migrate", opts.run.force_migrate),
        ):
            if given:
                raise UsageError(
                    f"{flag} changes nothing, so {name} makes no sense with it; drop one of them."
                )
    if opts.run.fake and opts.run.fake_initial:
        raise UsageError("--fake and --fake-initial contradict each other; pick one.")
    target = opts.selection.target
    if target and opts.selection.apps and opts.selection.apps != (target[0],):
        raise UsageError(
            f"--target {target[0]}:{target[1]} migrates only {target[0]!r}; drop --app "
            f"{' --app '.join(a for a in opts.selection.apps if a != target[0])}."
        )


class ScrubbedCause(Exception):
    """What caused a command's failure, as its formatted traceback with passwords scrubbed; the
    original exception is not chained (its message may hold a password)."""


class OrchestrateCommand(BaseCommand):
    """Base of ``migrate_all`` and ``migrator``: plan, show, check or run."""

    help = "Migrate every database alias the routers send migrations to, in dependency order."
    requires_system_checks = ()  # handle() runs them, see migrator.doctor.run_checks

    def add_arguments(self, parser: ArgumentParser) -> None:
        add_arguments(parser)
        doctor.add_arguments(parser)
        drift_cli.add_arguments(parser)

    # -- output -----------------------------------------------------------------------------
    def _styled(self, line: Line) -> str:
        text = self._redact(line.text)
        styles = {
            "heading": self.style.MIGRATE_HEADING,
            "success": self.style.SUCCESS,
            "warning": self.style.WARNING,
            "error": self.style.ERROR,
            "notice": self.style.NOTICE,
        }
        return styles[line.style](text) if line.style in styles else text

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def emit(self, lines: list[Line] | Line | None, minimum_verbosity: int = 1) -> None:
        if lines is None or self._opts.json or self._opts.verbosity < minimum_verbosity:
            return
        for line in [lines] if isinstance(lines, Line) else lines:
            self.stdout.write(self._styled(line))

    def write_json(self, document: dict[str, Any]) -> None:
        """The one JSON document of this command (passwords scrubbed like everything else)."""
        self.stdout.write(self._redact(json.dumps(document, indent=2)))
        self._json_written = True

    def _fail(self, error: MigratorError) -> NoReturn:
        message = self._redact(str(error))
        if self._opts.json and not self._json_written:
            document = {
                "version": report.JSON_VERSION,
                "mode": self._opts.mode,
                "ok": False,
                "error": {"message": message, "exit_code": error.exit_code},
                "plan": None,
                "results": None,
            }
            self.write_json(document)
        # --traceback prints the chain of causes: the real cause, as text scrubbed of passwords.
        cause = ScrubbedCause(self._redact("".join(traceback.format_exception(error)).rstrip()))
        raise CommandError(message, returncode=error.exit_code) from cause

    # -- flow -------------------------------------------------------------------------------
    def handle(self, *args: Any, **options: Any) -> None:
        # Each password as written, URL-encoded, repr()- and JSON-escaped.
        self._secrets = secrets_of(inspect.passwords())
        self._json_written = False
        # Until the options are validated, errors are rendered with these (JSON or not).
        self._opts = CommandOptions(
            selection=Selection(),
            run=RunOptions(),
            create_schemas=False,
            plan_only=False,
            check=False,
            json=bool(options.get("json")),
            makemigrations=False,
            verbosity=int(options.get("verbosity", 1)),
        )
        try:
            django_compat.refuse_untested_django()  # before anything else, in every mode
            self._opts = command_options(options)
            if drift_cli.run_instead(self, options):  # --drift, --drift --repair
                return
            if doctor.run_instead(self, options):  # --doctor, --graph
                return
            doctor.run_checks(self, options)
            self.orchestrate(self._opts)
        except MigratorError as error:
            self._fail(error)

    def orchestrate(self, opts: CommandOptions) -> None:
        if opts.makemigrations:
            call_command(
                "makemigrations",
                interactive=False,
                verbosity=opts.verbosity,
                stdout=self.stderr if opts.json else self.stdout,
            )
        dry_run = opts.plan_only or opts.check
        prepared = api.prepare(
            opts.selection,
            create_schemas=opts.create_schemas,
            dry_run=dry_run,
            # --plan shows the order, so it loads the graph; a run or --check needs no order
            # when everything is up to date.
            fast=not opts.plan_only and not opts.run.force_migrate,
        )
        state = prepared.state
        self.emit(report.created_lines(prepared.missing, dry_run=dry_run))
        if dry_run:
            self.emit(report.plan_lines(state, opts.verbosity))
            pending = state.todo_count
            if opts.json:
                ok = not (opts.check and pending)
                self.write_json(report.document(state, None, mode=opts.mode, ok=ok))
            if opts.check and pending:
                aliases = sorted({s.step.alias for s in state.states if s.has_work})
                only = (
                    f" ({state.recorded_count} of them only to record: they execute nothing "
                    "there, but Django's migrate --check counts them)"
                    if state.recorded_count
                    else ""
                )
                raise RunError(
                    f"{pending} migration{'s' if pending != 1 else ''} pending on "
                    f"{', '.join(aliases)}{only}. Run 'manage.py migrate_all' to apply them."
                )
            return
        if not opts.skip_checks:  # the database checks, now that preflight has passed
            aliases = doctor.migrated_aliases(state, force_migrate=opts.run.force_migrate)
            doctor.database_checks(self, aliases)
        plan_lines = report.plan_lines(state, opts.verbosity)
        self.emit(plan_lines[:1])  # the one-line overview; the whole plan with -v 2
        self.emit(plan_lines[1:], minimum_verbosity=2)
        with StopOnSignal(notify=lambda name: say_stopping(self, name)) as stop:
            options = replace(
                api.resolve_options(opts.run, prepared.settings), should_stop=stop.requested
            )
            results = run_plan(
                state,
                options,
                self._progress,
                parallel=opts.parallel,
                fail_fast=opts.fail_fast,
                loader=prepared.loader,
            )
        self.emit(report.summary_lines(state, results))
        ok = all(r.status in ("applied", "up-to-date") for r in results)
        if opts.json:
            self.write_json(report.document(state, results, mode="run", ok=ok))
        if stop.signal:
            applied = sum(len(r.applied) for r in results)
            raise RunError(
                f"Interrupted by {stop.signal}: {applied} migration{'s' if applied != 1 else ''} "
                "applied, the current one finished or rolled back, locks released. Run again to "
                "continue.",
                exit_code=128 + stop.number,
            )
        if not ok:
            raise RunError(_failure_message(results))

    def _progress(self, progress: Progress) -> None:
        prefix = self._opts.parallel > 1
        self.emit(report.progress_line(progress, prefix=prefix))
        result = progress.result
        if result is not None and result.traceback:
            # Django's migrate shows the failing migration's frames with --traceback; so do we,
            # and at -v 3, scrubbed of passwords.
            wanted = 1 if self._opts.traceback else 3
            self.emit(report.traceback_lines(result, prefix=prefix), minimum_verbosity=wanted)


def _failure_message(results: tuple[StepResult, ...]) -> str:
    failed = [r for r in results if r.status == "failed"]
    skipped = sum(1 for r in results if r.status == "skipped")
    what = "; ".join(report.problem_lines(failed))
    return (
        f"{what}. {skipped} dependent step{'s' if skipped != 1 else ''} skipped. Fix the cause "
        "and run again; steps that completed are not repeated."
    )


def say_stopping(command: BaseCommand, name: str) -> None:
    """Said on stderr when the first SIGINT/SIGTERM arrives (from the signal handler: a write it
    interrupts may refuse a second one, which is then left out)."""
    what = "Ctrl-C" if name == "SIGINT" else name
    message = f"{what}: stopping after the current migration."
    if name == "SIGINT":
        message += " Ctrl-C again stops at once."
    with contextlib.suppress(Exception):
        command.stderr.write(message, style_func=command.style.WARNING)


class StopOnSignal:
    """While active, SIGINT and SIGTERM ask the run to stop between two migrations; a second
    SIGINT interrupts at once (the running migration rolls back where the database can)."""

    def __init__(self, notify: Callable[[str], None] | None = None) -> None:
        self.signal: str | None = None
        self.number = 0
        self._previous: dict[int, Any] = {}
        self._notify = notify  # told the signal's name on the first one (the menu says so)

    def requested(self) -> str | None:
        return self.signal

    def _handle(self, number: int, frame: object) -> None:
        # --parallel workers are told from here (run.tell_workers): a second SIGINT cuts their
        # migrations short, and this process, which runs none, goes on to collect their results.
        again = self.signal is not None and number == signal.SIGINT
        if again:
            run_module.tell_workers("now")
            if not run_module.WORKERS:
                raise KeyboardInterrupt
        if self.signal is None:
            run_module.tell_workers(signal.Signals(number).name)
            self.signal, self.number = signal.Signals(number).name, number
            if self._notify is not None:
                self._notify(self.signal)

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


__all__ = ["CommandOptions", "OrchestrateCommand", "PlanState", "add_arguments", "command_options"]
