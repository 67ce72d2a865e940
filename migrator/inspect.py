"""The one place that reads Django: settings, the app registry, the routers and migration files.

Everything here is read-only. Database access is limited to reading ``django_migrations`` of aliases
that are in the plan (``read_applied``); nothing here creates a table or a database file.
"""

from __future__ import annotations

import importlib.machinery
import os
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from django.apps import apps as django_apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.migrations.exceptions import AmbiguityError
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunPython, RunSQL, SeparateDatabaseAndState
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import ForeignKey, ManyToManyField, Model

from migrator import django_compat
from migrator.errors import ConfigurationError, RouterError, UsageError
from migrator.types import (
    DUMMY_ENGINE,
    DUMMY_VENDOR,
    AliasInfo,
    PendingMigration,
    Step,
    StepState,
)

MigrationKey = tuple[str, str]


def alias_infos() -> tuple[AliasInfo, ...]:
    """Every ``DATABASES`` entry in settings order, without passwords.

    An alias without an ENGINE (``"default": {}``: Django's dummy backend) is listed with vendor
    ``"dummy"`` and no backend loaded: it is not a database, so it is never planned, probed or
    connected to.
    """
    infos = []
    for alias, entry in _database_settings().items():
        if is_dummy(entry):
            infos.append(AliasInfo(alias=alias, vendor=DUMMY_VENDOR, engine=DUMMY_ENGINE, name=""))
            continue
        engine = str(entry.get("ENGINE") or "")
        try:
            vendor = connections[alias].vendor
        except Exception as exc:  # ImproperlyConfigured for a backend that cannot be imported
            raise ConfigurationError(
                f"DATABASES[{alias!r}]: ENGINE {engine!r} cannot be loaded ({first_line(exc)}); "
                "install its driver (e.g. pip install 'django-migrate-all[postgres]') or fix the ENGINE."
            ) from None
        infos.append(
            AliasInfo(
                alias=alias,
                vendor=vendor,
                engine=engine,
                name=str(entry.get("NAME") or ""),
                host=str(entry.get("HOST") or ""),
                port=str(entry.get("PORT") or ""),
                user=str(entry.get("USER") or ""),
                source=_parameter_source(vendor, entry),
            )
        )
    return tuple(infos)


def _database_settings() -> Mapping[str, Mapping[str, Any]]:
    """``DATABASES`` as Django's connection handler completes it (an empty ``DATABASES`` gets
    a dummy ``default``); reading it loads no backend and connects to nothing."""
    return connections.settings


def is_dummy(entry: Mapping[str, Any]) -> bool:
    """An entry Django fills in as its dummy backend: no ENGINE (``{}``), or the dummy itself."""
    engine = str(entry.get("ENGINE") or "")
    return engine in ("", "django.db.backends.", DUMMY_ENGINE)


def _parameter_source(vendor: str, entry: Mapping[str, Any]) -> str:
    """Where the driver finds what NAME leaves out: a libpq service or a MySQL option file."""
    options: Mapping[str, Any] = entry.get("OPTIONS") or {}
    if vendor == "postgresql" and options.get("service"):
        return f"service {options['service']}"
    if vendor == "mysql" and options.get("read_default_file"):
        return f"read_default_file {options['read_default_file']}"
    return ""


def not_databases() -> tuple[str, ...]:
    """Aliases configured without an ENGINE (Django's dummy backend), in settings order."""
    return tuple(alias for alias, entry in _database_settings().items() if is_dummy(entry))


def passwords() -> tuple[str, ...]:
    """Every configured password, so that output can be scrubbed of them."""
    found = []
    for entry in settings.DATABASES.values():
        password = entry.get("PASSWORD")
        if password:
            found.append(str(password))
        options: Mapping[str, Any] = entry.get("OPTIONS") or {}  # type: ignore[assignment]
        found.extend(str(options[key]) for key in ("password", "passwd") if options.get(key))
    return tuple(found)


