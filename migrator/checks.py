"""The routing doctor: routing mistakes caught before they reach a database.

Every fact comes from ``migrator.inspect`` (settings, routers, models, migration files) and
``migrator.router_hints`` (which hints the routers read); nothing here touches a database. The
findings are plain ``Finding`` values; registered as Django system checks (tag ``migrator``) they
show in ``manage.py check`` and before every command that checks.

Errors are kept for what makes a migration fail or cannot be planned: E004 a cross-database key
with a constraint, E005 a router names an unknown alias, E006 a router raises, E007 a dependency
cycle between aliases, E008 an unimportable MIGRATION_MODULES entry (a deploy check: makemigrations
creates that package). Probable mistakes that may be deliberate (``.using()`` can make them
intended) are warnings: W001 a model with several homes, W002 migrations allowed on a mirror, W003
a homeless model, W004 writes routed where the table is not, W005 the same for reads, W006 a data
migration without the hints the routers read about its app. Infos: I001 a data migration that depends
on another alias's app, I002 a router that answers from hints only. W003-W005 were E001-E003 in
0.1.0 (``RENAMED``); silencing an old ID silences the new one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.db import DEFAULT_DB_ALIAS
from django.db.migrations.loader import MigrationLoader
from django.db.models import Model

from migrator import inspect, project, router_hints
from migrator.errors import ConfigurationError, RouterError
from migrator.plan import alias_cycles, build_graph, cycle_path
from migrator.types import Finding

TAG = "migrator"

# Findings that were errors and are warnings now: old ID -> new ID (README: "Routing doctor").
RENAMED = {
    "migrator.E001": "migrator.W003",
    "migrator.E002": "migrator.W004",
    "migrator.E003": "migrator.W005",
}

_MESSAGE_CLASSES: dict[str, Callable[..., checks.CheckMessage]] = {
    "error": checks.Error,
    "warning": checks.Warning,
    "info": checks.Info,
}


def _names(aliases: Sequence[str]) -> str:
    return ", ".join(aliases)


class _Routing:
    """Router answers per model, each asked once; router problems are collected (E005/E006)."""

    def __init__(self) -> None:
        self.aliases = inspect.alias_names()
        self.mirrors = inspect.mirrors()
        self._homes: dict[type[Model], tuple[str, ...] | None] = {}
        # (router, method, outcome) -> the calls that went wrong that way, one per model
        self._problems: dict[tuple[str, str, str], list[tuple[RouterError, str]]] = {}

    def homes(self, model: type[Model]) -> tuple[str, ...] | None:
        """Aliases where the model's table is created; None when a router raised."""
        if model not in self._homes:
            try:
                self._homes[model] = inspect.model_aliases(model, self.aliases)
            except RouterError as error:
                self._router_problem(error, model)
                self._homes[model] = None
        return self._homes[model]

    def route(self, action: str, model: type[Model]) -> str | None:
        """The alias ``db_for_read``/``db_for_write`` picks; None when a router misbehaved."""
        try:
            return inspect.db_for(action, model, self.aliases)
        except RouterError as error:
            self._router_problem(error, model)
            return None

    def tables(self, model: type[Model]) -> tuple[str, ...] | None:
        """Where the table of a relation's target is: its homes, or for an unmanaged model the
        alias its writes go to (another system creates the table there)."""
        if inspect.is_counted(model):
            return self.homes(model)
        try:
            return (inspect.db_for("write", model, self.aliases),)
        except RouterError:
            return None  # unmanaged models are not checked themselves: nothing to report

    def holds(self, alias: str, tables: Sequence[str]) -> bool:
        """The table is on ``alias``, or ``alias`` mirrors an alias that has it."""
        return alias in tables or self.mirrors.get(alias) in tables

    def _router_problem(self, error: RouterError, model: type[Model]) -> None:
        method = error.call.partition("(")[0]
        calls = self._problems.setdefault((error.router, method, error.outcome), [])
        if all(label != model._meta.label for _, label in calls):
            calls.append((error, model._meta.label))

    def router_findings(self) -> list[Finding]:
        """One finding per router, method and outcome: the first call, the other models named."""
        found = []
        for (router, method, outcome), calls in self._problems.items():
            first = calls[0][0]
            labels = [label for _, label in calls]
            also = f", and the same for {_few(labels[1:])}" if len(labels) > 1 else ""
            subject = labels[0] if len(labels) == 1 else "these models"
            if first.raised:
                consequence = {
                    "db_for_read": f"every read of {subject} fails the same way",
                    "db_for_write": f"every write of {subject} fails the same way, and "
                    "migrate_all cannot plan",
                }.get(method, "Django's migrate fails the same way, and migrate_all cannot plan")
                found.append(
                    Finding(
                        id="migrator.E006",
                        level="error",
                        alias=None,
                        obj=router,
                        message=f"Router {router}.{first.call} {outcome}{also}: {consequence}.",
                        hint=(
                            "Fix the router so that it answers for every model: an alias (or "
                            "True/False for allow_migrate), or None to let the next router "
                            "decide."
                        ),
                    )
                )
            else:
                found.append(
                    Finding(
                        id="migrator.E005",
                        level="error",
                        alias=None,
                        obj=router,
                        message=(
                            f"Router {router}.{first.call} {outcome}{also}: every query routed "
                            "there fails with ConnectionDoesNotExist."
                        ),
                        hint=(
                            f"Return one of {_names(self.aliases)} (or None to let the next "
                            "router decide), or add the alias to DATABASES."
                        ),
                    )
                )
        return found


