"""MIGRATOR["LOCK_RETRIES"]: its validation, which migrations are retried where (pure), the
backoff, and which errors count as lock timeouts (the drivers' own exception classes)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from migrator import conf
from migrator.exceptions import ConfigurationError
from migrator.execution.retries import lock_error, server_message
from migrator.planning.retries import decide, first_change, reads_only
from migrator.types import LockRetries, RetryDecision

EXAMPLE = "e.g. {'RETRIES': 5, 'BACKOFF': 2, 'MAX_BACKOFF': 30, 'DDL_LOCK_TIMEOUT': 3}"
VENDORS = {"default": "postgresql", "legacy_db": "mysql", "cache_db": "sqlite"}


def test_unset_means_no_retries() -> None:
    with override_settings(MIGRATOR={}):
        assert conf.lock_retries() is None
        assert conf.lock_retries("default") is None
        assert conf.load(VENDORS).lock_retries == {}


def test_defaults_and_per_alias_overrides() -> None:
    setting = {
        "DDL_LOCK_TIMEOUT": 2,
        "ALIASES": {"legacy_db": {"DDL_LOCK_TIMEOUT": 10, "RETRIES": 2}, "cache_db": None},
    }
    with override_settings(MIGRATOR={"LOCK_RETRIES": setting}):
        assert conf.lock_retries() == LockRetries(5, 2.0, 30.0, 2.0)
        assert conf.lock_retries("default") == LockRetries(5, 2.0, 30.0, 2.0)
        assert conf.lock_retries("legacy_db") == LockRetries(2, 2.0, 30.0, 10.0)
        assert conf.lock_retries("cache_db") is None
        assert conf.load(VENDORS).lock_retries == {
            "default": LockRetries(5, 2.0, 30.0, 2.0),
            "legacy_db": LockRetries(2, 2.0, 30.0, 10.0),
        }


def test_zero_retries_is_off() -> None:
    with override_settings(MIGRATOR={"LOCK_RETRIES": {"RETRIES": 0}}):
        assert conf.lock_retries("default") is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            5,
            f"MIGRATOR['LOCK_RETRIES'] = 5 must be a dict (None: no retries), {EXAMPLE}.",
        ),
        (
            {"ATTEMPTS": 5},
            "MIGRATOR['LOCK_RETRIES'] has unknown key 'ATTEMPTS'; the keys are RETRIES, BACKOFF, "
            "MAX_BACKOFF, DDL_LOCK_TIMEOUT, ALIASES.",
        ),
        (
            {"RETRIES": -1},
            "MIGRATOR['LOCK_RETRIES']['RETRIES'] = -1 must be a whole number of retries after "
            f"the first attempt, 0 (no retries) to 100; {EXAMPLE}.",
        ),
        (
            {"RETRIES": True},
            "MIGRATOR['LOCK_RETRIES']['RETRIES'] = True must be a whole number of retries after "
            f"the first attempt, 0 (no retries) to 100; {EXAMPLE}.",
        ),
        (
            {"BACKOFF": "soon"},
            "MIGRATOR['LOCK_RETRIES']['BACKOFF'] = 'soon' must be a number of seconds, 0 or more "
            f"and at most 2147483; {EXAMPLE}.",
        ),
        (
            {"BACKOFF": 10, "MAX_BACKOFF": 5},
            "MIGRATOR['LOCK_RETRIES']['MAX_BACKOFF'] = 5 is less than BACKOFF (10): the wait "
            "before a retry starts at BACKOFF seconds and doubles up to MAX_BACKOFF.",
        ),
        (
            {"DDL_LOCK_TIMEOUT": 0},
            "MIGRATOR['LOCK_RETRIES']['DDL_LOCK_TIMEOUT'] = 0 must be a number of seconds, more "
            f"than 0 and at most 2147483; {EXAMPLE}.",
        ),
        (
            {"ALIASES": ["legacy_db"]},
            "MIGRATOR['LOCK_RETRIES']['ALIASES'] = ['legacy_db'] must be a dict {alias: {key: "
            "value} or None}, e.g. {'legacy_db': {'DDL_LOCK_TIMEOUT': 10}, 'reports': None}.",
        ),
        (
            {"ALIASES": {"legacy_db": {"ALIASES": {}}}},
            "MIGRATOR['LOCK_RETRIES']['ALIASES']['legacy_db'] has unknown key 'ALIASES'; the keys "
            "are RETRIES, BACKOFF, MAX_BACKOFF, DDL_LOCK_TIMEOUT.",
        ),
        (
            {"ALIASES": {"legacy_db": {"DDL_LOCK_TIMEOUT": -2}}},
            "MIGRATOR['LOCK_RETRIES']['ALIASES']['legacy_db']['DDL_LOCK_TIMEOUT'] = -2 must be a "
            f"number of seconds, more than 0 and at most 2147483; {EXAMPLE}.",
        ),
    ],
)
def test_bad_values_are_named_with_the_fix(value: Any, message: str) -> None:
    with (
        override_settings(MIGRATOR={"LOCK_RETRIES": value}),
        pytest.raises(ConfigurationError) as caught,
    ):
        conf.load(VENDORS)
    assert str(caught.value) == message


def test_an_unknown_alias_is_refused() -> None:
    with (
        override_settings(MIGRATOR={"LOCK_RETRIES": {"ALIASES": {"reports": None}}}),
        pytest.raises(ConfigurationError) as caught,
    ):
        conf.load(VENDORS)
    assert str(caught.value) == (
        "MIGRATOR['LOCK_RETRIES']['ALIASES'] names alias 'reports', which is not in DATABASES "
        "(default, legacy_db, cache_db)."
    )


def test_backoff_doubles_up_to_its_maximum() -> None:
    setting = LockRetries(retries=6, backoff=2, max_backoff=10, ddl_lock_timeout=3)
    assert [setting.wait_before(n) for n in range(1, 7)] == [2, 4, 8, 10, 10, 10]


SETTING = LockRetries(retries=5, backoff=2, max_backoff=30, ddl_lock_timeout=3)


@pytest.mark.parametrize(
    ("vendor", "atomic", "setting", "expected"),
    [
        ("postgresql", True, SETTING, ("yes", "rolled back and retried on 55P03, up to 5 times")),
        (
            "postgresql",
            False,
            SETTING,
            ("no", "not atomic: no transaction rolls a failed attempt back (atomic = False)"),
        ),
        (
            "mysql",
            True,
            SETTING,
            (
                "first-statement",
                "MySQL/MariaDB cannot roll back DDL: retried on 1205 only when the statement "
                "that timed out was the first that changes anything",
            ),
        ),
        ("mysql", False, SETTING, ("first-statement",)),
        ("sqlite", True, SETTING, ("no", "SQLite: no lock timeouts to retry")),
        ("oracle", True, SETTING, ("no", "oracle: its lock errors are not known to migrator")),
        (
            "postgresql",
            True,
            None,
            ("no", "MIGRATOR['LOCK_RETRIES'] is not set for this alias"),
        ),
    ],
)
def test_which_migrations_are_retried(
    vendor: str, atomic: bool, setting: LockRetries | None, expected: tuple[str, ...]
) -> None:
    decision = decide(vendor, atomic, setting)
    assert isinstance(decision, RetryDecision)
    assert (decision.kind, decision.reason)[: len(expected)] == expected


def test_mysql_retry_only_when_nothing_changed_before_the_timed_out_statement() -> None:
    alter = "ALTER TABLE `t` ADD COLUMN `c` bool DEFAULT 0 NOT NULL"
    assert first_change([alter], 0) is None
    assert first_change(["SELECT VERSION()", "SHOW VARIABLES", alter], 2) is None
    assert first_change(["CREATE TABLE `a` (id int)", alter], 1) == (
        "statement 2 of the migration timed out, after 1 that changes the database, and on "
        "MySQL/MariaDB no transaction spans a migration to undo it (first: CREATE TABLE `a` (id "
        "int))"
    )
    assert first_change([alter], None) == (
        "the lock error did not come from one of the migration's statements"
    )
    assert reads_only("select * from t -- params: (1,)")
    assert not reads_only("SELECT 1 INTO @x")
    assert not reads_only("UPDATE t SET a = 1")


def test_lock_timeouts_of_both_drivers_are_recognised() -> None:
    import MySQLdb
    import psycopg
    from django.db.utils import OperationalError

    pg = psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")
    wrapped = OperationalError("canceling statement due to lock timeout")
    wrapped.__cause__ = pg
    assert lock_error(wrapped) == "55P03"
    mysql = MySQLdb.OperationalError(1205, "Lock wait timeout exceeded; try restarting transaction")
    assert lock_error(mysql) == "1205"
    assert server_message(mysql) == "Lock wait timeout exceeded; try restarting transaction"
    assert lock_error(OperationalError(1213, "Deadlock found")) is None
    assert lock_error(psycopg.errors.QueryCanceled("statement timeout")) is None
    assert lock_error(RuntimeError("no lock")) is None


def test_celery_messages_carry_the_setting_the_retries_and_the_retry_lines() -> None:
    """--executor celery: the step's setting goes to the worker in its JSON message, the retry
    events come back with its progress, and the retries with its result."""
    import json

    from migrator.execution import celery_steps
    from migrator.types import PendingMigration, Progress, Retry, Step, StepResult

    def through_json(value: Any) -> Any:
        return json.loads(json.dumps(value))

    step = Step("users_db", ("users",), 0)
    assert celery_steps._retries_setting(through_json(celery_steps._retries_json(SETTING))) == (
        SETTING
    )
    assert celery_steps._retries_setting(through_json(celery_steps._retries_json(None))) is None
    retry = Retry("users.0002_x", 1, "55P03 lock timeout after 3s: canceling statement", 2.0)
    result = StepResult(step, "applied", applied=(PendingMigration("users", "0002_x"),))
    result = StepResult(step, "applied", applied=result.applied, retries=(retry,))
    back = celery_steps.result_of(step, through_json(celery_steps.result_json(result, "w pid 1")))
    assert back.retries == (retry,)
    event = Progress(
        "lock-retry",
        step,
        migration=PendingMigration("users", "0002_x"),
        detail="could not get a lock (55P03 lock timeout after 3s); retry 1 of 5 in 2s",
    )
    assert celery_steps._progress(step, through_json(celery_steps._progress_json(event))) == event
