"""Plain-function API: the same steps the commands take, usable from code."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from django.db.migrations.loader import MigrationLoader

from migrator import concurrency, conf, django_compat, history, preflight
from migrator.exceptions import ConfigurationError, PhaseError, PreflightError
from migrator.execution import journal
from migrator.execution.schedule import run_plan
from migrator.execution.step import ProgressCallback, ignore_progress
from migrator.planning import phases, retries, rollout
from migrator.planning.plan import (
    build_plan,
    expand_databases,
    unordered_plan,
    upstream,
    validate_selection,
)
from migrator.project import operations, routing_cache
from migrator.project import phases as project_phases
from migrator.project.databases import (
    alias_infos,
    alias_names,
    database_keys,
    not_databases,
    passwords,
)
from migrator.project.loader import (
    app_dependencies,
    app_leaves,
    disk_migration_stamps,
    installed_app_labels,
    load_migrations,
    migrated_app_labels,
    resolve_target,
)
from migrator.project.routing import check_write_routes
from migrator.project.targets import load_targets, without_direct
from migrator.risk import gate as risk_gate
from migrator.text import first_line, plural, secrets_of
from migrator.types import (
    DEFAULT_BOUNDS,
    AliasInfo,
    Bounds,
    Health,
    Missing,
    Node,
    PendingMigration,
    Phase,
    Plan,
    PlanState,
    Probe,
    RunOptions,
    RunReport,
    Selection,
    Shard,
    Step,
    StepState,
)


def load_settings() -> conf.MigratorSettings:
    load_targets()  # MIGRATOR["SESSION"] may name the aliases of MIGRATOR["DATABASES"]
    return conf.load({info.alias: info.vendor for info in alias_infos()})


def _validated(
    selection: Selection, aliases: Sequence[AliasInfo], apps: Sequence[str]
) -> Selection:
    """``selection`` with its ``--database`` patterns expanded to aliases, checked against the
    aliases and the apps with migrations (a usage error names what is unknown)."""
    names = [info.alias for info in aliases]
    skipped = not_databases()
    wanted = expand_databases(selection.databases, names, not_databases=skipped)
    selection = replace(selection, databases=wanted)
    validate_selection(selection, names, installed_app_labels(), apps, not_databases=skipped)
    return selection


def make_plan(
    selection: Selection = Selection(),
    loader: MigrationLoader | None = None,
    *,
    cache_key: str | None = None,
) -> tuple[Plan, MigrationLoader]:
    """Read settings, routers and migration files; return the plan (no database is touched).

    The routers are asked per migration operation (``operations.migration_routing``), as Django's
    operations ask them at run time; an (alias, app) pair is planned when any operation of any
    of the app's migrations executes there. ``cache_key``: the routing cache's key of this
    project (``routing_cache.fingerprint()``); the answers are kept under it for the fast path.
    """
    load_targets()
    aliases = alias_infos()
    loader = loader or load_migrations()
    apps = migrated_app_labels(loader)
    selection = _validated(selection, aliases, apps)
    if selection.target:
        app, name = selection.target
        selection = Selection(
            databases=selection.databases,
            apps=selection.apps,
            target=(app, resolve_target(loader, app, name)),
            include=selection.include,
        )
    databases = [info for info in aliases if info.is_database]
    names = [info.alias for info in databases]
    check_write_routes(names, apps)
    routing = operations.migration_routing(loader, operations.Router.of(databases))
    matrix = operations.app_matrix(routing, apps, names)
    plan = build_plan(aliases, apps, matrix, app_dependencies(loader), selection)
    plan = replace(
        plan,
        executes={key: entry.aliases for key, entry in routing.items()},
        unclassified={
            f"{key[0]}.{key[1]}": entry.unclassified
            for key, entry in routing.items()
            if entry.unclassified
        },
        records_all=not selection.apps and not selection.target,
    )
    if cache_key is not None:
        routing_cache.store(matrix, cache_key)
    return plan, loader


Applied = dict[str, set[tuple[str, str]]]


def read_applied(
    plan: Plan, probes: tuple[Probe, ...] = (), bounds: Bounds = DEFAULT_BOUNDS
) -> Applied:
    """One read of ``django_migrations`` per planned alias, at once in threads, at most
    ``bounds`` at a time. Aliases whose database or folder does not exist yet have nothing
    applied and are not read."""
    absent = {m.alias for p in probes for m in p.missing if m.kind in ("database", "folder")}
    # What the probes read already (PostgreSQL): no second connection for it.
    read_by_probe = {p.info.alias: p.applied for p in probes if p.applied is not None}

    def read(alias: str) -> set[tuple[str, str]] | str:
        try:
            return set() if alias in absent else history.read_applied(alias)
        except Exception as exc:
            info = plan.alias_info(alias)
            return f"{alias} ({info.vendor} {info.location}): {first_line(exc)}"

    def job(alias: str) -> concurrency.Job[set[tuple[str, str]] | str]:
        return concurrency.Job(plan.alias_info(alias), lambda: read(alias))

    aliases = [a for a in preflight.planned_aliases(plan) if a not in read_by_probe]
    found = concurrency.run([job(alias) for alias in aliases], bounds)
    applied: Applied = {}
    problems = []
    for alias, result in zip(aliases, found, strict=True):
        if isinstance(result, str):
            problems.append(result)
        else:
            applied[alias] = result
    for alias in preflight.planned_aliases(plan):
        if alias in read_by_probe:
            applied[alias] = set(read_by_probe[alias])
    if problems:
        raise PreflightError(
            "Cannot read the migration state of "
            + ("; ".join(problems))
            + ". Check that the servers are up and the credentials in DATABASES are right; "
            "nothing was migrated.",
            problems=tuple(problems),
        )
    return applied


def read_state(
    plan: Plan,
    loader: MigrationLoader,
    probes: tuple[Probe, ...] = (),
    applied: Applied | None = None,
    bounds: Bounds = DEFAULT_BOUNDS,
) -> PlanState:
    """What each step would do now, planned by Django's executor logic."""
    plan = preflight.resolved(plan, probes)
    if applied is None:
        applied = read_applied(plan, probes, bounds)
    problems = [
        problem
        for alias in preflight.planned_aliases(plan)
        for problem in history.history_problems(loader, alias, applied[alias])
    ]
    if problems:
        raise PreflightError(
            f"Preflight found {plural(len(problems), 'problem')}; nothing "
            "was changed on any database:\n  " + "\n  ".join(problems),
            problems=tuple(problems),
        )
    leaves = app_leaves(loader)
    return PlanState(
        plan=plan,
        states=step_states(plan, loader, applied, leaves),
        probes=probes,
        applied={alias: frozenset(keys) for alias, keys in applied.items()},
    )


