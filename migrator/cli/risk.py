"""``--risk`` (and the findings ``--plan -v 2`` shows) for ``migrate_all`` and ``migrator``: the
prepared plan reviewed (``migrator.risk.review``), the findings printed per alias, exit 1 at
``danger`` (or at ``--max-risk``). Nothing is changed."""

from __future__ import annotations

from typing import Any

from migrator import api, render
from migrator.cli.options import CommandOptions
from migrator.cli.output import Output
from migrator.exceptions import RunError
from migrator.risk import render as risk_render
from migrator.risk.review import review
from migrator.text import plural
from migrator.types import RiskReport, finding_summaries


def reviewed(prepared: api.Prepared) -> RiskReport:
    if prepared.loader is None or not prepared.state.pending_count:  # nothing pending
        return RiskReport(thresholds=prepared.settings.risk)
    return review(prepared.state, prepared.loader, prepared.settings)


def show(output: Output, opts: CommandOptions, prepared: api.Prepared) -> None:
    """``--risk``: the review, then exit 1 when a finding reaches ``--max-risk`` (danger)."""
    report = reviewed(prepared)
    output.emit(risk_render.risk_lines(report, opts.verbosity))
    bar = opts.max_risk or "danger"
    over = report.at_least(bar)
    if opts.json:
        document: dict[str, Any] = render.document(prepared.state, None, mode="risk", ok=not over)
        document["risk"] = risk_render.risk_json(report)
        output.write_json(document)
    if over:
        above = "" if bar == "danger" else " or above"
        raise RunError(
            f"{plural(len(over), 'lock-risk finding')} at{above} {bar}: "
            + "; ".join(finding_summaries(over))
            + ". Make those migrations safer before deploying (each finding says how), or "
            "accept the risk (--max-risk sets the bar)."
        )


def plan_review(prepared: api.Prepared, verbosity: int) -> RiskReport | None:
    """``--plan -v 2``: the review shown after the plan (None below -v 2: --plan stays fast)."""
    if verbosity < 2 or prepared.loader is None or not prepared.state.pending_count:
        return None
    return review(prepared.state, prepared.loader, prepared.settings)
