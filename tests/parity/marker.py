"""Data migrations of the fixture apps write a row into ``parity_ran`` on the database where
they run, so a snapshot shows where each ``RunPython``/``RunSQL`` ran (and how often)."""

from __future__ import annotations

from collections.abc import Callable

from django.apps.registry import Apps
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

TABLE = "parity_ran"


def ran_sql(name: str) -> tuple[str, ...]:
    """Statements for a ``RunSQL`` that records ``name`` (portable: SQLite and PostgreSQL)."""
    return (
        f"CREATE TABLE IF NOT EXISTS {TABLE} (name varchar(200) NOT NULL)",
        f"INSERT INTO {TABLE} (name) VALUES ('{name}')",
    )


def ran_python(name: str) -> Callable[[Apps, BaseDatabaseSchemaEditor], None]:
    """A ``RunPython`` function that records ``name`` on the database it runs on."""

    def forwards(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        with schema_editor.connection.cursor() as cursor:
            for statement in ran_sql(name):
                cursor.execute(statement)

    forwards.__name__ = forwards.__qualname__ = f"mark_{name.replace('.', '_')}"
    return forwards
