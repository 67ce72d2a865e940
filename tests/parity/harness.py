"""The parity harness: migrate a fixture project twice on fresh databases, once with Django's own
per-alias loop (``manage.py migrate --database X --noinput`` for every alias in DATABASES but the
empty/dummy ones) and once with ``manage.py migrate_all --noinput``, both in child processes, then
compare what each left on every alias.

What is compared, per alias (a ``Snapshot``): table and view names, ``django_migrations`` rows,
content types, permissions, and the rows of ``parity_ran`` (see ``marker.py``), which say where
each data migration ran and how often.

The rule (issue 12): on an alias that ``migrate_all`` touched, the snapshot equals Django's. On an
alias it left untouched (SQLite: no file, or a file without a table), Django's loop may only have
created ``django_migrations`` and recorded migrations there: Django's loop does that on every
alias, ``migrate_all`` never touches an alias the routers send nothing to. That difference is by
design; anything else Django's loop did there (a table, a view, a data migration, a content type)
is a difference.
"""

from __future__ import annotations

import importlib
import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tests.helpers import finish, manage, manage_background
from tests.parity.marker import TABLE as MARKER_TABLE
from tests.servers import pg_connect, pg_databases, pg_entry

SIDES = ("django", "migrate_all")
LABELS = {"django": "Django's loop", "migrate_all": "migrate_all"}

Row = tuple[str, ...]
Query = Callable[[str], Iterable[Row]]


class ParityMismatch(AssertionError):
    """migrate_all left the databases other than Django's per-alias loop (or failed)."""


@dataclass(frozen=True)
class Scenario:
    """A fixture project: the package ``tests.parity.<name>`` with ``settings.py``, its apps, and
    ``ALIASES`` (DATABASES's aliases, in order) and ``EMPTY`` (aliases configured as ``{}``)."""

    name: str
    aliases: tuple[str, ...]
    empty: tuple[str, ...] = ()

    @classmethod
    def load(cls, name: str) -> Scenario:
        package = importlib.import_module(f"tests.parity.{name}")
        return cls(name, tuple(package.ALIASES), tuple(getattr(package, "EMPTY", ())))

    @property
    def settings(self) -> str:
        return f"tests.parity.{self.name}.settings"

    @property
    def migrated(self) -> tuple[str, ...]:
        """The aliases Django's loop migrates: all but the dummy ones."""
        return tuple(alias for alias in self.aliases if alias not in self.empty)


@dataclass(frozen=True)
class Snapshot:
    tables: frozenset[str] = frozenset()
    views: frozenset[str] = frozenset()
    migrations: frozenset[Row] = frozenset()  # (app, name)
    content_types: frozenset[Row] = frozenset()  # (app_label, model)
    permissions: frozenset[Row] = frozenset()  # (content type's app_label, codename)
    ran: tuple[str, ...] = ()  # parity_ran rows, sorted: a data migration run twice shows twice

    @property
    def touched(self) -> bool:
        return bool(self.tables or self.views)

    def beyond_recording(self) -> Snapshot:
        """What is left once ``django_migrations`` (table and rows) is taken away."""
        return replace(self, tables=self.tables - {"django_migrations"}, migrations=frozenset())


def read_snapshot(query: Query, tables: set[str], views: set[str]) -> Snapshot:
    def rows(sql: str, *needed: str) -> frozenset[Row]:
        return frozenset(tuple(row) for row in query(sql)) if set(needed) <= tables else frozenset()

    ran = (
        tuple(sorted(row[0] for row in query(f"SELECT name FROM {MARKER_TABLE}")))
        if MARKER_TABLE in tables
        else ()
    )
    return Snapshot(
        tables=frozenset(tables),
        views=frozenset(views),
        migrations=rows("SELECT app, name FROM django_migrations", "django_migrations"),
        content_types=rows(
            "SELECT app_label, model FROM django_content_type", "django_content_type"
        ),
        permissions=rows(
            "SELECT ct.app_label, p.codename FROM auth_permission p "
            "JOIN django_content_type ct ON ct.id = p.content_type_id",
            "auth_permission",
            "django_content_type",
        ),
        ran=ran,
    )


