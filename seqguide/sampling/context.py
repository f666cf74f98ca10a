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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from seqguide.models.prediction import Prediction
from seqguide.sampling.guider_context import Counters
from seqguide.sampling.rows import first_index, group_rows

if TYPE_CHECKING:
    from seqguide.guidance.base import Guider

__all__ = ["Counters", "SamplingContext"]  # Counters: defined in guider_context, re-exported


@dataclass
class _Entry:
    state: torch.Tensor  # (N, ...) states predicted for
    labels: torch.Tensor | None  # (N,) their class labels (None: unconditional run)
    t: float
    branches: tuple[str, ...]
    preds: dict[str, torch.Tensor]  # each (N, ...)


@dataclass
class _Plan:
    """Which query rows are known: group ids of ``[known rows; query rows]`` turned into a lookup (on the device).

    Attributes:
        query_ids: ``(N,)`` group id of each query row.
        source: ``(N,)`` index of a known row with the same content (the last one), or -1.
        need: ``(N,)`` rows with no known prediction.
        mark: ``(G,)`` group ids that some row needing evaluation has (G = K + N bounds the number of groups).
    """

    query_ids: torch.Tensor
    source: torch.Tensor
    need: torch.Tensor
    mark: torch.Tensor

    @classmethod
    def make(cls, inverse: torch.Tensor, K: int, N: int) -> _Plan:
        G = K + N
        device = inverse.device
        query_ids = inverse[K:]
        last_known = torch.full((G,), -1, dtype=torch.long, device=device)
        if K:
            last_known.scatter_reduce_(0, inverse[:K], torch.arange(K, device=device), reduce="amax")
        source = last_known[query_ids]
        need = source < 0
        mark = torch.zeros(G, dtype=torch.bool, device=device).scatter_(0, query_ids, need)
        return cls(query_ids, source, need, mark)