def history_problems(loader: MigrationLoader, alias: str, applied: set[MigrationKey]) -> list[str]:
    """Django's consistent-history check (an applied migration whose dependency is not), on
    the applied set already read, so that it is reported before anything runs."""
    problems = []
    for key in sorted(applied):
        if key not in loader.graph.nodes:
            continue
        for parent in sorted(loader.graph.node_map[key].parents, key=lambda node: node.key):
            if parent.key in applied:
                continue
            replacement = loader.replacements.get(parent.key)
            if replacement is not None and all(m in applied for m in replacement.replaces):
                continue
            problems.append(
                f"{alias}: migration {key[0]}.{key[1]} is recorded as applied before its dependency "
                f"{parent.key[0]}.{parent.key[1]} (InconsistentMigrationHistory). Record the "
                "dependency if its changes are in the database, or unrecord the later migration; "
                f"'manage.py showmigrations --database {alias}' shows the history."
            )
    return problems


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


@dataclass(frozen=True)
class UnimportableModule:
    """A ``MIGRATION_MODULES`` entry of an installed app whose module cannot be imported: Django's
    ``migrate`` raises on it (``makemigrations APP`` creates the package)."""

    app: str
    module: str
    reason: str  # "ModuleNotFoundError: No module named 'x'"

    @property
    def message(self) -> str:
        return (
            f"MIGRATION_MODULES[{self.app!r}] = {self.module!r} cannot be imported "
            f"({self.reason}): Django's migrate fails on it, so migrate_all refuses to run."
        )

    @property
    def fix(self) -> str:
        return (
            f"Run 'manage.py makemigrations {self.app}' to create the package, correct the "
            f"module path, or set MIGRATION_MODULES[{self.app!r}] = None to disable {self.app}'s "
            "migrations."
        )


def unimportable_migration_modules() -> tuple[UnimportableModule, ...]:
    """``MIGRATION_MODULES`` entries (of installed apps, not None) that cannot be imported, in
    INSTALLED_APPS order. Django's loader skips them when asked to ignore missing migrations
    (``makemigrations``, ``showmigrations``) and raises in ``migrate``."""
    configured: Mapping[str, str | None] = getattr(settings, "MIGRATION_MODULES", None) or {}
    found = []
    for label in installed_app_labels():
        module = configured.get(label)
        if module is None:
            continue  # not configured, or None: migrations disabled on purpose
        try:
            import_module(module)
        except Exception as exc:  # ModuleNotFoundError, or the package raises while importing
            reason = f"{type(exc).__name__}: {first_line(exc)}"
            found.append(UnimportableModule(label, str(module), reason))
    return tuple(found)


def load_migrations(*, strict: bool = True) -> MigrationLoader:
    """Django's migration graph, built without a database; refuses conflicting leaves and (unless
    ``strict`` is False) an unimportable ``MIGRATION_MODULES`` entry, as Django's ``migrate``
    does: the loader would silently leave that app out."""
    if strict:
        unimportable = unimportable_migration_modules()
        if unimportable:
            raise ConfigurationError(
                "\n".join(f"{problem.message} {problem.fix}" for problem in unimportable)
            )
    try:
        loader = MigrationLoader(None, ignore_no_migrations=True)
    except Exception as exc:  # a migration module that raises on import, or is not a migration
        raise ConfigurationError(
            f"Django's migration loader failed: {type(exc).__name__}: {first_line(exc)}"
            f"{_where(exc)}. Fix that migration file (--traceback shows the whole error); "
            "nothing was migrated."
        ) from exc
    conflicts = dict(loader.detect_conflicts().items())
    if conflicts:
        listed = "; ".join(
            f"{', '.join(sorted(names))} in {app}" for app, names in conflicts.items()
        )
        raise ConfigurationError(
            "Conflicting migrations detected; multiple leaf nodes in the migration graph: "
            f"({listed}). To fix them run 'python manage.py makemigrations --merge'."
        )
    return loader


