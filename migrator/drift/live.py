"""What the database has: the tables and columns of an alias, in the schema its ``search_path``
selects and, on PostgreSQL, in the other schemas of the database (a table in the wrong schema);
identifiers quoted as the vendor's SQL writes them for the manual steps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from django.db import connections

from migrator.backends.mysql import quote as mysql_quote
from migrator.backends.pgoptions import USER_SCHEMA
from migrator.drift.recorded import HISTORY_TABLE
from migrator.history import sqlite_file_missing
from migrator.types import (
    Probe,
)

# Tables (and views, as Django's introspection lists them) with their columns, in every schema
# of the database but PostgreSQL's own; only the names asked for.


# Tables (and views, as Django's introspection lists them) with their columns, in every schema
# of the database but PostgreSQL's own; only the names asked for.
_PG_TABLES = """
SELECT n.nspname, c.relname, a.attname
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_attribute a
  ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relname = ANY(%s)
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%%'
"""


@dataclass(frozen=True)
class Live:
    """The tables of one alias's database, by schema ("" where there are no schemas)."""

    vendor: str
    tables: Mapping[str, Mapping[str, frozenset[str]]]
    home: str = ""  # PostgreSQL: the schema the alias's tables belong in
    home_missing: bool = False
    search: tuple[str, ...] = ()  # PostgreSQL: the existing search_path schemas, in order
    path: tuple[str, ...] = ()  # PostgreSQL: the search_path as configured
    # The database's features.ignores_table_name_case, as Django's --fake-initial check reads it:
    # SQLite ignores the case of table names, PostgreSQL compares quoted names exactly, MySQL
    # and MariaDB as lower_case_table_names says.
    ignores_case: bool = False

    def norm(self, name: str) -> str:
        """A table name as this database compares it."""
        return name.casefold() if self.ignores_case else name

    def column(self, name: str) -> str:
        """A column name as this database compares it: MySQL and SQLite ignore case."""
        return name if self.vendor == "postgresql" else name.casefold()

    def columns(self, table: str) -> frozenset[str] | None:
        """The columns of ``table`` where the alias's tables belong; None when it is not there."""
        return self.tables.get(self.home, {}).get(self.norm(table))

    def elsewhere(self, table: str) -> tuple[str, ...]:
        """Other schemas of the database that hold ``table``: search_path ones first."""
        holding = [s for s, tables in self.tables.items() if s != self.home and table in tables]
        rank = {schema: index for index, schema in enumerate(self.search)}
        return tuple(sorted(holding, key=lambda s: (rank.get(s, len(rank)), s)))

    @property
    def history_schema(self) -> str:
        """PostgreSQL: where the django_migrations this alias reads is (first on its path)."""
        return next((s for s in self.search if HISTORY_TABLE in self.tables.get(s, {})), "")


def home_schema(probe: Probe | None) -> tuple[str, bool]:
    """PostgreSQL: the schema the alias's tables belong in, and whether it is missing: the first
    schema of its search_path, also when that does not exist yet (tables then land in the next
    one, which is the drift to find)."""
    if probe is None or probe.info.vendor != "postgresql":
        return "", False
    missing = {m.name for m in probe.missing if m.kind == "schema"}
    for name in probe.schemas:
        if name == USER_SCHEMA:
            if probe.schema and probe.schema not in probe.schemas:
                return probe.schema, False  # the role's own schema exists and comes first
            continue
        if name == probe.schema or name in missing:
            return name, name in missing
    return probe.schema, False


def read_live(alias: str, probe: Probe | None, names: Iterable[str]) -> Live:
    """The tables among ``names`` with their columns; nothing is read from a database or file
    that does not exist (and none is created)."""
    info = connections[alias].vendor
    home, home_missing = home_schema(probe)
    absent = probe is not None and any(m.kind in ("database", "folder") for m in probe.missing)
    if absent or sqlite_file_missing(alias):
        return Live(info, {}, home, home_missing)
    connection = connections[alias]
    with connection.cursor() as cursor:
        if info == "postgresql":
            cursor.execute("SELECT current_schemas(false)")
            search = tuple(str(s) for s in cursor.fetchone()[0] or ())
            cursor.execute(_PG_TABLES, (sorted(set(names)),))
            found: dict[str, dict[str, set[str]]] = {}
            for schema, table, column in cursor.fetchall():
                columns = found.setdefault(str(schema), {}).setdefault(str(table), set())
                if column is not None:
                    columns.add(str(column))
            tables = {
                schema: {table: frozenset(cols) for table, cols in by_table.items()}
                for schema, by_table in found.items()
            }
            path = probe.schemas if probe is not None else search
            return Live(info, tables, home, home_missing, search, path)
        fold = bool(connection.features.ignores_table_name_case)
        live = Live(info, {}, ignores_case=fold)
        wanted = {live.norm(name) for name in names}
        existing = connection.introspection.table_names(cursor)
        here = {
            live.norm(name): frozenset(  # column names: case-insensitive in MySQL and SQLite
                str(column.name).casefold()
                for column in connection.introspection.get_table_description(cursor, name)
            )
            for name in existing
            if live.norm(name) in wanted
        }
    return replace(live, tables={"": here})


def quote(vendor: str, name: str) -> str:
    """An identifier as the vendor's SQL writes it, for the manual steps shown to people."""
    if vendor == "mysql":
        return mysql_quote(name)
    return '"' + name.replace('"', '""') + '"'