def step_states(
    plan: Plan,
    loader: MigrationLoader,
    applied: Applied,
    leaves: dict[str, list[tuple[str, str]]],
    steps: tuple[Step, ...] | None = None,
) -> tuple[StepState, ...]:
    """Each step's work, in order: what earlier steps on the same alias will have run counts as
    applied, so that no migration is counted twice. On a full run the last step of each alias
    also records what Django's ``migrate --database X`` would record there and nothing executes
    (``record_after``), so every migrated alias ends with Django's own history."""
    after = {alias: set(keys) for alias, keys in applied.items()}
    chosen = plan.steps if steps is None else steps
    last = {step.alias: step for step in chosen}
    all_apps = migrated_app_labels(loader)
    states = []
    for step in chosen:

        def executes(app: str, name: str, alias: str = step.alias) -> bool:
            return plan.runs_on(alias, app, name)

        state = history.step_state(
            loader, step, after[step.alias], step.alias, leaves, executes=executes
        )
        _advance(after[step.alias], (*state.pending, *state.recorded_dependencies))
        if last[step.alias] is step:
            tail: tuple[PendingMigration, ...] = ()
            if plan.records_all:
                rest = history.step_state(
                    loader,
                    Step(step.alias, all_apps, level=0),
                    after[step.alias],
                    step.alias,
                    leaves,
                    executes=executes,
                )
                if rest.pending:
                    raise PreflightError(
                        f"Internal error: on {step.alias}, {', '.join(map(str, rest.pending))} "
                        "would execute but no step runs it; nothing was changed. Please report "
                        "this with 'migrate_all --plan --json'."
                    )
                tail = rest.recorded_dependencies
                _advance(after[step.alias], tail)
            state = replace(state, record_after=tail)
        states.append(state)
    return phases.with_alias_plans(states)