def _few(labels: Sequence[str], shown: int = 5) -> str:
    if len(labels) <= shown:
        return ", ".join(labels)
    return f"{', '.join(labels[:shown])} and {len(labels) - shown} more models"


def routing_findings(app_labels: Collection[str] | None = None) -> list[Finding]:
    """E001-E006, W001, W002 for the models of ``app_labels`` (all installed apps when None).

    Asks the routers only: no migration file is loaded, no database touched.
    """
    found: list[Finding] = []
    routing = _Routing()
    on_mirror: dict[tuple[str, str], list[str]] = {}  # (mirror alias, app) -> models
    # No router defines db_for_read/db_for_write: the project names aliases with .using(), and
    # the models whose tables are not on default make one finding, not one per model.
    unrouted: dict[str, list[tuple[type[Model], tuple[str, ...]]]] = {
        action: []
        for action in ("write", "read")
        if not inspect.any_router_defines(f"db_for_{action}")
    }
    for app in inspect.installed_app_labels():
        if app_labels is not None and app not in app_labels:
            continue
        for model in inspect.counted_models(app):
            homes = routing.homes(model)
            write = routing.route("write", model)
            read = routing.route("read", model)
            if homes is None:
                continue
            if not homes:
                found.append(_homeless(model, routing.aliases))
                continue
            for alias in homes:
                if alias in routing.mirrors:
                    on_mirror.setdefault((alias, app), []).append(model._meta.object_name or "")
            if write is not None and write not in homes:
                if "write" in unrouted:
                    unrouted["write"].append((model, homes))
                else:
                    found.append(_write_elsewhere(model, write, homes))
            elif write is not None:
                several = [alias for alias in homes if routing.mirrors.get(alias) not in homes]
                if len(several) > 1:
                    found.append(_several_homes(model, write, several))
            if read is not None and not routing.holds(read, homes):
                if "read" in unrouted:
                    unrouted["read"].append((model, homes))
                else:
                    found.append(_read_elsewhere(model, read, homes, routing.mirrors))
            found.extend(_cross_database_keys(model, homes, routing))
    for (alias, app), models in on_mirror.items():
        found.append(_migrated_mirror(alias, routing.mirrors[alias], app, models))
    for action, elsewhere in unrouted.items():
        if elsewhere:
            found.append(_chosen_with_using(action, elsewhere))
    if app_labels is None:  # about a router, not about an app
        found.extend(_hints_only_routers(routing.aliases))
    return routing.router_findings() + found


def _quoted(keys: Sequence[str]) -> str:
    return ", ".join(repr(key) for key in keys)