def _where(exc: BaseException) -> str:
    """`` (in FILE, line N)``: the deepest frame outside Django and the import system, usually
    the migration file that raised."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f" (in {exc.filename}, line {exc.lineno})"
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if "importlib" not in frame.filename
        and f"{os.sep}django{os.sep}" not in frame.filename
        and not frame.filename.startswith("<")
    ]
    return f" (in {frames[-1].filename}, line {frames[-1].lineno})" if frames else ""


def installed_app_labels() -> tuple[str, ...]:
    return tuple(config.label for config in django_apps.get_app_configs())


def migrated_app_labels(loader: MigrationLoader) -> tuple[str, ...]:
    """Apps with migrations, in INSTALLED_APPS order."""
    return tuple(label for label in installed_app_labels() if label in loader.migrated_apps)


def app_dependencies(loader: MigrationLoader) -> dict[str, frozenset[str]]:
    """For each app with migrations, the other apps its migrations depend on."""
    deps: dict[str, set[str]] = {label: set() for label in loader.migrated_apps}
    for (app, _name), node in loader.graph.node_map.items():
        for parent in node.parents:
            if parent.key[0] != app:
                deps.setdefault(app, set()).add(parent.key[0])
    return {app: frozenset(parents) for app, parents in deps.items()}


def counted_models(app_label: str) -> list[type[Model]]:
    """The models whose tables migrations create: managed, concrete, not swapped."""
    config = django_apps.get_app_config(app_label)
    return [model for model in config.get_models() if is_counted(model)]


def is_counted(model: type[Model]) -> bool:
    """Migrations create this model's table: it is managed, concrete and not swapped."""
    meta = model._meta
    return bool(meta.managed and not meta.proxy and not meta.swapped)


def alias_names() -> tuple[str, ...]:
    """The aliases that are databases, in settings order (no database backend is loaded): those
    configured without an ENGINE (Django's dummy backend) are left out, so the routers are never
    asked about them and no plan, check or graph includes them."""
    return tuple(alias for alias, entry in _database_settings().items() if not is_dummy(entry))


def mirrors() -> dict[str, str]:
    """Aliases declared mirrors of another (``TEST["MIRROR"]``: a replica), with that alias."""
    found = {}
    for alias, entry in settings.DATABASES.items():
        test: Mapping[str, Any] = entry.get("TEST") or {}  # type: ignore[assignment]
        if test.get("MIRROR"):
            found[alias] = str(test["MIRROR"])
    return found


def constrained_relations(model: type[Model]) -> list[tuple[str, str, type[Model]]]:
    """``(field name, field class, target model)`` for the keys of ``model``'s table that carry a
    database constraint: its own ForeignKey/OneToOneField, and ManyToManyField with an
    auto-created through table, whose ``db_constraint`` is True."""
    found = []
    for field in [*model._meta.local_fields, *model._meta.local_many_to_many]:
        if not isinstance(field, (ForeignKey, ManyToManyField)):
            continue
        if not getattr(field, "db_constraint", True):
            continue
        target = field.related_model
        if not isinstance(target, type):
            continue  # a lazy reference to a model that is not installed
        if isinstance(field, ManyToManyField):
            through = field.remote_field.through
            if through is None or not through._meta.auto_created:
                continue  # an explicit through model is checked as a model of its own
        found.append((field.name, type(field).__name__, target._meta.concrete_model or target))
    return found


def data_migrations(loader: MigrationLoader) -> dict[MigrationKey, tuple[MigrationKey, ...]]:
    """Migrations that run ``RunPython``, each with its direct dependencies in other apps."""
    found = {}
    for key, migration in sorted(loader.graph.nodes.items()):
        if not _runs_python(migration.operations):
            continue
        parents = loader.graph.node_map[key].parents
        found[key] = tuple(sorted(p.key for p in parents if p.key[0] != key[0]))
    return found


