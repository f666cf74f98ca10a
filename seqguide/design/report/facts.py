"""What a report states about a run in words and numbers: its cost in real oracle calls (:class:`RunCost`) and
its objective (:func:`describe_objective`); shared by ``report.md`` and ``report.html``."""

from __future__ import annotations

from dataclasses import dataclass

from seqguide.design.report.run_data import RunData

__all__ = ["RunCost", "describe_objective", "run_cost"]


@dataclass(frozen=True)
class RunCost:
    """The real calls to the objective a run paid.

    Attributes:
        charged: Designs charged to the budget.
        repaid: Calls whose result an interruption lost (scored again after the resume).
        lookahead: Paid look-ahead calls of the guidance (value: oracle).
        total: Every paid call (the ledger's calls plus the look-ahead ones).
        budget: The run's budget.
    """

    charged: int
    repaid: int
    lookahead: int
    total: int
    budget: int


def run_cost(data: RunData) -> RunCost:
    """The :class:`RunCost` of ``data`` from its ledger and rounds."""
    lookahead = sum(r.guidance_charged for r in data.rounds)
    return RunCost(sum(d.charged for d in data.designs), data.lost_calls, lookahead, len(data.calls) + lookahead,
                   int(data.run["budget"]))


def describe_objective(data: RunData) -> str:
    """``maximize the sum of 2 x a, -1 x b; recorded (weight 0, not optimised): c`` from the stored description."""
    objective = data.run.get("objective") or {}
    comps = data.components
    if not comps:
        return f"{', '.join(data.labels)} ({'maximize' if data.maximize else 'minimize'})"
    terms = ", ".join(f"{c.get('weight', 1):g} x {c['label']}" for c in comps if c.get("weight", 1) != 0)
    text = f"{'maximize' if data.maximize else 'minimize'} the {objective.get('combine', 'sum')} of {terms}"
    if data.recorded:
        text += f"; recorded (weight 0, not optimised): {', '.join(data.recorded)}"
    return text
