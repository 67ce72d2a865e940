"""Where migrator leans on Django's migration internals; each use names the public behaviour it
mirrors (Django's ``migrate`` command, ``django/core/management/commands/migrate.py``).

A step is run the way ``migrate --database X`` runs: one ``MigrationExecutor`` pass over a plan,
``pre_migrate`` before the alias's first step and ``post_migrate`` after its last one, with the
``apps`` and ``plan`` the command would give them.

Those internals are only known to hold for the Django series the test matrix runs
(``scripts/matrix.py``): ``refuse_untested_django`` stops the commands on any other, before they
touch anything, unless ``MIGRATOR["ALLOW_UNTESTED_DJANGO"]`` is True.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

import django
from django.apps import apps as global_apps
from django.core.management.sql import emit_post_migrate_signal, emit_pre_migrate_signal
from django.db import connections, router, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ModelState, ProjectState

from migrator import __version__, conf
from migrator.exceptions import ConfigurationError
from migrator.types import MigrationKey

PlanItem = tuple[Migration, bool]

# The Django series the test matrix runs (scripts/matrix.py DJANGO_SERIES; a test keeps the two
# equal): the version gate lets exactly these through, and pyproject.toml's Django requirement is
# REQUIREMENT (tests/packaging). 5.0 and 5.1 are not tested: they ended before 6.1 came out.
TESTED_SERIES = ((4, 2), (5, 2), (6, 0), (6, 1))
OLDEST_TESTED, NEWEST_TESTED = TESTED_SERIES[0], TESTED_SERIES[-1]


def _series(series: tuple[int, int]) -> str:
    return f"{series[0]}.{series[1]}"


def _skipped() -> list[tuple[int, int]]:
    """The series between the oldest and newest tested one that are not tested (each Django
    major release has the series .0, .1 and .2)."""
    every = [
        (major, minor)
        for major in range(OLDEST_TESTED[0], NEWEST_TESTED[0] + 1)
        for minor in range(3)
    ]
    return [s for s in every if OLDEST_TESTED < s < NEWEST_TESTED and s not in TESTED_SERIES]


REQUIREMENT = ",".join(
    [
        f"Django>={_series(OLDEST_TESTED)}",
        *(f"!={_series(s)}.*" for s in _skipped()),
        f"<{NEWEST_TESTED[0]}.{NEWEST_TESTED[1] + 1}",
    ]
)


def untested_django() -> str | None:
    """Why the installed Django (``django.VERSION``) is refused, or None when its series is a
    tested one (pre-releases of a tested series included)."""
    series = (int(django.VERSION[0]), int(django.VERSION[1]))
    if series in TESTED_SERIES:
        return None
    names = [_series(s) for s in TESTED_SERIES]
    tested = f"Django {', '.join(names[:-1])} and {names[-1]}"
    install = f"pip install '{REQUIREMENT}'"
    if series > NEWEST_TESTED:
        fix = (
            f"Install a tested Django ({install}), or upgrade django-migrate-all (pip install "
            f"--upgrade django-migrate-all) to a release tested with Django {_series(series)}"
        )
    elif series < OLDEST_TESTED:
        fix = f"Upgrade Django to a tested series ({install})"
    else:
        fix = f"Install a tested Django ({install})"
    return (
        f"Django {django.get_version()} is installed, but django-migrate-all {__version__} is "
        f"tested with {tested} only: it runs migrations through Django internals that an "
        f"untested Django may have changed. {fix}. To run anyway, at your own risk, set "
        'MIGRATOR = {"ALLOW_UNTESTED_DJANGO": True} in your settings.'
    )


def refuse_untested_django() -> None:
    """Raise ``ConfigurationError`` (exit 2) on an untested Django, unless
    ``MIGRATOR["ALLOW_UNTESTED_DJANGO"]`` is True. Reads only the settings."""
    problem = untested_django()
    if problem is not None and not conf.allow_untested_django():
        raise ConfigurationError(problem)


class Retrying(Protocol):
    """Lock-timeout retries (``execution.retries``): which migrations may be tried again, and,
    after a failed attempt, whether to (it reports and waits; it raises to end the step)."""

    def retriable(self, migration: Migration, backwards: bool) -> bool: ...

    def again(
        self, migration: Migration, backwards: bool, attempt: int, exc: Exception
    ) -> bool: ...


class SharedGraphExecutor(MigrationExecutor):
    """Django's executor on a migration graph loaded once per run.

    ``MigrationExecutor.__init__`` builds a ``MigrationLoader`` (imports every migration module);
    the graph does not depend on the database unless squashed migrations are involved (then the
    caller passes a loader built for this connection, as Django would), so the caller passes a
    ``LoaderView`` of the shared one (``loader_for``). The applied set is read fresh from this
    connection's ``django_migrations`` into that view.
    """

    def __init__(
        self,
        connection: Any,
        loader: Any,  # a LoaderView of the shared graph, or a loader of this connection's
        progress_callback: Any = None,
        guard: Callable[[Migration, bool], AbstractContextManager[None]] | None = None,
        retry: Retrying | None = None,
    ) -> None:
        self.connection = connection
        self.loader = loader
        self.recorder = MigrationRecorder(connection)
        self.progress_callback = progress_callback
        self.guard = guard or _unguarded
        self.retry = retry
        self.refresh()

    # Django's executor applies each migration in ``apply_migration``/``unapply_migration``; the
    # guard wraps the whole call (the migration's transaction nests in the guard's), and the
    # "success" progress event is passed on once the guard has ended (committed). A retried
    # migration runs the whole call again (its "start" progress event included), each attempt in
    # a guard (a transaction) of its own.
    def apply_migration(
        self,
        state: ProjectState,
        migration: Migration,
        fake: bool = False,
        fake_initial: bool = False,
    ) -> ProjectState:
        def once(state: ProjectState) -> ProjectState:
            with _HeldBack(self, "apply_success") as held, self.guard(migration, False):
                state = MigrationExecutor.apply_migration(
                    self, state, migration, fake=fake, fake_initial=fake_initial
                )
            held.release()
            return state

        return self._attempts(state, migration, False, once, fake)

    def unapply_migration(
        self, state: ProjectState, migration: Migration, fake: bool = False
    ) -> ProjectState:
        def once(state: ProjectState) -> ProjectState:
            with _HeldBack(self, "unapply_success") as held, self.guard(migration, True):
                state = MigrationExecutor.unapply_migration(self, state, migration, fake=fake)
            held.release()
            return state

        return self._attempts(state, migration, True, once, fake)

    def _attempts(
        self,
        state: ProjectState,
        migration: Migration,
        backwards: bool,
        once: Callable[[ProjectState], ProjectState],
        fake: bool,
    ) -> ProjectState:
        retry = self.retry
        if fake or retry is None or not retry.retriable(migration, backwards):
            return once(state)
        attempt = 1
        while True:
            # Migration.apply/unapply change the project state they are given (state_forwards
            # on it): each attempt starts from a copy of the state as it was before the first.
            before = state.clone()
            try:
                return once(state)
            except Exception as exc:
                if not retry.again(migration, backwards, attempt, exc):
                    raise
            state = before
            attempt += 1

    def refresh(self) -> None:
        """Read ``django_migrations`` again (``MigrationLoader.build_graph`` does the same)."""
        self.loader.applied_migrations = self.recorder.applied_migrations()  # type: ignore[assignment]

    def applied_state(self) -> ProjectState:
        # migrate.py: pre_migrate_state = executor._create_project_state(with_applied_migrations=True)
        state: ProjectState = self._create_project_state(  # type: ignore[attr-defined]
            with_applied_migrations=True
        )
        return state

    def record(self, migrations: Sequence[Migration]) -> None:
        """Record ``migrations`` as applied without running them, as ``executor.record_migration``
        records an applied one (a squashed migration records what it replaces; the squash itself
        is recorded by ``check_replacements``), in one transaction and a few statements."""
        rows = [
            key
            for migration in migrations
            for key in (migration.replaces or [(migration.app_label, migration.name)])
        ]
        if not rows:
            return
        recorder = self.recorder
        recorder.ensure_schema()
        with transaction.atomic(using=self.connection.alias):
            recorder.migration_qs.bulk_create(
                [recorder.Migration(app=app, name=name) for app, name in rows], batch_size=500
            )


@contextmanager
def _unguarded(migration: Migration, backwards: bool) -> Iterator[None]:
    yield


class _HeldBack:
    """Holds back the executor's ``event`` progress call until ``release``; the callback is
    restored on exit, whatever happens."""

    def __init__(self, executor: SharedGraphExecutor, event: str) -> None:
        self.executor = executor
        self.event = event
        self.callback = executor.progress_callback
        self.calls: list[tuple[Any, ...]] = []

    def __enter__(self) -> _HeldBack:
        callback = self.callback
        if callback is not None:

            def hold(action: str, *args: Any) -> None:
                if action == self.event:
                    self.calls.append((action, *args))
                else:
                    callback(action, *args)

            self.executor.progress_callback = hold
        return self

    def __exit__(self, *exc: object) -> None:
        self.executor.progress_callback = self.callback

    def release(self) -> None:
        if self.callback is not None:
            for call in self.calls:
                self.callback(*call)


class LoaderView:
    """The run's shared ``MigrationLoader`` as one database sees it: every attribute is the shared
    loader's, except ``applied_migrations`` (this database's, so nothing writes the shared
    loader) and ``replace_migrations``, False: ``MigrationExecutor.migration_plan`` would rebuild
    the shared graph without replacements when a target is a replaced migration, which only
    happens with squashes, and those get a loader of their own (``loader_for``)."""

    def __init__(self, shared: MigrationLoader, applied: Iterable[MigrationKey] = ()) -> None:
        self._shared = shared
        self.applied_migrations: dict[MigrationKey, Any] = dict.fromkeys(applied)
        self.replace_migrations = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._shared, name)


def loader_for(connection: Any, shared: MigrationLoader) -> Any:
    """A view of the shared graph (``LoaderView``), or (with squashed migrations, whose graph
    depends on what each database has applied) a loader built for ``connection``, as ``migrate``
    builds one."""
    if shared.replacements:
        return MigrationLoader(connection, ignore_no_migrations=True)
    return LoaderView(shared)


def migration_plan(loader: Any, targets: Sequence[tuple[str, str | None]]) -> list[PlanItem]:
    """``MigrationExecutor.migration_plan`` for ``targets`` on ``loader`` (a ``LoaderView`` with
    the applied set to plan from, or a loader of its own): what ``migrate`` would run, without a
    database (``migration_plan`` reads only ``self.loader``)."""
    executor = MigrationExecutor.__new__(MigrationExecutor)
    executor.loader = loader
    return list(executor.migration_plan(targets))


def plan_of(loader: MigrationLoader, keys: Iterable[tuple[str, str, bool]]) -> list[PlanItem]:
    """``(Migration, backwards)`` pairs, the form of the ``plan`` that migrate's signals carry."""
    # A squashed migration and the ones it replaces are all on disk; the graph keeps one side.
    nodes = loader.graph.nodes
    return [
        (nodes.get((app, name)) or loader.disk_migrations[(app, name)], backwards)
        for app, name, backwards in keys
    ]