def data_operations(
    loader: MigrationLoader,
) -> dict[MigrationKey, list[tuple[str, dict[str, Any]]]]:
    """Migrations with ``RunPython``/``RunSQL`` operations: each operation's class name and hints,
    in order (``SeparateDatabaseAndState``'s database side included)."""
    found = {}
    for key, migration in sorted(loader.graph.nodes.items()):
        operations = [
            (type(op).__name__, dict(op.hints)) for op in _data_operations(migration.operations)
        ]
        if operations:
            found[key] = operations
    return found


def _data_operations(operations: Iterable[Any]) -> Iterable[Any]:
    for operation in operations:
        if isinstance(operation, SeparateDatabaseAndState):
            yield from _data_operations(operation.database_operations)
        elif isinstance(operation, (RunPython, RunSQL)):
            yield operation


def _runs_python(operations: Iterable[Any]) -> bool:
    return any(
        isinstance(operation, RunPython)
        or (
            isinstance(operation, SeparateDatabaseAndState)
            and _runs_python(operation.database_operations)
        )
        for operation in operations
    )


def _router_name(candidate: object) -> str:
    cls = type(candidate)
    return f"{cls.__module__}.{cls.__qualname__}"


def _raised(exc: Exception) -> str:
    return f"raised {type(exc).__name__}: {first_line(exc)}"


def allow_migrate(alias: str, app_label: str, **hints: Any) -> bool:
    """``router.allow_migrate`` that names the router when one raises (``RouterError``)."""
    for candidate in router.routers:
        method = getattr(candidate, "allow_migrate", None)
        if method is None:
            continue
        try:
            allowed = method(alias, app_label, **hints)
        except Exception as exc:
            model = f", model_name={hints['model_name']!r}" if hints.get("model_name") else ""
            raise RouterError(
                _router_name(candidate),
                f"allow_migrate({alias!r}, {app_label!r}{model})",
                _raised(exc),
                "Fix the router; nothing was migrated.",
                raised=True,
            ) from exc  # --traceback shows the router's frame (scrubbed by the command)
        if allowed is not None:
            return bool(allowed)
    return True


def model_aliases(model: type[Model], aliases: Iterable[str]) -> tuple[str, ...]:
    """The aliases whose ``allow_migrate`` accepts ``model``: where its table is created."""
    meta = model._meta
    return tuple(
        alias
        for alias in aliases
        if allow_migrate(alias, meta.app_label, model_name=meta.model_name, model=model)
    )


def any_router_defines(method: str) -> bool:
    """Some router in ``DATABASE_ROUTERS`` has ``method`` (e.g. "db_for_write")."""
    return any(hasattr(candidate, method) for candidate in router.routers)


def db_for(action: str, model: type[Model], aliases: Iterable[str]) -> str:
    """The alias ``db_for_read`` or ``db_for_write`` (``action`` "read" or "write") picks for
    ``model``, asking the routers in turn as Django does (``default`` when none answers).

    Raises ``RouterError`` naming the router that raises or returns an alias not in ``aliases``.
    """
    known = set(aliases)
    name = f"db_for_{action}"
    for candidate in router.routers:
        method = getattr(candidate, name, None)
        if method is None:
            continue
        call = f"{name}({model._meta.label})"
        try:
            chosen = method(model)
        except Exception as exc:
            raise RouterError(
                _router_name(candidate),
                call,
                _raised(exc),
                "Fix the router; nothing was migrated.",
                raised=True,
            ) from exc  # --traceback shows the router's frame (scrubbed by the command)
        if not chosen:
            continue
        if chosen not in known:
            dummy = chosen in not_databases()
            raise RouterError(
                _router_name(candidate),
                call,
                f"returned {chosen!r}, which is "
                + (
                    "not a database (no ENGINE: Django's dummy backend, where every query fails)"
                    if dummy
                    else f"not in DATABASES ({', '.join(sorted(known))})"
                ),
                "Fix the router's alias"
                + (
                    f" or give DATABASES[{chosen!r}] an ENGINE."
                    if dummy
                    else " or add it to DATABASES."
                ),
                raised=False,
            )
        return str(chosen)
    return DEFAULT_DB_ALIAS


