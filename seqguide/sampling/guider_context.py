"""What a guider sees of a sampling run: the :class:`GuiderContext` interface and the run's :class:`Counters`.

:class:`~seqguide.sampling.context.SamplingContext` implements this interface; guiders (``Guider.ctx``) and value
functions are written against it, so the guider core (:mod:`seqguide.guidance.base`) and the loop's context
depend on this module and not on each other. Everything listed here is public to guiders; the context's prediction
cache and bookkeeping stay private to the loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

__all__ = ["Counters", "GuiderContext"]


@dataclass
class Counters:
    """Cost accounting of a run (summed over batch chunks)."""

    rows: int = 0  # sequence-rows passed through the network (x branches)
    forward_calls: int = 0  # batched network calls
    cached_rows: int = 0  # rows whose prediction was reused instead of recomputed
    oracle_calls: int = 0  # items sent to oracles by guiders
    oracle_batches: int = 0
    extra: dict[str, float] = field(default_factory=dict)


class GuiderContext(Protocol):
    """The per-run state and services of the sampling loop that guiders may use (one batch chunk).

    Attributes:
        model: The process being sampled.
        n: Requested samples in this chunk; ``rows = n * expansion`` rows are simulated.
        expansion: Rows per requested sample (the stack's particles).
        rows: ``n * expansion``.
        offset: Index of this chunk's first request among the run's requests (see :meth:`requests`).
        generator: The run's random generator (use it for every random draw).
        device: Where the rows live.
        cond: ``(rows,)`` class labels, or None for an unconditional run.
        counters: Cost accounting, shared across chunks.
        num_steps: Number of reverse steps.
        step_index, t, s: The current step and its times (t > s).
        lookahead: True while a look-ahead prediction (:meth:`predict`) runs the guiders' hooks.
        lookahead_rows: During a look-ahead, ``(N,)`` the loop row each predicted state descends from; else None.
    """

    model: Any
    n: int
    expansion: int
    rows: int
    offset: int
    generator: torch.Generator
    device: torch.device
    cond: torch.Tensor | None
    counters: Counters
    num_steps: int
    step_index: int
    t: float
    s: float
    lookahead: bool
    lookahead_rows: torch.Tensor | None

    @property
    def is_last_step(self) -> bool:
        """Whether the current step is the run's last."""
        ...

    def predict(self, state: torch.Tensor, t: float, rows: torch.Tensor | None = None, *,
                adjust: bool = False) -> Any:
        """Look-ahead prediction for arbitrary states (e.g. candidate next states at time s), through every
        guider's ``combine`` (and ``adjust`` when ``adjust=True``); remembered, so a state that becomes the loop's
        is not predicted again."""
        ...

    def current_labels(self) -> torch.Tensor | None:
        """``(N,)`` class labels of the rows being predicted (look-ahead rows during a look-ahead), or None."""
        ...

    def requests(self, rows: torch.Tensor | None = None) -> torch.Tensor:
        """``(N,)`` the run-wide request index of loop rows ``rows`` (default: every row)."""
        ...

    def score(self, oracle: Any, clean: torch.Tensor | Sequence[str]) -> Any:
        """Score clean states (decoded with the model) or strings with ``oracle``; counted in the trace."""
        ...

    def gather(self, index: torch.Tensor) -> None:
        """Rows were reordered (resampling): new row i is old row ``index[i]``; keeps labels and every guider's
        per-row state aligned."""
        ...