def _advance(applied: set[tuple[str, str]], migrations: Iterable[PendingMigration]) -> None:
    for migration in migrations:
        key = (migration.app, migration.name)
        (applied.discard if migration.backwards else applied.add)(key)


@dataclass(frozen=True)
class Prepared:
    state: PlanState
    settings: conf.MigratorSettings
    missing: tuple[Missing, ...]  # what --create-schemas created (or would create, on a dry run)
    loader: MigrationLoader | None = None  # the planner's migration graph (None: fast path)
    # The run's lock-risk gate was checked on this plan while it was prepared, before anything
    # was created (``prepare``'s ``gate``): ``run_recorded`` does not review it again.
    gated: bool = False


def _preflight(
    plan: Plan,
    settings: conf.MigratorSettings,
    create_schemas: bool,
    dry_run: bool,
    *,
    create_now: bool = True,
) -> tuple[tuple[Probe, ...], tuple[Missing, ...]]:
    """Probe ``plan``'s aliases (all problems at once); with ``create_schemas``, what is missing
    is created (not on a dry run; ``create_now`` False: later, by ``_create``) and probed again.
    Returns the probes and what is missing (or was created)."""
    bounds = settings.bounds
    probes = preflight.probe_all(plan, settings.connect_timeout, writes=not dry_run, bounds=bounds)
    preflight.check(probes, create=create_schemas)
    missing = tuple(preflight.missing(probes)) if create_schemas else ()
    if missing and not dry_run and create_now:
        probes = _create(plan, settings, probes)
    return probes, missing


def _create(
    plan: Plan, settings: conf.MigratorSettings, probes: tuple[Probe, ...]
) -> tuple[Probe, ...]:
    """``--create-schemas``: create what ``probes`` found missing, then probe again (checked)."""
    preflight.create_missing(probes, plan, settings.connect_timeout)
    probes = preflight.probe_all(plan, settings.connect_timeout, bounds=settings.bounds)
    preflight.check(probes, create=False)
    return probes


def unrecorded(
    plan: Plan, applied: Applied, disk: Mapping[str, frozenset[str]], *, records_all: bool
) -> dict[str, int]:
    """Per planned alias (in plan order), how many migration files a run would apply or record
    there that are not recorded yet: on a full run (``records_all``) every app's, as Django's
    ``migrate --database X`` records them all; otherwise the planned apps'. Aliases with none are
    left out."""
    missing: dict[str, set[tuple[str, str]]] = {}
    for step in plan.steps:
        recorded: dict[str, set[str]] = {}
        for app, name in applied[step.alias]:
            recorded.setdefault(app, set()).add(name)
        apps = disk if records_all else step.apps
        found = missing.setdefault(step.alias, set())
        for app in apps:
            found.update((app, name) for name in disk[app] - recorded.get(app, set()))
    return {alias: len(keys) for alias, keys in missing.items() if keys}


def up_to_date(
    plan: Plan, applied: Applied, disk: Mapping[str, frozenset[str]], *, records_all: bool
) -> bool:
    """True when every migration file a run would apply or record on each planned alias is
    recorded there (``unrecorded`` finds none)."""
    return not unrecorded(plan, applied, disk, records_all=records_all)


@dataclass(frozen=True)
class _Quick:
    """The fast path's unordered plan and what preflight and ``django_migrations`` said."""

    plan: Plan
    selection: Selection  # its --database patterns expanded
    probes: tuple[Probe, ...]
    missing: tuple[Missing, ...]
    applied: Applied


