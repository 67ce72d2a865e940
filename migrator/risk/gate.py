"""``MIGRATOR["RISK"]["GATE"]`` (or a run's ``--max-risk``): before a run changes any database,
the plan is reviewed and refused when a finding reaches the gate (``RiskRefused``, exit 1),
naming every such finding and how to override.

A run hands its ``Gate`` to ``api.prepare``, which checks it on the plan as read before anything
is changed: before ``--create-schemas`` creates a schema or database and before a ``--phase pre``
run lets django-safemigrate note what it holds back (the created schemas would be empty, so the
review of the plan read before creating them is the review of the run)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.migrations.loader import MigrationLoader

from migrator import conf
from migrator.exceptions import RiskRefused
from migrator.risk.review import review
from migrator.text import plural
from migrator.types import (
    RISK_LEVELS,
    PlanState,
    RiskFinding,
    RiskLevel,
    RunOptions,
    finding_summaries,
)


def gate_of(options: RunOptions, settings: conf.MigratorSettings) -> RiskLevel | None:
    if options.accept_risk:
        return None
    return options.risk_gate or settings.risk.gate


@dataclass(frozen=True)
class Gate:
    """A run's gate: its options (``--max-risk``, ``--accept-risk``, ``--fake``) and the command
    its refusal names."""

    options: RunOptions
    command: str = "migrate_all"

    def level(self, settings: conf.MigratorSettings) -> RiskLevel | None:
        """The level this run is gated at, or None: not gated (no review is made)."""
        return None if self.options.fake else gate_of(self.options, settings)

    def check(
        self, state: PlanState, loader: MigrationLoader | None, settings: conf.MigratorSettings
    ) -> None:
        refuse_risky(state, loader, settings, self.options, self.command)


def refuse_risky(
    state: PlanState,
    loader: MigrationLoader | None,
    settings: conf.MigratorSettings,
    options: RunOptions,
    command: str = "migrate_all",
) -> None:
    """Raise ``RiskRefused`` when the plan has lock-risk findings at or above the gate."""
    gate = gate_of(options, settings)
    if gate is None or loader is None or not state.pending_count or options.fake:
        return
    over = review(state, loader, settings).at_least(gate)
    if over:
        raise RiskRefused(message(over, gate, options, command))


def message(
    over: tuple[RiskFinding, ...], gate: RiskLevel, options: RunOptions, command: str
) -> str:
    source = f"--max-risk {gate}" if options.risk_gate else f"MIGRATOR['RISK']['GATE'] = {gate!r}"
    above = "" if gate == RISK_LEVELS[-1] else " or above"
    return (
        f"The lock-risk gate ({source}) refuses this plan: {plural(len(over), 'finding')} at"
        f"{above} {gate}; nothing was changed on any database:\n  "
        + "\n  ".join(finding_summaries(over))
        + f"\nSee them with 'manage.py {command} --risk'. Make the migrations safer, or run "
        "anyway with --accept-risk."
    )
