"""Per-run state of the sampling loop that guiders may use: time, RNG, counters and the prediction cache.

The :class:`SamplingContext` owns every network call of a run, so it can

- count them (``nfe``: network evaluations per requested sample; ``forward_calls``: batched calls);
- reuse predictions (MDLM's caching sampler, Sahoo et al. 2024 §4.1, generalised per row): a row whose
  state did not change since its last prediction is not sent to the network again, when the model is
  not time-conditioned (or the time is the same);
- reuse look-ahead predictions: a value function that predicts at time s for candidate next states
  (SVDD-PM, SMC) primes the cache, so the chosen candidate is not evaluated again at the next step;
- keep the cache, the class labels and the look-ahead aligned when a guider reorders rows (resampling).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from seqguide.sampling.rows import unique_rows

if TYPE_CHECKING:
    from seqguide.guidance.base import Guider

__all__ = ["Counters", "SamplingContext"]


@dataclass
class Counters:
    """Cost accounting of a run (summed over batch chunks)."""

    rows: int = 0  # sequence-rows passed through the network (x branches)
    forward_calls: int = 0  # batched network calls
    cached_rows: int = 0  # rows whose prediction was reused instead of recomputed
    oracle_calls: int = 0  # items sent to oracles by guiders
    oracle_batches: int = 0
    extra: dict[str, float] = field(default_factory=dict)


@dataclass
class _Entry:
    state: torch.Tensor  # (N, ...) states predicted for
    labels: torch.Tensor | None  # (N,) their class labels (None: unconditional run)
    t: float
    branches: tuple[str, ...]
    preds: dict[str, torch.Tensor]  # each (N, ...)


def _keys(state: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """Row keys for content matching: the flattened state, plus the label when the run is conditional."""
    flat = state.reshape(state.shape[0], -1)
    if labels is None:
        return flat
    return torch.cat([flat, labels.to(flat.dtype).unsqueeze(1)], dim=1)


class SamplingContext:
    """State shared by the loop and its guiders during one run (one batch chunk).

    Attributes:
        model: The process being sampled.
        guiders: The guidance stack.
        num_steps: Number of reverse steps.
        n: Requested samples in this chunk; ``rows = n * expansion`` rows are simulated.
        offset: Index of this chunk's first request among the run's requests (set by ``sample``), so
            per-request inputs (e.g. one measurement per sample) can be matched to rows: see :meth:`requests`.
        generator: The run's random generator (use it for every random draw).
        step_index, t, s: The current step and its times (t > s).
        counters: Cost accounting, shared across chunks.
    """

    def __init__(
        self,
        model: Any,
        *,
        guiders: Sequence[Guider],
        num_steps: int,
        n: int,
        expansion: int,
        generator: torch.Generator,
        device: torch.device,
        cond: torch.Tensor | None,
        use_cache: bool,
        counters: Counters,
    ) -> None:
        self.model = model
        self.guiders = list(guiders)
        self.num_steps = num_steps
        self.n = n
        self.expansion = expansion
        self.rows = n * expansion
        self.offset = 0
        self.generator = generator
        self.device = device
        self.cond = cond  # (rows,) labels or None
        self.use_cache = use_cache
        self.counters = counters
        self.step_index = 0
        self.t = 1.0
        self.s = 1.0
        self.branches: tuple[str, ...] = ("cond",)
        self.lookahead = False
        self._entries: list[_Entry] = []  # predictions that may be reused (newest last)
        self._time_conditioned = bool(getattr(model, "time_conditioned", True))
        # Only predictions of discrete states can be matched by content.
        self._matchable = not torch.is_floating_point(model.prior(1, generator=None, device=device))

    # ------------------------------------------------------------------ predictions
    def _labels(self, branch: str, rows: torch.Tensor) -> torch.Tensor | None:
        if branch == "uncond" or self.cond is None:
            return None
        return self.cond[rows]

    def _evaluate(self, state: torch.Tensor, t: float, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run the model on ``state`` (rows ``rows`` of the run) for the current branches: one call."""
        branches = self.branches
        if len(branches) == 1:
            labels = self._labels(branches[0], rows)
            out = {branches[0]: self.model.predict(state, t, labels)}
        else:
            out = self.model.predict(state, t, {b: self._labels(b, rows) for b in branches})
        self.counters.rows += state.shape[0] * len(branches)
        self.counters.forward_calls += 1
        return out

    def _reusable(self, entry: _Entry, t: float) -> bool:
        return entry.branches == self.branches and (not self._time_conditioned or abs(entry.t - t) < 1e-12)

    def _lookup(self, state: torch.Tensor, rows: torch.Tensor, t: float):
        """Find rows of ``state`` whose prediction at time t is already known (content match).

        Returns ``(preds or None, need)``: ``need`` ``(N,)`` marks rows still to evaluate; ``preds`` holds
        the known rows (others uninitialised).
        """
        N = state.shape[0]
        need = torch.ones(N, dtype=torch.bool, device=state.device)
        entries = [e for e in self._entries if self._reusable(e, t)] if self.use_cache and self._matchable else []
        if not entries:
            return None, need
        labels = None if self.cond is None else self.cond[rows]
        known = torch.cat([_keys(e.state, e.labels) for e in entries])
        query = _keys(state, labels)
        if known.shape[1] != query.shape[1]:
            return None, need
        inv, _ = unique_rows(torch.cat([known, query]))
        k_inv, q_inv = inv[: known.shape[0]], inv[known.shape[0] :]
        src = torch.full((int(inv.max()) + 1,), -1, dtype=torch.long, device=state.device)
        src[k_inv] = torch.arange(known.shape[0], device=state.device)
        src = src[q_inv]
        hit = src >= 0
        if not hit.any():
            return None, need
        pool = {b: torch.cat([e.preds[b] for e in entries]) for b in self.branches}
        preds = {b: torch.empty((N, *p.shape[1:]), dtype=p.dtype, device=p.device) for b, p in pool.items()}
        for b in preds:
            preds[b][hit] = pool[b][src[hit]]
        need &= ~hit
        return preds, need

    def _predict_raw(self, state: torch.Tensor, t: float, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        """Predictions for ``state`` at t: known rows are reused, duplicate rows are evaluated once."""
        preds, need = self._lookup(state, rows, t)
        self.counters.cached_rows += int((~need).sum()) * len(self.branches)
        todo = torch.nonzero(need).flatten()
        if todo.numel() == 0:
            return preds
        inv = None
        if self.use_cache and self._matchable and todo.numel() > 1:
            labels = None if self.cond is None else self.cond[rows[todo]]
            inv, rep = unique_rows(_keys(state[todo], labels))
            if rep.numel() < todo.numel():
                self.counters.cached_rows += (todo.numel() - rep.numel()) * len(self.branches)
                todo_eval = todo[rep]
            else:
                inv, todo_eval = None, todo
        else:
            todo_eval = todo
        fresh = self._evaluate(state[todo_eval], t, rows[todo_eval])
        if preds is None and inv is None and todo.numel() == state.shape[0]:
            preds = fresh
        else:
            if preds is None:
                preds = {b: torch.empty((state.shape[0], *p.shape[1:]), dtype=p.dtype, device=p.device)
                         for b, p in fresh.items()}
            for b in preds:
                preds[b][todo] = fresh[b] if inv is None else fresh[b][inv]
        if self.use_cache:
            labels = None if self.cond is None else self.cond[rows[todo_eval]]
            self._entries.append(_Entry(state[todo_eval].clone(), labels, t, self.branches, fresh))
        return preds

    def predict_branches(self, state: torch.Tensor, t: float) -> dict[str, torch.Tensor]:
        """The loop's prediction for all rows at time t, reusing known rows: ``{branch: (rows, ...)}``.

        After this call only the predictions of the current state are kept (older ones can no longer match
        a future state of a masked process, and keeping them would grow memory).
        """
        rows = torch.arange(state.shape[0], device=state.device)
        preds = self._predict_raw(state, t, rows)
        if self.use_cache:
            labels = None if self.cond is None else self.cond.clone()
            self._entries = [_Entry(state.clone(), labels, t, self.branches, preds)]
        return preds

    def combine(self, preds: dict[str, Any], t: float) -> Any:
        """Apply every guider's ``combine`` in order and return the prediction the step uses."""
        out: Any = preds
        for g in self.guiders:
            out = g.combine(out, t)
        if "cond" not in out:
            raise KeyError("after combine() the predictions must hold a 'cond' entry (the one the step uses)")
        return out["cond"]

    def predict(self, state: torch.Tensor, t: float, rows: torch.Tensor | None = None) -> Any:
        """Look-ahead prediction for arbitrary states (e.g. candidate next states at time s).

        Evaluates the current branches and applies the guiders' ``combine``. The raw predictions are
        remembered, so if one of these states becomes the loop's state at time ``t``, the network is
        not called for it again.

        Args:
            state: ``(N, ...)`` states to predict for.
            t: Their time.
            rows: ``(N,)`` the loop row each state descends from (for class labels); default ``arange``.
        """
        if rows is None:
            rows = torch.arange(state.shape[0], device=state.device)
        preds = self._predict_raw(state, t, rows)
        self.lookahead = True
        try:
            return self.combine(dict(preds), t)
        finally:
            self.lookahead = False

    # ------------------------------------------------------------------ bookkeeping
    def gather(self, index: torch.Tensor) -> None:
        """Rows were reordered: new row i is old row ``index[i]`` (resampling). Keeps the labels aligned;
        cached predictions are matched by content, so they need no remapping."""
        if self.cond is not None:
            self.cond = self.cond[index]

    def requests(self, rows: torch.Tensor | None = None) -> torch.Tensor:
        """``(N,)`` the run-wide request index (0..n-1 of ``sample(model, n)``) of loop rows ``rows``
        (default: every row). Rows of one request's particles stay in its group when resampled."""
        if rows is None:
            rows = torch.arange(self.rows, device=self.device)
        return self.offset + torch.div(rows, self.expansion, rounding_mode="floor")

    def score(self, oracle: Any, clean: torch.Tensor | Sequence[str]) -> Any:
        """Score clean states (decoded with the model) or strings with ``oracle``; counted in the trace."""
        xs = self.model.decode(clean) if isinstance(clean, torch.Tensor) else list(clean)
        self.counters.oracle_calls += len(xs)
        self.counters.oracle_batches += 1
        return oracle(xs)

    def set_step(self, index: int, t: float, s: float) -> None:
        self.step_index, self.t, self.s = index, t, s

    @property
    def is_last_step(self) -> bool:
        return self.step_index == self.num_steps - 1