def _hints_only_routers(aliases: Sequence[str]) -> list[Finding]:
    """I002: a router whose allow_migrate answers from hints only."""
    found = []
    for probed in router_hints.probe_routers(aliases, inspect.installed_app_labels()):
        facts = []
        if probed.hints_only:
            facts.append("without hints it allows no app on any alias (None or False)")
        if not probed.reads_app_label:
            facts.append("it never looks at app_label")
        if not facts:
            continue
        example = ", ".join(f"{key!r}: ..." for key in probed.keys)
        found.append(
            Finding(
                id="migrator.I002",
                level="info",
                alias=None,
                obj=probed.router,
                message=(
                    f"Router {probed.router}.allow_migrate answers from hints: it reads "
                    f"{_quoted(probed.keys)}, and {' and '.join(facts)}. Django's migrate asks "
                    "it per operation with that operation's hints, and so does migrate_all: a "
                    "RunPython/RunSQL runs where its hints send it; an operation without them "
                    "(every model operation) runs only where another router or the default "
                    "allows it."
                ),
                hint=(
                    "Nothing to change if this is deliberate: give every RunPython/RunSQL the "
                    f"hints this router reads (hints={{{example}}}) and check where each "
                    "migration runs with 'manage.py migrate_all --plan'."
                ),
            )
        )
    return found


def module_findings(app_labels: Collection[str] | None = None) -> list[Finding]:
    """E008: MIGRATION_MODULES entries that cannot be imported (of ``app_labels``, all apps
    when None). Imports those modules only, as Django's loader would."""
    return [
        Finding(
            id="migrator.E008",
            level="error",
            alias=None,
            obj=problem.app,
            message=problem.message,
            hint=problem.fix,
        )
        for problem in inspect.unimportable_migration_modules()
        if app_labels is None or problem.app in app_labels
    ]


def _table(model: type[Model]) -> str:
    return str(model._meta.db_table)


def _homeless(model: type[Model], aliases: Sequence[str]) -> Finding:
    meta = model._meta
    return Finding(
        id="migrator.W003",
        level="warning",
        alias=None,
        obj=meta.label,
        message=(
            f"{meta.label} is refused by allow_migrate on every alias ({_names(aliases)}): its "
            f"table {_table(model)!r} is never created, so every query on it fails."
        ),
        hint=(
            f"Make a router's allow_migrate return True for app {meta.app_label!r} (model_name="
            f"{meta.model_name!r}) on the alias that should hold it, or set Meta.managed = False "
            "if another system creates the table."
        ),
    )


def _one_of(aliases: Sequence[str]) -> str:
    return repr(aliases[0]) if len(aliases) == 1 else f"one of {_names(aliases)}"


def _write_elsewhere(model: type[Model], write: str, homes: Sequence[str]) -> Finding:
    meta = model._meta
    return Finding(
        id="migrator.W004",
        level="warning",
        alias=write,
        obj=meta.label,
        message=(
            f"db_for_write({meta.label}) returns {write!r}, but allow_migrate refuses "
            f"{meta.label} there: its table {_table(model)!r} is created only on "
            f"{_names(homes)}, so writes fail with 'relation does not exist'."
        ),
        hint=(
            f"Make db_for_write return {_one_of(homes)} for {meta.label}, or let allow_migrate "
            f"accept app {meta.app_label!r} on {write!r}."
        ),
    )


def _chosen_with_using(
    action: str, models: Sequence[tuple[type[Model], tuple[str, ...]]]
) -> Finding:
    """W004/W005 when no router defines db_for_write/db_for_read: one finding for the project."""
    check = {"write": "migrator.W004", "read": "migrator.W005"}[action]
    listed = [f"{model._meta.label} ({_names(homes)})" for model, homes in models]
    count = f"{len(models)} model{'s' if len(models) != 1 else ''}"
    return Finding(
        id=check,
        level="warning",
        alias=DEFAULT_DB_ALIAS,
        obj="DATABASE_ROUTERS",
        message=(
            f"No router defines db_for_{action}, so every {action} that does not name its "
            f"database with .using() goes to 'default', where the tables of {count} are not "
            f"created: {_few(listed)}. Such {action}s fail with 'relation does not exist'."
        ),
        hint=(
            f"Nothing to change if every {action} of these models says .using(alias); otherwise "
            f"add a router whose db_for_{action} returns the alias that holds each model's table."
        ),
    )