def _keys(state: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """Row keys for content matching: the flattened state, plus the label when the run is conditional."""
    flat = state.reshape(state.shape[0], -1)
    if labels is None:
        return flat
    return torch.cat([flat, labels.to(flat.dtype).unsqueeze(1)], dim=1)


class SamplingContext:
    """State shared by the loop and its guiders during one run (one batch chunk); guiders see it as the
    :class:`~seqguide.sampling.guider_context.GuiderContext` it implements.

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
        #: During a look-ahead prediction: ``(N,)`` the loop row each predicted state descends from (so guiders
        #: with per-row state or labels can index them); None while the loop predicts its own rows.
        self.lookahead_rows: torch.Tensor | None = None
        self._entries: list[_Entry] = []  # predictions that may be reused (newest last)
        self._last: tuple[torch.Tensor, int, torch.Tensor | None] | None = None  # the loop's last state, by identity
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

    def _predict_raw(self, state: torch.Tensor, t: float, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        """Predictions for ``state`` at t: known rows are reused, duplicate rows are evaluated once.

        Rows are matched by content against the reusable predictions (and against each other) on the device;
        the host reads back three numbers (rows to evaluate, distinct ones among them, a hash-collision flag):
        one sync per call, whatever the batch.
        """
        N = state.shape[0]
        nb = len(self.branches)
        matching = self.use_cache and self._matchable
        entries = [e for e in self._entries if self._reusable(e, t)] if matching else []
        labels = None if self.cond is None else self.cond[rows]
        query = _keys(state, labels)
        known = [_keys(e.state, e.labels) for e in entries]
        if known and known[0].shape[1] != query.shape[1]:
            entries, known = [], []
        if not entries and not (matching and N > 1):
            fresh = self._evaluate(state, t, rows)
            self._remember(state, labels, t, fresh)
            return fresh
        keys = torch.cat([*known, query]) if known else query
        K = keys.shape[0] - N
        inverse, _, collision = group_rows(keys)
        plan = _Plan.make(inverse, K, N)
        todo_n, distinct_n, bad = torch.stack([plan.need.sum(), plan.mark.sum(), collision.long()]).tolist()
        if bad:  # a hash collision (never seen in practice): match exactly instead
            _, inverse = torch.unique(keys, dim=0, return_inverse=True)
            plan = _Plan.make(inverse, K, N)
            todo_n, distinct_n = torch.stack([plan.need.sum(), plan.mark.sum()]).tolist()
        self.counters.cached_rows += (N - todo_n) * nb
        pool = {b: torch.cat([e.preds[b] for e in entries]) for b in self.branches} if entries else None
        if todo_n == 0:
            assert pool is not None
            return {b: p[plan.source.clamp_min(0)] for b, p in pool.items()}
        # The rows to evaluate, in their order (stable sorts: no boolean indexing, no further sync).
        todo = torch.argsort((~plan.need).to(torch.int8), stable=True)[:todo_n]
        if distinct_n < todo_n:  # duplicates: one representative per distinct row, in hash-key order
            self.counters.cached_rows += (todo_n - distinct_n) * nb
            ids = torch.argsort((~plan.mark).to(torch.int8), stable=True)[:distinct_n]
            todo_eval = first_index(plan.query_ids, plan.mark.shape[0])[ids]
            position = torch.zeros(plan.mark.shape[0], dtype=torch.long, device=state.device)
            position[ids] = torch.arange(distinct_n, device=state.device)
            position = position[plan.query_ids]
        else:
            todo_eval = todo
            position = torch.zeros(N, dtype=torch.long, device=state.device)
            position[todo] = torch.arange(todo_n, device=state.device)
        fresh = self._evaluate(state[todo_eval], t, rows[todo_eval])
        if pool is None and todo_n == N and distinct_n == N:
            preds = fresh
        else:
            preds = {}
            for b, f in fresh.items():
                new = f[position]
                if pool is not None:
                    need = plan.need.view(N, *([1] * (new.dim() - 1)))
                    new = torch.where(need, new, pool[b][plan.source.clamp_min(0)])
                preds[b] = new
        self._remember(state[todo_eval], None if labels is None else labels[todo_eval], t, fresh)
        return preds

    def _remember(self, state: torch.Tensor, labels: torch.Tensor | None, t: float,
                  preds: dict[str, torch.Tensor]) -> None:
        if self.use_cache:
            self._entries.append(_Entry(state.clone(), labels, t, self.branches, preds))

    def _unchanged(self, state: torch.Tensor, t: float) -> bool:
        """True if ``state`` is the very tensor predicted last by the loop, unmodified (a step that changed
        nothing returns its input): then every row is known without looking at the data."""
        last = self._last
        if last is None or not self.use_cache or not self._entries or not self._reusable(self._entries[0], t):
            return False
        ref, version, cond = last
        try:
            same = (state.data_ptr() == ref.data_ptr() and state.shape == ref.shape and state.stride() == ref.stride()
                    and state._version == version)
        except RuntimeError:  # inference-mode tensors have no version counter
            return False
        return same and cond is self.cond

    def predict_branches(self, state: torch.Tensor, t: float) -> dict[str, torch.Tensor]:
        """The loop's prediction for all rows at time t, reusing known rows: ``{branch: (rows, ...)}``.

        After this call only the predictions of the current state are kept (older ones can no longer match
        a future state of a masked process, and keeping them would grow memory).
        """
        if self._unchanged(state, t):
            self.counters.cached_rows += state.shape[0] * len(self.branches)
            self._entries = self._entries[:1]
            return self._entries[0].preds
        rows = torch.arange(state.shape[0], device=state.device)
        preds = self._predict_raw(state, t, rows)
        if self.use_cache:
            labels = None if self.cond is None else self.cond.clone()
            self._entries = [_Entry(state.clone(), labels, t, self.branches, preds)]
            try:
                self._last = (state, state._version, self.cond)
            except RuntimeError:
                self._last = None
        return preds

    def combine(self, preds: dict[str, Any], t: float) -> Any:
        """Apply every guider's ``combine`` in order and return the prediction the step uses."""
        out: Any = preds
        for g in self.guiders:
            out = g.combine(out, t)
        if "cond" not in out:
            raise KeyError("after combine() the predictions must hold a 'cond' entry (the one the step uses)")
        return out["cond"]

    def predict(self, state: torch.Tensor, t: float, rows: torch.Tensor | None = None, *,
                adjust: bool = False) -> Any:
        """Look-ahead prediction for arbitrary states (e.g. candidate next states at time s).

        Evaluates the current branches and applies the guiders' ``combine`` (and their ``adjust`` when
        ``adjust=True``). The raw predictions are remembered, so if one of these states becomes the loop's
        state at time ``t``, the network is not called for it again.

        Args:
            state: ``(N, ...)`` states to predict for.
            t: Their time.
            rows: ``(N,)`` the loop row each state descends from (for class labels); default ``arange``.
            adjust: Also apply the guiders' ``adjust`` hooks (the full guided prediction, as the loop's step
                would see it).
        """
        if rows is None:
            rows = torch.arange(state.shape[0], device=state.device)
        preds = self._predict_raw(state, t, rows)
        previous = (self.lookahead, self.lookahead_rows)
        self.lookahead, self.lookahead_rows = True, rows
        try:
            pred = self.combine(dict(preds), t)
            if adjust:
                for g in self.guiders:
                    pred = g.adjust(state, pred, t)
            return pred
        finally:
            self.lookahead, self.lookahead_rows = previous

    def attach_evaluator(self, pred: Any) -> Any:
        """Give a continuous prediction of the loop's rows an evaluator for second-order steps (Heun): the
        fully guided prediction of other states at another time, counted in ``nfe``."""
        if not isinstance(pred, Prediction):
            raise TypeError(f"a second-order step needs a Prediction, got {type(pred).__name__}")
        rows = torch.arange(pred.value.shape[0], device=pred.value.device)
        return pred.replace(evaluate=lambda x, t, r: self.predict(x, t, r, adjust=True), rows=rows)

    def current_labels(self) -> torch.Tensor | None:
        """``(N,)`` class labels of the rows being predicted (look-ahead rows during a look-ahead), or None."""
        if self.cond is None:
            return None
        return self.cond if self.lookahead_rows is None else self.cond[self.lookahead_rows]

    # ------------------------------------------------------------------ bookkeeping
    def gather(self, index: torch.Tensor) -> None:
        """Rows were reordered: new row i is old row ``index[i]`` (resampling). Keeps the labels and every
        guider's per-row state (``Guider.reorder``) aligned; cached predictions are matched by content, so
        they need no remapping."""
        if self.cond is not None:
            self.cond = self.cond[index]
        for g in self.guiders:
            g.reorder(index)

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
