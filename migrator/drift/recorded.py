"""What the recorded migrations say: the migration graph replayed up to what ``django_migrations``
records on an alias (as Django's executor builds its state), the tables and columns of the models
routed there, and which migration created each (``Origins``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps.registry import Apps
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.operations import (
    AddField,
    CreateModel,
    DeleteModel,
    RemoveField,
    RenameField,
    RenameModel,
    SeparateDatabaseAndState,
)
from django.db.migrations.operations.base import Operation
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState
from django.db.models import Model

from migrator.project import operations
from migrator.project.databases import alias_infos
from migrator.project.loader import load_migrations
from migrator.project.routing import allow_migrate
from migrator.text import run_command
from migrator.types import (
    MigrationKey,
)

KINDS = ("missing-table", "missing-columns", "wrong-schema", "unrecorded")


HISTORY_TABLE = str(MigrationRecorder.Migration._meta.db_table)


@dataclass
class Origins:
    """Which migration created each model and added each field, from their operations."""

    models: dict[tuple[str, str], MigrationKey] = field(default_factory=dict)
    fields: dict[tuple[str, str, str], MigrationKey] = field(default_factory=dict)
    # A renamed field: the name the migration that added it gave it, and the last renaming one.
    renamed: dict[tuple[str, str, str], tuple[str, MigrationKey]] = field(default_factory=dict)

    def trace(self, key: MigrationKey, operations: Iterable[Operation]) -> None:
        app = key[0]
        for operation in operations:
            if isinstance(operation, SeparateDatabaseAndState):
                self.trace(key, operation.state_operations)
            elif isinstance(operation, CreateModel):
                self._forget(app, operation.name_lower)  # a model created again starts afresh
                self.models[(app, operation.name_lower)] = key
                for name, _field in operation.fields:
                    self.fields[(app, operation.name_lower, name)] = key
            elif isinstance(operation, AddField):
                self.fields[(app, operation.model_name_lower, operation.name)] = key
            elif isinstance(operation, RemoveField):
                self.fields.pop((app, operation.model_name_lower, operation.name), None)
                self.renamed.pop((app, operation.model_name_lower, operation.name), None)
            elif isinstance(operation, RenameField):
                model, old, new = operation.model_name_lower, operation.old_name, operation.new_name
                origin = self.fields.pop((app, model, old), None)
                if origin is not None:
                    self.fields[(app, model, new)] = origin
                    first = self.renamed.pop((app, model, old), (old, key))[0]
                    self.renamed[(app, model, new)] = (first, key)
            elif isinstance(operation, DeleteModel):
                self._forget(app, operation.name_lower)
            elif isinstance(operation, RenameModel):
                self._rename(app, operation.old_name_lower, operation.new_name_lower)

    def _forget(self, app: str, model: str) -> None:
        self.models.pop((app, model), None)
        for table in (self.fields, self.renamed):
            for key in [key for key in table if key[:2] == (app, model)]:
                del table[key]

    def _rename(self, app: str, old: str, new: str) -> None:
        origin = self.models.pop((app, old), None)
        if origin is not None:
            self.models[(app, new)] = origin
        for key in [key for key in self.fields if key[:2] == (app, old)]:
            self.fields[(app, new, key[2])] = self.fields.pop(key)
        for key in [key for key in self.renamed if key[:2] == (app, old)]:
            self.renamed[(app, new, key[2])] = self.renamed.pop(key)


@dataclass(frozen=True)
class Table:
    """A table the migrations create on an alias: a model's, or an auto-created M2M table."""

    app: str
    model: str  # "users.User", "auth.User_groups"
    name: str
    columns: tuple[str, ...]
    origin: MigrationKey | None  # the migration that creates the table
    column_origins: tuple[MigrationKey | None, ...]  # per column: the migration that adds it
    # Per column: for a renamed field, the column it was added as and the migration renaming it.
    column_renames: tuple[tuple[str, MigrationKey] | None, ...] = ()


def plan_order(graph: MigrationGraph) -> list[MigrationKey]:
    """Every migration in the order Django's executor plans them from a clean start."""
    order: list[MigrationKey] = []
    seen: set[MigrationKey] = set()
    for leaf in sorted(graph.leaf_nodes()):
        for key in graph.forwards_plan(leaf):
            if key not in seen:
                seen.add(key)
                order.append(key)
    return order