def _quick(
    selection: Selection,
    settings: conf.MigratorSettings,
    disk: Mapping[str, frozenset[str]],
    matrix: Mapping[str, Sequence[str]],
    *,
    create_schemas: bool,
    dry_run: bool,
    create_now: bool = True,
) -> _Quick:
    """The routing cache's answers (``matrix``) as an unordered plan, preflighted, with each
    planned alias's recorded migrations: no migration module is imported."""
    aliases = alias_infos()
    apps = [label for label in installed_app_labels() if label in disk]
    selection = _validated(selection, aliases, apps)
    plan = unordered_plan(aliases, apps, {app: matrix.get(app, ()) for app in apps}, selection)
    probes, missing = _preflight(plan, settings, create_schemas, dry_run, create_now=create_now)
    return _Quick(plan, selection, probes, missing, read_applied(plan, probes, settings.bounds))


def migration_names(loader: MigrationLoader | None) -> dict[str, list[str]]:
    """Per app, the names of its migration files (the run journal's plan hash covers them)."""
    names: dict[str, list[str]] = {}
    if loader is not None:
        for app, name in loader.disk_migrations:
            names.setdefault(app, []).append(name)
        return names
    return {app: list(stamps) for app, stamps in (disk_migration_stamps() or {}).items()}


def prepare(
    selection: Selection = Selection(),
    *,
    create_schemas: bool = False,
    dry_run: bool = False,
    fast: bool = False,
    planned: tuple[Plan, MigrationLoader] | None = None,
    shard: Shard | None = None,
    gate: risk_gate.Gate | None = None,
) -> Prepared:
    """Plan, preflight every planned alias (all problems at once), create what is missing when
    asked (not on a dry run), and read the state. Raises before any change when a check fails.

    ``gate``: the run's lock-risk gate (``MIGRATOR["RISK"]["GATE"]``, ``--max-risk``). When it
    gates this run (not on a dry run), the plan is reviewed before any database is changed:
    ``--create-schemas`` creates nothing until it passed (the state is read again afterwards),
    and ``RiskRefused`` leaves every database as it was. Without a gate nothing is reviewed and
    nothing is read twice.

    ``fast``: when the routing cache holds the answers for exactly these migration files, routers
    and settings (``routing_cache``), compare migration file names on disk with each planned
    alias's recorded names; when every alias is up to date, return an unordered plan without
    importing a migration module.

    ``planned``: a plan made already (``make_plan``), e.g. a resumed run's without the aliases
    done earlier (``without_aliases``): only its aliases are probed and read.

    ``shard``: only the steps of that shard's aliases (``prepare_shard``).

    The state carries each planned alias's ``MIGRATOR["LOCK_RETRIES"]`` (the plan says which
    migrations are retried on a lock timeout).
    """
    prepared = _prepare(
        selection,
        create_schemas=create_schemas,
        dry_run=dry_run,
        fast=fast,
        planned=planned,
        shard=shard,
        gate=gate,
    )
    state = retries.with_decisions(prepared.state, prepared.settings.lock_retries)
    return replace(prepared, state=state)


