"""migrator's own settings: the optional ``MIGRATOR`` dict in Django settings, validated.

```python
MIGRATOR = {
    "CONNECT_TIMEOUT": 5,      # seconds to reach each database in preflight
    "LOCK_TIMEOUT": 60,        # seconds to wait for another run's lock (--lock-timeout overrides)
    "ROUTING_CACHE": None,     # folder for the no-op fast path's routing answers; None: off
    "ALLOW_UNTESTED_DJANGO": False,  # True: run on a Django series outside the tested range
    "DATABASES": None,         # "package.module.callable" returning more aliases: {alias: {...}}
    "MAX_CONNECTIONS_PER_SERVER": 8,  # connections at once to one server (reads, --parallel)
    "MAX_CONNECTIONS": 32,     # connections (threads, --parallel workers) at once in all
    "DIRECT": {                # per alias, merged over its entry for migrator's connections only
        "default": {"HOST": "db-primary.internal", "PORT": 5432},  # e.g. past PgBouncer
    },
    "JOURNAL": "/var/lib/myproject/migrator.jsonl",  # or {"ALIAS": "default", "TABLE": ...}
    "CANARIES": ["tenant_000", "eu-*"],  # --canary N takes these aliases (patterns) first
    "CELERY": None,            # --executor celery: {"APP": "myproject.celery.app", "QUEUE": ...}
    "PHASE_TOOL": None,        # --phase: "syzygy" or "safemigrate" when both are installed
    "RISK": {                  # --risk: the levels of lock-risk findings, and the run's gate
        "WARNING_ROWS": 10_000, "DANGER_ROWS": 1_000_000,
        "WARNING_BYTES": 64 * 2**20, "DANGER_BYTES": 4 * 2**30,
        "GATE": None,          # "danger" or "warning": a run refuses a plan with such findings
    },
    "SESSION": {               # per alias, applied only to the migration session
        "default": {"lock_timeout": "5s", "statement_timeout": "15min"},   # PostgreSQL
        "legacy_db": {"lock_wait_timeout": 10},                              # MySQL/MariaDB
    },
    "LOCK_RETRIES": {          # a migration that cannot get a lock is rolled back and retried
        "RETRIES": 5, "BACKOFF": 2, "MAX_BACKOFF": 30, "DDL_LOCK_TIMEOUT": 3,
        "ALIASES": {"legacy_db": {"DDL_LOCK_TIMEOUT": 10}, "reports": None},  # None: off there
    },
}
```
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from django.conf import settings

from migrator.exceptions import ConfigurationError
from migrator.types import DEFAULT_BOUNDS, DEFAULT_RISK, Bounds, LockRetries, RiskThresholds

KEYS = (
    "CONNECT_TIMEOUT",
    "LOCK_TIMEOUT",
    "SESSION",
    "ROUTING_CACHE",
    "ALLOW_UNTESTED_DJANGO",
    "DATABASES",
    "DIRECT",
    "JOURNAL",
    "CANARIES",
    "MAX_CONNECTIONS_PER_SERVER",
    "MAX_CONNECTIONS",
    "CELERY",
    "PHASE_TOOL",
    "LOCK_RETRIES",
    "RISK",
)
# --phase: the deploy-phase tools migrator asks, each with the app that installs it.
PHASE_TOOLS = {"syzygy": "syzygy", "safemigrate": "django_safemigrate"}
# What MIGRATOR["DIRECT"] may replace in an alias's entry: where and as whom to connect.
DIRECT_KEYS = ("NAME", "HOST", "PORT", "USER", "PASSWORD", "OPTIONS")
CELERY_KEYS = ("APP", "QUEUE", "STEP_TIMEOUT", "HEARTBEAT")
DEFAULT_LOCK_TIMEOUT = 60.0  # seconds a step waits for another run's lock
SESSION_KEYS = {
    "postgresql": ("lock_timeout", "statement_timeout"),
    "mysql": ("lock_wait_timeout",),
}


@dataclass(frozen=True)
class JournalSetting:
    """Where runs are recorded (``MIGRATOR["JOURNAL"]``): a file (``path``; None: the default
    file of this project), a table on an alias, or nowhere (``off``)."""

    path: str | None = None
    alias: str | None = None
    table: str | None = None
    off: bool = False


@dataclass(frozen=True)
class MigratorSettings:
    connect_timeout: float = 5.0
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    session: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    bounds: Bounds = DEFAULT_BOUNDS
    journal: JournalSetting = JournalSetting()
    canaries: tuple[str, ...] = ()  # alias names and shell-style patterns, each matching one
    # MIGRATOR["LOCK_RETRIES"] per alias where it is on (lock_retries)
    lock_retries: Mapping[str, LockRetries] = field(default_factory=dict)
    risk: RiskThresholds = DEFAULT_RISK  # MIGRATOR["RISK"]: --risk's levels and the gate


_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def journal(vendors: Mapping[str, str]) -> JournalSetting:
    """``MIGRATOR["JOURNAL"]``: unset, the default file; a path; None or False, off; or
    ``{"ALIAS": alias, "TABLE": name}``, a table migrator creates on that alias."""
    raw = _raw()
    if "JOURNAL" not in raw:
        return JournalSetting()
    value = raw["JOURNAL"]
    if value is None or value is False:
        return JournalSetting(off=True)
    if isinstance(value, str | os.PathLike) and str(value):
        return JournalSetting(path=os.fspath(value))
    example = "{'ALIAS': 'default', 'TABLE': 'migrator_journal'}"
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"MIGRATOR['JOURNAL'] = {value!r} must be a file path, None (no journal) or {example}."
        )
    unknown = sorted(set(value) - {"ALIAS", "TABLE"})
    if unknown or "ALIAS" not in value:
        raise ConfigurationError(
            f"MIGRATOR['JOURNAL'] = {value!r} must have the keys ALIAS and TABLE (optional), "
            f"e.g. {example}."
        )
    alias, table = value["ALIAS"], value.get("TABLE", "migrator_journal")
    if alias not in vendors or vendors[alias] == "dummy":
        raise ConfigurationError(
            f"MIGRATOR['JOURNAL']['ALIAS'] = {alias!r} is not a database alias; use one of "
            f"{', '.join(a for a, v in vendors.items() if v != 'dummy')}."
        )
    if not isinstance(table, str) or not _TABLE_NAME.match(table) or table == "django_migrations":
        raise ConfigurationError(
            f"MIGRATOR['JOURNAL']['TABLE'] = {table!r} must be a table name of letters, digits "
            "and underscores other than django_migrations, e.g. 'migrator_journal'."
        )
    return JournalSetting(alias=alias, table=table)


# The longest wait every server accepts: PostgreSQL's lock_timeout and statement_timeout are
# int milliseconds (at most 2147483647 ms, about 24.8 days).
MAX_SECONDS = 2147483


def too_long(seconds: float) -> str | None:
    """Why a timeout of ``seconds`` is refused, or None when it is fine."""
    if seconds > MAX_SECONDS:
        return (
            f"at most {MAX_SECONDS} seconds (about 24.8 days, the longest timeout PostgreSQL "
            "accepts)"
        )
    return None


def _seconds(name: str, value: Any, *, allow_zero: bool) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"MIGRATOR[{name!r}] = {value!r} is not a number of seconds; use e.g. {name!r}: 5."
        ) from None
    if not number >= 0 or (number == 0 and not allow_zero):
        raise ConfigurationError(
            f"MIGRATOR[{name!r}] = {value!r} must be {'0 or more' if allow_zero else 'more than 0'} "
            "seconds."
        )
    problem = too_long(number)
    if problem:
        raise ConfigurationError(
            f"MIGRATOR[{name!r}] = {value!r} is too long: {problem}; use e.g. {name!r}: 3600."
        )
    return number


def _count(name: str, value: Any, default: int) -> int:
    """A positive whole number of connections."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(
            f"MIGRATOR[{name!r}] = {value!r} must be a whole number of connections, 1 or more "
            f"(1: one at a time); use e.g. {name!r}: {default}."
        )
    return value


