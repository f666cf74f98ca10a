"""The data a design loop passes around: derived seeds, what a guidance factory sees and returns, and a round's
proposal (used by :class:`seqguide.design.loop.DesignLoop`; its observer hooks live next to it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seqguide.design.store import DesignStore
from seqguide.design.store.records import DesignRecord
from seqguide.guidance.base import Guider

__all__ = ["GuidanceFactory", "GuidancePlan", "LoopState", "Proposal", "Purpose", "derive_seed"]


class Purpose:
    """Stream ids mixed into :func:`derive_seed` so that no two uses of the campaign seed collide."""

    SAMPLE = 0
    SURROGATE = 1
    VALUE_MODEL = 2
    DATA = 3
    TRAIN = 4
    ANCHOR = 5
    FINETUNE = 6


def derive_seed(*parts: int) -> int:
    """A non-negative 62-bit seed from integers (NumPy ``SeedSequence`` hashing; stable across runs).

    Example:
        >>> derive_seed(0, 3, Purpose.SAMPLE, 1) == derive_seed(0, 3, Purpose.SAMPLE, 1)
        True
    """
    state = np.random.SeedSequence([int(p) % 2**63 for p in parts]).generate_state(1, dtype=np.uint64)[0]
    return int(state >> np.uint64(2))


@dataclass
class LoopState:
    """What a guidance factory sees at the start of a round.

    Attributes:
        round: The round about to be proposed.
        seed: A seed derived from ``(loop seed, round)`` for fitting value models.
        labels: Valid designs of earlier rounds (the training labels so far), in scoring order.
        maximize: Direction of the objective.
        store: The store (read it, do not write designs).
        run_id: The run in the store.
        failed: Charged designs of earlier rounds that the objective found invalid (e.g. infeasible), except
            transient failures; a value model may learn to avoid them.
    """

    round: int
    seed: int
    labels: list[DesignRecord]
    maximize: bool
    store: DesignStore
    run_id: int
    failed: list[DesignRecord] = field(default_factory=list)


@dataclass
class GuidancePlan:
    """A guidance factory's answer: the guiders and what value source/state they use (for provenance).

    Attributes:
        guiders: The guidance stack (empty: unguided).
        value_source: ``oracle``, ``surrogate``, ``value_model``, ``none`` (free text for custom loops).
        value_state: A description of the value model's state (e.g. the surrogate file), or a fallback note.
        fit_seconds: Time spent fitting a value model for this round.
        predict: ``f(sequences) -> values``: the value source's prediction of the objective (e.g. a surrogate's
            ensemble mean). After the round is scored, the loop stores its Spearman correlation with the true
            objective on the round's valid designs (``rounds.value_spearman``): held out, because the value was
            fitted before the round. A value that does not rank (rho near 0) only filters.
    """

    guiders: list[Guider] = field(default_factory=list)
    value_source: str = "none"
    value_state: str | None = None
    fit_seconds: float = 0.0
    predict: Callable[[Sequence[str]], Any] | None = None


GuidanceFactory = Callable[[LoopState], "Sequence[Guider] | GuidancePlan"]


@dataclass
class Proposal:
    """A round's candidate list: new designs (never scored before this round), in sampling order.

    Attributes:
        round: The round.
        sequences: The candidates (including those a hard constraint will reject).
        seeds: The sampler seed of the draw each candidate came from.
        draws: The draw index of each candidate.
        n_sampled: Samples drawn in all.
        n_duplicates: Samples dropped as duplicates (of earlier rounds or within the round).
        draw_count: Sampler draws made.
        guidance: Provenance of the guidance stack.
        plan: The guidance plan used.
        nfe: Network evaluations (rows through the network) in all.
        guidance_oracle_calls: Items guidance sent to its value oracle (cache hits included).
        seconds: Sampling time.
        proposed_at: When the list was made.
        guidance_charged: Real objective calls the guidance made while proposing (``charged_elsewhere``'s increase),
            charged to the budget.
    """

    round: int
    sequences: list[str]
    seeds: list[int]
    draws: list[int]
    n_sampled: int
    n_duplicates: int
    draw_count: int
    guidance: str
    plan: GuidancePlan
    nfe: float
    guidance_oracle_calls: int
    seconds: float
    proposed_at: str
    guidance_charged: int = 0

