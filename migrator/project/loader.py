"""The app registry and the migration files: Django's ``MigrationLoader`` built once without a
connection, migrated apps and their dependencies, data migrations and their hints, the files'
stamps (for the routing cache), targets resolved as ``migrate APP NAME`` resolves them."""

from __future__ import annotations

import importlib.machinery
import os
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from django.apps import apps as django_apps
from django.conf import settings
from django.db.migrations.exceptions import AmbiguityError
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunPython, RunSQL, SeparateDatabaseAndState
from django.db.models import ForeignKey, ManyToManyField, Model

from migrator.exceptions import ConfigurationError, UsageError
from migrator.text import first_line
from migrator.types import MigrationKey


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
