"""--executor celery without a broker: MIGRATOR["CELERY"] validated with clear errors, the
option refused beside --parallel, the worker's comparison of migration files."""

from __future__ import annotations

from typing import Any

import pytest
from celery import Celery
from django.test import override_settings

from migrator import conf
from migrator.cli.options import command_options
from migrator.exceptions import ConfigurationError, UsageError
from migrator.execution.celery_steps import (
    REDIS_TRANSPORT_OPTIONS,
    CelerySettings,
    check_app,
    redelivery_seconds,
    refused_files,
)


def test_defaults() -> None:
    with override_settings(MIGRATOR={"CELERY": {"APP": "proj.celery.app"}}):
        assert conf.celery_raw() == {
            "APP": "proj.celery.app",
            "QUEUE": "migrator",
            "STEP_TIMEOUT": 600.0,
            "HEARTBEAT": 2.0,
        }
    with override_settings(MIGRATOR={}):
        assert conf.celery_raw() is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("proj.app", "MIGRATOR['CELERY'] = 'proj.app' must be a dict, e.g. {'APP': 'myproject.celery.app', 'QUEUE': 'migrator'}."),
        ({"APP": "x.app", "BROKER": "redis://"}, "MIGRATOR['CELERY'] has unknown key 'BROKER'; the keys are APP, QUEUE, STEP_TIMEOUT, HEARTBEAT."),
        ({}, "MIGRATOR['CELERY']['APP'] = None must be the dotted path of the project's Celery app, e.g. {'APP': 'myproject.celery.app', 'QUEUE': 'migrator'}."),
        ({"APP": "x.app", "QUEUE": ""}, "MIGRATOR['CELERY']['QUEUE'] = '' must be a queue name, e.g. {'APP': 'myproject.celery.app', 'QUEUE': 'migrator'}."),
        ({"APP": "x.app", "STEP_TIMEOUT": "soon"}, "MIGRATOR['CELERY']['STEP_TIMEOUT'] = 'soon' must be a number of seconds, more than 0 and at most 2147483; use e.g. 'STEP_TIMEOUT': 600."),
        ({"APP": "x.app", "STEP_TIMEOUT": 5, "HEARTBEAT": 5}, "MIGRATOR['CELERY']['HEARTBEAT'] = 5 must be less than STEP_TIMEOUT (5): a running step beats every HEARTBEAT seconds."),
    ],
)  # fmt: skip
def test_bad_settings_are_refused(value: Any, message: str) -> None:
    with override_settings(MIGRATOR={"CELERY": value}), pytest.raises(ConfigurationError) as bad:
        conf.celery_raw()
    assert str(bad.value) == message


def test_celery_and_parallel_are_refused_together() -> None:
    with pytest.raises(UsageError) as refused:
        command_options({"executor": "celery", "parallel": "2", "target": None})
    assert str(refused.value) == (
        "--parallel forks workers on this machine, --executor celery sends the steps to Celery "
        "workers (as wide as they run); drop one of them."
    )
    assert command_options({"executor": "celery", "target": None}).executor == "celery"
    assert command_options({"target": None}).executor == "local"


def test_the_worker_names_every_differing_file() -> None:
    plan = {"cache.0001_initial": "a", "cache.0002_x": "b", "cache.0003_y": "c"}
    here = {"cache.0001_initial": "a", "cache.0002_x": "B", "cache.0004_z": "d"}
    assert refused_files(plan, here) == [
        "cache.0002_x differs (content hash)",
        "cache.0003_y is missing here",
        "cache.0004_z is here but not in the plan",
    ]
    assert refused_files(plan, plan) == []


def test_step_timeout_must_outlast_a_redis_redelivery() -> None:
    settings = CelerySettings(app="x.app", step_timeout=600)
    redis = Celery("t", broker="redis://127.0.0.1:6379/0")
    redis.conf.broker_transport_options = REDIS_TRANSPORT_OPTIONS
    redis.conf.worker_prefetch_multiplier = 1
    assert redelivery_seconds(redis) == 65
    check_app(redis, settings)
    kombu_defaults = Celery("t", broker="redis://127.0.0.1:6379/0")
    kombu_defaults.conf.worker_prefetch_multiplier = 1
    with pytest.raises(ConfigurationError) as refused:
        check_app(kombu_defaults, settings)
    assert str(refused.value) == (
        "MIGRATOR['CELERY']['STEP_TIMEOUT'] = 600 is shorter than the 3700s a dead worker's step "
        "takes to come back on the Redis broker (visibility_timeout + unacked_restore_interval x "
        "unacked_restore_throttle of broker_transport_options); use REDIS_TRANSPORT_OPTIONS "
        "(migrator.execution.celery_steps) or a longer STEP_TIMEOUT."
    )
    rabbitmq = Celery("t", broker="amqp://guest:guest@127.0.0.1:5672//")
    assert redelivery_seconds(rabbitmq) is None
    check_app(rabbitmq, settings)


def test_a_redis_app_must_prefetch_one_step_at_a_time() -> None:
    """A reserved, unstarted step comes back after visibility_timeout and could run twice."""
    redis = Celery("t", broker="redis://127.0.0.1:6379/0")
    redis.conf.broker_transport_options = REDIS_TRANSPORT_OPTIONS  # prefetch: Celery's 4
    with pytest.raises(ConfigurationError) as refused:
        check_app(redis, CelerySettings(app="x.app", step_timeout=600))
    assert str(refused.value).startswith(
        "The Celery app's worker_prefetch_multiplier is 4: on the Redis broker a step a worker "
        "reserved but has not started comes back after visibility_timeout"
    )
