"""Deploy phases (``--phase pre|post``): which migrations of each alias's plan may run before the
new code is deployed, as the project's deploy-phase tool resolves them, by calling that tool's
own code, never a copy of its rules:

- django-syzygy: ``syzygy.plan`` (``get_migration_stage``, ``must_post_deploy_migration``, and
  ``get_pre_deploy_plan``, the function its ``migrate --pre-deploy`` trims the plan with);
- django-safemigrate: its ``safemigrate`` command's own methods (``mode``, ``safe``,
  ``detected``, ``resolve``, ``categorize``, ``detect``), which its ``pre_migrate`` receiver
  runs on the plan of ``manage.py safemigrate``.

Each alias has its own plan (its own applied set), so each is resolved on its own. The tools
are imported here only, and only when ``--phase`` is given (neither is a requirement)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.management.base import CommandError
from django.db import DatabaseError

from migrator import conf
from migrator.exceptions import ConfigurationError, UsageError
from migrator.types import MigrationKey, MigrationPhase, PendingMigration, Phase

PlanItem = tuple[Any, bool]  # (Migration, backwards), as Django's executor plans them

NAMES = {"syzygy": "django-syzygy", "safemigrate": "django-safemigrate"}
INSTALL = {
    "syzygy": "pip install django-syzygy and add 'syzygy' to INSTALLED_APPS",
    "safemigrate": "pip install django-safemigrate and add 'django_safemigrate' to INSTALLED_APPS",
}


def tool() -> str:
    """The deploy-phase tool ``--phase`` asks: ``MIGRATOR["PHASE_TOOL"]``, else the one in
    ``INSTALLED_APPS``. ``ConfigurationError`` (exit 2) when there is none, or two and no
    choice, naming the tools supported and how to install them."""
    chosen = conf.phase_tool()
    installed = [name for name, app in conf.PHASE_TOOLS.items() if apps.is_installed(app)]
    if chosen is not None:
        if chosen not in installed:
            raise ConfigurationError(
                f"MIGRATOR['PHASE_TOOL'] = {chosen!r}, but {conf.PHASE_TOOLS[chosen]!r} is not "
                f"in INSTALLED_APPS: {INSTALL[chosen]}, or drop the setting."
            )
        return chosen
    if not installed:
        raise ConfigurationError(
            "--phase asks the project's deploy-phase tool which migrations may run before the "
            "new code is deployed, and none is installed. migrator supports django-syzygy "
            f"({INSTALL['syzygy']}) and django-safemigrate ({INSTALL['safemigrate']}). "
            "Without --phase, migrate_all runs every pending migration."
        )
    if len(installed) > 1:
        raise ConfigurationError(
            "--phase: both django-syzygy ('syzygy') and django-safemigrate "
            "('django_safemigrate') are in INSTALLED_APPS, and they can disagree on a "
            "migration's phase; say which one decides with MIGRATOR['PHASE_TOOL'] = 'syzygy' "
            "or 'safemigrate'."
        )
    return installed[0]


def refuse_faking(phase: Phase | None, *, fake: bool, fake_initial: bool) -> None:
    """``--phase pre --fake`` (or ``--fake-initial``) with django-safemigrate: refused
    (``UsageError``, exit 2) before any database is touched, as its own ``safemigrate`` command
    refuses both ("Safemigrate does not support faking migrations"). Its post-deploy run is a
    plain ``migrate``, which fakes; django-syzygy's ``migrate --pre-deploy`` fakes too."""
    if phase != "pre" or not (fake or fake_initial) or tool() != "safemigrate":
        return
    flag = "--fake" if fake else "--fake-initial"
    raise UsageError(
        f"--phase pre {flag}: django-safemigrate does not support faking migrations (its "
        "safemigrate command refuses --fake and --fake-initial), so migrator does not fake "
        f"what it lets run before the deploy either. Drop {flag}, or fake after the deploy "
        f"with --phase post {flag} (a plain migrate for django-safemigrate). Nothing was changed."
    )


@dataclass(frozen=True)
class Refusal:
    """A plan the tool refuses for ``--phase pre`` on one alias."""

    alias: str
    chain: tuple[str, ...]  # "app.name", the post-deploy one first, the pre-deploy one last
    reason: str  # what the tool says
    fix: str


@dataclass(frozen=True)
class Resolution:
    """Every alias's plan resolved: each migration's phase, what runs now, what is refused."""

    phases: tuple[MigrationPhase, ...] = ()
    runs: Mapping[str, frozenset[PendingMigration]] = field(default_factory=dict)
    refusals: tuple[Refusal, ...] = ()
    # django-safemigrate, --phase pre: the delayed Safe.after_deploy(delay=...) migrations, which
    # its receiver marks detected (SafeMigration rows) when it holds them back.
    detect: tuple[Any, ...] = ()


