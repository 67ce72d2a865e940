"""The Celery app of the tests' workers and commands (MIGRATOR["CELERY"]["APP"] in
tests/settings/celery_fleet.py), set up as a Django project sets up its own: settings from the
environment, tasks found in the installed apps (``migrator.tasks``).

``MIGRATOR_TEST_BROKER`` picks the broker (Redis by default; RabbitMQ:
``amqp://guest:guest@127.0.0.1:5672//``); results go to Redis. On Redis a message whose
worker died comes back after ``visibility_timeout`` (``MIGRATOR_TEST_VISIBILITY`` seconds; the
running step's heartbeat keeps a live worker's message from coming back; workers look for such
messages every second).
"""

from __future__ import annotations

import os

from celery import Celery

from migrator.execution.celery_steps import REDIS_TRANSPORT_OPTIONS

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings.celery_fleet")

app = Celery("migrator_tests")
app.conf.update(
    broker_url=os.environ.get("MIGRATOR_TEST_BROKER", "redis://127.0.0.1:6379/0"),
    result_backend="redis://127.0.0.1:6379/1",
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    worker_prefetch_multiplier=1,
    broker_transport_options={
        **REDIS_TRANSPORT_OPTIONS,  # migrator's documented choice: a bounded, short redelivery
        "visibility_timeout": float(os.environ.get("MIGRATOR_TEST_VISIBILITY", "10")),
        "unacked_restore_interval": 1,
    },
    broker_connection_retry_on_startup=True,
)
app.autodiscover_tasks()
