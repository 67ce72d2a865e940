"""The options of ``migrate_all`` and ``migrator``, declared once (``OPTIONS``): the argparse
arguments, which modes refuse which option and why, which options run ``migrator`` without its
menu; then parsed and checked into one ``CommandOptions``. A new option is one row here."""

from __future__ import annotations

import os
from argparse import ArgumentParser
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from migrator import conf
from migrator.exceptions import UsageError
from migrator.planning.rollout import parse_shard
from migrator.types import RISK_LEVELS, Phase, RiskLevel, RunOptions, Selection, Shard


@dataclass(frozen=True)
class CommandOptions:
    selection: Selection
    run: RunOptions
    create_schemas: bool
    plan_only: bool
    check: bool
    json: bool
    makemigrations: bool
    verbosity: int
    parallel: int = 1
    fail_fast: bool = False
    executor: str = "local"  # --executor: "local" (serial or --parallel forks) or "celery"
    drift: bool = False  # --drift (with repair: --drift --repair)
    repair: bool = False
    traceback: bool = False  # Django's --traceback: also a failed step's traceback
    skip_checks: bool = False  # --skip-checks (call_command: unless skip_checks=False)
    resume: bool = False  # --resume [RUN_ID]
    resume_id: str | None = None  # None: the latest run in the journal
    shard: Shard | None = None  # --shard K/N
    canary: int = 0  # --canary N: canary steps per level (0: none)
    risk: bool = False  # --risk: the lock-risk review of the plan
    max_risk: RiskLevel | None = None  # --max-risk LEVEL (--risk: exit 1 at or above; a run: gate)

    @property
    def mode(self) -> str:
        if self.drift:
            return "repair" if self.repair else "drift"
        if self.risk:
            return "risk"
        if self.check:
            return "check"
        return "plan" if self.plan_only else "run"


Mode = Literal["run", "plan", "check", "doctor", "graph", "drift", "repair", "risk"]

# What each mode is, as its refusals say it: "--plan changes nothing, so --fake makes no sense
# with it; drop one of them."
_WHAT: dict[Mode, str] = {
    "plan": "--plan changes nothing",
    "check": "--check changes nothing",
    "doctor": "--doctor checks the whole project and changes nothing",
    "graph": "--graph shows the whole project and changes nothing",
    "drift": "--drift compares the databases with their recorded migrations and migrates nothing",
    "repair": "--drift compares the databases with their recorded migrations and migrates nothing",
    "risk": "--risk reviews the plan's locks and changes nothing",
}
_WRITES: frozenset[Mode] = frozenset(
    {"plan", "check", "doctor", "graph", "drift", "repair", "risk"}
)
_REPORTS: frozenset[Mode] = frozenset({"doctor", "graph", "drift", "repair"})


@dataclass(frozen=True)
class Option:
    """One option of ``migrate_all`` and ``migrator``: its flags and argparse settings, the modes
    that refuse it (with the reason, or a message of its own), and whether giving it runs
    ``migrator`` without the menu."""

    flags: tuple[str, ...]
    help: str
    argparse: dict[str, Any] = field(default_factory=dict)
    refused_in: frozenset[Mode] = frozenset()
    messages: Mapping[Mode, str] = field(default_factory=dict)  # instead of the generic refusal
    without_menu: bool = False

    @property
    def dest(self) -> str:
        return str(self.argparse.get("dest") or self.flags[0].lstrip("-").replace("-", "_"))


_DATABASE_CHANGES = _WRITES  # refused wherever nothing is migrated
_RUN_ONLY = _REPORTS  # means something for a run, --plan and --check only
# --risk reviews the plan of a selection (--database, --app, --target, --shard), read-only
_NOT_FOR_RISK: frozenset[Mode] = frozenset({*_REPORTS, "risk"})