def send_pre_migrate(alias: str, apps: Any, plan: Sequence[PlanItem], *, interactive: bool) -> None:
    # migrate.py: emit_pre_migrate_signal(verbosity, interactive, connection.alias, stdout=...,
    # apps=pre_migrate_apps, plan=plan)
    emit_pre_migrate_signal(0, interactive, alias, stdout=io.StringIO(), apps=apps, plan=plan)


def send_post_migrate(
    alias: str, apps: Any, plan: Sequence[PlanItem], *, interactive: bool
) -> None:
    # migrate.py: emit_post_migrate_signal(verbosity, interactive, connection.alias, stdout=...,
    # apps=post_migrate_apps, plan=plan)
    emit_post_migrate_signal(0, interactive, alias, stdout=io.StringIO(), apps=apps, plan=plan)


_POST_APPS: dict[tuple[int, frozenset[MigrationKey]], Any] = {}


def post_migrate_apps(executor: SharedGraphExecutor) -> Any:
    """The ``apps`` migrate hands to ``post_migrate``: the state of every migration applied on the
    connection, with the real apps' models re-rendered from today's classes.

    Aliases that end with the same history get the same state, so it is rendered once per run and
    history (a full deploy records every migration on every alias it migrates).
    """
    executor.refresh()
    applied = frozenset(
        k for k in executor.loader.applied_migrations if k in executor.loader.graph.nodes
    )
    key = (id(executor.loader.graph), applied)
    cached = _POST_APPS.get(key)
    if cached is not None:
        return cached
    state = executor.applied_state()
    # migrate.py: post_migrate_state.clear_delayed_apps_cache(); post_migrate_apps = state.apps
    state.clear_delayed_apps_cache()
    apps = state.apps
    # migrate.py: "Re-render models of real apps to include relationships now that we've got a
    # final state."
    with apps.bulk_update():
        model_keys = []
        for model_state in apps.real_models:
            model_key = model_state.app_label, model_state.name_lower
            model_keys.append(model_key)
            apps.unregister_model(*model_key)
    apps.render_multiple(
        [ModelState.from_model(global_apps.get_model(*model)) for model in model_keys]
    )
    _POST_APPS.clear()  # keep one: the next alias of a full deploy asks for the same history
    _POST_APPS[key] = apps
    return apps