def sqlite_snapshot(path: str | Path) -> Snapshot:
    """The snapshot of an SQLite file, opened read-only (a missing file stays missing)."""
    if not Path(path).exists():
        return Snapshot()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        objects = db.execute(
            "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        ).fetchall()
        return read_snapshot(
            lambda sql: db.execute(sql).fetchall(),
            {name for kind, name in objects if kind == "table"},
            {name for kind, name in objects if kind == "view"},
        )
    finally:
        db.close()


def pg_snapshot(dbname: str) -> Snapshot:
    """The snapshot of a PostgreSQL database's ``public`` schema."""
    with pg_connect(dbname) as connection:
        objects = connection.execute(
            "SELECT table_type, table_name FROM information_schema.tables "
            "WHERE table_schema = 'public'"
        ).fetchall()
        return read_snapshot(
            lambda sql: connection.execute(sql).fetchall(),
            {name for kind, name in objects if kind == "BASE TABLE"},
            {name for kind, name in objects if kind == "VIEW"},
        )


@dataclass
class Side:
    """The databases one side migrates: settings per alias, where each alias's database is (an
    SQLite file or a PostgreSQL database name) and how to read a snapshot from there."""

    entries: dict[str, dict[str, Any]]
    where: dict[str, str]
    read: Callable[[str], Snapshot]

    def snapshot(self, alias: str) -> Snapshot:
        return self.read(self.where[alias])


@contextmanager
def sqlite_sides(scenario: Scenario, tmp_path: Path) -> Iterator[dict[str, Side]]:
    """Each side's aliases on SQLite files under ``tmp_path/<side>/`` (not created here)."""
    sides = {}
    for side in SIDES:
        directory = tmp_path / side
        directory.mkdir()
        where = {alias: str(directory / f"{alias}.sqlite3") for alias in scenario.migrated}
        entries = {
            alias: {"ENGINE": "django.db.backends.sqlite3", "NAME": where[alias]}
            if alias in where
            else {}
            for alias in scenario.aliases
        }
        sides[side] = Side(entries, where, sqlite_snapshot)
    yield sides


@contextmanager
def pg_sides(scenario: Scenario) -> Iterator[dict[str, Side]]:
    """Each side's aliases on a fresh PostgreSQL database each (unique names, dropped after)."""
    count = len(scenario.migrated)
    with pg_databases(count * len(SIDES)) as names:
        sides = {}
        for index, side in enumerate(SIDES):
            where = dict(zip(scenario.migrated, names[index * count :], strict=False))
            entries = {
                alias: pg_entry(where[alias]) if alias in where else {}
                for alias in scenario.aliases
            }
            sides[side] = Side(entries, where, pg_snapshot)
        yield sides


def environment(scenario: Scenario, side: str, sides: dict[str, Side]) -> dict[str, str]:
    env = {
        "DJANGO_SETTINGS_MODULE": scenario.settings,
        "PARITY_DATABASES": json.dumps(sides[side].entries),
    }
    if side == "django":
        env["PARITY_WITHOUT_MIGRATOR"] = "1"  # the reference: Django alone
    return env


def show(items: Iterable[Row | str]) -> str:
    return ", ".join(sorted(".".join(item) if isinstance(item, tuple) else item for item in items))


FIELDS = (
    ("tables", "tables"),
    ("views", "views"),
    ("migrations", "django_migrations rows"),
    ("content_types", "content types"),
    ("permissions", "permissions"),
)


def differences(django: Snapshot, ours: Snapshot) -> list[str]:
    """One line per kind of thing that differs, naming the things on each side."""
    lines = []
    for name, title in FIELDS:
        theirs, mine = getattr(django, name), getattr(ours, name)
        if theirs - mine:
            lines.append(f"  {title} only after Django's loop: {show(theirs - mine)}")
        if mine - theirs:
            lines.append(f"  {title} only after migrate_all: {show(mine - theirs)}")
    ran_theirs, ran_mine = Counter(django.ran), Counter(ours.ran)
    if ran_theirs - ran_mine:
        lines.append(
            f"  data migrations that ran only in Django's loop: {show((ran_theirs - ran_mine).elements())}"
        )
    if ran_mine - ran_theirs:
        lines.append(
            f"  data migrations that ran only in migrate_all: {show((ran_mine - ran_theirs).elements())}"
        )
    return lines


def parity_problems(
    scenario: Scenario, django: dict[str, Snapshot], ours: dict[str, Snapshot]
) -> list[str]:
    """Every difference between the two sides, by alias; empty when they agree."""
    problems = []
    for alias in scenario.migrated:
        if ours[alias].touched:
            lines = differences(django[alias], ours[alias])
            if lines:
                problems.append(f"{alias}: migrate_all left it other than Django's loop did:")
                problems.extend(lines)
            continue
        # Untouched by migrate_all. By design this differs from Django's loop, which creates
        # django_migrations and records every migration on every alias it is given: allowed as
        # long as that is all Django's loop did there.
        executed = django[alias].beyond_recording()
        lines = differences(executed, Snapshot())
        if lines:
            problems.append(
                f"{alias}: migrate_all never touched it, but Django's loop executed something there:"
            )
            problems.extend(lines)
    return problems


def check_parity(scenario: Scenario, sides: dict[str, Side]) -> None:
    """Migrate both sides (migrate_all in the background while Django's loop runs, each on its
    own databases) and raise ``ParityMismatch`` naming every difference, alias by alias."""
    ours = manage_background(
        "migrate_all", "--noinput", env=environment(scenario, "migrate_all", sides)
    )
    try:
        for alias in scenario.migrated:
            result = manage(
                "migrate", "--database", alias, "--noinput", "--verbosity", "0",
                env=environment(scenario, "django", sides),
            )  # fmt: skip
            if result.returncode:
                raise RuntimeError(
                    f"Django's 'migrate --database {alias}' failed on the fixture project "
                    f"{scenario.name} (the fixture is broken, not migrate_all):\n{result.stderr}"
                )
    finally:
        out, err = finish(ours)
    problems = []
    if ours.returncode:
        problems.append(f"migrate_all exited {ours.returncode}:\n{err.strip() or out.strip()}")
    snapshots = {side: {a: sides[side].snapshot(a) for a in scenario.migrated} for side in SIDES}
    problems.extend(parity_problems(scenario, snapshots["django"], snapshots["migrate_all"]))
    if problems:
        said = out.strip().splitlines()[-1:] if not ours.returncode else []
        kept = [
            f"SQLite files kept: {Path(sides[side].where[scenario.migrated[0]]).parent}"
            for side in SIDES
            if sides[side].read is sqlite_snapshot
        ]
        raise ParityMismatch(
            "\n".join(
                [
                    f"{scenario.name}: migrate_all and Django's per-alias migrate disagree:",
                    *(f"migrate_all said: {line}" for line in said),
                    *problems,
                    *kept,
                ]
            )
        )
