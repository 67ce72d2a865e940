"""The shared body of ``migrate_all`` and ``migrator --auto``: options in, output through
``self.stdout``/``self.stderr`` and ``self.style``, ``MigratorError`` out as ``CommandError``."""

from __future__ import annotations

import signal
import threading
import traceback
from argparse import ArgumentParser
from collections.abc import Callable
from dataclasses import replace
from typing import Any, NoReturn

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from migrator import api, django_compat, render
from migrator.cli import doctor as doctor_cli
from migrator.cli import drift as drift_cli
from migrator.cli import risk as risk_cli
from migrator.cli.options import CommandOptions, add_arguments, command_options, refuse_conflicts
from migrator.cli.output import Output
from migrator.doctor import system_checks
from migrator.exceptions import MigratorError, RunError, ScrubbedCause, UsageError
from migrator.execution import journal
from migrator.execution import signals as worker_signals
from migrator.execution.schedule import check_executor
from migrator.execution.step import ProgressCallback
from migrator.planning.plan import without_aliases
from migrator.project import phases as project_phases
from migrator.project.databases import passwords
from migrator.project.targets import load_targets
from migrator.render import Line
from migrator.risk import gate as risk_gate
from migrator.risk import render as risk_render
from migrator.text import plural, secrets_of
from migrator.types import Phase, PlanState, Progress, RunOptions, Selection, StepResult