def new_connection(alias: str) -> Any:
    """A connection to ``alias`` of its own, outside ``connections`` (the run journal's table
    writes: opened and closed per record). Mirrors what ``connections[alias]`` does on first use
    in a thread (``ConnectionHandler.create_connection``)."""
    return connections.create_connection(alias)


# -- the SQL of a migration, as ``sqlmigrate`` renders it (migrator/risk/sql.py) --------------


class OperationSQL:
    """One operation's SQL as ``sqlmigrate`` prints it under the operation's ``-- description``
    comment; ``writable`` False: "THIS OPERATION CANNOT BE WRITTEN AS SQL" (RunPython)."""

    __slots__ = ("description", "index", "statements", "writable")

    def __init__(self, index: int, description: str, writable: bool = True) -> None:
        self.index = index  # from 1, in the migration's order
        self.description = description
        self.writable = writable
        self.statements: list[str] = []


def applied_project_state(loader: MigrationLoader, applied: Iterable[MigrationKey]) -> ProjectState:
    """The project state of the migrations ``applied`` on a database: what ``migrate`` starts
    from (migrate.py: ``executor._create_project_state(with_applied_migrations=True)``), for a
    database whose ``django_migrations`` holds ``applied``, without reading it."""
    executor = MigrationExecutor.__new__(MigrationExecutor)
    executor.loader = LoaderView(loader, applied)  # type: ignore[assignment]
    state: ProjectState = executor._create_project_state(  # type: ignore[attr-defined]
        with_applied_migrations=True
    )
    return state