def _read_elsewhere(
    model: type[Model], read: str, homes: Sequence[str], mirrors: dict[str, str]
) -> Finding:
    meta = model._meta
    mirrored = mirrors.get(read)
    why = (
        f"{read!r} mirrors {mirrored!r}, which does not have it either"
        if mirrored
        else f"{read!r} is not a mirror (TEST['MIRROR']) of an alias that has it"
    )
    return Finding(
        id="migrator.W005",
        level="warning",
        alias=read,
        obj=meta.label,
        message=(
            f"db_for_read({meta.label}) returns {read!r}, but its table {_table(model)!r} is "
            f"created only on {_names(homes)} and {why}: reads fail with 'relation does not "
            "exist'."
        ),
        hint=(
            f"Make db_for_read return {_one_of(homes)} for {meta.label}, or a replica of it "
            f"declared with TEST = {{'MIRROR': {homes[0]!r}}}."
        ),
    )


def _several_homes(model: type[Model], write: str, homes: Sequence[str]) -> Finding:
    meta = model._meta
    others = [alias for alias in homes if alias != write]
    tables = "table on {} is" if len(others) == 1 else "tables on {} are"
    return Finding(
        id="migrator.W001",
        level="warning",
        alias=others[0],
        obj=meta.label,
        message=(
            f"allow_migrate accepts {meta.label} on {_names(homes)}, but db_for_write sends "
            f"every write to {write!r}: the {tables.format(_names(others))} created and never "
            "written (duplicate tables that diverge)."
        ),
        hint=(
            f"Let allow_migrate accept {meta.label} only on {write!r}; if {others[0]!r} is a "
            f"replica of {write!r}, declare it with TEST = {{'MIRROR': {write!r}}}."
        ),
    )


def _migrated_mirror(alias: str, mirrored: str, app: str, models: Sequence[str]) -> Finding:
    return Finding(
        id="migrator.W002",
        level="warning",
        alias=alias,
        obj=app,
        message=(
            f"allow_migrate accepts app {app!r} ({', '.join(models)}) on {alias!r}, a mirror of "
            f"{mirrored!r} (TEST['MIRROR']): migrate_all would run {app}'s migrations on the "
            f"replica, which gets its tables from {mirrored!r}."
        ),
        hint=f"Make allow_migrate return False when db == {alias!r}.",
    )


def _cross_database_keys(
    model: type[Model], homes: Sequence[str], routing: _Routing
) -> list[Finding]:
    found = []
    label = model._meta.label
    for name, kind, target in inspect.constrained_relations(model):
        tables = routing.tables(target)
        if tables is None:
            continue
        missing = [alias for alias in homes if not routing.holds(alias, tables)]
        if not missing:
            continue
        there = f"only on {_names(tables)}" if tables else "on no alias"
        found.append(
            Finding(
                id="migrator.E004",
                level="error",
                alias=missing[0],
                obj=f"{label}.{name}",
                message=(
                    f"{label}.{name} is a {kind} to {target._meta.label} with db_constraint=True, "
                    f"but {label}'s table is created on {_names(homes)} and "
                    f"{target._meta.label}'s {there}: the migration cannot create the "
                    f"foreign key constraint on {_names(missing)}."
                ),
                hint=(
                    f"Pass db_constraint=False to {label}.{name} (no database can enforce a key "
                    "across databases), or route both models to one alias."
                ),
            )
        )
    return found