def _prepare(
    selection: Selection = Selection(),
    *,
    create_schemas: bool = False,
    dry_run: bool = False,
    fast: bool = False,
    planned: tuple[Plan, MigrationLoader] | None = None,
    shard: Shard | None = None,
    gate: risk_gate.Gate | None = None,
) -> Prepared:
    """``prepare`` without the lock retries of the planned aliases."""
    django_compat.refuse_untested_django()
    settings = load_settings()
    if selection.phase is not None:
        project_phases.tool()  # no tool for --phase: refused before any database is touched
    # A gated run creates nothing before the gate passed (create_now=False, then _gated).
    gated = gate if gate is not None and not dry_run and gate.level(settings) else None
    if planned is not None:
        plan, loader = planned
        checked, created = _preflight(
            plan, settings, create_schemas, dry_run, create_now=gated is None
        )
        state = read_state(plan, loader, checked, bounds=settings.bounds)
        if gated is not None:
            state = _gated(gated, state, loader, settings, selection.phase, checked, created)
        state = with_phase(state, loader, selection.phase, dry_run=dry_run, created=created)
        refuse_unscoped_session(state, loader, settings, created=() if dry_run else created)
        return Prepared(state, settings, created, loader, gated=gated is not None)
    if shard is not None:
        return prepare_shard(
            selection,
            shard,
            settings,
            create_schemas=create_schemas,
            dry_run=dry_run,
            gate=gated,
        )
    applied: Applied | None = None
    probes: tuple[Probe, ...] | None = None
    missing: tuple[Missing, ...] = ()
    quick: Plan | None = None
    stamps = disk_migration_stamps() if fast and not selection.target else None
    disk = None if stamps is None else {app: frozenset(names) for app, names in stamps.items()}
    key = routing_cache.fingerprint(stamps) if stamps is not None else None
    matrix = routing_cache.load(key)
    if disk is not None and matrix is not None:
        found = _quick(
            selection,
            settings,
            disk,
            matrix,
            create_schemas=create_schemas,
            dry_run=dry_run,
            create_now=gated is None,
        )
        selection, quick, probes = found.selection, found.plan, found.probes
        missing, applied = found.missing, found.applied
        if up_to_date(quick, applied, disk, records_all=not selection.apps):
            if gated is not None and missing:  # nothing pending: nothing the gate could refuse
                probes = _create(quick, settings, probes)
            states = tuple(StepState(step, ()) for step in quick.steps)
            quick = preflight.resolved(quick, probes)
            up = PlanState(quick, states, probes, phase=selection.phase)
            return Prepared(up, settings, missing)
    plan, loader = make_plan(selection, cache_key=key)
    if (
        probes is None
        or quick is None
        or set(preflight.planned_aliases(plan)) != set(preflight.planned_aliases(quick))
    ):
        probes, missing = _preflight(
            plan, settings, create_schemas, dry_run, create_now=gated is None
        )
        applied = None
    state = read_state(plan, loader, probes, applied, settings.bounds)
    if gated is not None:
        state = _gated(gated, state, loader, settings, selection.phase, probes, missing)
    state = with_phase(state, loader, selection.phase, dry_run=dry_run, created=missing)
    refuse_unscoped_session(state, loader, settings, created=() if dry_run else missing)
    return Prepared(state, settings, missing, loader, gated=gated is not None)


def _gated(
    gate: risk_gate.Gate,
    state: PlanState,
    loader: MigrationLoader,
    settings: conf.MigratorSettings,
    phase: Phase | None,
    probes: tuple[Probe, ...],
    missing: Sequence[Missing],
) -> PlanState:
    """A gated run: the lock-risk gate checked on ``state``, the plan read before anything was
    changed, with its ``--phase`` resolved as the run will take it (``RiskRefused`` leaves
    every database as it was); then what ``--create-schemas`` creates, and the state read again
    on the new probes. A missing schema or database has nothing recorded and no tables: the
    plan reviewed is the plan run."""
    gate.check(with_phase(state, loader, phase, dry_run=True), loader, settings)
    if not missing:
        return state
    probes = _create(state.plan, settings, probes)
    return read_state(state.plan, loader, probes, bounds=settings.bounds)


def with_phase(
    state: PlanState,
    loader: MigrationLoader,
    phase: Phase | None,
    *,
    dry_run: bool,
    created: Sequence[Missing] = (),
) -> PlanState:
    """``--phase``: each alias's plan resolved by the project's deploy-phase tool
    (``project.phases``); ``pre`` keeps on each alias what may run before the deploy, the rest
    is held (``StepState.held``), ``post`` keeps everything. Raises ``PhaseError`` (exit 1)
    before any migration when the tool refuses a plan, naming the chain and the fix. A
    ``--phase pre`` run (not ``dry_run``) then lets the tool note what it holds back
    (django-safemigrate's detection of delayed migrations)."""
    if phase is None:
        return state
    tool = project_phases.tool()
    plans: dict[str, list[django_compat.PlanItem]] = {}
    for step_state in state.states:
        if step_state.step.alias not in plans:
            keys = ((m.app, m.name, m.backwards) for m in step_state.alias_plan)
            plans[step_state.step.alias] = django_compat.plan_of(loader, keys)
    resolution = project_phases.resolve(tool, plans, phase)
    if resolution.refusals:
        done = preflight.changed_so_far(() if dry_run else created)
        raise PhaseError(_phase_refusal(tool, phase, resolution.refusals, done))
    states = phases.restrict(state.states, resolution.runs) if phase == "pre" else state.states
    if not dry_run:
        project_phases.mark_detected(resolution.detect)
    return replace(state, states=states, phase=phase, phase_tool=tool, phases=resolution.phases)