def resolve(tool_name: str, plans: Mapping[str, Sequence[PlanItem]], phase: Phase) -> Resolution:
    """Each alias's plan (``(Migration, backwards)`` in the order the run applies them) as the
    tool resolves it for ``phase``: ``pre`` keeps what may run before the deploy, ``post``
    everything (the tools' own post-deploy run is a plain ``migrate``)."""
    found: list[MigrationPhase] = []
    runs: dict[str, frozenset[PendingMigration]] = {}
    refusals: list[Refusal] = []
    detect: dict[MigrationKey, Any] = {}
    command = _safemigrate_command() if tool_name == "safemigrate" else None
    for alias, plan in plans.items():
        if command is not None:
            alias_phases, alias_refusals, delayed = _safemigrate(command, alias, plan, phase)
            detect.update((_key(m), m) for m in delayed)
        else:
            alias_phases, alias_refusals = _syzygy(alias, plan, phase)
        found.extend(alias_phases)
        refusals.extend(alias_refusals)
        runs[alias] = frozenset(p.migration for p in alias_phases if p.runs)
    return Resolution(tuple(found), runs, tuple(refusals), tuple(detect.values()))


def mark_detected(migrations: Sequence[Any]) -> None:
    """django-safemigrate, a ``--phase pre`` run: mark the delayed migrations detected, as its
    receiver does before it runs the rest (their delay counts from then)."""
    # Without its SafeMigration table (its own migration is pending) the tool gives up quietly
    # on SQLite (OperationalError); PostgreSQL says ProgrammingError: the same here.
    if migrations:
        with suppress(DatabaseError):
            _safemigrate_command().detect(list(migrations))


def _key(migration: Any) -> MigrationKey:
    return (str(migration.app_label), str(migration.name))


def _item(migration: Any, backwards: bool) -> PendingMigration:
    return PendingMigration(str(migration.app_label), str(migration.name), backwards)


def _name(migration: Any) -> str:
    return f"{migration.app_label}.{migration.name}"


# -- django-syzygy ------------------------------------------------------------------------------


def _syzygy(
    alias: str, plan: Sequence[PlanItem], phase: Phase
) -> tuple[list[MigrationPhase], list[Refusal]]:
    from syzygy.exceptions import AmbiguousPlan, AmbiguousStage
    from syzygy.plan import get_migration_stage, get_pre_deploy_plan, must_post_deploy_migration

    post: dict[MigrationKey, bool] = {}
    why: dict[MigrationKey, str] = {}
    refusals: list[Refusal] = []
    for migration, backwards in plan:
        key = _key(migration)
        try:
            stage = get_migration_stage(migration)
            post[key] = bool(must_post_deploy_migration(migration, backwards))
        except AmbiguousStage as exc:
            post[key], why[key] = True, f"stage ambiguous ({exc})"
            if phase == "pre":
                refusals.append(
                    Refusal(
                        alias,
                        (_name(migration),),
                        f"django-syzygy cannot tell its stage: {exc}",
                        f"give {_name(migration)} an explicit stage (stage = Stage.PRE_DEPLOY "
                        "or Stage.POST_DEPLOY, from syzygy import Stage; "
                        "MIGRATION_STAGES_OVERRIDE for a third-party app), or split its "
                        "operations into one migration per stage",
                    )
                )
            continue
        label = "no operations" if stage is None else f"stage {stage.value}"
        why[key] = f"{label}, backwards" if backwards else label
    kept: set[MigrationKey] | None = None
    if phase == "pre" and not refusals:
        try:
            kept = {_key(migration) for migration, _ in get_pre_deploy_plan(list(plan))}
        except AmbiguousPlan as exc:
            chain = _syzygy_chain(plan, post)
            pre, before = chain[-1], chain[0]
            refusals.append(
                Refusal(
                    alias,
                    chain,
                    f"django-syzygy: {exc}",
                    f"mark {pre} stage = Stage.POST_DEPLOY (from syzygy import Stage) so that "
                    f"it runs after the deploy with {before}, or, if {before} is safe before "
                    "the deploy, mark it stage = Stage.PRE_DEPLOY "
                    "(MIGRATION_STAGES_OVERRIDE for a third-party app)",
                )
            )
    phases = []
    for migration, backwards in plan:
        key = _key(migration)
        if phase == "pre":
            runs = kept is not None and key in kept
            now: Phase = "pre" if runs else "post"
        else:
            runs, now = True, "post" if post[key] else "pre"
        phases.append(MigrationPhase(alias, _item(migration, backwards), now, why[key], runs))
    return phases, refusals


def _syzygy_chain(plan: Sequence[PlanItem], post: Mapping[MigrationKey, bool]) -> tuple[str, ...]:
    """The first pre-deploy migration of ``plan`` that depends on an earlier post-deploy one,
    after it: the pair ``get_pre_deploy_plan`` refuses."""
    seen: set[MigrationKey] = set()
    for migration, _backwards in plan:
        key = _key(migration)
        if post[key]:
            seen.add(key)
            continue
        for dependency in migration.dependencies:
            if tuple(dependency) in seen:
                return (f"{dependency[0]}.{dependency[1]}", _name(migration))
    return ("?",)  # not reached: the tool refused for this very reason


# -- django-safemigrate -------------------------------------------------------------------------