def bounds(raw: Mapping[str, Any]) -> Bounds:
    """``MIGRATOR["MAX_CONNECTIONS_PER_SERVER"]`` (default 8) and ``MIGRATOR["MAX_CONNECTIONS"]``
    (default 32), validated (an overall bound below the per-server one caps it too)."""
    default = Bounds()
    per_server = _count(
        "MAX_CONNECTIONS_PER_SERVER",
        raw.get("MAX_CONNECTIONS_PER_SERVER", default.per_server),
        default.per_server,
    )
    overall = _count(
        "MAX_CONNECTIONS", raw.get("MAX_CONNECTIONS", default.overall), default.overall
    )
    return Bounds(per_server=per_server, overall=overall)


def _raw() -> Mapping[str, Any]:
    """``settings.MIGRATOR``, checked to be a dict of known keys."""
    raw: Any = getattr(settings, "MIGRATOR", {}) or {}
    if not isinstance(raw, Mapping):
        raise ConfigurationError("settings.MIGRATOR must be a dict, e.g. {'LOCK_TIMEOUT': 60}.")
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise ConfigurationError(
            f"settings.MIGRATOR has unknown key {unknown[0]!r}; the keys are {', '.join(KEYS)}."
        )
    return raw


def _section(where: str, value: Any, keys: Sequence[str], hint: str) -> Mapping[str, Any]:
    """A ``MIGRATOR`` setting that is a dict of ``keys`` (``where`` names it): checked to be a
    dict (else ``{where} = {value!r} must be a dict{hint}.``) of known keys only."""
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{where} = {value!r} must be a dict{hint}.")
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise ConfigurationError(
            f"{where} has unknown key {unknown[0]!r}; the keys are {', '.join(keys)}."
        )
    return value