def _phase_refusal(
    tool: str, phase: Phase, refusals: Sequence[project_phases.Refusal], done: str
) -> str:
    """One sentence per refused chain, with the aliases where it is pending and the fix."""
    grouped: dict[tuple[tuple[str, ...], str, str], list[str]] = {}
    for refusal in refusals:
        key = (refusal.chain, refusal.reason, refusal.fix)
        grouped.setdefault(key, []).append(refusal.alias)
    parts = [
        f"on {', '.join(aliases)}: {' -> '.join(chain)}: {reason.rstrip('.')}. Fix: {fix}"
        for (chain, reason, fix), aliases in grouped.items()
    ]
    return (
        f"--phase {phase}: {project_phases.NAMES[tool]} refuses the plan "
        + "; ".join(parts)
        + f". {done[0].upper()}{done[1:]}."
    )


def refuse_unscoped_session(
    state: PlanState,
    loader: MigrationLoader,
    settings: conf.MigratorSettings,
    created: Sequence[Missing] = (),
) -> None:
    """``MIGRATOR["SESSION"]`` settings are ``SET LOCAL`` in an atomic migration's transaction;
    a non-atomic migration has none, so they would be set on the session, which a transaction
    pooler (PgBouncer) hands to other clients. Refused for a pending non-atomic migration on a
    PostgreSQL alias, unless ``MIGRATOR["DIRECT"]`` names the alias (a direct connection)."""
    direct = conf.direct()
    found: list[str] = []
    aliases: list[str] = []
    for step_state in state.states:
        alias = step_state.step.alias
        names = ", ".join(settings.session.get(alias, {}))
        if not names or alias in direct or state.plan.alias_info(alias).vendor != "postgresql":
            continue
        before = len(found)
        found.extend(
            f"{alias}: {migration} is not atomic, so MIGRATOR['SESSION'][{alias!r}] ({names}) "
            "cannot be scoped to its transaction"
            for migration in step_state.pending
            if not loader.get_migration(migration.app, migration.name).atomic
        )
        if len(found) > before and alias not in aliases:
            aliases.append(alias)
    if found:
        done = preflight.changed_so_far(created)
        raise ConfigurationError(
            "; ".join(found) + ". On the session, the settings would stay on a server connection "
            "that a transaction pooler (PgBouncer) then gives to other clients. If the alias "
            "connects to PostgreSQL directly (or through session pooling), say so with "
            f"MIGRATOR['DIRECT'] = {{{aliases[0]!r}: {{}}}} (or point it at the "
            f"server); otherwise drop its SESSION settings for this deploy ({done})."
        )


def health(selection: Selection = Selection()) -> Health:
    """Whether every planned alias is reachable and has nothing to apply or record (what
    ``migrate_all --check`` counts), for readiness probes and deploy gates. Read-only, as a dry
    run: nothing is written to any database and nothing is created.

    With a warm routing cache (``routing_cache``) this is the no-op fast path: preflight, one read
    of ``django_migrations`` per planned alias and the migration file names on disk, compared;
    no migration module is imported and no graph is loaded, pending or not. When the cache is
    cold (the first call after a change of migration files, routers or settings) the planner
    builds the plan once and fills the cache. Database problems (unreachable, missing, unreadable
    history) come back in ``problems``; a configuration error raises ``MigratorError``.
    """
    with without_direct():  # in the application's process: its settings, not DIRECT's
        return _health(selection)


def _health(selection: Selection) -> Health:
    django_compat.refuse_untested_django()
    settings = load_settings()
    stamps = disk_migration_stamps()
    matrix = routing_cache.load(routing_cache.fingerprint(stamps) if stamps is not None else None)
    try:
        if stamps is None or matrix is None:
            state = prepare(selection, dry_run=True, fast=True).state
            todo: dict[str, int] = {}
            for step in state.states:
                count = len(step.pending) + len(step.recorded)
                if count:
                    todo[step.step.alias] = todo.get(step.step.alias, 0) + count
            return Health(pending=tuple(todo.items()), graph_loaded=True)
        disk = {app: frozenset(names) for app, names in stamps.items()}
        found = _quick(selection, settings, disk, matrix, create_schemas=False, dry_run=True)
        counts = unrecorded(found.plan, found.applied, disk, records_all=not found.selection.apps)
        return Health(pending=tuple(counts.items()))
    except PreflightError as exc:
        return Health(problems=exc.problems or (first_line(exc),))


