"""Lock-timeout retries at run time (``MIGRATOR["LOCK_RETRIES"]``): a migration that failed only
because it could not get a lock (PostgreSQL SQLSTATE 55P03 ``lock_not_available``, MySQL/MariaDB
error 1205 ``ER_LOCK_WAIT_TIMEOUT``) is tried again after a backoff, when
``planning.retries.decide`` allows it on its alias (and, on MySQL/MariaDB, when nothing before
the statement that timed out changed anything). The executor (``django_compat``) runs each
attempt in a guard of its own; ``Retrier.again`` reports the retry, waits (a stop request ends
the wait at once) and checks the step's lock before the next attempt."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from migrator.planning.retries import decide, first_change
from migrator.text import first_line
from migrator.types import LockRetries, PendingMigration, Progress, Retry, Step

# How often a backoff asks whether a stop was requested (and the step's lock still holds).
POLL = 0.05


class RetryStopped(Exception):
    """A stop was requested while a migration waited to be retried (its attempt rolled back)."""


class LockRetriesExhausted(Exception):
    """A migration could not get a lock in any of its attempts."""


class LockRetryRefused(Exception):
    """A migration could not get a lock and may not be retried (MySQL/MariaDB: a statement
    that changed something had run before the one that timed out)."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def lock_error(exc: BaseException) -> str | None:
    """``"55P03"`` or ``"1205"`` when ``exc`` (or what caused it) is a lock timeout of
    PostgreSQL (psycopg's ``sqlstate``, psycopg2's ``pgcode``) or MySQL/MariaDB (error number
    1205, which Django's wrapper keeps in ``args``); else None."""
    for error in _chain(exc):
        code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if code == "55P03":
            return "55P03"
        args = getattr(error, "args", ())
        if args and type(args[0]) is int and args[0] == 1205:
            return "1205"
    return None


_KIND = {"55P03": "lock timeout", "1205": "lock wait timeout"}


def server_message(exc: BaseException) -> str:
    """The server's message of a database error: MySQLdb's errors hold ``(number, message)``."""
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    if len(args) == 2 and type(args[0]) is int and isinstance(args[1], str):
        return (args[1].strip().splitlines() or [""])[0]
    return first_line(exc)


class StatementLog:
    """The SQL run on Django's connection for the current migration (the step's
    ``execute_wrapper`` fills it; the executor's start event clears it), and which statement
    raised first."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.failed: int | None = None

    def clear(self) -> None:
        self.statements.clear()
        self.failed = None

    def record(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.statements.append(sql if not params else f"{sql} -- params: {params!r}")
        try:
            return execute(sql, params, many, context)
        except Exception:
            if self.failed is None:
                self.failed = len(self.statements) - 1
            raise


class Retrier:
    """The executor's retry policy for one step (``django_compat.Retrying``)."""

    def __init__(
        self,
        step: Step,
        vendor: str,
        setting: LockRetries,
        report: Callable[[Progress], None],
        should_stop: Callable[[], str | None],
        watch: Callable[[str], None],
        log: StatementLog,
        holders: Callable[[str], str] = lambda statement: "",
    ) -> None:
        self.step = step
        self.vendor = vendor
        self.setting = setting
        self.report = report
        self.should_stop = should_stop
        self.watch = watch
        self.log = log
        self.holders = holders
        self.retries: list[Retry] = []

    def retriable(self, migration: Any, backwards: bool) -> bool:
        return decide(self.vendor, bool(migration.atomic), self.setting).kind != "no"

    def not_retried(self, migration: Any, exc: BaseException) -> str:
        """`` (not retried: REASON)`` for a migration that could not get a lock and is never
        retried here (non-atomic on PostgreSQL); empty otherwise."""
        decision = decide(self.vendor, bool(migration.atomic), self.setting)
        if decision.kind != "no" or lock_error(exc) is None:
            return ""
        return f" (not retried: {decision.reason})"

    def ddl_lock_timeout(self, migration: Any) -> float | None:
        """The lock wait of each attempt of ``migration``; None where it is not retried."""
        return self.setting.ddl_lock_timeout if self.retriable(migration, False) else None

    def again(self, migration: Any, backwards: bool, attempt: int, exc: Exception) -> bool:
        code = lock_error(exc)
        if code is None:
            return False
        name = f"{migration.app_label}.{migration.name}"
        alias = self.step.alias
        short = f"{code} {_KIND[code]} after {self.setting.ddl_lock_timeout:g}s"
        error = f"{short}: {server_message(exc)}"
        if decide(self.vendor, bool(migration.atomic), self.setting).kind == "first-statement":
            why = first_change(self.log.statements, self.log.failed)
            if why:
                raise LockRetryRefused(
                    f"{name} could not get a lock on {alias} ({error}) and is not retried: {why}. "
                    "Check what of it ran (below) and repair by hand, find what holds the lock "
                    "(SHOW PROCESSLIST), then run again"
                ) from exc
        retries = self.setting.retries
        if attempt > retries:
            statement = ""
            if self.log.failed is not None and self.log.failed < len(self.log.statements):
                statement = self.log.statements[self.log.failed]
            held = self.holders(statement) if statement else ""
            blocker = (
                f"; the lock is held by {held}"
                if held
                else (
                    "; find what holds it (pg_locks, pg_stat_activity)"
                    if self.vendor == "postgresql"
                    else "; find what holds it (SHOW PROCESSLIST, information_schema.INNODB_TRX)"
                )
            )
            raise LockRetriesExhausted(
                f"{name} could not get a lock on {alias} in {attempt} attempts ({error}){blocker}. "
                "Nothing of it was applied. Raise MIGRATOR['LOCK_RETRIES'] RETRIES or "
                "DDL_LOCK_TIMEOUT, or end what holds the lock, then run again"
            ) from exc
        wait = self.setting.wait_before(attempt)
        item = PendingMigration(migration.app_label, migration.name, backwards)
        detail = f"could not get a lock ({short}); retry {attempt} of {retries} in {wait:g}s"
        self.report(Progress("lock-retry", self.step, migration=item, detail=detail))
        waited = self._pause(wait, name)
        self.retries.append(Retry(name, attempt, error, round(waited, 3)))
        self.watch(f"before retrying {name}")
        return True

    def _pause(self, seconds: float, name: str) -> float:
        """Wait ``seconds`` in short slices, so that a stop request ends the wait at once
        (``RetryStopped``): a signal does not cut a ``time.sleep`` short."""
        started = time.monotonic()
        while True:
            stop = self.should_stop()
            if stop:
                raise RetryStopped(
                    f"stopped by {stop} while {name} waited to be retried (it could not get a "
                    "lock; nothing of it was applied)"
                )
            left = seconds - (time.monotonic() - started)
            if left <= 0:
                return time.monotonic() - started
            time.sleep(min(POLL, left))