def advance_state(migration: Migration, state: ProjectState) -> ProjectState:
    """``state`` with ``migration``'s operations applied, without SQL: what the executor's state
    goes through for a migration that executes nothing on the database (``mutate_state``)."""
    result: ProjectState = migration.mutate_state(state, preserve=False)
    return result


def collect_sql_forwards(
    connection: Any, migration: Migration, state: ProjectState
) -> tuple[ProjectState, list[OperationSQL]]:
    """The SQL ``sqlmigrate`` prints for ``migration`` on ``connection``, operation by operation,
    and the state after it. Mirrors ``Migration.apply(state, schema_editor, collect_sql=True)``
    (migration.py) under ``connection.schema_editor(collect_sql=True, atomic=migration.atomic)``
    (``MigrationLoader.collect_sql``), step for step, except that the statements the schema
    editor defers to the end of the migration (foreign keys and indexes of a new table) are
    given to the operation that deferred them, not to the last one. Nothing is executed: the
    schema editor collects the statements (it may read the catalog, e.g. constraint names)."""
    operations: list[OperationSQL] = []
    owner: dict[int, OperationSQL] = {}
    with connection.schema_editor(collect_sql=True, atomic=migration.atomic) as editor:
        for index, operation in enumerate(migration.operations, 1):
            found = OperationSQL(index, operation.describe(), bool(operation.reduces_to_sql))
            operations.append(found)
            if not operation.reduces_to_sql:
                continue  # as Migration.apply with collect_sql: not even state_forwards
            before = len(editor.collected_sql)
            deferred = {id(statement) for statement in editor.deferred_sql}
            old_state = state.clone()
            operation.state_forwards(migration.app_label, state)
            atomic_operation = operation.atomic or (
                migration.atomic and operation.atomic is not False
            )
            if not editor.atomic_migration and atomic_operation:
                with transaction.atomic(connection.alias):
                    operation.database_forwards(migration.app_label, editor, old_state, state)
            else:
                operation.database_forwards(migration.app_label, editor, old_state, state)
            found.statements.extend(editor.collected_sql[before:])
            for statement in editor.deferred_sql:
                if id(statement) not in deferred:
                    owner.setdefault(id(statement), found)
        pending = list(editor.deferred_sql)
        end = len(editor.collected_sql)
    # BaseDatabaseSchemaEditor.__exit__ executed (collected) the deferred statements in order.
    for statement, text in zip(pending, editor.collected_sql[end:], strict=False):
        target = owner.get(id(statement)) or (operations[-1] if operations else None)
        if target is not None:
            target.statements.append(text)
    return state, operations


