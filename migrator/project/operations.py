"""The routers asked per migration operation, exactly as Django's operations ask them at run time.

Django's ``migrate --database X`` runs every migration of every app on X; each operation decides for
itself whether it touches X:

* model operations (``CreateModel``, ``AddField``, ``AddIndex``, ...) ask
  ``allow_migrate_model(X, model)``: the model must be migratable there (managed, concrete, not
  swapped, ``required_db_vendor``) and the routers' ``allow_migrate(X, app_label,
  model_name=..., model=...)`` must allow it;
* ``RunPython`` and ``RunSQL`` ask ``allow_migrate(X, app_label, **hints)`` with their own hints;
* state-only operations (``AlterModelOptions``, ``AlterModelManagers``, the state half of
  ``SeparateDatabaseAndState``) never touch the database;
* operations migrator cannot classify (third-party ones) are taken to execute wherever
  ``allow_migrate(X, app_label, **hints)`` allows, with the operation's ``hints`` if it has any.

A migration *executes* on an alias when any of its operations would; elsewhere Django only records
it. The model flags (managed, proxy, swappable) come from the migrations themselves (the historical
state), not from today's model classes, so deleted, renamed and later-unmanaged models count as
Django counts them. Where Django passes the historical model as the ``model`` hint, migrator passes
today's class of the same label (rendering every historical state would cost as much as running the
migrations); only for a model that no longer exists is the historical model rendered.

Every answer is cached by its question: a project with thousands of migrations asks each router only
once per distinct (alias, app, model) or (alias, app, hints).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.apps import apps as global_apps
from django.conf import settings
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.operations import (
    AlterModelManagers,
    AlterModelOptions,
    CreateModel,
    DeleteModel,
    RenameModel,
    RunPython,
    RunSQL,
    SeparateDatabaseAndState,
)
from django.db.migrations.operations.base import Operation
from django.db.migrations.operations.fields import FieldOperation
from django.db.migrations.operations.models import IndexOperation, ModelOperation

from migrator.project.databases import alias_infos
from migrator.project.loader import migrated_app_labels
from migrator.project.routing import allow_migrate
from migrator.types import AliasInfo, MigrationKey


@dataclass(frozen=True)
class MigrationRouting:
    """Where one migration executes something, and what migrator could not classify in it."""

    key: MigrationKey
    aliases: frozenset[str]
    # Operations migrator does not know, asked as allow_migrate(alias, app_label, **hints).
    unclassified: tuple[str, ...] = ()


@dataclass
class _ModelFlags:
    """What ``Options.can_migrate`` looks at, tracked through the migrations."""

    managed: bool = True
    proxy: bool = False
    swappable: str | None = None
    required_db_vendor: str | None = None


def _flags(options: Mapping[str, Any], flags: _ModelFlags | None = None) -> _ModelFlags:
    flags = flags or _ModelFlags()
    if "managed" in options:
        flags.managed = bool(options["managed"])
    if "proxy" in options:
        flags.proxy = bool(options["proxy"])
    if "swappable" in options:
        flags.swappable = options["swappable"]
    if "required_db_vendor" in options:
        flags.required_db_vendor = options["required_db_vendor"]
    return flags


def _swapped(app: str, model: str, flags: _ModelFlags) -> bool:
    if not flags.swappable:
        return False
    swapped_for = getattr(settings, flags.swappable, None)
    return bool(swapped_for) and str(swapped_for).lower() != f"{app}.{model}"


def _hashable(hints: Mapping[str, Any]) -> tuple[tuple[str, Any], ...] | None:
    try:
        items = tuple(sorted(hints.items()))
        hash(items)
    except TypeError:
        return None
    return items


class Router:
    """The configured routers, asked per operation, each distinct question once."""

    def __init__(self, aliases: Sequence[str], vendors: Mapping[str, str]):
        self.aliases = tuple(aliases)
        self.vendors = dict(vendors)
        self._model_answers: dict[tuple[str, str], frozenset[str]] = {}
        self._hint_answers: dict[tuple[str, Any], frozenset[str]] = {}

    @classmethod
    def of(cls, aliases: Iterable[AliasInfo]) -> Router:
        """The routers over the aliases that are databases (never Django's dummy ``{}``)."""
        infos = [info for info in aliases if info.is_database]
        return cls([info.alias for info in infos], {info.alias: info.vendor for info in infos})

    def model_aliases(self, app: str, model: str, stand_in: Callable[[], Any]) -> frozenset[str]:
        """The aliases where ``allow_migrate(alias, app, model_name=model, model=...)`` is True,
        cached by (app, model); ``stand_in`` gives the ``model`` hint when the routers are asked."""
        key = (app, model)
        answer = self._model_answers.get(key)
        if answer is None:
            hint = stand_in()
            answer = frozenset(
                alias
                for alias in self.aliases
                if allow_migrate(alias, app, model_name=model, model=hint)
            )
            self._model_answers[key] = answer
        return answer

    def hints_aliases(self, app: str, hints: Mapping[str, Any]) -> frozenset[str]:
        """The aliases where ``allow_migrate(alias, app, **hints)`` is True, cached when the hints
        are hashable."""
        frozen = _hashable(hints)
        key = (app, frozen)
        answer = self._hint_answers.get(key) if frozen is not None else None
        if answer is None:
            answer = frozenset(
                alias for alias in self.aliases if allow_migrate(alias, app, **hints)
            )
            if frozen is not None:
                self._hint_answers[key] = answer
        return answer


class _StandIns:
    """The ``model`` hint: today's class of the label, or the historical model when it is gone."""

    def __init__(self, loader: MigrationLoader):
        self.loader = loader
        self._states: dict[tuple[MigrationKey, bool], Any] = {}

    def model(self, key: MigrationKey, app: str, name: str, *, before: bool) -> Any:
        """Today's class, else the model in the state just before (a deletion) or just after
        ``key``; None when it cannot be rendered."""
        try:
            return global_apps.get_model(app, name)
        except LookupError:
            pass
        if (key, before) not in self._states:
            try:
                self._states[(key, before)] = self.loader.project_state(key, at_end=not before).apps
            except Exception:  # a historical state Django itself could not render
                self._states[(key, before)] = None
        rendered = self._states[(key, before)]
        try:
            return rendered.get_model(app, name) if rendered is not None else None
        except LookupError:
            return None


def _is_noop(operation: Operation) -> bool:
    if isinstance(operation, RunPython):
        return operation.code is RunPython.noop and operation.reverse_code in (
            None,
            RunPython.noop,
        )
    if isinstance(operation, RunSQL):
        return operation.sql in ("", [], ()) and operation.reverse_sql in (None, "", [], ())
    return False


def _describe(operation: Operation) -> str:
    cls = type(operation)
    return f"{cls.__module__}.{cls.__qualname__}"


def _model_name(operation: Operation) -> str | None:
    """The model whose ``allow_migrate_model`` the operation asks (lower case), or None."""
    if isinstance(operation, RenameModel):
        return str(operation.new_name_lower)
    if isinstance(operation, ModelOperation):
        return str(operation.name_lower)
    if isinstance(operation, (FieldOperation, IndexOperation)):
        return str(operation.model_name_lower)
    return None


class _Walk:
    """One pass over the migrations in dependency order, tracking the historical model flags."""

    def __init__(self, loader: MigrationLoader, router: Router):
        self.router = router
        self.stand_ins = _StandIns(loader)
        self.models: dict[tuple[str, str], _ModelFlags] = {}

    def track(self, app: str, operation: Operation) -> None:
        """Follow the state: what ``state_forwards`` changes of the flags ``can_migrate`` reads."""
        if isinstance(operation, SeparateDatabaseAndState):
            for inner in operation.state_operations:
                self.track(app, inner)
        elif isinstance(operation, CreateModel):
            self.models[(app, operation.name_lower)] = _flags(operation.options)
        elif isinstance(operation, RenameModel):
            flags = self.models.pop((app, operation.old_name_lower), _ModelFlags())
            self.models[(app, operation.new_name_lower)] = flags
        elif isinstance(operation, AlterModelOptions):
            flags = self.models.setdefault((app, operation.name_lower), _ModelFlags())
            _flags(operation.options, flags)
            for key in ("managed", "proxy"):
                if key in AlterModelOptions.ALTER_OPTION_KEYS and key not in operation.options:
                    setattr(flags, key, key == "managed")  # removed: back to the default
        elif isinstance(operation, DeleteModel):
            self.models.pop((app, operation.name_lower), None)

    def executes(
        self, key: MigrationKey, app: str, operations: Iterable[Operation]
    ) -> tuple[set[str], list[str]]:
        """The aliases where ``operations`` touch the database, and the unclassified ones."""
        aliases: set[str] = set()
        unclassified: list[str] = []
        router = self.router
        for operation in operations:
            if isinstance(operation, SeparateDatabaseAndState):
                found, unknown = self.executes(key, app, operation.database_operations)
                aliases |= found
                unclassified += unknown
                self.track(app, operation)
                continue
            if isinstance(operation, (AlterModelOptions, AlterModelManagers)):
                self.track(app, operation)  # state only: database_forwards does nothing
                continue
            name = _model_name(operation)
            # A creation or rename is asked with the flags it sets; any other model operation
            # with the flags before it (a deletion, with those of the model it deletes).
            tracked = isinstance(operation, (CreateModel, RenameModel))
            if tracked:
                self.track(app, operation)
            if name is not None:
                flags = self.models.get((app, name), _ModelFlags())
                if not (flags.proxy or not flags.managed or _swapped(app, name, flags)):
                    before = isinstance(operation, DeleteModel)
                    allowed = router.model_aliases(
                        app, name, partial(self.stand_ins.model, key, app, name, before=before)
                    )
                    vendor = flags.required_db_vendor
                    aliases.update(
                        alias
                        for alias in allowed
                        if vendor is None or router.vendors.get(alias) == vendor
                    )
                if not tracked:
                    self.track(app, operation)
                continue
            if _is_noop(operation):
                continue
            if not isinstance(operation, (RunPython, RunSQL)):
                unclassified.append(_describe(operation))
            aliases |= router.hints_aliases(app, getattr(operation, "hints", None) or {})
        return aliases, unclassified


def migration_routing(
    loader: MigrationLoader, router: Router, apps: Collection[str] | None = None
) -> dict[MigrationKey, MigrationRouting]:
    """For every migration in the graph (of ``apps``, when given), the aliases it executes on.

    The walk covers the whole graph in dependency order even when ``apps`` is given: the model
    flags of one app can be changed by another app's migrations only through its own state, but
    the order keeps the historical state right.
    """
    walk = _Walk(loader, router)
    routing: dict[MigrationKey, MigrationRouting] = {}
    for key in _ordered(loader):
        migration: Migration = loader.graph.nodes[key]
        aliases, unclassified = walk.executes(key, migration.app_label, migration.operations)
        if apps is None or key[0] in apps:
            routing[key] = MigrationRouting(key, frozenset(aliases), tuple(unclassified))
    return routing


def _ordered(loader: MigrationLoader) -> list[MigrationKey]:
    """Every migration of the graph, dependencies first: one depth-first pass over all nodes."""
    order: list[MigrationKey] = []
    seen: set[MigrationKey] = set()
    node_map = loader.graph.node_map
    for start in sorted(node_map):
        if start in seen:
            continue
        stack: list[tuple[Any, bool]] = [(node_map[start], False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node.key)
                continue
            if node.key in seen:
                continue
            seen.add(node.key)
            stack.append((node, True))
            stack.extend((parent, False) for parent in node.parents if parent.key not in seen)
    return order


def app_matrix(
    routing: Mapping[MigrationKey, MigrationRouting], apps: Sequence[str], aliases: Sequence[str]
) -> dict[str, tuple[str, ...]]:
    """For each app, the aliases (settings order) where any of its migrations executes."""
    found: dict[str, set[str]] = {app: set() for app in apps}
    for (app, _name), entry in routing.items():
        if app in found:
            found[app] |= entry.aliases
    return {app: tuple(alias for alias in aliases if alias in found[app]) for app in apps}


def routed_matrix(loader: MigrationLoader) -> dict[str, tuple[str, ...]]:
    """For each app with migrations, the aliases where any of its migrations executes."""
    aliases = [info for info in alias_infos() if info.is_database]
    routing = migration_routing(loader, Router.of(aliases))
    return app_matrix(routing, migrated_app_labels(loader), [info.alias for info in aliases])
