"""``sample()``: the one sampling loop shared by every model kind and every guidance method.

The loop owns time (t from 1 to 0 on a uniform grid of ``steps`` steps) and calls the guiders'
hooks in the order of docs/architecture.md: ``conditions, combine, adjust, propose, select, remask``, then
``finalize``. Unguided sampling is ``guidance=()``.

Example:
    >>> from seqguide import sample
    >>> out = sample(model, 16, steps=64, seed=0)          # doctest: +SKIP
    >>> out.sequences[:2], out.trace["nfe"]                # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from seqguide.guidance.base import Candidates, Final, Guider, stack_problems
from seqguide.models.devices import model_device
from seqguide.sampling.context import Counters, SamplingContext

__all__ = ["Samples", "chunk_seed", "sample"]


@dataclass
class Samples:
    """The result of :func:`sample`.

    Attributes:
        sequences: Decoded outputs (strings for sequence models, a tensor for images).
        tokens: ``(R, ...)`` final states (token ids for discrete models).
        scores: ``(R,)`` rewards of the outputs when a guider scored them, else None.
        weights: ``(R,)`` importance weights (SMC ``output="all"``), else None.
        group: ``(R,)`` the request each row answers when several rows per request are returned.
        trace: Cost and diagnostics: ``nfe`` (network evaluations per requested sample, all branches
            counted), ``forward_calls`` (batched network calls), ``cached_rows``, ``oracle_calls``,
            ``steps``, ``seed``, ``seconds`` and each guider's own entries.
    """

    sequences: list[str] | torch.Tensor
    tokens: torch.Tensor
    scores: np.ndarray | None = None
    weights: np.ndarray | None = None
    group: np.ndarray | None = None
    trace: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sequences)

    def to_frame(self):
        """A pandas DataFrame with one row per output (sequence, score, weight, group)."""
        import pandas as pd

        data: dict[str, Any] = {"sequence": list(self.sequences)}
        for name in ("scores", "weights", "group"):
            value = getattr(self, name)
            if value is not None:
                data[name.rstrip("s") if name != "group" else "group"] = value
        return pd.DataFrame(data)


def chunk_seed(seed: int, index: int) -> int:
    """The generator seed of chunk ``index`` of a run seeded with ``seed`` (``sample(..., chunk_seeds=True)``).

    Mixed with NumPy's ``SeedSequence``, so neighbouring chunks and seeds get unrelated streams.
    """
    state = np.random.SeedSequence([seed % 2**64, index]).generate_state(1, dtype=np.uint64)
    return int(state[0] >> np.uint64(1))


def _check_guidance(guidance: Guider | Sequence[Guider]) -> list[Guider]:
    guiders = [guidance] if isinstance(guidance, Guider) else list(guidance)
    for i, g in enumerate(guiders):
        if not isinstance(g, Guider):
            raise TypeError(f"guidance[{i}] must be a seqguide Guider, got {type(g).__name__}")
    problems = stack_problems(guiders)
    if problems:
        raise ValueError("; ".join(problems))
    return guiders


def _as_cond(cond: Any, n: int, device: torch.device) -> torch.Tensor | None:
    if cond is None:
        return None
    y = torch.as_tensor(cond, dtype=torch.long, device=device)
    if y.dim() == 0:
        return y.expand(n).clone()
    if y.shape != (n,):
        raise ValueError(f"cond must be one label or {n} labels (one per sample), got shape {tuple(y.shape)}")
    return y


def sample(
    model: Any,
    n: int,
    *,
    length: int | None = None,
    steps: int,
    guidance: Guider | Sequence[Guider] = (),
    cond: Any = None,
    seed: int | None = None,
    batch_size: int | None = None,
    progress: bool = True,
    cache: bool = True,
    chunk_seeds: bool = False,
    init: torch.Tensor | None = None,
) -> Samples:
    """Draw ``n`` samples from ``model``, steered by ``guidance``.

    Args:
        model: A process implementing the model protocol (``prior``, ``predict``, ``step``,
            ``x0_estimate``, ``decode``), e.g. :class:`~seqguide.models.MaskedDiffusion`.
        n: Number of samples requested.
        length: Sequence length (default: the model's).
        steps: Number of reverse steps from t=1 to t=0.
        guidance: A guider or a list of guiders, composed in order; ``()`` samples the model as is.
        cond: Class label(s) for a class-conditional model: one int or ``n`` labels.
        seed: Seed of the run's generator; the same seed (and batch_size) gives the same samples.
        batch_size: Requested samples per chunk (default: all ``n`` at once). Each chunk simulates
            ``batch_size * expansion`` rows when a guider runs several particles per sample.
        progress: Show a progress bar over steps.
        cache: Reuse a row's prediction when its state has not changed since (only for models that are
            not time-conditioned), and reuse look-ahead predictions of value guidance.
        chunk_seeds: Give chunk k (requests ``k * batch_size`` onwards) its own generator seeded with
            :func:`chunk_seed` ``(seed, k)`` instead of one generator for the whole run, so that every chunk can
            be drawn on its own: distributed sampling (:mod:`seqguide.sampling.distributed`) shards chunks over
            processes and returns the same samples whatever their number.
        init: A starting state ``(n, L)`` instead of the model's prior: for a masked model, token ids with the
            mask id at the positions to fill (the others are kept: carry-over). Sampling runs the ``steps``
            from t = 1 as usual, so a few steps suffice when few positions are masked; this is how elites are
            refilled (:class:`seqguide.design.EliteInfill`, guided infilling as in LaMBO-2). Models that are
            time-conditioned see t = 1 on a mostly unmasked input; prefer time-independent denoisers here.

    Returns:
        :class:`Samples` with the decoded sequences, final tokens, scores/weights when a guider
        produced them, and the cost trace.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    guiders = _check_guidance(guidance)
    expansion = math.prod(g.expansion for g in guiders)
    device = model_device(model)
    init = _check_init(model, init, n, length, device)
    cond_all = _as_cond(cond, n, device)
    if seed is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())
    generator = torch.Generator(device=device).manual_seed(seed)
    chunk = batch_size or n
    times = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64).tolist()
    counters = Counters()
    guider_traces: list[dict[str, Any]] = []
    finals: list[Final] = []
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    bar = _progress(progress, total=steps * math.ceil(n / chunk))
    start_time = time.perf_counter()
    try:
        with torch.no_grad():
            for lo in range(0, n, chunk):
                m = min(chunk, n - lo)
                if chunk_seeds:
                    generator = torch.Generator(device=device).manual_seed(chunk_seed(seed, lo // chunk))
                cond_rows = None
                if cond_all is not None:
                    cond_rows = cond_all[lo : lo + m].repeat_interleave(expansion)
                ctx = SamplingContext(model, guiders=guiders, num_steps=steps, n=m, expansion=expansion,
                                      generator=generator, device=device, cond=cond_rows, use_cache=cache,
                                      counters=counters)
                ctx.offset = lo
                start = None if init is None else init[lo : lo + m].repeat_interleave(expansion, dim=0)
                final = _run_chunk(model, ctx, guiders, times, length, bar, start)
                if final.group is not None:
                    final.group = final.group + lo
                finals.append(final)
                guider_traces.append({type(g).__name__: g.trace() for g in guiders})
    finally:
        if bar is not None:
            bar.close()
        if was_training and hasattr(model, "train"):
            model.train()
    return _assemble(model, finals, counters, guider_traces, n=n, steps=steps, seed=seed,
                     seconds=time.perf_counter() - start_time, guiders=guiders)


def _check_init(model: Any, init: Any, n: int, length: int | None, device: torch.device) -> torch.Tensor | None:
    if init is None:
        return None
    if not hasattr(model, "mask_id"):
        raise TypeError(f"init (a partially masked starting state) needs a masked model with a mask_id; "
                        f"{type(model).__name__} has none")
    if not isinstance(init, torch.Tensor) or init.dim() != 2 or init.dtype != torch.long:
        raise TypeError(f"init must be an (n, L) int64 tensor of token ids, got "
                        f"{getattr(init, 'dtype', type(init).__name__)} of shape {tuple(getattr(init, 'shape', ()))}")
    if init.shape[0] != n:
        raise ValueError(f"init has {init.shape[0]} rows for n={n} samples")
    want = length if length is not None else getattr(model, "length", init.shape[1])
    if init.shape[1] != want:
        raise ValueError(f"init has length {init.shape[1]}, the model samples length {want}")
    alphabet = getattr(model, "alphabet", None)
    vocab = getattr(alphabet, "vocab_size", None)
    if vocab is not None and (int(init.min()) < 0 or int(init.max()) >= vocab):
        raise ValueError(f"init holds token ids outside the alphabet's 0..{vocab - 1}")
    pad = getattr(alphabet, "pad_id", None)
    if pad is not None:  # kept ids: the tokens and the mask; a pad only as trailing padding of a variable length
        bad = init == pad
        if not getattr(model, "fixed_length", False):
            kept = (init != pad).long()
            bad &= kept.flip(1).cumsum(1).flip(1) - kept > 0  # a pad that a token or a mask follows
        where = bad.nonzero()
        if len(where):
            row, col = (int(v) for v in where[0])
            why = ("the model samples a fixed length" if getattr(model, "fixed_length", False)
                   else "a pad is only trailing padding, never followed by a token or a mask")
            raise ValueError(f"init[{row}, {col}] is the pad id {pad}, not a token to keep or the mask id "
                             f"{model.mask_id} ({why}; {int(bad.sum())} such position(s))")
    return init.to(device)


def _run_chunk(model: Any, ctx: SamplingContext, guiders: list[Guider], times: list[float],
               length: int | None, bar: Any, start: torch.Tensor | None = None) -> Final:
    for g in guiders:
        g.reset(ctx)
    proposer = next((g for g in guiders if g.implements("propose")), None)
    selector = next((g for g in guiders if g.implements("select")), None)
    if start is None:
        state = model.prior(ctx.rows, length, generator=ctx.generator, device=ctx.device)
    else:
        state = start.clone()
    for i in range(ctx.num_steps):
        t, s = times[i], times[i + 1]
        ctx.set_step(i, t, s)
        branches: list[str] = []
        for g in guiders:
            for b in g.conditions(t):
                if b not in branches:
                    branches.append(b)
        ctx.branches = tuple(branches) or ("cond",)
        preds = ctx.predict_branches(state, t)
        pred = ctx.combine(preds, t)
        for g in guiders:
            pred = g.adjust(state, pred, t)
        if getattr(model, "second_order", False):  # e.g. Heun: the step evaluates the guided prediction again
            pred = ctx.attach_evaluator(pred)
        cands = proposer.propose(model, state, pred, t, s) if proposer is not None else None
        if cands is None:
            nxt = model.step(state, pred, t, s, ctx.generator)
            cands = Candidates(nxt.unsqueeze(1), state, pred, t, s)
        chosen = selector.select(cands, t) if selector is not None else None
        if chosen is None:
            if cands.num != 1:
                raise RuntimeError(f"{type(proposer).__name__} proposed {cands.num} candidates per row but no "
                                   "guider selects among them")
            chosen = cands.states[:, 0]
        state = chosen
        for g in guiders:
            state = g.remask(state, pred, t)
        if bar is not None:
            bar.update(1)
    final = Final(state)
    for g in guiders:
        if g.expansion != 1 or g.implements("finalize"):
            final = g.finalize(final.state)
    if final.state.shape[0] != ctx.n and final.group is None:
        raise RuntimeError(f"finalize returned {final.state.shape[0]} rows for {ctx.n} requested samples")
    return final


def _assemble(model: Any, finals: list[Final], counters: Counters, guider_traces: list[dict[str, Any]], *,
              n: int, steps: int, seed: int, seconds: float, guiders: list[Guider]) -> Samples:
    tokens = torch.cat([f.state for f in finals]).cpu()
    seqs = model.decode(tokens)

    def cat(name: str) -> np.ndarray | None:
        parts = [getattr(f, name) for f in finals]
        if any(p is None for p in parts):
            return None
        return torch.cat(parts).detach().cpu().numpy()

    trace: dict[str, Any] = {
        "nfe": counters.rows / n,
        "forward_calls": counters.forward_calls,
        "cached_rows": counters.cached_rows,
        "oracle_calls": counters.oracle_calls,
        "oracle_batches": counters.oracle_batches,
        "steps": steps,
        "seed": seed,
        "seconds": seconds,
        "guidance": [repr(g) for g in guiders],
    }
    trace.update(counters.extra)  # e.g. value-model rows counted by learned value functions
    for per_chunk in guider_traces:
        for gname, entries in per_chunk.items():
            for key, value in entries.items():
                k = f"{gname}.{key}"
                trace[k] = trace.get(k, 0) + value if isinstance(value, (int, float)) else value
    scores = cat("scores")
    return Samples(seqs, tokens, None if scores is None else scores.astype(np.float64),
                   cat("weights"), cat("group"), trace)


def _progress(enabled: bool, total: int) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="sampling", unit="step", leave=False)