def collect_sql_backwards(
    connection: Any, loader: MigrationLoader, migration: Migration
) -> list[OperationSQL]:
    """``sqlmigrate --backwards``: ``MigrationLoader.collect_sql`` for ``[(migration, True)]``
    (the state before the migration from the graph, then ``Migration.unapply`` collecting),
    split at the ``--``/``-- description``/``--`` comments ``unapply`` writes before each
    operation (in reverse order)."""
    state = loader.project_state((migration.app_label, migration.name), at_end=False)
    with connection.schema_editor(collect_sql=True, atomic=migration.atomic) as editor:
        migration.unapply(state, editor, collect_sql=True)
    lines = list(editor.collected_sql)
    count = len(migration.operations)
    operations: list[OperationSQL] = []
    current: OperationSQL | None = None
    position = 0
    while position < len(lines):
        line = lines[position]
        if line == "--" and position + 2 < len(lines) and lines[position + 2] == "--":
            index = count - len(operations)
            current = OperationSQL(index, lines[position + 1][3:])
            operations.append(current)
            position += 3
            continue
        if current is not None:
            if line == "-- THIS OPERATION CANNOT BE WRITTEN AS SQL":
                current.writable = False
            elif line != "-- (no-op)":
                current.statements.append(line)
        position += 1
    return operations


RouterCall = tuple[str, dict[str, Any], bool]


@contextmanager
def recorded_router_calls() -> Iterator[list[RouterCall]]:
    """Every ``router.allow_migrate(db, app_label, **hints)`` answer given meanwhile, as
    ``(app_label, hints, answer)``: the operations' ``database_forwards`` ask it (directly, or
    through ``router.allow_migrate_model``) to decide whether they execute on the schema
    editor's alias. The instance attribute shadows the method of Django's ``ConnectionRouter``
    (``django.db.router``) and is removed afterwards."""
    calls: list[RouterCall] = []
    original = router.allow_migrate

    def recording(db: str, app_label: str, **hints: Any) -> bool:
        answer = bool(original(db, app_label, **hints))
        calls.append((app_label, hints, answer))
        return answer

    router.allow_migrate = recording  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        del router.allow_migrate


def same_router_answers(alias: str, calls: Sequence[RouterCall]) -> bool:
    """Whether ``router.allow_migrate`` gives ``alias`` every answer recorded in ``calls``."""
    return all(
        bool(router.allow_migrate(alias, app, **hints)) == answer for app, hints, answer in calls
    )
