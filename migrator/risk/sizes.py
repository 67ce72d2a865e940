"""The live size of the tables the findings touch: one read-only query per alias.

PostgreSQL: ``pg_class`` through ``to_regclass`` (so the alias's search_path resolves the name as
the migration's SQL would): ``reltuples`` is the planner's row estimate, -1 on PostgreSQL 14+
for a table never vacuumed or analysed (0 with ``relpages`` > 0 before 14): then the row count
is unknown, unless the table's heap is empty (0 bytes: no rows). ``pg_total_relation_size`` is
the size with indexes and TOAST. MySQL/MariaDB: ``information_schema.TABLES`` (``TABLE_ROWS``,
InnoDB's estimate, and ``DATA_LENGTH + INDEX_LENGTH``) of the connection's database. A table
that does not exist (the plan creates it) is empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connections

from migrator.risk.rules import unquoted


@dataclass(frozen=True)
class TableSize:
    exists: bool
    rows: int | None  # None: unknown
    size: int | None  # bytes


EMPTY = TableSize(exists=False, rows=0, size=0)


def read(alias: str, vendor: str, tables: Sequence[str]) -> dict[str, TableSize]:
    """``{table as the SQL names it: TableSize}`` for ``tables`` on ``alias``."""
    names = sorted({t for t in tables if t})
    if not names:
        return {}
    if vendor == "postgresql":
        return _postgresql(alias, names)
    if vendor == "mysql":
        return _mysql(alias, names)
    return {}


_PG = """
SELECT n.name, c.oid IS NOT NULL, c.reltuples, c.relpages,
       CASE WHEN c.oid IS NULL THEN 0 ELSE pg_total_relation_size(c.oid) END,
       CASE WHEN c.oid IS NULL THEN 0 ELSE pg_relation_size(c.oid) END,
       current_setting('server_version_num')::int
FROM unnest(%s::text[]) WITH ORDINALITY AS n(name, position)
LEFT JOIN pg_class c ON c.oid = to_regclass(n.name)
ORDER BY n.position
"""


def _postgresql(alias: str, names: list[str]) -> dict[str, TableSize]:
    found: dict[str, TableSize] = {}
    with connections[alias].cursor() as cursor:
        cursor.execute(_PG, [names])
        for name, exists, reltuples, relpages, total, heap, version in cursor.fetchall():
            if not exists:
                found[name] = EMPTY
                continue
            never_analysed = reltuples < 0 or (version < 140000 and reltuples == 0 and relpages > 0)
            rows = (0 if heap == 0 else None) if never_analysed else round(reltuples)
            found[name] = TableSize(True, rows, int(total))
    return found


def _mysql(alias: str, names: list[str]) -> dict[str, TableSize]:
    plain = {name: unquoted(name) for name in names}
    found: dict[str, TableSize] = dict.fromkeys(names, EMPTY)
    wanted = sorted(set(plain.values()))
    marks = ", ".join(["%s"] * len(wanted))
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT TABLE_NAME, TABLE_ROWS, COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0) "
            "FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
            f"AND TABLE_NAME IN ({marks})",
            wanted,
        )
        rows = {str(table): (count, size) for table, count, size in cursor.fetchall()}
    for name, table in plain.items():
        if table in rows:
            count, size = rows[table]
            found[name] = TableSize(True, None if count is None else int(count), int(size))
    return found
