"""``--doctor``, ``--graph`` and the system checks before a run, for ``migrate_all`` and
``migrator``: options in, output through the command's ``stdout``/``stderr`` and styles.

The commands do not let Django run the system checks before ``handle`` (as Django's ``migrate``
does not): ``--doctor`` and ``--graph`` must work on a project whose checks fail, and a refused
run must say which finding refused it, how to fix it and that ``--skip-checks`` exists (and with
``--json`` print a JSON document).

The checks before anything run without the databases (``databases=[]``), so no check opens a
connection: Django 6.1 otherwise hands every alias to the model checks, and JSONField's check
connects to each alias the model is routed to, which creates an SQLite file (``--plan`` must change
nothing). The database checks run in ``database_checks``, after preflight, on the aliases a run
migrates, as Django's ``migrate --database X`` runs them on X.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from django.core import checks as django_checks
from django.core.management.base import CommandError, SystemCheckError

from migrator import api
from migrator.cli.output import Output
from migrator.doctor import render as doctor_render
from migrator.doctor import system_checks
from migrator.exceptions import ChecksFailed, PreflightError
from migrator.planning.graph import build_graph
from migrator.project import operations
from migrator.project.databases import alias_infos, alias_names, mirrors
from migrator.project.loader import app_dependencies, load_migrations, migrated_app_labels
from migrator.text import plural
from migrator.types import Node, Plan, PlanState, Step


def run_instead(output: Output, options: Mapping[str, Any]) -> bool:
    """Run ``--doctor`` or ``--graph`` when asked; True when that was the whole command."""
    graph = options.get("graph")
    if graph:
        show_graph(output, str(graph))
    elif options.get("doctor"):
        show_doctor(output, json_output=bool(options.get("json")))
    return bool(graph or options.get("doctor"))


def show_doctor(output: Output, *, json_output: bool) -> None:
    aliases = alias_names()
    findings = system_checks.doctor()
    if json_output:
        document = doctor_render.doctor_document(findings, aliases)
        output.text(json.dumps(document, indent=2))
    else:
        output.emit(doctor_render.doctor_lines(findings, aliases))
    errors = sorted({finding.id for finding in findings if finding.is_error})
    if errors:
        count = sum(1 for finding in findings if finding.is_error)
        raise CommandError(
            f"The routing doctor found {plural(count, 'error')} "
            f"({', '.join(errors)}). {output.name} refuses to migrate until "
            f"{'it is' if count == 1 else 'they are'} fixed (or --skip-checks is passed).",
            returncode=1,
        )


def show_graph(output: Output, form: str) -> None:
    """Print the graph; without pending marks (and a note on stderr) when the state of a
    database cannot be read."""
    infos = alias_infos()
    aliases = list(alias_names())  # an alias that is not a database has no pairs
    loader = load_migrations()
    apps = migrated_app_labels(loader)
    routing = operations.migration_routing(loader, operations.Router.of(infos))
    matrix = operations.app_matrix(routing, apps, aliases)
    graph = build_graph(matrix, app_dependencies(loader))
    # One step per (alias, app) pair: the graph marks pending work per pair, not per level.
    steps = tuple(Step(alias=node.alias, apps=(node.app,), level=1) for node in graph.nodes)
    pending: dict[Node, int] | None = None
    plan = Plan(
        levels=(steps,) if steps else (),
        aliases=infos,
        executes={key: entry.aliases for key, entry in routing.items()},
        records_all=False,
    )
    try:
        state = api.read_state(plan, loader)
        pending = {Node(s.step.alias, s.step.apps[0]): len(s.pending) for s in state.states}
    except PreflightError as error:
        output.note(f"{error} The graph has no pending marks.", "error")
    render = doctor_render.dot if form == "dot" else doctor_render.mermaid
    text = render(graph.nodes, graph.edges, aliases, apps, pending, mirrors())
    output.text(text)


def run_checks(output: Output, check: Callable[..., None], options: Mapping[str, Any]) -> None:
    """Before a run, ``--plan`` or ``--check`` (unless ``--skip-checks``): refuse when the
    routing doctor finds an error, then run Django's system checks as Django runs them before a
    command (warnings to stderr), without the databases: nothing here opens a connection."""
    if options.get("skip_checks"):
        return
    aliases = alias_names()
    with system_checks.checked_by_a_run():
        # E007/I001/W006 are left out: the planner refuses a cycle itself before touching anything.
        findings = system_checks.doctor(migrations=False)
    errors = [finding for finding in findings if finding.is_error]
    if errors:
        raise ChecksFailed(doctor_render.refusal_message(errors, aliases, output.name))
    try:
        with system_checks.checked_by_a_run():
            # databases=[]: every Django gives the checks no alias (None would mean all of them
            # from Django 6.1 on, and the model checks would connect to each).
            check(databases=[])
    except SystemCheckError as error:
        found = str(error).replace("SystemCheckError: ", "", 1).strip()
        raise ChecksFailed(
            f"{found}\nFix them, or pass --skip-checks to run anyway; nothing was touched."
        ) from None


def migrated_aliases(state: PlanState, *, force_migrate: bool) -> list[str]:
    """The aliases a run of ``state`` hands to Django's executor, in plan order."""
    return list(dict.fromkeys(s.step.alias for s in state.states if s.has_work or force_migrate))


def database_checks(output: Output, aliases: list[str]) -> None:
    """After preflight, before a run changes anything (unless ``--skip-checks``): Django's system
    checks on the ``aliases`` the run migrates, as ``migrate --database X`` runs them on X (the
    database checks, and the model checks that ask each database what it supports). Only what
    the databases add to ``run_checks``' findings is shown: warnings on stderr, an error refuses
    the run before its first migration."""
    if not aliases:
        return
    with system_checks.checked_by_a_run():
        without = django_checks.run_checks(databases=[])
        found = [
            issue
            for issue in django_checks.run_checks(databases=aliases)
            if issue not in without and not issue.is_silenced()
        ]
    if not found:
        return
    # Laid out as Django's BaseCommand.check lays out its findings.
    body = ""
    for name, low, high in (
        ("CRITICALS", django_checks.CRITICAL, None),
        ("ERRORS", django_checks.ERROR, django_checks.CRITICAL),
        ("WARNINGS", django_checks.WARNING, django_checks.ERROR),
        ("INFOS", django_checks.INFO, django_checks.WARNING),
        ("DEBUGS", None, django_checks.INFO),
    ):
        group = sorted(
            str(issue)
            for issue in found
            if (low is None or issue.level >= low) and (high is None or issue.level < high)
        )
        if group:
            body += f"\n{name}:\n" + "\n".join(group) + "\n"
    header = f"System check identified some issues on {', '.join(aliases)}:\n"
    if any(issue.is_serious() for issue in found):
        raise ChecksFailed(
            f"{header}{body.rstrip()}\nFix them, or pass --skip-checks to run anyway; "
            "nothing was migrated."
        )
    output.note(header + body)
