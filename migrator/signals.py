"""Django signals a run sends, so that a project can tell a chat or a dashboard without parsing
output. Connect receivers as for any Django signal (in an AppConfig's ``ready``)::

    from django.dispatch import receiver
    from migrator.signals import run_finished

    @receiver(run_finished)
    def tell_chat(sender, run_id, report, **kwargs):
        post(f"migrations {run_id}: {'ok' if report.ok else 'FAILED'}")

* ``run_started(sender, run_id, state, resumed)``: before the first step; ``state`` is the
  ``PlanState`` (the plan and what each step will do), ``resumed`` True for ``--resume``.
* ``step_finished(sender, run_id, result)``: after each step, in the command's process (with
  ``--parallel`` as the workers' results arrive); ``result`` is a ``StepResult``.
* ``run_finished(sender, run_id, report)``: after the last step; ``report`` is a ``RunReport``
  whose results cover the whole run (earlier attempts of a resumed run included).

``sender`` is the command's name (``"migrate_all"``, ``"migrator"``) or ``"migrator.api"``. A
receiver that raises does not stop the run: the error is logged on the ``migrator`` logger.
"""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import Signal

run_started = Signal()
step_finished = Signal()
run_finished = Signal()

logger = logging.getLogger("migrator")


def send(signal: Signal, sender: str, **arguments: Any) -> None:
    """Send ``signal`` to every receiver; one that raises is logged and the run goes on."""
    for receiver, response in signal.send_robust(sender, **arguments):
        if isinstance(response, BaseException):
            logger.error(
                "A receiver of migrator's signal raised (the run goes on): %s: %s: %s",
                getattr(receiver, "__qualname__", repr(receiver)),
                type(response).__name__,
                response,
                exc_info=(type(response), response, response.__traceback__),
            )
