"""Plain-function API: the same steps the commands take, usable from code."""

from __future__ import annotations

from django.db.migrations.loader import MigrationLoader

from migrator import inspect
from migrator.errors import PreflightError, UsageError
from migrator.plan import build_plan, validate_selection
from migrator.run import ProgressCallback, run_plan
from migrator.types import Plan, PlanState, RunOptions, RunReport, Selection


def parse_target(text: str) -> tuple[str, str]:
    """``APP:MIGRATION`` (or ``APP:zero``) from ``--target``."""
    app, sep, name = text.partition(":")
    if not sep or not app or not name or ":" in name:
        raise UsageError(
            f"--target {text!r}: expected APP:MIGRATION, e.g. --target blog:0002_post_slug "
            "or --target blog:zero."
        )
    return app, name


def make_plan(
    selection: Selection = Selection(), loader: MigrationLoader | None = None
) -> tuple[Plan, MigrationLoader]:
    """Read settings, routers and migration files; return the plan (no database is touched)."""
    aliases = inspect.alias_infos()
    loader = loader or inspect.load_migrations()
    apps = inspect.migrated_app_labels(loader)
    validate_selection(
        selection, [info.alias for info in aliases], inspect.installed_app_labels(), apps
    )
    if selection.target:
        app, name = selection.target
        selection = Selection(
            databases=selection.databases,
            apps=selection.apps,
            target=(app, inspect.resolve_target(loader, app, name)),
        )
    matrix = inspect.routing_matrix([info.alias for info in aliases], apps)
    plan = build_plan(aliases, apps, matrix, inspect.app_dependencies(loader), selection)
    return plan, loader


def read_state(plan: Plan, loader: MigrationLoader) -> PlanState:
    """What each step would do now: one read of ``django_migrations`` per planned alias."""
    applied: dict[str, set[tuple[str, str]]] = {}
    problems = []
    for alias in dict.fromkeys(step.alias for step in plan.steps):
        try:
            applied[alias] = inspect.read_applied(alias)
        except Exception as exc:
            info = plan.alias_info(alias)
            problems.append(f"{alias} ({info.vendor} {info.location}): {inspect.first_line(exc)}")
    if problems:
        raise PreflightError(
            "Cannot read the migration state of "
            + ("; ".join(problems))
            + ". Check that the servers are up and the credentials in DATABASES are right; "
            "nothing was migrated."
        )
    states = tuple(
        inspect.step_state(loader, step, applied[step.alias], step.alias) for step in plan.steps
    )
    return PlanState(plan=plan, states=states)


def migrate_all(
    selection: Selection = Selection(),
    options: RunOptions = RunOptions(),
    progress: ProgressCallback | None = None,
) -> RunReport:
    """Plan, check the state and run every step; returns the report (it raises nothing on a
    failed migration: look at ``report.ok``)."""
    plan, loader = make_plan(selection)
    state = read_state(plan, loader)
    results = run_plan(state, options) if progress is None else run_plan(state, options, progress)
    return RunReport(state=state, results=results)
