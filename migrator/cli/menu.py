"""The interactive operator menu of ``manage.py migrator`` on a terminal.

The only module that imports questionary. Every entry drives the same planner, preflight, runner,
doctor and report code as ``migrate_all`` (``api.prepare``, ``survey.survey``, ``schedule.run_plan``,
``system_checks.doctor``, ``report.*``, ``doctor_render.*``): the menu only asks and shows. Prompts go through a ``Prompter``, so tests can drive the real
questionary prompts from a pipe.
"""

from __future__ import annotations

from dataclasses import replace

from migrator import api, drift, preflight, render
from migrator.cli import risk as risk_cli
from migrator.cli.command import OrchestrateCommand, check_databases, run_prepared
from migrator.cli.drift import repair_and_check_again
from migrator.cli.options import CommandOptions
from migrator.cli.prompts import Choice, Prompter, terminal_prompter
from migrator.doctor import render as doctor_render
from migrator.doctor import system_checks
from migrator.drift import render as drift_render
from migrator.exceptions import MigratorError, PreflightError, UsageError
from migrator.project.databases import alias_names
from migrator.render import Line
from migrator.risk import render as risk_render
from migrator.survey import Survey, survey
from migrator.text import plural
from migrator.types import (
    AliasStatus,
    Missing,
    Node,
    PendingMigration,
    PlanState,
    Progress,
    Selection,
)

ENTRIES = (
    ("status", "Status"),
    ("plan", "Show plan"),
    ("risk", "Review lock risk"),
    ("all", "Migrate everything"),
    ("database", "Migrate one database"),
    ("app", "Migrate one app"),
    ("rollback", "Roll an app back to a migration"),
    ("create", "Create missing schemas/databases"),
    ("routing", "Check routing"),
    ("drift", "Check schema drift"),
    ("exit", "Exit"),
)


def refuse_options(opts: CommandOptions) -> None:
    """Options that only make sense without the menu; each names what the menu offers instead."""
    if opts.selection.target:
        raise UsageError(
            "--target works with --auto only; in the menu choose 'Roll an app back to a migration'."
        )
    if opts.create_schemas:
        raise UsageError(
            "--create-schemas works with --auto only; the menu offers 'Create missing "
            "schemas/databases' when preflight finds something missing."
        )
    if opts.makemigrations:
        raise UsageError(
            "--makemigrations works with --auto only; run 'manage.py makemigrations' before "
            "opening the menu."
        )