OPTIONS: tuple[Option, ...] = (
    Option(
        ("--database",),
        "Only migrate this alias (repeatable).",
        {"action": "append", "default": [], "dest": "databases", "metavar": "ALIAS"},
        refused_in=frozenset({"doctor", "graph"}),
    ),
    Option(
        ("--app",),
        "Only migrate this app (repeatable).",
        {"action": "append", "default": [], "dest": "apps", "metavar": "LABEL"},
        refused_in=frozenset({"doctor", "graph"}),
    ),
    Option(
        ("--target",),
        "Migrate one app to a named migration (or APP:zero) on every alias it is routed to.",
        {"metavar": "APP:MIGRATION"},
        refused_in=_RUN_ONLY,
    ),
    Option(
        ("--plan",),
        "Show the plan; change nothing.",
        {"action": "store_true", "dest": "plan_only"},
        refused_in=_NOT_FOR_RISK,
        without_menu=True,
    ),
    Option(
        ("--check",),
        "Change nothing; exit 1 if any migration is pending on a planned alias.",
        {"action": "store_true"},
        refused_in=_NOT_FOR_RISK,
        without_menu=True,
    ),
    Option(
        ("--json",),
        "Print only JSON on stdout (schema in the README).",
        {"action": "store_true"},
        messages={
            "graph": "--graph prints Mermaid or DOT, not JSON; drop --json (--doctor --json "
            "prints the findings as JSON)."
        },
        refused_in=frozenset({"graph"}),
        without_menu=True,
    ),
    Option(
        ("--fake",),
        "Record migrations as run without running them.",
        {"action": "store_true"},
        refused_in=_DATABASE_CHANGES,
    ),
    Option(
        ("--fake-initial",),
        "Fake initial migrations whose tables already exist (as migrate --fake-initial).",
        {"action": "store_true"},
        refused_in=_DATABASE_CHANGES,
    ),
    Option(
        ("--noinput", "--no-input"),
        "Never prompt (Django's post-migrate questions are answered with the safe default).",
        {"action": "store_false", "dest": "interactive"},
    ),
    Option(
        ("--makemigrations",),
        "Run makemigrations before planning (writes migration files; off by default).",
        {"action": "store_true"},
        refused_in=_DATABASE_CHANGES,
    ),
    Option(
        ("--skip-makemigrations",),
        "Do not run makemigrations (the default; accepted for scripts written for other tools).",
        {"action": "store_true"},
    ),
    Option(
        ("--create-schemas",),
        "Create missing PostgreSQL schemas, MySQL/MariaDB databases and SQLite folders "
        "(with --plan: only show what would be created).",
        {"action": "store_true"},
        refused_in=_NOT_FOR_RISK,
    ),
    Option(
        ("--lock-timeout",),
        "Wait at most this long for another run's lock on an alias (default: "
        "MIGRATOR['LOCK_TIMEOUT'], 60).",
        {"metavar": "SECONDS"},
        refused_in=frozenset({"doctor", "graph", "drift", "risk"}),
        messages={
            "drift": "--lock-timeout is for --drift --repair (each repair waits for the alias's "
            "lock); --drift alone reads without locking. Drop it or add --repair."
        },
    ),
    Option(
        ("--parallel",),
        "Run up to N independent steps of a level at once in worker processes "
        "(auto: the CPU count; default 1).",
        {"metavar": "N"},
        refused_in=_NOT_FOR_RISK,
    ),
    Option(
        ("--executor",),
        "Where the steps run: local (this machine, serially or --parallel; the default) or "
        "celery (Celery workers of MIGRATOR['CELERY']; the [celery] extra).",
        {"choices": ("local", "celery")},
        refused_in=_NOT_FOR_RISK,
    ),
    Option(
        ("--fail-fast",),
        "After a failure start no further step (by default independent steps go on).",
        {"action": "store_true"},
        refused_in=_NOT_FOR_RISK,
    ),
    Option(
        ("--shard",),
        "Migrate only the K-th of N disjoint parts of the aliases (e.g. 1/4 ... 4/4 on four "
        "machines); refused while a required step of another shard is pending.",
        {"metavar": "K/N"},
        refused_in=_RUN_ONLY,
        without_menu=True,
    ),
    Option(
        ("--canary",),
        "Run N steps of each level first (MIGRATOR['CANARIES'] picks which); when one fails, "
        "start nothing else.",
        {"metavar": "N"},
        refused_in=_DATABASE_CHANGES,
        without_menu=True,
    ),
    Option(
        ("--phase",),
        "Deploy in two phases with the project's phase tool (django-syzygy or "
        "django-safemigrate): pre runs on every alias only what may run before the new code is "
        "deployed, post the rest.",
        {"choices": ("pre", "post")},
        refused_in=_RUN_ONLY,
        without_menu=True,
    ),
    Option(
        ("--force-migrate",),
        "Hand aliases with nothing pending to Django's migrate too (runs post_migrate signals).",
        {"action": "store_true"},
        refused_in=_DATABASE_CHANGES,
    ),
    Option(
        ("--resume",),
        "Continue a run recorded in the run journal (MIGRATOR['JOURNAL']; default: the latest): "
        "aliases it finished are not connected to; refused when the plan changed since.",
        {"nargs": "?", "const": "latest", "metavar": "RUN_ID"},
        refused_in=_DATABASE_CHANGES,
        without_menu=True,
    ),
    Option(
        ("--doctor",),
        "Check the routers and models for routing mistakes (migrator.E0xx, W0xx, I0xx) and "
        "print the findings by alias; change nothing; exit 1 on an error.",
        {"action": "store_true"},
        without_menu=True,
    ),
    Option(
        ("--graph",),
        "Print the (alias, app) dependency graph as Mermaid (default) or Graphviz DOT "
        "(--graph=dot), pending work marked; change nothing.",
        {"nargs": "?", "const": "mermaid", "choices": ("mermaid", "dot")},
        without_menu=True,
    ),
    Option(
        ("--skip-checks",),
        "Do not run the system checks (the routing doctor's and Django's) before migrating.",
        {"action": "store_true"},
    ),
    Option(
        ("--drift",),
        "Compare every planned alias's tables with the migrations recorded there (missing "
        "tables or columns, tables in the wrong schema, unrecorded tables); change nothing; "
        "exit 1 on drift.",
        {"action": "store_true"},
        without_menu=True,
    ),
    Option(
        ("--risk",),
        "Review the lock risk of every pending migration on every planned alias (squawk on "
        "PostgreSQL, migrator's rules on MySQL/MariaDB, weighted by table sizes); change "
        "nothing; exit 1 on a danger finding (or at --max-risk).",
        {"action": "store_true"},
        without_menu=True,
    ),
    Option(
        ("--max-risk",),
        "With --risk: exit 1 on a finding at or above LEVEL (default danger); on a run: refuse "
        "the plan then (instead of MIGRATOR['RISK']['GATE']).",
        {"choices": ("info", "warning", "danger"), "metavar": "LEVEL"},
        refused_in=frozenset({"plan", "check", "doctor", "graph", "drift", "repair"}),
    ),
    Option(
        ("--accept-risk",),
        "Run even when the lock-risk gate (MIGRATOR['RISK']['GATE'] or --max-risk) would "
        "refuse the plan.",
        {"action": "store_true"},
        refused_in=_DATABASE_CHANGES,
    ),
    Option(
        ("--repair",),
        "With --drift: make the repairs that cannot lose data (only django_migrations rows "
        "change), after asking unless --noinput.",
        {"action": "store_true"},
        without_menu=True,
    ),
)