def check_write_routes(aliases: Iterable[str], app_labels: Iterable[str]) -> None:
    """``db_for_write`` of every counted model must name a known alias (``RouterError``)."""
    alias_list = list(aliases)
    for app in app_labels:
        for model in counted_models(app):
            db_for("write", model, alias_list)


def routing_matrix(aliases: Iterable[str], app_labels: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """For each app, the aliases (in settings order) the routers allow today's models on.

    The model-level view (the doctor's, and the routing cache's key): an app applies to an alias
    when any of its counted models is allowed there; an app without counted models is asked once
    with ``model_name=None``. The planner asks per migration operation (``project``).
    """
    alias_list = list(aliases)
    matrix: dict[str, tuple[str, ...]] = {}
    for app in app_labels:
        check_write_routes(alias_list, [app])
        models = counted_models(app)
        allowed = []
        for alias in alias_list:
            if models:
                ok = any(
                    allow_migrate(alias, app, model_name=model._meta.model_name, model=model)
                    for model in models
                )
            else:
                ok = allow_migrate(alias, app, model_name=None)
            if ok:
                allowed.append(alias)
        matrix[app] = tuple(allowed)
    return matrix


def resolve_target(loader: MigrationLoader, app: str, name: str) -> str:
    """A full migration name for ``--target APP:NAME`` (a unique prefix is enough, as in migrate)."""
    if name == "zero":
        return name
    try:
        migration = loader.get_migration_by_prefix(app, name)
    except AmbiguityError:
        raise UsageError(
            f"--target {app}:{name}: more than one migration of {app!r} starts with {name!r}; "
            "give more of its name."
        ) from None
    except KeyError:
        known = sorted(key[1] for key in loader.graph.nodes if key[0] == app)
        raise UsageError(
            f"--target {app}:{name}: {app!r} has no migration named {name!r}. "
            f"Its migrations: {', '.join(known)} (or zero)."
        ) from None
    return str(migration.name)


def sqlite_file_missing(alias: str) -> bool:
    """True for an SQLite alias whose file does not exist yet: reading it would create it."""
    connection = connections[alias]
    if connection.vendor != "sqlite":
        return False
    name = str(connection.settings_dict.get("NAME") or "")
    if not name or name == ":memory:" or name.startswith("file:"):
        return False
    return not os.path.exists(name)


def read_applied(alias: str) -> set[MigrationKey]:
    """The migrations recorded on ``alias``, in one query; never creates ``django_migrations``
    or a database file."""
    if sqlite_file_missing(alias):
        return set()
    connection = connections[alias]
    if not MigrationRecorder(connection).has_table():
        return set()
    table = connection.ops.quote_name(MigrationRecorder.Migration._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT app, name FROM {table}")
        return {(str(app), str(name)) for app, name in cursor.fetchall()}


Stamp = tuple[int, int]  # (size, modification time in ns) of a migration file


def disk_migration_stamps() -> dict[str, dict[str, Stamp]] | None:
    """Migration files per migrated app, found the way Django's loader finds them (including
    ``MIGRATION_MODULES``) but without importing the migration modules: name -> size and
    modification time (the routing cache's key).

    None when in doubt (a migrations module that cannot be imported): callers then use the full
    loader, which reports the problem as Django would.
    """
    found: dict[str, dict[str, Stamp]] = {}
    for config in django_apps.get_app_configs():
        module_name, _explicit = MigrationLoader.migrations_module(config.label)
        if module_name is None:
            continue
        try:
            module = import_module(module_name)
        except ModuleNotFoundError as exc:
            if not _explicit and "migrations" in (exc.name or "").split("."):
                continue  # as the loader: an app without a migrations package is unmigrated
            return None  # an explicit MIGRATION_MODULES entry: load_migrations() refuses it
        except Exception:
            return None
        path = getattr(module, "__path__", None)
        if path is None or (
            getattr(module, "__file__", None) is None and not isinstance(path, list)
        ):
            continue
        names = _module_names(path)
        if names is None:
            return None
        found[config.label] = {name: stamp for name, stamp in names.items() if name[0] not in "_~"}
    return found


_SUFFIXES = tuple(sorted(importlib.machinery.all_suffixes(), key=len, reverse=True))


def _module_names(path: Iterable[str]) -> dict[str, Stamp] | None:
    """Plain (non-package) module names in package folders, as ``pkgutil.iter_modules`` lists
    them, from one directory scan each; None for a folder that is not a plain directory."""
    names: dict[str, Stamp] = {}
    for folder in path:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return None
        for entry in entries:
            if entry.is_dir():
                continue
            suffix = next((s for s in _SUFFIXES if entry.name.endswith(s)), None)
            if suffix is None:
                continue
            name = entry.name[: -len(suffix)]
            if name and name != "__init__":
                try:
                    info = entry.stat()
                except OSError:
                    return None
                previous = names.get(name, (0, 0))
                names[name] = (previous[0] + info.st_size, max(previous[1], info.st_mtime_ns))
    return names


def app_leaves(loader: MigrationLoader) -> dict[str, list[MigrationKey]]:
    """Leaf migrations per app, computed in one pass over the graph."""
    leaves: dict[str, list[MigrationKey]] = {}
    for key in loader.graph.leaf_nodes():
        leaves.setdefault(key[0], []).append(key)
    return leaves


def step_state(
    loader: MigrationLoader,
    step: Step,
    applied: set[MigrationKey],
    alias: str | None = None,
    leaves: dict[str, list[MigrationKey]] | None = None,
    *,
    executes: Callable[[str, str], bool],
) -> StepState:
    """What Django's ``migrate`` would do for ``step`` given the applied set, as Django plans it.

    ``executes(app, name)``: whether that migration executes something on this alias; the others
    in Django's plan are only recorded there.
    """
    pending: list[PendingMigration] = []
    dependencies: list[PendingMigration] = []
    for migration, backwards in django_plan(loader, step, applied, alias, leaves):
        item = PendingMigration(migration.app_label, migration.name, backwards)
        runs = executes(migration.app_label, migration.name)
        (pending if runs else dependencies).append(item)
    return StepState(step=step, pending=tuple(pending), recorded_dependencies=tuple(dependencies))


def django_plan(
    loader: MigrationLoader,
    step: Step,
    applied: set[MigrationKey],
    alias: str | None = None,
    leaves: dict[str, list[MigrationKey]] | None = None,
) -> list[tuple[Any, bool]]:
    """``MigrationExecutor.migration_plan`` for the step's targets on the applied set."""
    if loader.replacements and alias is not None:
        # Squashed migrations change the graph per database: let Django build it for this alias,
        # then plan from ``applied`` (what earlier steps of the run will have applied there), a
        # squash counting as applied once everything it replaces is, as Django's loader counts it.
        source: Any = MigrationLoader(connections[alias], ignore_no_migrations=True)
        keys = set(applied)
        keys |= {
            key
            for key, squash in loader.replacements.items()
            if all(replaced in keys for replaced in squash.replaces)
        }
        source.applied_migrations = dict.fromkeys(keys)
    else:
        source = django_compat.LoaderView(loader, applied)
    if leaves is None or source.graph is not loader.graph:
        leaves = {app: sorted(source.graph.leaf_nodes(app)) for app in step.apps}
    return django_compat.migration_plan(source, list(_targets(leaves, step)))


def _targets(leaves: dict[str, list[MigrationKey]], step: Step) -> Iterable[tuple[str, str | None]]:
    for app in step.apps:
        if step.target == "zero":
            yield (app, None)
        elif step.target:
            yield (app, step.target)
        else:
            yield from sorted(leaves.get(app, ()))
