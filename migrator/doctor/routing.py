"""The routing doctor: routing mistakes caught before they reach a database (models and routers
here; migration files in ``migrations``).

Every fact comes from ``migrator.project`` (settings, routers, models, migration files, which hints
the routers read); nothing here touches a database. The findings are plain ``Finding`` values;
registered as Django system checks (tag ``migrator``, ``system_checks``) they show in
``manage.py check`` and before every command that checks.

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

from collections.abc import Collection, Sequence

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Model

from migrator.exceptions import RouterError
from migrator.project import router_hints
from migrator.project.databases import alias_names, mirrors
from migrator.project.loader import (
    constrained_relations,
    counted_models,
    installed_app_labels,
    is_counted,
)
from migrator.project.routing import (
    any_router_defines,
    db_for,
    model_aliases,
)
from migrator.text import join, plural, quoted
from migrator.types import Finding


class _Routing:
    """Router answers per model, each asked once; router problems are collected (E005/E006)."""

    def __init__(self) -> None:
        self.aliases = alias_names()
        self.mirrors = mirrors()
        self._homes: dict[type[Model], tuple[str, ...] | None] = {}
        # (router, method, outcome) -> the calls that went wrong that way, one per model
        self._problems: dict[tuple[str, str, str], list[tuple[RouterError, str]]] = {}

    def homes(self, model: type[Model]) -> tuple[str, ...] | None:
        """Aliases where the model's table is created; None when a router raised."""
        if model not in self._homes:
            try:
                self._homes[model] = model_aliases(model, self.aliases)
            except RouterError as error:
                self._router_problem(error, model)
                self._homes[model] = None
        return self._homes[model]

    def route(self, action: str, model: type[Model]) -> str | None:
        """The alias ``db_for_read``/``db_for_write`` picks; None when a router misbehaved."""
        try:
            return db_for(action, model, self.aliases)
        except RouterError as error:
            self._router_problem(error, model)
            return None

    def tables(self, model: type[Model]) -> tuple[str, ...] | None:
        """Where the table of a relation's target is: its homes, or for an unmanaged model the
        alias its writes go to (another system creates the table there)."""
        if is_counted(model):
            return self.homes(model)
        try:
            return (db_for("write", model, self.aliases),)
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
                            f"Return one of {join(self.aliases)} (or None to let the next "
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
        action: [] for action in ("write", "read") if not any_router_defines(f"db_for_{action}")
    }
    for app in installed_app_labels():
        if app_labels is not None and app not in app_labels:
            continue
        for model in counted_models(app):
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


def _hints_only_routers(aliases: Sequence[str]) -> list[Finding]:
    """I002: a router whose allow_migrate answers from hints only."""
    found = []
    for probed in router_hints.probe_routers(aliases, installed_app_labels()):
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
                    f"{quoted(probed.keys)}, and {' and '.join(facts)}. Django's migrate asks "
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
            f"{meta.label} is refused by allow_migrate on every alias ({join(aliases)}): its "
            f"table {_table(model)!r} is never created, so every query on it fails."
        ),
        hint=(
            f"Make a router's allow_migrate return True for app {meta.app_label!r} (model_name="
            f"{meta.model_name!r}) on the alias that should hold it, or set Meta.managed = False "
            "if another system creates the table."
        ),
    )


def _one_of(aliases: Sequence[str]) -> str:
    return repr(aliases[0]) if len(aliases) == 1 else f"one of {join(aliases)}"


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
            f"{join(homes)}, so writes fail with 'relation does not exist'."
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
    listed = [f"{model._meta.label} ({join(homes)})" for model, homes in models]
    count = plural(len(models), "model")
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
            f"created only on {join(homes)} and {why}: reads fail with 'relation does not "
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
            f"allow_migrate accepts {meta.label} on {join(homes)}, but db_for_write sends "
            f"every write to {write!r}: the {tables.format(join(others))} created and never "
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
    for name, kind, target in constrained_relations(model):
        tables = routing.tables(target)
        if tables is None:
            continue
        missing = [alias for alias in homes if not routing.holds(alias, tables)]
        if not missing:
            continue
        there = f"only on {join(tables)}" if tables else "on no alias"
        found.append(
            Finding(
                id="migrator.E004",
                level="error",
                alias=missing[0],
                obj=f"{label}.{name}",
                message=(
                    f"{label}.{name} is a {kind} to {target._meta.label} with db_constraint=True, "
                    f"but {label}'s table is created on {join(homes)} and "
                    f"{target._meta.label}'s {there}: the migration cannot create the "
                    f"foreign key constraint on {join(missing)}."
                ),
                hint=(
                    f"Pass db_constraint=False to {label}.{name} (no database can enforce a key "
                    "across databases), or route both models to one alias."
                ),
            )
        )
    return found
