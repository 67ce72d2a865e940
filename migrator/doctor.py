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
from argparse import ArgumentParser
from typing import TYPE_CHECKING, Any

from django.core import checks as django_checks
from django.core.management.base import CommandError, SystemCheckError

from migrator import api, checks, doctor_report, inspect, project
from migrator.errors import ChecksFailed, PreflightError, UsageError
from migrator.plan import build_graph
from migrator.types import Node, Plan, PlanState, Step

if TYPE_CHECKING:
    from migrator.cli import OrchestrateCommand

# Options of a run that neither --doctor nor --graph uses: (dest, flag). --drift takes this list
# too, less the options it uses (drift_cli.py).
RUN_ONLY = (
    ("plan_only", "--plan"),
    ("check", "--check"),
    ("fake", "--fake"),
    ("fake_initial", "--fake-initial"),
    ("makemigrations", "--makemigrations"),
    ("force_migrate", "--force-migrate"),
    ("target", "--target"),
    ("databases", "--database"),
    ("apps", "--app"),
    ("create_schemas", "--create-schemas"),
    ("lock_timeout", "--lock-timeout"),
    ("parallel", "--parallel"),
    ("fail_fast", "--fail-fast"),
)


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument(
        "--doctor",
        action="store_true",
        help="Check the routers and models for routing mistakes (migrator.E0xx, W0xx, I0xx) and "
        "print the findings by alias; change nothing; exit 1 on an error.",
    )
    parser.add_argument(
        "--graph",
        nargs="?",
        const="mermaid",
        choices=("mermaid", "dot"),
        help="Print the (alias, app) dependency graph as Mermaid (default) or Graphviz DOT "
        "(--graph=dot), pending work marked; change nothing.",
    )
    parser.add_argument(
        "--skip-checks",
        action="store_true",
        help="Do not run the system checks (the routing doctor's and Django's) before migrating.",
    )


def command_name(command: OrchestrateCommand) -> str:
    return type(command).__module__.rpartition(".")[2]


def run_instead(command: OrchestrateCommand, options: dict[str, Any]) -> bool:
    """Run ``--doctor`` or ``--graph`` when asked; True when that was the whole command."""
    graph = options.get("graph")
    if not options.get("doctor") and not graph:
        return False
    _refuse_conflicts(options)
    if graph:
        show_graph(command, str(graph))
    else:
        show_doctor(command, json_output=bool(options.get("json")))
    return True


def _refuse_conflicts(options: dict[str, Any]) -> None:
    if options.get("doctor") and options.get("graph"):
        raise UsageError("--doctor and --graph print different reports; run them one at a time.")
    flag, does = ("--doctor", "checks") if options.get("doctor") else ("--graph", "shows")
    for dest, name in RUN_ONLY:
        if options.get(dest):
            raise UsageError(
                f"{flag} {does} the whole project and changes nothing, so {name} makes no sense "
                "with it; drop one of them."
            )
    if options.get("graph") and options.get("json"):
        raise UsageError(
            "--graph prints Mermaid or DOT, not JSON; drop --json (--doctor --json prints the "
            "findings as JSON)."
        )


def show_doctor(command: OrchestrateCommand, *, json_output: bool) -> None:
    aliases = inspect.alias_names()
    findings = checks.doctor()
    if json_output:
        document = doctor_report.doctor_document(findings, aliases)
        command.stdout.write(command._redact(json.dumps(document, indent=2)))
    else:
        command.emit(doctor_report.doctor_lines(findings, aliases))
    errors = sorted({finding.id for finding in findings if finding.is_error})
    if errors:
        count = sum(1 for finding in findings if finding.is_error)
        raise CommandError(
            f"The routing doctor found {count} error{'s' if count != 1 else ''} "
            f"({', '.join(errors)}). {command_name(command)} refuses to migrate until "
            f"{'it is' if count == 1 else 'they are'} fixed (or --skip-checks is passed).",
            returncode=1,
        )


def show_graph(command: OrchestrateCommand, form: str) -> None:
    """Print the graph; without pending marks (and a note on stderr) when the state of a
    database cannot be read."""
    infos = inspect.alias_infos()
    aliases = list(inspect.alias_names())  # an alias that is not a database has no pairs
    loader = inspect.load_migrations()
    apps = inspect.migrated_app_labels(loader)
    routing = project.migration_routing(loader, project.Router.of(infos))
    matrix = project.app_matrix(routing, apps, aliases)
    graph = build_graph(matrix, inspect.app_dependencies(loader))
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
        command.stderr.write(command._redact(f"{error} The graph has no pending marks."))
    render = doctor_report.dot if form == "dot" else doctor_report.mermaid
    text = render(graph.nodes, graph.edges, aliases, apps, pending, inspect.mirrors())
    command.stdout.write(command._redact(text))


def run_checks(command: OrchestrateCommand, options: dict[str, Any]) -> None:
    """Before a run, ``--plan`` or ``--check`` (unless ``--skip-checks``): refuse when the
    routing doctor finds an error, then run Django's system checks as Django runs them before a
    command (warnings to stderr), without the databases: nothing here opens a connection."""
    if options.get("skip_checks"):
        return
    aliases = inspect.alias_names()
    # E007/I001/W006 are left out: the planner refuses a cycle itself before touching anything.
    errors = [finding for finding in checks.doctor(migrations=False) if finding.is_error]
    if errors:
        raise ChecksFailed(doctor_report.refusal_message(errors, aliases, command_name(command)))
    try:
        with checks.migrations_checked_by_planner():
            # databases=[]: every Django gives the checks no alias (None would mean all of them
            # from Django 6.1 on, and the model checks would connect to each).
            command.check(databases=[])
    except SystemCheckError as error:
        found = str(error).replace("SystemCheckError: ", "", 1).strip()
        raise ChecksFailed(
            f"{found}\nFix them, or pass --skip-checks to run anyway; nothing was touched."
        ) from None


def migrated_aliases(state: PlanState, *, force_migrate: bool) -> list[str]:
    """The aliases a run of ``state`` hands to Django's executor, in plan order."""
    return list(dict.fromkeys(s.step.alias for s in state.states if s.has_work or force_migrate))


def database_checks(command: OrchestrateCommand, aliases: list[str]) -> None:
    """After preflight, before a run changes anything (unless ``--skip-checks``): Django's system
    checks on the ``aliases`` the run migrates, as ``migrate --database X`` runs them on X (the
    database checks, and the model checks that ask each database what it supports). Only what
    the databases add to ``run_checks``' findings is shown: warnings on stderr, an error refuses
    the run before its first migration."""
    if not aliases:
        return
    with checks.migrations_checked_by_planner():
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
    command.stderr.write(command._redact(header + body), lambda text: text)