def prepare_shard(
    selection: Selection,
    shard: Shard,
    settings: conf.MigratorSettings,
    *,
    create_schemas: bool = False,
    dry_run: bool = False,
    gate: risk_gate.Gate | None = None,
) -> Prepared:
    """``--shard K/N``: plan the whole selection, keep the steps of the shard's aliases
    (``rollout.shard_aliases``), preflight them (and, read-only, the aliases of other shards
    that they require) and refuse, before any change, when a required step of another shard
    still has work: that shard must run first. ``gate``: the lock-risk gate of a run that it
    gates, checked on the shard's plan before anything is created (``prepare``)."""
    plan, loader = make_plan(selection)
    planned = preflight.planned_aliases(plan)
    keys = database_keys()
    databases = [info.alias for info in plan.aliases if info.is_database]
    own = rollout.shard_aliases(planned, {a: keys[a] for a in databases if a in keys}, shard)
    shard = replace(shard, aliases=own)
    foreign = rollout.foreign_requirements(plan, own)
    others = {step.alias for steps in foreign.values() for step in steps}
    mine = rollout.restrict(plan, own)
    # With steps of other shards to look at, nothing is created before they were checked: the
    # shard's own aliases are probed read-only first, and again (creating) once all is well.
    first_dry = dry_run or bool(others)
    probes, missing = (
        _preflight(mine, settings, create_schemas, first_dry, create_now=gate is None)
        if own
        else ((), ())
    )
    found: tuple[Probe, ...] = ()
    if others:
        theirs = rollout.restrict(plan, others)
        # Read only: another shard creates its schemas; what is missing there is pending.
        found = preflight.probe_all(
            theirs, settings.connect_timeout, writes=False, bounds=settings.bounds
        )
        preflight.check(found, create=True)
    both = rollout.restrict(plan, {*own, *others})
    state = read_state(both, loader, probes + found, bounds=settings.bounds)
    waiting = [
        (step, required)
        for step, steps in foreign.items()
        for required in steps
        if state.state(required).has_work
    ]
    if waiting:
        raise PreflightError(_shard_waits(shard, waiting, state, planned, keys, databases))
    if gate is not None:  # before anything is created
        mine_only = replace(rollout.restrict_state(state, own), shard=shard)
        gate.check(with_phase(mine_only, loader, selection.phase, dry_run=True), loader, settings)
    if own and first_dry and not dry_run:
        probes, missing = _preflight(mine, settings, create_schemas, dry_run)
        state = read_state(both, loader, probes + found, bounds=settings.bounds)
    elif gate is not None and missing:
        probes = _create(mine, settings, probes)
        state = read_state(both, loader, probes + found, bounds=settings.bounds)
    state = replace(rollout.restrict_state(state, own), shard=shard)
    state = with_phase(state, loader, selection.phase, dry_run=dry_run, created=missing)
    refuse_unscoped_session(state, loader, settings, created=() if dry_run else missing)
    return Prepared(state, settings, missing, loader, gated=gate is not None)


def _shard_waits(
    shard: Shard,
    waiting: list[tuple[Step, Step]],
    state: PlanState,
    planned: Sequence[str],
    keys: Mapping[str, str],
    databases: Sequence[str],
) -> str:
    """Which steps of this shard need which pending steps of which other shards, and the fix."""
    first: dict[int, None] = {}
    lines = []
    database_keys = {a: keys[a] for a in databases if a in keys}
    for step, required in waiting:
        index = rollout.shard_index(required.alias, database_keys, shard.count)
        first[index] = None
        todo = state.state(required)
        count = len(todo.pending) + len(todo.recorded)
        lines.append(
            f"{step.alias} ({', '.join(step.apps)}, level {step.level}) requires "
            f"{required.alias} ({', '.join(required.apps)}, level {required.level}) of shard "
            f"{index}/{shard.count}, which has {plural(count, 'migration')} pending"
        )
    runs = " and ".join(f"'manage.py migrate_all --shard {k}/{shard.count}'" for k in sorted(first))
    return (
        f"Shard {shard} cannot run yet: " + "; ".join(lines) + f". Run {runs} first (or run "
        "without --shard); nothing was changed."
    )