def add_arguments(parser: ArgumentParser) -> None:
    for option in OPTIONS:
        parser.add_argument(*option.flags, help=option.help, **option.argparse)


def without_menu(options: Mapping[str, Any]) -> bool:
    """Whether the options ask ``migrator`` for something else than the menu."""
    return any(options.get(option.dest) for option in OPTIONS if option.without_menu)


def mode_of(options: Mapping[str, Any]) -> Mode:
    if options.get("drift"):
        return "repair" if options.get("repair") else "drift"
    if options.get("doctor"):
        return "doctor"
    if options.get("graph"):
        return "graph"
    if options.get("risk"):
        return "risk"
    if options.get("check"):
        return "check"
    return "plan" if options.get("plan_only") else "run"


def _given(value: object) -> bool:
    """Whether an option was given: anything but its argparse default (None, False, an empty
    list; call_command may pass a tuple). 0 is a value: --lock-timeout 0 is given."""
    return value is not None and value is not False and value != [] and value != ()


def refuse_conflicts(options: Mapping[str, Any], command: str) -> None:
    """Every combination of options that makes no sense, refused before anything runs: one
    report at a time, each option only in the modes that use it (``OPTIONS``), and the pairs
    that contradict each other."""
    if options.get("repair") and not options.get("drift"):
        raise UsageError(
            f"--repair repairs what --drift finds; run 'manage.py {command} --drift --repair'."
        )
    reports = [flag for flag in ("drift", "doctor", "graph", "risk") if options.get(flag)]
    if len(reports) > 1:
        raise UsageError(
            f"--{reports[0]} and --{reports[1]} print different reports; run them one at a time."
        )
    mode = mode_of(options)
    for option in OPTIONS:
        if mode in option.refused_in and _given(options.get(option.dest)):
            raise UsageError(
                option.messages.get(mode)
                or f"{_WHAT[mode]}, so {option.flags[0]} makes no sense with it; drop one of them."
            )
    if options.get("makemigrations") and options.get("skip_makemigrations"):
        raise UsageError(
            "--makemigrations and --skip-makemigrations contradict each other; pick one."
        )
    if options.get("fake") and options.get("fake_initial"):
        raise UsageError("--fake and --fake-initial contradict each other; pick one.")
    if options.get("resume"):
        for dest, flag in (
            ("databases", "--database"),
            ("apps", "--app"),
            ("target", "--target"),
            ("shard", "--shard"),
            ("phase", "--phase"),
        ):
            if _given(options.get(dest)):
                raise UsageError(
                    f"--resume continues a run with the selection it was started with; drop {flag}."
                )


