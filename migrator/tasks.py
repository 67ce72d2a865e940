"""The Celery task of ``--executor celery`` (``migrator.run_step``), where a Django project's
Celery app finds it: ``app.autodiscover_tasks()`` imports ``tasks`` of every installed app
(migrator among them). Importing it needs the ``[celery]`` extra."""

from __future__ import annotations

from migrator.execution.celery_steps import run_step_task

__all__ = ["run_step_task"]