def allow_untested_django() -> bool:
    """``MIGRATOR["ALLOW_UNTESTED_DJANGO"]`` (default False): True lets the commands run on a
    Django series outside the tested range (``django_compat.refuse_untested_django``)."""
    value = _raw().get("ALLOW_UNTESTED_DJANGO", False)
    if not isinstance(value, bool):
        raise ConfigurationError(
            f"MIGRATOR['ALLOW_UNTESTED_DJANGO'] = {value!r} must be True or False; use "
            "'ALLOW_UNTESTED_DJANGO': True to run on a Django series django-migrate-all is not "
            "tested with."
        )
    return value


def phase_tool() -> str | None:
    """``MIGRATOR["PHASE_TOOL"]`` (default None: the one deploy-phase tool in INSTALLED_APPS):
    which tool ``--phase`` asks, "syzygy" or "safemigrate"."""
    value = _raw().get("PHASE_TOOL")
    if value is not None and value not in PHASE_TOOLS:
        raise ConfigurationError(
            f"MIGRATOR['PHASE_TOOL'] = {value!r} must be one of "
            f"{', '.join(repr(name) for name in PHASE_TOOLS)} or None (the one installed)."
        )
    return None if value is None else str(value)


def targets_path() -> str | None:
    """``MIGRATOR["DATABASES"]`` (default None): the dotted path of a callable that returns more
    aliases, ``{alias: settings dict}`` (project/targets.py)."""
    value = _raw().get("DATABASES")
    if value is not None and (not isinstance(value, str) or "." not in value):
        raise ConfigurationError(
            f"MIGRATOR['DATABASES'] = {value!r} must be the dotted path of a callable that "
            "returns {alias: settings dict}, e.g. 'myproject.tenants.databases'."
        )
    return value


def direct() -> dict[str, dict[str, Any]]:
    """``MIGRATOR["DIRECT"]`` (default {}): per alias, the keys of its ``DATABASES`` entry that
    migrator's own connections use instead (project/targets.py merges them)."""
    value = _raw().get("DIRECT") or {}
    example = "e.g. {'default': {'HOST': 'db-primary.internal', 'PORT': 5432}}"
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"MIGRATOR['DIRECT'] = {type(value).__name__} must be a dict {{alias: {{key: "
            f"value}}}}, {example}."
        )
    found: dict[str, dict[str, Any]] = {}
    for alias, override in value.items():
        where = f"MIGRATOR['DIRECT'][{alias!r}]"
        if not isinstance(override, Mapping):
            raise ConfigurationError(
                f"{where} is a {type(override).__name__}; it must be a dict of DATABASES keys, "
                f"{example}."
            )
        unknown = sorted(set(override) - set(DIRECT_KEYS))
        if unknown:
            raise ConfigurationError(
                f"{where} has key {unknown[0]!r}, which it cannot replace; the keys are "
                f"{', '.join(DIRECT_KEYS)}."
            )
        if "OPTIONS" in override and not isinstance(override["OPTIONS"], Mapping):
            raise ConfigurationError(f"{where}['OPTIONS'] must be a dict, as in DATABASES.")
        found[str(alias)] = dict(override)
    return found