def command_options(options: dict[str, Any]) -> CommandOptions:
    target = parse_target(options["target"]) if options.get("target") else None
    opts = CommandOptions(
        selection=Selection(
            databases=tuple(dict.fromkeys(options.get("databases") or ())),
            apps=tuple(dict.fromkeys(options.get("apps") or ())),
            target=target,
            phase=_phase(options.get("phase")),
        ),
        run=RunOptions(
            fake=bool(options.get("fake")),
            fake_initial=bool(options.get("fake_initial")),
            interactive=bool(options.get("interactive", True)),
            force_migrate=bool(options.get("force_migrate")),
            lock_timeout=_lock_timeout(options.get("lock_timeout")),
            accept_risk=bool(options.get("accept_risk")),
            risk_gate=None if options.get("risk") else _risk_level(options.get("max_risk")),
        ),
        create_schemas=bool(options.get("create_schemas")),
        plan_only=bool(options.get("plan_only")),
        check=bool(options.get("check")),
        json=bool(options.get("json")),
        makemigrations=bool(options.get("makemigrations")),
        verbosity=int(options.get("verbosity", 1)),
        parallel=_parallel(options.get("parallel")),
        fail_fast=bool(options.get("fail_fast")),
        executor=str(options.get("executor") or "local"),
        drift=bool(options.get("drift")),
        repair=bool(options.get("repair")),
        traceback=bool(options.get("traceback")),
        skip_checks=bool(options.get("skip_checks")),
        resume=bool(options.get("resume")),
        resume_id=None if options.get("resume") in (None, "latest") else str(options["resume"]),
        shard=parse_shard(str(options["shard"])) if options.get("shard") is not None else None,
        canary=_canary(options.get("canary")),
        risk=bool(options.get("risk")),
        max_risk=_risk_level(options.get("max_risk")),
    )
    _refuse_target_with_other_apps(opts)
    if opts.executor == "celery" and opts.canary:
        raise UsageError(
            "--canary runs canary steps first on this machine; --executor celery does not take "
            "canaries yet: drop one of them."
        )
    if opts.executor == "celery" and opts.parallel > 1:
        raise UsageError(
            "--parallel forks workers on this machine, --executor celery sends the steps to "
            "Celery workers (as wide as they run); drop one of them."
        )
    return opts


def _phase(value: object) -> Phase | None:
    """``--phase pre|post`` (argparse checks the choice; ``call_command`` may pass anything)."""
    if value is None:
        return None
    if value == "pre":
        return "pre"
    if value == "post":
        return "post"
    raise UsageError(
        f"--phase {value!r}: expected pre (before the new code is deployed) or post (after)."
    )


def _parallel(value: object) -> int:
    """``--parallel N`` or ``auto`` (the CPU count; capped at the number of aliases later)."""
    if value is None:
        return 1
    if str(value) == "auto":
        return max(1, os.cpu_count() or 1)
    try:
        workers = int(str(value))
    except ValueError:
        workers = 0
    if workers < 1:
        raise UsageError(f"--parallel {value!r}: expected a number of workers, 1 or more, or auto.")
    return workers


def _canary(value: object) -> int:
    """``--canary N``: N canary steps per level, 1 or more."""
    if value is None:
        return 0
    try:
        count = int(str(value))
    except ValueError:
        count = 0
    if count < 1:
        raise UsageError(
            f"--canary {value!r}: expected a number of canary steps per level, 1 or more "
            "(e.g. --canary 2)."
        )
    return count


def _risk_level(value: object) -> RiskLevel | None:
    """``--max-risk LEVEL``: info, warning or danger (argparse checks; call_command may not)."""
    if value is None:
        return None
    for level in RISK_LEVELS:
        if value == level:
            return level
    raise UsageError(f"--max-risk {value!r}: expected info, warning or danger.")


def _lock_timeout(value: object) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(str(value))
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise UsageError(
            f"--lock-timeout {value!r}: expected a number of seconds, 0 or more "
            "(e.g. --lock-timeout 60)."
        )
    problem = conf.too_long(seconds)
    if problem:
        raise UsageError(f"--lock-timeout {value!r}: {problem}; use e.g. --lock-timeout 3600.")
    return seconds


def _refuse_target_with_other_apps(opts: CommandOptions) -> None:
    target = opts.selection.target
    if target and opts.selection.apps and opts.selection.apps != (target[0],):
        raise UsageError(
            f"--target {target[0]}:{target[1]} migrates only {target[0]!r}; drop --app "
            f"{' --app '.join(a for a in opts.selection.apps if a != target[0])}."
        )


def parse_target(text: str) -> tuple[str, str]:
    """``APP:MIGRATION`` (or ``APP:zero``) from ``--target``."""
    app, sep, name = text.partition(":")
    if not sep or not app or not name or ":" in name:
        raise UsageError(
            f"--target {text!r}: expected APP:MIGRATION, e.g. --target blog:0002_post_slug "
            "or --target blog:zero."
        )
    return app, name