def _safemigrate_command() -> Any:
    from django_safemigrate.management.commands.safemigrate import Command

    return Command()


def _safemigrate(
    command: Any, alias: str, plan: Sequence[PlanItem], phase: Phase
) -> tuple[list[MigrationPhase], list[Refusal], list[Any]]:
    from django_safemigrate import When
    from django_safemigrate.management.commands.safemigrate import Mode

    try:
        mode = command.mode
    except ValueError as exc:
        raise ConfigurationError(f"django-safemigrate refuses its setting: {exc}") from None
    if mode is Mode.DISABLED:
        return (
            [
                MigrationPhase(alias, _item(m, b), "pre", "SAFEMIGRATE = 'disabled'", True)
                for m, b in plan
            ],
            [],
            [],
        )
    backward = [m for m, backwards in plan if backwards]
    if backward:
        # The tool refuses to plan backward migrations ("Backward migrations are not supported").
        backward_refusals = [
            Refusal(
                alias,
                (_name(backward[0]),),
                "django-safemigrate does not support backward migrations",
                "unapply them with --phase post, or without --phase",
            )
        ]
        phases = [
            MigrationPhase(alias, _item(m, b), "post", "backwards", phase == "post")
            for m, b in plan
        ]
        return phases, backward_refusals if phase == "pre" else [], []
    migrations = [m for m, _ in plan]
    try:
        declared = {m: command.safe(m) for m in migrations}
    except CommandError as exc:
        raise ConfigurationError(f"django-safemigrate: {exc}") from None
    try:
        detected = command.detected(declared)
    except DatabaseError:
        detected = {}  # no SafeMigration table yet (see mark_detected): nothing detected
    resolved = command.resolve(declared, detected)
    ready, delayed, blocked = command.categorize(resolved)
    held = [*delayed, *blocked]
    why: dict[Any, str] = {}
    for migration in migrations:
        safe = declared[migration]
        text = _marker(safe)
        if safe.when is When.AFTER_DEPLOY and safe.delay is not None:
            if resolved[migration] is When.ALWAYS:
                text += f", detected {detected[migration]:%Y-%m-%d %H:%M}, delay passed"
            elif migration in detected:
                due = detected[migration] + safe.delay
                text += f", detected {detected[migration]:%Y-%m-%d %H:%M}, due {due:%Y-%m-%d %H:%M}"
            else:
                text += ", delay starts now" if phase == "pre" else ", not detected yet"
        if migration in blocked:
            text += f", blocked behind {_name(_behind(migration, held))}"
        elif migration in delayed and resolved[migration] is not When.AFTER_DEPLOY:
            text += f", behind {_name(_behind(migration, held))}"
        why[migration] = text
    refusals: list[Refusal] = []
    if phase == "pre" and blocked and mode is Mode.STRICT:
        for migration in blocked:
            if declared[migration].when is not When.BEFORE_DEPLOY:
                continue  # blocked only because a blocked one is before it
            chain = _safemigrate_chain(migration, held, resolved, When.AFTER_DEPLOY)
            refusals.append(
                Refusal(
                    alias,
                    chain,
                    "django-safemigrate: a Safe.before_deploy() migration depends on one that "
                    "waits for after the deploy (its strict mode aborts: 'blocked migrations')",
                    f"mark {chain[-1]} Safe.after_deploy() (it then runs after the deploy "
                    f"with {chain[0]}), or, if {chain[0]} is safe before the deploy, mark it "
                    "Safe.before_deploy(); SAFEMIGRATE = 'nonstrict' holds it back instead",
                )
            )
    phases = [
        MigrationPhase(
            alias,
            _item(migration, False),
            "pre" if migration in ready else "post",
            why[migration],
            phase == "post" or migration in ready,
        )
        for migration in migrations
    ]
    to_detect = [
        m
        for m in delayed
        if declared[m].when is When.AFTER_DEPLOY and declared[m].delay is not None
    ]
    return phases, refusals, to_detect if phase == "pre" else []


def _marker(safe: Any) -> str:
    when = str(safe.when.value)
    if safe.delay is not None:
        return f"Safe.{when}(delay={safe.delay})"
    return f"Safe.{when}()"


def _behind(migration: Any, held: Sequence[Any]) -> Any:
    """The held migration that ``migration`` waits for: a dependency, or one that runs before
    it (``run_before``), as django-safemigrate's ``to_block`` relates them."""
    keys = {_key(m): m for m in held}
    for dependency in migration.dependencies:
        if tuple(dependency) in keys:
            return keys[tuple(dependency)]
    for other in held:
        if _key(migration) in [tuple(key) for key in other.run_before]:
            return other
    return migration


def _safemigrate_chain(
    migration: Any, held: Sequence[Any], resolved: Mapping[Any, Any], root: Any
) -> tuple[str, ...]:
    """From the migration that waits for after the deploy to ``migration``, through what holds
    each back."""
    chain = [migration]
    while resolved[chain[-1]] is not root:
        behind = _behind(chain[-1], held)
        if behind in chain:
            break
        chain.append(behind)
    return tuple(_name(m) for m in reversed(chain))