class Menu:
    def __init__(
        self, command: OrchestrateCommand, opts: CommandOptions, prompter: Prompter | None = None
    ) -> None:
        self.command = command
        self.opts = opts
        self.prompter = prompter or terminal_prompter()
        self.missing: tuple[Missing, ...] = ()

    # -- the top menu -----------------------------------------------------------------------
    def loop(self) -> None:
        refuse_options(self.opts)
        api.make_plan(self.opts.selection)  # an unknown --database/--app is refused up front
        try:
            self.show(render.status_lines(self._survey().aliases)[-1])
        except KeyboardInterrupt:  # while probing a slow server: leave quietly
            return
        selection = self.opts.selection
        current = "database" if selection.databases else "app" if selection.apps else "status"
        while True:
            entries = [Choice(title, key) for key, title in ENTRIES]
            if not self.missing:
                entries = [entry for entry in entries if entry.value != "create"]
            choice = self.prompter.select("What next?", entries, default=current, back="exit")
            if choice is None or choice == "exit":
                return
            current = choice
            self.perform(choice)

    def perform(self, choice: str) -> None:
        actions = {
            "status": self.status,
            "plan": self.show_plan,
            "risk": self.review_risk,
            "all": self.migrate_everything,
            "database": self.migrate_database,
            "app": self.migrate_app,
            "rollback": self.roll_back,
            "create": self.create_missing,
            "routing": self.check_routing,
            "drift": self.check_drift,
        }
        try:
            actions[choice]()
        except PreflightError as error:
            self.show(Line(str(error), "error"))
            if self._survey().missing:
                self.show(
                    Line("'Create missing schemas/databases' creates what is missing.", "notice")
                )
        except MigratorError as error:
            self.show(Line(str(error), "error"))
        except KeyboardInterrupt:
            self.show(Line("Interrupted; back to the menu.", "warning"))

    def _select(
        self, message: str, choices: list[Choice], default: str | None, nothing: str
    ) -> str | None:
        if all(choice.disabled for choice in choices):
            self.show(Line(nothing, "notice"))
            return None
        return self.prompter.select(message, choices, default=default)

    def show(self, lines: list[Line] | Line) -> None:
        self.command.emit(lines, minimum_verbosity=0)

    def _survey(self) -> Survey:
        found = survey()
        self.missing = found.missing
        return found

    # -- entries ----------------------------------------------------------------------------
    def status(self) -> None:
        self.show(render.status_lines(self._survey().aliases))

    def show_plan(self) -> None:
        self.show(render.plan_lines(api.prepare(dry_run=True).state, self.opts.verbosity))

    def review_risk(self) -> None:
        """The lock-risk review of the whole plan, as ``--risk`` prints it."""
        prepared = api.prepare(dry_run=True)
        report = risk_cli.reviewed(prepared)
        self.show(risk_render.risk_lines(report, self.opts.verbosity))

    def migrate_everything(self) -> None:
        prepared = api.prepare(dry_run=True)
        self.show(render.plan_lines(prepared.state, self.opts.verbosity))
        self._confirm_and_run(prepared, "every database")

    def migrate_database(self) -> None:
        survey = self._survey()
        width = max(len(row.info.alias) for row in survey.aliases)
        choices = [
            Choice(
                f"{row.info.alias.ljust(width)}  {_alias_mark(row)}".rstrip(),
                row.info.alias,
                disabled=""
                if row.apps
                else ("no app is routed here" if row.info.is_database else "not a database"),
            )
            for row in survey.aliases
        ]
        preselected = next(iter(self.opts.selection.databases), None)
        alias = self._select("Which database?", choices, preselected, "No alias has work.")
        if alias is not None:
            self._migrate_selection(Selection(databases=(alias,)), alias)

    def migrate_app(self) -> None:
        survey = self._survey()
        apps = list(survey.migrations)
        width = max((len(app) for app in apps), default=0)
        choices = []
        for app in apps:
            aliases = survey.routed(app)
            pending = survey.pending(app)
            mark = "state unknown" if pending is None else f"{pending} pending"
            choices.append(
                Choice(
                    f"{app.ljust(width)}  on {', '.join(aliases)}: {mark}" if aliases else app,
                    app,
                    disabled="" if aliases else "the routers send it to no alias",
                )
            )
        preselected = next(iter(self.opts.selection.apps), None)
        chosen = self._select("Which app?", choices, preselected, "No app has migrations.")
        if chosen is None:
            return
        self.show(
            Line(f"The routers send {chosen} to {', '.join(survey.routed(chosen))}.", "notice")
        )
        self._migrate_selection(Selection(apps=(chosen,)), chosen)

    def roll_back(self) -> None:
        survey = self._survey()
        apps = list(survey.migrations)
        width = max((len(app) for app in apps), default=0)
        choices = []
        for app in apps:
            applied = survey.applied(app)
            choices.append(
                Choice(
                    f"{app.ljust(width)}  {plural(len(applied), 'migration')} applied "
                    f"on {', '.join(survey.routed(app))}"
                    if applied
                    else app,
                    app,
                    disabled="" if applied else "nothing applied",
                )
            )
        preselected = next(iter(self.opts.selection.apps), None)
        chosen = self._select(
            "Roll back which app?", choices, preselected, "Nothing is applied: no app to roll back."
        )
        if chosen is None:
            return
        app = chosen
        applied = survey.applied(app)
        names = [
            Choice(f"{name} (latest applied)" if name == applied[-1] else name, name)
            for name in reversed(applied)
        ]
        names.append(Choice(f"zero (unapply every {app} migration)", "zero"))
        name = self.prompter.select(f"Roll {app} back to which migration?", names)
        if name is None:
            return
        prepared = api.prepare(Selection(target=(app, name)), dry_run=True)
        state = prepared.state
        self.show(render.plan_lines(state, max(self.opts.verbosity, 2)))
        if not state.todo_count:
            self.show(Line(f"Nothing to roll back: {app} is at {name} already.", "success"))
            return
        self.show(_changes_lines(state))
        typed = self.prompter.text(f"Type the app label ({app}) to roll it back:")
        if typed is None:
            return
        if typed.strip() != app:
            self.show(
                Line(
                    f"Not rolled back: {typed.strip()!r} is not {app!r}; nothing was changed.",
                    "warning",
                )
            )
            return
        self._run(prepared)

    def create_missing(self) -> None:
        missing = self._survey().missing
        if not missing:
            self.show(Line("Nothing is missing.", "success"))
            return
        self.show(render.created_lines(missing, dry_run=True))
        answer = self.prompter.confirm(f"Create {'it' if len(missing) == 1 else 'them'}?")
        if answer is None:
            return
        if not answer:
            self.show(Line("Nothing was created.", "notice"))
            return
        aliases = tuple(dict.fromkeys(item.alias for item in missing))
        prepared = api.prepare(Selection(databases=aliases), create_schemas=True)
        self.show(render.created_lines(prepared.missing, dry_run=False))
        self._survey()

    def check_routing(self) -> None:
        """The routing doctor, as ``--doctor`` prints it."""
        self.show(doctor_render.doctor_lines(system_checks.doctor(), alias_names()))

    def check_drift(self) -> None:
        """Schema drift, as ``--drift`` prints it; then the safe repairs, confirmed (default No)."""
        name = "migrator"
        found = drift.detect(Selection(), command=name)
        self.show(drift_render.finding_lines(found, name, repairing=bool(found.repairs)))
        if not found.repairs:
            return
        self.show(drift_render.repair_plan_lines(found, name))
        answer = self.prompter.confirm(drift_render.question(found))
        if not answer:
            self.show(Line("Nothing was changed.", "notice"))
            return
        repair_and_check_again(found, replace(self.opts, selection=Selection()), name, self.show)

    # -- shared steps -----------------------------------------------------------------------
    def _migrate_selection(self, selection: Selection, what: str) -> None:
        """Show the selection's plan and what it depends on elsewhere; offer to include pending
        dependencies (or refuse, saying why); confirm; run."""
        prepared = api.prepare(selection, dry_run=True)
        self.show(render.plan_lines(prepared.state, self.opts.verbosity))
        if not prepared.state.todo_count and not self.opts.run.force_migrate:
            self.show(Line(f"Nothing to migrate: {what} is up to date.", "success"))
            return
        needed = api.dependencies(selection)
        if needed:
            combined = api.prepare(replace(selection, include=needed), dry_run=True).state
            waiting = {node: _pending_on(combined, node) for node in needed}
            self.show(
                Line(
                    f"{what} depends on: "
                    + ", ".join(
                        f"{node} ({plural(len(waiting[node]), 'migration')} pending)"
                        if waiting[node]
                        else f"{node} (up to date)"
                        for node in needed
                    )
                    + ".",
                    "notice",
                )
            )
            pending = tuple(node for node in needed if waiting[node])
            if pending:
                count = sum(len(waiting[node]) for node in pending)
                names = ", ".join(str(node) for node in pending)
                answer = self.prompter.confirm(
                    f"Include {names} ({plural(count, 'migration')}) and migrate "
                    f"{'it' if len(pending) == 1 else 'them'} first?"
                )
                if answer is None:
                    return
                if not answer:
                    self.show(
                        Line(
                            f"Not migrated: {what} depends on {names}, which "
                            f"{'has' if len(pending) == 1 else 'have'} "
                            f"{plural(count, 'pending migration')}. Migrate "
                            f"{'it' if len(pending) == 1 else 'them'} first or include "
                            f"{'it' if len(pending) == 1 else 'them'}; nothing was changed.",
                            "warning",
                        )
                    )
                    return
                prepared = api.prepare(replace(selection, include=pending), dry_run=True)
                self.show(Line("With the dependencies included:", "heading"))
                self.show(render.plan_lines(prepared.state, self.opts.verbosity))
        self._confirm_and_run(prepared, what)

    def _confirm_and_run(self, prepared: api.Prepared, what: str) -> None:
        state = prepared.state
        if not state.todo_count and not self.opts.run.force_migrate:
            self.show(Line(f"Nothing to migrate: {what} is up to date.", "success"))
            return
        aliases = {s.step.alias for s in state.states if s.has_work or self.opts.run.force_migrate}
        answer = self.prompter.confirm(
            f"Run {plural(state.pending_count, 'migration')}"
            + (f", record {state.recorded_count}" if state.recorded_count else "")
            + " on "
            f"{plural(len(aliases), 'database')}?"
        )
        if answer is None:
            return
        if not answer:
            self.show(Line("Not migrated; nothing was changed.", "notice"))
            return
        self._run(prepared)

    def _run(self, prepared: api.Prepared) -> None:
        """``run_plan`` as ``migrate_all`` runs it (``StopOnSignal``, ``--parallel``,
        ``--fail-fast``), with the progress lines and the summary. Ctrl-C stops the run before
        the next migration; the locks' context managers release every lock."""
        # The plan was prepared to be shown (a dry run, which writes nothing); now that the run is
        # confirmed, preflight tries what only a write shows (an SQLite folder that takes files).
        plan = prepared.state.plan
        settings = prepared.settings
        probes = preflight.probe_all(plan, settings.connect_timeout, bounds=settings.bounds)
        preflight.check(probes, create=False)
        check_databases(self.command.output, self.opts, prepared.state)
        applied: list[PendingMigration] = []

        def progress(event: Progress) -> None:
            if event.event == "migration-done" and event.migration is not None:
                applied.append(event.migration)
            line = render.progress_line(event, prefix=self.opts.parallel > 1)
            if line is not None:
                self.show(line)

        try:
            results, _ = run_prepared(self.command.output, self.opts, prepared, progress)
        except KeyboardInterrupt:  # a second Ctrl-C: the running migration was cut short
            self.show(
                Line(
                    f"Stopped at once by a second Ctrl-C after {plural(len(applied), 'migration')}"
                    "; the running one rolled back where the database can. Run again to continue.",
                    "error",
                )
            )
            return
        self.show(render.summary_lines(prepared.state, results))


def _alias_mark(row: AliasStatus) -> str:
    if not row.apps:
        return ""
    if row.probe is not None and not row.probe.reachable:
        return "unreachable"
    if row.pending is None:
        return "state unknown"
    mark = f"{len(row.pending)} pending" if row.pending else "nothing to do"
    if row.probe is not None and row.probe.read_only:
        mark += ", read-only"
    return mark


def _pending_on(state: PlanState, node: Node) -> list[PendingMigration]:
    return [
        migration
        for step_state in state.states
        if step_state.step.alias == node.alias
        for migration in step_state.pending
        if migration.app == node.app
    ]


def _changes_lines(state: PlanState) -> list[Line]:
    """Exactly what a run of ``state`` changes, alias by alias."""
    lines = []
    for step_state in state.states:
        back = [str(m) for m in step_state.pending if m.backwards]
        forward = [str(m) for m in step_state.pending if not m.backwards]
        alias = step_state.step.alias
        if back:
            lines.append(Line(f"On {alias} this unapplies {', '.join(back)}.", "warning"))
        if forward:
            lines.append(Line(f"On {alias} this applies {', '.join(forward)}.", "notice"))
    return lines