def resolve_options(options: RunOptions, settings: conf.MigratorSettings) -> RunOptions:
    """Fill what the caller left to settings: the lock timeout and the session settings."""
    return replace(
        options,
        lock_timeout=settings.lock_timeout
        if options.lock_timeout is None
        else options.lock_timeout,
        session=options.session or settings.session,
        bounds=settings.bounds,
        lock_retries=options.lock_retries or settings.lock_retries,
    )


def migrate_all(
    selection: Selection = Selection(),
    options: RunOptions = RunOptions(),
    progress: ProgressCallback | None = None,
    *,
    create_schemas: bool = False,
    shard: Shard | None = None,
    canary: int = 0,
) -> RunReport:
    """Plan, preflight, and run every step; returns the report (it raises nothing on a failed
    migration: look at ``report.ok``). ``shard``: only that shard's steps (``prepare_shard``);
    ``canary``: each level's first ``canary`` steps (on ``MIGRATOR["CANARIES"]``) first."""
    # --phase pre --fake with django-safemigrate: refused before anything is touched.
    project_phases.refuse_faking(
        selection.phase, fake=options.fake, fake_initial=options.fake_initial
    )
    prepared = prepare(
        selection,
        create_schemas=create_schemas,
        shard=shard,
        gate=risk_gate.Gate(options, "migrate_all"),
    )
    options = resolve_options(options, prepared.settings)
    if prepared.loader is not None and options.session != prepared.settings.session:
        # Session settings given here, not in MIGRATOR["SESSION"]: refused the same way.
        session = replace(prepared.settings, session=options.session)
        refuse_unscoped_session(prepared.state, prepared.loader, session)
    recorder = journal.RunRecorder(
        "migrator.api", journal.store_for(prepared.settings.journal), secrets_of(passwords())
    )
    return run_recorded(
        prepared, options, progress or ignore_progress, recorder, selection, canary=canary
    )


def run_recorded(
    prepared: Prepared,
    options: RunOptions,
    progress: ProgressCallback,
    recorder: journal.RunRecorder,
    selection: Selection,
    *,
    parallel: int = 1,
    fail_fast: bool = False,
    canary: int = 0,
    executor: str = "local",
) -> RunReport:
    """Run a prepared plan as ``recorder``'s run: its plan record and signal first, each step's
    as it finishes, the end (with the stop request's signal, if any); the whole run's report (a
    resumed run's earlier attempts included)."""
    state = prepared.state
    # MIGRATOR["RISK"]["GATE"]: refused before the journal or any database is written (when
    # prepare was given the gate, it checked it already, before --create-schemas created).
    if not prepared.gated:
        command = "migrator" if recorder.sender == "migrator" else "migrate_all"
        risk_gate.refuse_risky(state, prepared.loader, prepared.settings, options, command)
    recorder.started(state, migration_names(prepared.loader), selection, options)
    results = run_plan(
        state,
        options,
        recorder.watching(progress),
        parallel=parallel,
        fail_fast=fail_fast,
        loader=prepared.loader,
        canary=canary,
        canary_aliases=rollout.expand_canaries(
            prepared.settings.canaries, [info.alias for info in state.plan.aliases]
        ),
        executor=executor,
    )
    stopped_by = options.should_stop() if options.should_stop is not None else None
    return recorder.finished(state, results, stopped_by)


def dependencies(selection: Selection) -> tuple[Node, ...]:
    """The (alias, app) pairs outside ``selection`` that a selected pair depends on, directly or
    through others, in settings and INSTALLED_APPS order (no database is touched)."""
    load_targets()
    aliases = list(alias_names())
    loader = load_migrations()
    apps = migrated_app_labels(loader)
    found = upstream(operations.routed_matrix(loader), app_dependencies(loader), selection)
    return tuple(sorted(found, key=lambda node: (aliases.index(node.alias), apps.index(node.app))))