class OrchestrateCommand(BaseCommand):
    """Base of ``migrate_all`` and ``migrator``: plan, show, check or run."""

    help = "Migrate every database alias the routers send migrations to, in dependency order."
    requires_system_checks = ()  # handle() runs them: migrator.cli.doctor.run_checks

    def add_arguments(self, parser: ArgumentParser) -> None:
        add_arguments(parser)

    @property
    def name(self) -> str:
        """``migrate_all`` or ``migrator``: the command the texts tell people to run."""
        return type(self).__module__.rpartition(".")[2]

    def emit(self, lines: list[Line] | Line | None, minimum_verbosity: int = 1) -> None:
        self.output.emit(lines, minimum_verbosity)

    def write_json(self, document: dict[str, Any]) -> None:
        self.output.write_json(document)

    def _fail(self, error: MigratorError) -> NoReturn:
        message = self.output.redact(str(error))
        if self._opts.json and not self.output.json_written:
            document = {
                "version": render.JSON_VERSION,
                "mode": self._opts.mode,
                "ok": False,
                "error": {"message": message, "exit_code": error.exit_code},
                "run_id": None,
                "plan": None,
                "results": None,
            }
            self.write_json(document)
        # --traceback prints the chain of causes: the real cause, as text scrubbed of passwords.
        cause = ScrubbedCause(
            self.output.redact("".join(traceback.format_exception(error)).rstrip())
        )
        raise CommandError(message, returncode=error.exit_code) from cause

    # -- flow -------------------------------------------------------------------------------
    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = int(options.get("verbosity", 1))
        # Each password as written, URL-encoded, repr()- and JSON-escaped.
        self.output = Output(
            self.stdout,
            self.stderr,
            self.style,
            secrets_of(passwords()),
            name=self.name,
            json_only=bool(options.get("json")),
            verbosity=verbosity,
        )
        # Until the options are validated, errors are rendered with these (JSON or not).
        self._opts = CommandOptions(
            selection=Selection(),
            run=RunOptions(),
            create_schemas=False,
            plan_only=False,
            check=False,
            json=bool(options.get("json")),
            makemigrations=False,
            verbosity=verbosity,
        )
        try:
            django_compat.refuse_untested_django()  # before anything else, in every mode
            load_targets()  # MIGRATOR["DATABASES"] and ["DIRECT"]: their passwords are
            self.output.secrets = secrets_of(passwords())  # scrubbed too
            refuse_conflicts(options, self.name)
            self._opts = command_options(options)
            if self._opts.mode == "run":
                check_executor(self._opts.executor)  # --executor celery: before any database
            if drift_cli.run_instead(self.output, self._opts):  # --drift, --drift --repair
                return
            if doctor_cli.run_instead(self.output, options):  # --doctor, --graph
                return
            # The routing doctor's findings are found once for the checks before the run and
            # those on its databases after preflight.
            with system_checks.checked_by_a_run():
                doctor_cli.run_checks(self.output, self.check, options)
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
        dry_run = opts.plan_only or opts.check or opts.risk
        if opts.resume:
            resumed = self._resume(opts)
            if resumed is None:
                return
            prepared, recorder, opts = resumed
        else:
            # --phase pre --fake with django-safemigrate: refused before anything is touched.
            project_phases.refuse_faking(
                opts.selection.phase, fake=opts.run.fake, fake_initial=opts.run.fake_initial
            )
            prepared = api.prepare(
                opts.selection,
                create_schemas=opts.create_schemas,
                dry_run=dry_run,
                # --plan shows the order, so it loads the graph; a run or --check needs no order
                # when everything is up to date.
                fast=not opts.plan_only and not opts.risk and not opts.run.force_migrate,
                shard=opts.shard,
                gate=None if dry_run else risk_gate.Gate(opts.run, self.name),
            )
            recorder = journal.RunRecorder(
                self.name, journal.store_for(prepared.settings.journal), self.output.secrets
            )
        state = prepared.state
        self.emit(render.created_lines(prepared.missing, dry_run=dry_run))
        if opts.risk:
            self.emit(render.plan_lines(state, opts.verbosity), minimum_verbosity=2)
            risk_cli.show(self.output, opts, prepared)
            return
        if dry_run:
            self.emit(render.plan_lines(state, opts.verbosity))
            pending = state.todo_count
            report = risk_cli.plan_review(prepared, opts.verbosity) if opts.plan_only else None
            if report is not None:
                self.emit(risk_render.risk_lines(report, opts.verbosity))
            if opts.json:
                ok = not (opts.check and pending)
                document = render.document(state, None, mode=opts.mode, ok=ok)
                if report is not None:
                    document["risk"] = risk_render.risk_json(report)
                self.write_json(document)
            if opts.check and pending:
                aliases = sorted({s.step.alias for s in state.states if s.has_work})
                only = (
                    f" ({state.recorded_count} of them only to record: they execute nothing "
                    "there, but Django's migrate --check counts them)"
                    if state.recorded_count
                    else ""
                )
                phase = f" --phase {state.phase}" if state.phase else ""
                raise RunError(
                    f"{plural(pending, 'migration')} pending on "
                    f"{', '.join(aliases)}{only}. Run 'manage.py migrate_all{phase}' to apply "
                    "them."
                )
            return
        check_databases(self.output, opts, state)
        plan_lines = render.plan_lines(state, opts.verbosity)
        self.emit(plan_lines[:1])  # the one-line overview; the whole plan with -v 2
        self.emit(plan_lines[1:], minimum_verbosity=2)
        where = recorder.store.where if recorder.store else "off"
        self.emit(Line(f"Run {recorder.run_id} (journal: {where})"), minimum_verbosity=2)
        results, stop = run_prepared(self.output, opts, prepared, self._progress, recorder)
        ok = all(r.status in ("applied", "up-to-date") for r in results)
        if not ok and recorder.store is not None:
            self.emit(
                Line(
                    f"Run {recorder.run_id} did not finish; 'manage.py {self.name} --resume' "
                    "continues it.",
                    "notice",
                )
            )
        self.emit(render.summary_lines(state, results))
        self.emit(render.held_notice(state))  # --phase pre: what waits for --phase post
        if opts.json:
            self.write_json(
                render.document(state, results, mode="run", ok=ok, run_id=recorder.run_id)
            )
        if stop.signal:
            applied = sum(len(r.applied) for r in results if not r.earlier)
            raise RunError(
                f"Interrupted by {stop.signal}: {plural(applied, 'migration')} "
                "applied, the current one finished or rolled back, locks released. Run again to "
                "continue.",
                exit_code=128 + stop.number,
            )
        if not ok:
            raise RunError(_failure_message(results))

    def _resume(
        self, opts: CommandOptions
    ) -> tuple[api.Prepared, journal.RunRecorder, CommandOptions] | None:
        """--resume: the recorded run's plan made again, refused when it changed; the aliases
        whose steps all finished are left out (never connected to). None: nothing to resume."""
        settings = api.load_settings()
        store = journal.store_for(settings.journal)
        if store is None:
            raise UsageError(
                "--resume reads the run journal, which MIGRATOR['JOURNAL'] = None turns off; "
                f"run 'manage.py {self.name}' without --resume (it does only what is pending)."
            )
        run = journal.find_run(store, opts.resume_id, self.name)
        if run.finished_ok or not run.plan.get("ordered", True):
            # A run on the no-op fast path (no order computed) found everything up to date.
            what = "finished: every step is done" if run.finished_ok else "found nothing pending"
            self.emit(Line(f"Run {run.run_id} {what}; nothing to resume.", "success"))
            if opts.json:
                document = render.document(None, None, mode="run", ok=True, run_id=run.run_id)
                self.write_json(document)
            return None
        recorded = run.plan["selection"]
        if recorded.get("shard"):
            raise UsageError(
                f"--resume {run.run_id}: that run was shard {recorded['shard']}, which --resume "
                f"does not continue; run 'manage.py {self.name} --shard {recorded['shard']}' "
                "again: it does only what is pending."
            )
        selection = Selection(
            databases=tuple(recorded["databases"]),
            apps=tuple(recorded["apps"]),
            target=tuple(recorded["target"]) if recorded["target"] else None,
            phase=_recorded_phase(recorded.get("phase")),
        )
        options = run.plan["options"]
        for key, flag in (
            ("fake", "--fake"),
            ("fake_initial", "--fake-initial"),
            ("force_migrate", "--force-migrate"),
        ):
            if getattr(opts.run, key) and not options[key]:
                raise UsageError(
                    f"--resume {run.run_id}: that run was started without {flag}, and --resume "
                    f"keeps a run's own options; drop {flag}, or run without --resume."
                )
        opts = replace(
            opts,
            selection=selection,
            run=replace(
                opts.run,
                fake=bool(options["fake"]),
                fake_initial=bool(options["fake_initial"]),
                force_migrate=bool(options["force_migrate"]),
            ),
        )
        plan, loader = api.make_plan(selection)
        names = api.migration_names(loader)
        steps = journal.plan_steps(plan, names)
        everywhere = journal.everywhere(plan, names)
        if journal.plan_hash(steps, everywhere) != run.plan["hash"]:
            before = run.plan.get("everywhere", [])
            changes = journal.plan_changes(run.plan["steps"], steps, before, everywhere)
            raise UsageError(
                f"--resume {run.run_id}: the plan changed since the run was recorded: "
                f"{'; '.join(changes) or 'the steps differ'}. Run 'manage.py {self.name}' "
                "without --resume: it does only what is pending."
            )
        done = run.done_aliases(plan.steps)
        prepared = api.prepare(
            selection,
            create_schemas=opts.create_schemas,
            planned=(without_aliases(plan, done), loader),
            gate=risk_gate.Gate(opts.run, self.name),
        )
        recorder = journal.resumed(
            journal.RunRecorder(self.name, store, self.output.secrets), run, plan, done
        )
        self.emit(
            Line(
                f"Resuming run {run.run_id} (attempt {recorder.attempt}): "
                f"{plural(len(done), 'database')} done earlier, not connected to.",
                "notice",
            )
        )
        return prepared, recorder, opts

    def _progress(self, progress: Progress) -> None:
        prefix = self._opts.parallel > 1 or self._opts.executor == "celery"
        self.emit(render.progress_line(progress, prefix=prefix))
        result = progress.result
        if result is not None and result.traceback:
            # Django's migrate shows the failing migration's frames with --traceback; so do we,
            # and at -v 3, scrubbed of passwords.
            wanted = 1 if self._opts.traceback else 3
            self.emit(render.traceback_lines(result, prefix=prefix), minimum_verbosity=wanted)