def _celery_seconds(key: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not 0 < number <= MAX_SECONDS:
        raise ConfigurationError(
            f"MIGRATOR['CELERY'][{key!r}] = {value!r} must be a number of seconds, more than 0 "
            f"and at most {MAX_SECONDS}; use e.g. {key!r}: 600."
        )
    return number


def celery_raw() -> dict[str, Any] | None:
    """``MIGRATOR["CELERY"]`` (default None), validated: ``APP`` (required, the dotted path of
    the project's Celery app), ``QUEUE`` (default "migrator"), ``STEP_TIMEOUT`` (seconds a
    started step's worker may stay silent, default 600), ``HEARTBEAT`` (seconds between a
    running step's beats, default 2; less than STEP_TIMEOUT)."""
    value = _raw().get("CELERY")
    if value is None:
        return None
    example = "e.g. {'APP': 'myproject.celery.app', 'QUEUE': 'migrator'}"
    value = _section("MIGRATOR['CELERY']", value, CELERY_KEYS, f", {example}")
    app = value.get("APP")
    if not isinstance(app, str) or "." not in app:
        raise ConfigurationError(
            f"MIGRATOR['CELERY']['APP'] = {app!r} must be the dotted path of the project's "
            f"Celery app, {example}."
        )
    queue = value.get("QUEUE", "migrator")
    if not isinstance(queue, str) or not queue:
        raise ConfigurationError(
            f"MIGRATOR['CELERY']['QUEUE'] = {queue!r} must be a queue name, {example}."
        )
    timeout = _celery_seconds("STEP_TIMEOUT", value.get("STEP_TIMEOUT", 600))
    beat = _celery_seconds("HEARTBEAT", value.get("HEARTBEAT", 2))
    if beat >= timeout:
        raise ConfigurationError(
            f"MIGRATOR['CELERY']['HEARTBEAT'] = {beat:g} must be less than STEP_TIMEOUT "
            f"({timeout:g}): a running step beats every HEARTBEAT seconds."
        )
    return {"APP": app, "QUEUE": queue, "STEP_TIMEOUT": timeout, "HEARTBEAT": beat}


def load(vendors: Mapping[str, str]) -> MigratorSettings:
    """Read and validate ``settings.MIGRATOR``; ``vendors`` maps each alias to its vendor."""
    raw = _raw()
    allow_untested_django()  # validated with the rest; read where the Django version is checked
    targets_path()  # validated with the rest; read where the aliases are loaded (targets)
    direct()  # likewise
    celery_raw()  # validated with the rest; read by --executor celery
    phase_tool()  # validated with the rest; read by --phase
    session: dict[str, dict[str, str]] = {}
    for alias, values in dict(raw.get("SESSION") or {}).items():
        if alias not in vendors:
            raise ConfigurationError(
                f"settings.MIGRATOR['SESSION'] names alias {alias!r}, which is not in DATABASES "
                f"({', '.join(vendors)})."
            )
        allowed = SESSION_KEYS.get(vendors[alias], ())
        for key, value in dict(values).items():
            if key not in allowed:
                hint = (
                    f"use one of {', '.join(allowed)}"
                    if allowed
                    else f"{vendors[alias]} has no session timeouts migrator can set"
                )
                raise ConfigurationError(
                    f"settings.MIGRATOR['SESSION'][{alias!r}] has unknown key {key!r} for a "
                    f"{vendors[alias]} database; {hint}."
                )
            session.setdefault(alias, {})[key] = str(value)
    return MigratorSettings(
        canaries=_canaries(raw.get("CANARIES"), list(vendors)),
        connect_timeout=_seconds(
            "CONNECT_TIMEOUT", raw.get("CONNECT_TIMEOUT", 5), allow_zero=False
        ),
        lock_timeout=_seconds(
            "LOCK_TIMEOUT", raw.get("LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT), allow_zero=True
        ),
        session=session,
        bounds=bounds(raw),
        journal=journal(vendors),
        lock_retries=lock_retries_by_alias(vendors),
        risk=risk(raw.get("RISK")),
    )


RISK_KEYS = ("WARNING_ROWS", "DANGER_ROWS", "WARNING_BYTES", "DANGER_BYTES", "GATE")
RISK_GATES = ("warning", "danger")


def risk(value: Any) -> RiskThresholds:
    """``MIGRATOR["RISK"]`` (default ``RiskThresholds()``): the row and byte counts at which a
    lock-risk finding on a table is a warning or a danger, and ``GATE`` (None, "warning" or
    "danger"): a run refuses a plan with a finding at or above it (migrator/risk/)."""
    default = RiskThresholds()
    if value is None:
        return default
    example = "e.g. {'DANGER_ROWS': 1_000_000, 'GATE': 'danger'}"
    value = _section("MIGRATOR['RISK']", value, RISK_KEYS, f", {example}")
    counts: dict[str, int] = {}
    for key in RISK_KEYS[:4]:
        number = value.get(key, getattr(default, key.lower()))
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise ConfigurationError(
                f"MIGRATOR['RISK'][{key!r}] = {number!r} must be a whole number, 0 or more; use "
                f"e.g. {key!r}: {getattr(default, key.lower())}."
            )
        counts[key.lower()] = number
    for kind in ("rows", "bytes"):
        warning, danger = counts[f"warning_{kind}"], counts[f"danger_{kind}"]
        if warning > danger:
            raise ConfigurationError(
                f"MIGRATOR['RISK']['WARNING_{kind.upper()}'] = {warning} is more than "
                f"DANGER_{kind.upper()} = {danger}; a warning starts below a danger."
            )
    gate = value.get("GATE")
    if gate is not None and gate not in RISK_GATES:
        raise ConfigurationError(
            f"MIGRATOR['RISK']['GATE'] = {gate!r} must be None (no gate), 'danger' or 'warning': "
            "a run refuses a plan with a lock-risk finding at or above that level."
        )
    return RiskThresholds(**counts, gate=gate)


def _canaries(value: Any, aliases: list[str]) -> tuple[str, ...]:
    """``MIGRATOR["CANARIES"]`` (default none): the aliases ``--canary N`` runs first in each
    level, as names or shell-style patterns; each must match a database alias."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ConfigurationError(
            f"MIGRATOR['CANARIES'] = {value!r} must be a list of aliases or shell-style "
            "patterns, e.g. 'CANARIES': ['tenant_000', 'eu-*']."
        )
    for name in value:
        if not isinstance(name, str) or not name:
            raise ConfigurationError(
                f"MIGRATOR['CANARIES'] holds {name!r}; each entry must be an alias or a "
                "shell-style pattern (a non-empty string), e.g. 'tenant_000' or 'eu-*'."
            )
        if not any(fnmatchcase(alias, name) for alias in aliases):
            what = "matches no" if any(char in name for char in "*?[") else "is not a"
            raise ConfigurationError(
                f"MIGRATOR['CANARIES'] names {name!r}, which {what} database alias; fix or "
                f"remove it. Known aliases: {', '.join(aliases)}."
            )
    return tuple(value)


LOCK_RETRIES_KEYS = ("RETRIES", "BACKOFF", "MAX_BACKOFF", "DDL_LOCK_TIMEOUT")
_RETRIES_EXAMPLE = "e.g. {'RETRIES': 5, 'BACKOFF': 2, 'MAX_BACKOFF': 30, 'DDL_LOCK_TIMEOUT': 3}"


def _retry_seconds(where: str, key: str, value: Any, *, allow_zero: bool) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if (
        isinstance(value, bool)
        or not (0 <= number <= MAX_SECONDS)
        or (not allow_zero and not number)
    ):
        low = "0 or more" if allow_zero else "more than 0"
        raise ConfigurationError(
            f"{where}[{key!r}] = {value!r} must be a number of seconds, {low} and at most "
            f"{MAX_SECONDS}; {_RETRIES_EXAMPLE}."
        )
    return number


def _retries_of(
    where: str, value: Any, base: LockRetries, *, also: tuple[str, ...] = ()
) -> LockRetries:
    """``value`` (a dict of LOCK_RETRIES_KEYS, and ``also``) over ``base``, validated."""
    hint = f" (None: no retries), {_RETRIES_EXAMPLE}"
    value = _section(where, value, (*LOCK_RETRIES_KEYS, *also), hint)
    retries = value.get("RETRIES", base.retries)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 100:
        raise ConfigurationError(
            f"{where}['RETRIES'] = {retries!r} must be a whole number of retries after the first "
            f"attempt, 0 (no retries) to 100; {_RETRIES_EXAMPLE}."
        )
    backoff = _retry_seconds(where, "BACKOFF", value.get("BACKOFF", base.backoff), allow_zero=True)
    most = _retry_seconds(
        where,
        "MAX_BACKOFF",
        value.get("MAX_BACKOFF", max(base.max_backoff, backoff)),
        allow_zero=True,
    )
    if most < backoff:
        raise ConfigurationError(
            f"{where}['MAX_BACKOFF'] = {most:g} is less than BACKOFF ({backoff:g}): the wait "
            "before a retry starts at BACKOFF seconds and doubles up to MAX_BACKOFF."
        )
    ddl = _retry_seconds(
        where,
        "DDL_LOCK_TIMEOUT",
        value.get("DDL_LOCK_TIMEOUT", base.ddl_lock_timeout),
        allow_zero=False,
    )
    return LockRetries(retries=retries, backoff=backoff, max_backoff=most, ddl_lock_timeout=ddl)


@dataclass(frozen=True)
class LockRetriesSetting:
    """``MIGRATOR["LOCK_RETRIES"]`` validated: ``default`` for every alias (None: unset, no
    retries), ``aliases`` the per-alias overrides (None: no retries on that alias)."""

    default: LockRetries | None = None
    aliases: Mapping[str, LockRetries | None] = field(default_factory=dict)

    def of(self, alias: str) -> LockRetries | None:
        """The alias's setting; None where no migration is retried (unset, off, RETRIES 0)."""
        found = self.aliases.get(alias, self.default)
        return found if found is not None and found.retries > 0 else None


def lock_retries_setting() -> LockRetriesSetting:
    """``MIGRATOR["LOCK_RETRIES"]`` (default unset: no retries), validated: ``RETRIES`` (retries
    after the first attempt, default 5), ``BACKOFF`` (seconds before the first retry, doubled
    for each next one, default 2), ``MAX_BACKOFF`` (the longest wait, default 30),
    ``DDL_LOCK_TIMEOUT`` (each attempt's own lock wait, default 3 s: not ``LOCK_TIMEOUT``, the
    wait for another run's lock, nor SESSION's ``lock_timeout``), and ``ALIASES``: per alias, a
    dict of these keys over the others, or None (no retries there)."""
    value = _raw().get("LOCK_RETRIES")
    if value is None:
        return LockRetriesSetting()
    where = "MIGRATOR['LOCK_RETRIES']"
    default = _retries_of(where, value, LockRetries(), also=("ALIASES",))
    overrides = value.get("ALIASES") or {}
    if not isinstance(overrides, Mapping):
        raise ConfigurationError(
            f"{where}['ALIASES'] = {overrides!r} must be a dict {{alias: {{key: value}} or "
            "None}, e.g. {'legacy_db': {'DDL_LOCK_TIMEOUT': 10}, 'reports': None}."
        )
    aliases: dict[str, LockRetries | None] = {}
    for alias, override in overrides.items():
        inner = f"{where}['ALIASES'][{alias!r}]"
        aliases[str(alias)] = None if override is None else _retries_of(inner, override, default)
    return LockRetriesSetting(default, aliases)


def lock_retries(alias: str | None = None) -> LockRetries | None:
    """``MIGRATOR["LOCK_RETRIES"]`` for ``alias`` (None: the setting for every alias), or None
    where no migration is retried. ``ddl_lock_timeout`` is the lock wait each attempt sets
    (PostgreSQL ``SET LOCAL lock_timeout``, MySQL ``lock_wait_timeout``)."""
    setting = lock_retries_setting()
    if alias is None:
        return setting.default if setting.default and setting.default.retries > 0 else None
    return setting.of(alias)


def lock_retries_by_alias(vendors: Mapping[str, str]) -> dict[str, LockRetries]:
    """Every alias's ``LOCK_RETRIES`` where it is on; ``ALIASES`` must name aliases."""
    setting = lock_retries_setting()
    for alias in setting.aliases:
        if alias not in vendors:
            raise ConfigurationError(
                f"MIGRATOR['LOCK_RETRIES']['ALIASES'] names alias {alias!r}, which is not in "
                f"DATABASES ({', '.join(vendors)})."
            )
    found = {alias: setting.of(alias) for alias in vendors}
    return {alias: value for alias, value in found.items() if value is not None}
