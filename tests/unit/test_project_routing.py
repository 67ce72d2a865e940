"""The routers asked per operation with the model flags of the historical state
(``migrator.project``), on hand-built migration graphs: no database."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django.db import migrations, models
from django.db.migrations.graph import MigrationGraph

from migrator.project.operations import Router, migration_routing


def graph_of(*operations_per_migration: list[Any]) -> Any:
    """A loader stand-in with one app, ``shop`` (routed to default by the testproject's routers),
    whose migrations 0001, 0002, ... hold the given operations, each depending on the one
    before."""
    graph = MigrationGraph()
    previous = None
    for number, operations in enumerate(operations_per_migration, start=1):
        name = f"{number:04d}"
        migration = type("Migration", (migrations.Migration,), {"operations": operations})(
            name, "shop"
        )
        graph.add_node(("shop", name), migration)
        if previous:
            graph.add_dependency(migration, ("shop", name), ("shop", previous))
        previous = name
    return SimpleNamespace(graph=graph)


def executes(loader: Any) -> dict[str, frozenset[str]]:
    router = Router(["default", "users_db"], {"default": "sqlite", "users_db": "sqlite"})
    return {key[1]: entry.aliases for key, entry in migration_routing(loader, router).items()}


ID = ("id", models.BigAutoField(primary_key=True))


def test_an_unmanaged_model_stays_unmanaged_after_a_rename() -> None:
    loader = graph_of(
        [migrations.CreateModel("Legacy", [ID], options={"managed": False})],
        [migrations.RenameModel("Legacy", "Archive")],
        [migrations.AddField("archive", "note", models.TextField(default=""))],
    )
    # Django's operations skip an unmanaged model everywhere (Options.can_migrate).
    assert executes(loader) == {"0001": frozenset(), "0002": frozenset(), "0003": frozenset()}


def test_a_model_made_managed_later_executes_from_then_on() -> None:
    loader = graph_of(
        [migrations.CreateModel("Legacy", [ID], options={"managed": False})],
        [migrations.AlterModelOptions("legacy", {})],  # managed removed: back to the default
        [migrations.AddField("legacy", "note", models.TextField(default=""))],
    )
    assert executes(loader) == {
        "0001": frozenset(),
        "0002": frozenset(),  # state only
        "0003": frozenset({"default"}),
    }