def _recorded_phase(value: object) -> Phase | None:
    """The --phase a journal's run was started with (None: none, or a journal from before)."""
    return "pre" if value == "pre" else "post" if value == "post" else None


def _failure_message(results: tuple[StepResult, ...]) -> str:
    failed = [r for r in results if r.status == "failed"]
    skipped = sum(1 for r in results if r.status == "skipped")
    what = "; ".join(render.problem_lines(failed))
    canary = next((r for r in failed if r.canary), None)
    if canary is not None:  # --canary: nothing else started
        return (
            f"Canary {canary.step.alias} failed: {what}. {plural(skipped, 'other step')} not "
            "started. Fix the cause and run again; steps that completed are not repeated."
        )
    return (
        f"{what}. {plural(skipped, 'dependent step')} skipped. Fix the cause "
        "and run again; steps that completed are not repeated."
    )


def check_databases(output: Output, opts: CommandOptions, state: PlanState) -> None:
    """Before a run's first migration, once preflight has passed (unless --skip-checks): Django's
    system checks on the databases it migrates."""
    if not opts.skip_checks:
        aliases = doctor_cli.migrated_aliases(state, force_migrate=opts.run.force_migrate)
        doctor_cli.database_checks(output, aliases)


def run_prepared(
    output: Output,
    opts: CommandOptions,
    prepared: api.Prepared,
    progress: ProgressCallback,
    recorder: journal.RunRecorder | None = None,
) -> tuple[tuple[StepResult, ...], StopOnSignal]:
    """Run a prepared plan as ``migrate_all`` and the menu run it (after ``check_databases``):
    the steps, SIGINT/SIGTERM asking them to stop between two migrations (said on stderr), the
    run recorded in the journal and its signals sent (``recorder``; default: a new run of
    ``output``'s command). Returns the whole run's results (a resumed run's earlier attempts
    included) and the signal handler, which says whether a signal stopped the run."""
    if recorder is None:
        store = journal.store_for(prepared.settings.journal)
        recorder = journal.RunRecorder(output.name, store, output.secrets)
    with StopOnSignal(notify=lambda name: say_stopping(output, name)) as stop:
        options = replace(
            api.resolve_options(opts.run, prepared.settings), should_stop=stop.requested
        )
        report = api.run_recorded(
            prepared,
            options,
            progress,
            recorder,
            opts.selection,
            parallel=opts.parallel,
            fail_fast=opts.fail_fast,
            canary=opts.canary,
            executor=opts.executor,
        )
    return report.results, stop


def say_stopping(output: Output, name: str) -> None:
    """Said on stderr when the first SIGINT/SIGTERM arrives (from the signal handler)."""
    what = "Ctrl-C" if name == "SIGINT" else name
    message = f"{what}: stopping after the current migration."
    if name == "SIGINT":
        message += " Ctrl-C again stops at once."
    output.note_from_signal_handler(message)


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
            worker_signals.tell_workers("now")
            if not worker_signals.WORKERS:
                raise KeyboardInterrupt
        if self.signal is None:
            worker_signals.tell_workers(signal.Signals(number).name)
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