def migration_findings(app_labels: Collection[str] | None = None) -> list[Finding]:
    """E007, I001 and W006: loads the migration files (no database); concerns ``app_labels``
    (all apps when None). Nothing when the routers misbehave: ``routing_findings`` names them."""
    try:
        loader = inspect.load_migrations(strict=False)  # E008 names unimportable modules
        apps = inspect.migrated_app_labels(loader)
        matrix = project.routed_matrix(loader)
    except ConfigurationError:
        return []  # a router problem (E005/E006), or conflicting migrations (Django's to report)

    def concerned(*labels: str) -> bool:
        return app_labels is None or any(label in app_labels for label in labels)

    found = []
    for cycle in alias_cycles(build_graph(matrix, inspect.app_dependencies(loader))):
        if not concerned(*(node.app for node in cycle)):
            continue
        path = cycle_path(cycle)
        found.append(
            Finding(
                id="migrator.E007",
                level="error",
                alias=None,
                obj=path,
                message=(
                    f"Dependency cycle between databases: {path}. Migrations of these apps "
                    "depend on each other across aliases, so no order of aliases satisfies "
                    "them and migrate_all refuses to plan."
                ),
                hint=(
                    "Route these apps to one alias, or remove the migration dependency that "
                    "closes the cycle."
                ),
            )
        )
    for (app, name), parents in inspect.data_migrations(loader).items():
        runs_on = matrix.get(app, ())
        elsewhere = {
            parent: [alias for alias in matrix.get(parent[0], ()) if alias not in runs_on]
            for parent in parents
        }
        elsewhere = {parent: aliases for parent, aliases in elsewhere.items() if aliases}
        if not runs_on or not elsewhere or not concerned(app):
            continue
        first = sorted({alias for aliases in elsewhere.values() for alias in aliases})
        depends = "; ".join(
            f"{dep_app}.{dep_name} (tables on {_names(aliases)})"
            for (dep_app, dep_name), aliases in elsewhere.items()
        )
        found.append(
            Finding(
                id="migrator.I001",
                level="info",
                alias=runs_on[0],
                obj=f"{app}.{name}",
                message=(
                    f"{app}.{name} runs RunPython on {_names(runs_on)} and depends on {depends}: "
                    "if its code reads those tables, it reads another database, so the order of "
                    f"databases matters. migrate_all migrates {_names(first)} first."
                ),
                hint=(
                    f"Migrate with migrate_all (or migrate {_names(first)} before "
                    f"{_names(runs_on)}); in the RunPython code, read the other app's rows "
                    "through the routers or .using(alias), not schema_editor.connection."
                ),
            )
        )
    found.extend(_unhinted_data_migrations(loader, [a for a in apps if concerned(a)]))
    found.extend(_data_migrations_away_from_tables(loader, [a for a in apps if concerned(a)]))
    return found


def _data_migrations_away_from_tables(
    loader: MigrationLoader, apps: Sequence[str]
) -> list[Finding]:
    """W007: a RunPython/RunSQL that executes on aliases where none of its app's tables are."""
    aliases = list(inspect.alias_names())
    found = []
    tables: dict[str, tuple[str, ...]] = {}
    for (app, name), operations in inspect.data_operations(loader).items():
        if app not in apps:
            continue
        if app not in tables:
            has_tables = bool(inspect.counted_models(app))
            tables[app] = inspect.routing_matrix(aliases, [app])[app] if has_tables else ()
        if not tables[app]:
            continue  # no table of its own anywhere (unmanaged models only): nothing to compare
        for kind, hints in operations:
            try:
                runs_on = [a for a in aliases if inspect.allow_migrate(a, app, **hints)]
            except ConfigurationError:
                break  # a router raises: E006
            away = [alias for alias in runs_on if alias not in tables[app]]
            if not away:
                continue
            sent = f"with hints {_quoted(sorted(hints))}" if hints else "without hints"
            found.append(
                Finding(
                    id="migrator.W007",
                    level="warning",
                    alias=away[0] if len(away) == 1 else None,
                    obj=f"{app}.{name}",
                    message=(
                        f"{app}.{name} has a {kind} that executes on {_names(away)}, where none "
                        f"of {app!r}'s tables are (they are on {_names(tables[app])}): the "
                        f"routers allow it there {sent} (allow_migrate(db, {app!r}"
                        + "".join(f", {key}={hints[key]!r}" for key in sorted(hints))
                        + "))."
                    ),
                    hint=(
                        f"If it is meant to run on {_names(away)} (a data migration for another "
                        "database), silence migrator.W007; otherwise give it hints your routers "
                        f"send to {_names(tables[app])}, or make allow_migrate refuse {app!r} "
                        f"on {_names(away)}."
                    ),
                )
            )
    return found


