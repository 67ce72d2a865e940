"""The shared body of ``migrate_all`` and ``migrator --auto``: options in, output through
``self.stdout``/``self.stderr`` and ``self.style``, ``MigratorError`` out as ``CommandError``."""

from __future__ import annotations

import json
import sys
from argparse import ArgumentParser
from dataclasses import dataclass
from typing import Any, NoReturn

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from migrator import api, doctor, inspect, report
from migrator.errors import MigratorError, RunError, UsageError
from migrator.report import Line
from migrator.run import run_plan
from migrator.types import PlanState, Progress, RunOptions, Selection, StepResult


@dataclass(frozen=True)
class CommandOptions:
    selection: Selection
    run: RunOptions
    plan_only: bool
    check: bool
    json: bool
    makemigrations: bool
    verbosity: int

    @property
    def mode(self) -> str:
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
        ),
        plan_only=bool(options.get("plan_only")),
        check=bool(options.get("check")),
        json=bool(options.get("json")),
        makemigrations=bool(options.get("makemigrations")),
        verbosity=int(options.get("verbosity", 1)),
    )
    _refuse_conflicts(opts, bool(options.get("skip_makemigrations")))
    return opts


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


class OrchestrateCommand(BaseCommand):
    """Base of ``migrate_all`` and ``migrator``: plan, show, check or run."""

    help = "Migrate every database alias the routers send migrations to, in dependency order."
    requires_system_checks = ()  # handle() runs them, see migrator.doctor.run_checks

    def add_arguments(self, parser: ArgumentParser) -> None:
        add_arguments(parser)
        doctor.add_arguments(parser)

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
        for secret in self._secrets:
            text = text.replace(secret, "********")
        return text

    def emit(self, lines: list[Line] | Line | None, minimum_verbosity: int = 1) -> None:
        if lines is None or self._opts.json or self._opts.verbosity < minimum_verbosity:
            return
        for line in [lines] if isinstance(lines, Line) else lines:
            self.stdout.write(self._styled(line))

    def _fail(self, error: MigratorError) -> NoReturn:
        message = self._redact(str(error))
        if self._opts.json:
            document = {
                "version": report.JSON_VERSION,
                "mode": self._opts.mode,
                "ok": False,
                "error": {"message": message, "exit_code": error.exit_code},
                "plan": None,
                "results": None,
            }
            self.stdout.write(json.dumps(document, indent=2))
        raise CommandError(message, returncode=error.exit_code)

    # -- flow -------------------------------------------------------------------------------
    def handle(self, *args: Any, **options: Any) -> None:
        self._secrets = tuple(sorted(inspect.passwords(), key=len, reverse=True))
        self._opts = CommandOptions(
            Selection(),
            RunOptions(),
            False,
            False,
            bool(options.get("json")),
            False,
            int(options.get("verbosity", 1)),
        )
        try:
            self._opts = command_options(options)
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
        plan, loader = api.make_plan(opts.selection)
        state = api.read_state(plan, loader)
        if opts.plan_only or opts.check:
            self.emit(report.plan_lines(state, opts.verbosity))
            pending = state.pending_count
            if opts.json:
                ok = not (opts.check and pending)
                self.stdout.write(
                    json.dumps(report.document(state, None, mode=opts.mode, ok=ok), indent=2)
                )
            if opts.check and pending:
                aliases = sorted({s.step.alias for s in state.states if s.pending})
                raise RunError(
                    f"{pending} migration{'s' if pending != 1 else ''} pending on "
                    f"{', '.join(aliases)}. Run 'manage.py migrate_all' to apply them."
                )
            return
        plan_lines = report.plan_lines(state, opts.verbosity)
        self.emit(plan_lines[:1])  # the one-line overview; the whole plan with -v 2
        self.emit(plan_lines[1:], minimum_verbosity=2)
        results = run_plan(state, opts.run, self._progress)
        self.emit(report.summary_lines(state, results))
        ok = all(r.status in ("applied", "up-to-date") for r in results)
        if opts.json:
            self.stdout.write(
                json.dumps(report.document(state, results, mode="run", ok=ok), indent=2)
            )
        if not ok:
            raise RunError(_failure_message(results))

    def _progress(self, progress: Progress) -> None:
        self.emit(report.progress_line(progress))


def _failure_message(results: tuple[StepResult, ...]) -> str:
    failed = next(r for r in results if r.status == "failed")
    skipped = sum(1 for r in results if r.status == "not-run")
    return (
        f"Migrating {failed.step.alias} ({', '.join(failed.step.apps)}) failed: {failed.error}. "
        f"{skipped} later step{'s' if skipped != 1 else ''} not run. Fix the cause and run again; "
        "steps that completed are not repeated."
    )


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


__all__ = ["CommandOptions", "OrchestrateCommand", "PlanState", "add_arguments", "command_options"]