def migration_of(graph: MigrationGraph, key: MigrationKey) -> Migration:
    migration = graph.nodes[key]
    assert migration is not None  # only dummy nodes (missing dependencies) are None
    return migration


def replay(
    loader: MigrationLoader, graph: MigrationGraph, keys: Iterable[MigrationKey]
) -> tuple[Apps, Origins]:
    """The rendered models after ``keys`` (in plan order), as ``_create_project_state`` builds
    them with ``with_applied_migrations=True``, and where each model and field came from."""
    state = ProjectState(real_apps=loader.unmigrated_apps)
    origins = Origins()
    for key in keys:
        migration = migration_of(graph, key)
        migration.mutate_state(state, preserve=False)
        origins.trace(key, migration.operations)
    return state.apps, origins


def migrated_here(model: type[Model], alias: str) -> bool:
    """Django's migrate creates this model's table on ``alias`` (the check its operations make)."""
    meta = model._meta
    return bool(meta.can_migrate(alias)) and allow_migrate(
        alias, meta.app_label, model_name=meta.model_name, model=model
    )


def tables_of(apps: Apps, app_labels: Sequence[str], alias: str, origins: Origins) -> list[Table]:
    """The tables of the models of ``app_labels`` that migrate creates on ``alias``."""
    position = {label: index for index, label in enumerate(app_labels)}
    found = []
    for model in apps.get_models():
        meta = model._meta
        if meta.app_label not in position or not migrated_here(model, alias):
            continue
        model_key = (meta.app_label, str(meta.model_name))
        fields = list(meta.local_concrete_fields)
        found.append(
            Table(
                app=meta.app_label,
                model=meta.label,
                name=meta.db_table,
                columns=tuple(str(f.column) for f in fields),
                origin=origins.models.get(model_key),
                column_origins=tuple(origins.fields.get((*model_key, f.name)) for f in fields),
                column_renames=tuple(
                    _added_as(f, origins.renamed.get((*model_key, f.name))) for f in fields
                ),
            )
        )
        for m2m in meta.local_many_to_many:
            through = m2m.remote_field.through
            if not isinstance(through, type) or not through._meta.auto_created:
                continue
            origin = origins.fields.get((*model_key, m2m.name))
            columns = tuple(str(f.column) for f in through._meta.local_concrete_fields)
            found.append(
                Table(
                    app=meta.app_label,
                    model=through._meta.label,
                    name=through._meta.db_table,
                    columns=columns,
                    origin=origin,
                    column_origins=(origin,) * len(columns),
                )
            )
    return sorted(found, key=lambda t: (position[t.app], t.name))


@dataclass
class Project:
    """What every alias's check shares: the migration graph and the latest models."""

    loader: MigrationLoader
    order: list[MigrationKey]
    latest: Apps
    latest_origins: Origins
    # Per migration, the aliases where it executes something (elsewhere it is only recorded).
    executes: Mapping[MigrationKey, frozenset[str]]
    command: str

    @classmethod
    def load(
        cls,
        command: str,
        loader: MigrationLoader | None = None,
        executes: Mapping[MigrationKey, frozenset[str]] | None = None,
    ) -> Project:
        loader = loader or load_migrations()
        order = plan_order(loader.graph)
        latest, origins = replay(loader, loader.graph, order)
        if executes is None:
            routing = operations.migration_routing(loader, operations.Router.of(alias_infos()))
            executes = {key: entry.aliases for key, entry in routing.items()}
        return cls(loader, order, latest, origins, executes, command)

    def runs_on(self, alias: str, key: MigrationKey) -> bool:
        return alias in self.executes.get(key, frozenset())

    @property
    def run(self) -> str:
        return run_command(self.command)


def _label(key: MigrationKey | None) -> str:
    return f"{key[0]}.{key[1]}" if key else ""


def _added_as(
    field: Any, rename: tuple[str, MigrationKey] | None
) -> tuple[str, MigrationKey] | None:
    """For a renamed field, the column the migration that added it created (what sqlmigrate of
    that migration shows) and the migration that renamed it; None when the column kept its name
    (never renamed, or a db_column that a field rename does not change)."""
    if rename is None or field.db_column:
        return None
    added = field.clone()
    added.set_attributes_from_name(rename[0])
    return (str(added.column), rename[1]) if added.column != field.column else None
