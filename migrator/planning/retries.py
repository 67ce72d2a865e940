"""Lock-timeout retries, pure: whether a migration that could not get a lock is retried on its
alias (``MIGRATOR["LOCK_RETRIES"]``), what the plan says about it, and, on MySQL/MariaDB, whether
what already ran of a failed attempt still allows one.

A retry runs the whole migration again, so the failed attempt must have left nothing behind:
PostgreSQL rolls back an atomic migration's transaction (DDL included); a non-atomic one has no
transaction to roll back. MySQL/MariaDB commit each DDL statement at once: an attempt may be
retried only when the statement that timed out was the first one of the migration that could
change anything (only reads ran before it). SQLite has no lock timeouts to retry.

No ``django.db`` here: the callers pass the vendor and the migration's ``atomic`` flag."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace

from migrator.types import LockRetries, PendingMigration, PlanState, RetryDecision, StepState


def decide(vendor: str, atomic: bool, setting: LockRetries | None) -> RetryDecision:
    """Whether a migration (atomic or not) is retried on an alias of ``vendor`` with ``setting``
    (the alias's ``MIGRATOR["LOCK_RETRIES"]``, None: off)."""
    if setting is None:
        return RetryDecision("no", "MIGRATOR['LOCK_RETRIES'] is not set for this alias")
    if vendor == "postgresql":
        if not atomic:
            return RetryDecision(
                "no",
                "not atomic: no transaction rolls a failed attempt back (atomic = False)",
            )
        return RetryDecision(
            "yes", f"rolled back and retried on 55P03, up to {_times(setting.retries)}"
        )
    if vendor == "mysql":
        return RetryDecision(
            "first-statement",
            "MySQL/MariaDB cannot roll back DDL: retried on 1205 only when the statement that "
            "timed out was the first that changes anything",
        )
    if vendor == "sqlite":
        return RetryDecision("no", "SQLite: no lock timeouts to retry")
    return RetryDecision("no", f"{vendor}: its lock errors are not known to migrator")


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def step_decisions(
    vendor: str, step_state: StepState, setting: LockRetries | None
) -> tuple[tuple[PendingMigration, RetryDecision], ...]:
    """The decision for each pending migration of ``step_state``, as the plan shows it."""
    return tuple(
        (m, decide(vendor, (m.app, m.name) not in step_state.non_atomic, setting))
        for m in step_state.pending
    )


def with_decisions(state: PlanState, settings: Mapping[str, LockRetries]) -> PlanState:
    """``state`` with each planned alias's ``MIGRATOR["LOCK_RETRIES"]`` (``settings``: every
    alias where it is on) and each step's decisions."""
    planned = {step.alias for step in state.plan.steps}
    found = {alias: value for alias, value in settings.items() if alias in planned}
    states = tuple(
        replace(
            step_state,
            retry=step_decisions(
                state.plan.alias_info(step_state.step.alias).vendor,
                step_state,
                found.get(step_state.step.alias),
            ),
        )
        for step_state in state.states
    )
    return replace(state, states=states, lock_retries=found)


# What only reads (MySQL/MariaDB): statements that ran before the one that timed out and that
# leave nothing to undo. Anything else (DDL, INSERT/UPDATE/DELETE, SELECT ... INTO) ends retries.
_READS = re.compile(r"^\s*(SELECT|SHOW|DESCRIBE|DESC|EXPLAIN)\b", re.IGNORECASE)
_INTO = re.compile(r"\bINTO\b", re.IGNORECASE)


def reads_only(statement: str) -> bool:
    return bool(_READS.match(statement)) and not _INTO.search(statement.split(" -- params:")[0])


def first_change(statements: Sequence[str], failed: int | None) -> str | None:
    """MySQL/MariaDB: why a failed attempt may NOT be retried (None: it may). ``statements``:
    what the attempt ran, in order; ``failed``: the index of the statement that timed out."""
    if failed is None:
        return "the lock error did not come from one of the migration's statements"
    before = [s for s in statements[:failed] if not reads_only(s)]
    if before:
        count = len(before)
        return (
            f"statement {failed + 1} of the migration timed out, after {count} that "
            f"{'changes' if count == 1 else 'change'} the database, and on MySQL/MariaDB no "
            f"transaction spans a migration to undo it (first: {_short(before[0])})"
        )
    return None


def _short(statement: str, width: int = 80) -> str:
    text = " ".join(statement.split())
    return text if len(text) <= width else text[: width - 3] + "..."