def _unhinted_data_migrations(loader: MigrationLoader, apps: Sequence[str]) -> list[Finding]:
    """W006: RunPython/RunSQL without the hints the routers read about its app."""
    aliases = inspect.alias_names()
    probed = router_hints.probe_routers(aliases, apps)
    found = []
    for (app, name), operations in inspect.data_operations(loader).items():
        readers = [(p.router, sorted(p.keys_by_app[app])) for p in probed if app in p.keys_by_app]
        read = {key for _, keys in readers for key in keys}
        unhinted = [(kind, hints) for kind, hints in operations if not read & set(hints)]
        if not readers or not unhinted or app not in apps:
            continue
        try:
            allowed = {
                alias
                for _, hints in unhinted
                for alias in aliases
                if inspect.allow_migrate(alias, app, **hints)
            }
        except ConfigurationError:
            continue  # a router raises: E006
        runs_on = [alias for alias in aliases if alias in allowed]
        kinds = " and ".join(sorted({kind for kind, _ in unhinted}))
        it = "it" if len(unhinted) == 1 else "them"
        where = f"on {_names(runs_on)}" if runs_on else "on no alias"
        readers_text = "; ".join(f"{router} reads {_quoted(keys)}" for router, keys in readers)
        example = ", ".join(f"{key!r}: ..." for key in readers[0][1])
        found.append(
            Finding(
                id="migrator.W006",
                level="warning",
                alias=runs_on[0] if len(runs_on) == 1 else None,
                obj=f"{app}.{name}",
                message=(
                    f"{app}.{name} has {kinds} without the hints the routers read about app "
                    f"{app!r} ({readers_text}): Django's migrate asks allow_migrate(db, {app!r}) "
                    f"without them for {it}, so {it} {'runs' if it == 'it' else 'run'} {where}, "
                    "wherever the routers allow the app without those hints."
                ),
                hint=(
                    f"Pass the hints the router reads to each operation ({kinds}(..., "
                    f"hints={{{example}}})), or make the router answer for app {app!r} without "
                    "hints."
                ),
            )
        )
    return found


def doctor(app_labels: Collection[str] | None = None, *, migrations: bool = True) -> list[Finding]:
    """Every finding not silenced by ``SILENCED_SYSTEM_CHECKS``; ``migrations=False`` leaves out
    the checks that load the migration files (E007, I001, W006, W007)."""
    found = routing_findings(app_labels) + module_findings(app_labels)
    if migrations:
        found += migration_findings(app_labels)
    return unsilenced(found)


def unsilenced(findings: Sequence[Finding], *, by_old_id_only: bool = False) -> list[Finding]:
    """Leaves out the findings ``SILENCED_SYSTEM_CHECKS`` names, by their ID or their old ID
    (``by_old_id_only``: by the old ID only, for the system checks, as Django filters and counts
    the rest)."""
    named = set(settings.SILENCED_SYSTEM_CHECKS)
    silenced = {new for old, new in RENAMED.items() if old in named}
    if not by_old_id_only:
        silenced |= named
    return [finding for finding in findings if finding.id not in silenced]


def _check_messages(findings: Sequence[Finding]) -> list[checks.CheckMessage]:
    return messages(unsilenced(findings, by_old_id_only=True))


def messages(findings: Sequence[Finding]) -> list[checks.CheckMessage]:
    """Findings as Django's ``Error``/``Warning``/``Info`` system check messages."""
    return [
        _MESSAGE_CLASSES[finding.level](
            finding.message, hint=finding.hint, obj=finding.obj, id=finding.id
        )
        for finding in findings
    ]


# Set while a command that plans anyway runs Django's system checks: its planner refuses a
# cycle itself before touching anything, so loading the migration files twice is not needed.
_planner_checks_migrations: ContextVar[bool] = ContextVar(
    "migrator_planner_checks_migrations", default=False
)


@contextmanager
def migrations_checked_by_planner() -> Iterator[None]:
    token = _planner_checks_migrations.set(True)
    try:
        yield
    finally:
        _planner_checks_migrations.reset(token)


def _labels(app_configs: Sequence[AppConfig] | None) -> set[str] | None:
    return None if app_configs is None else {config.label for config in app_configs}


@checks.register(TAG)
def check_routing(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    return _check_messages(routing_findings(_labels(app_configs)))


# An unimportable MIGRATION_MODULES entry is an error for a deploy (Django's migrate fails on it),
# but must not stop makemigrations, which creates that package: a deploy check (and --doctor, and
# migrate_all's own checks before a run).
@checks.register(TAG, deploy=True)
def check_migration_modules(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    return _check_messages(module_findings(_labels(app_configs)))


# Loading every migration file costs about a second on a large project: too much for every
# runserver start. E007/I001/W006 therefore run with `check --deploy` and `--doctor` (and the planner
# refuses a cycle before every run anyway).
@checks.register(TAG, deploy=True)
def check_migration_graph(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    if _planner_checks_migrations.get():
        return []
    return _check_messages(migration_findings(_labels(app_configs)))
