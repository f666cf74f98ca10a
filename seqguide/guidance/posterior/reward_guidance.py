"""Unified reward guidance (Jiao, Chen & Li 2025, arXiv 2512.04985): the reward-reweighted minus the original
prediction, added to the backward process.

A reward r tilts the data distribution to ``p_r(x) ∝ p(x) w(x)`` (``w = exp(lam * r)`` or any
non-negative weight). The score of the noised tilted marginal is the original score plus a guidance term,
and the paper's sampler injects

    guided = pred + scale * (pred_r - pred)

where ``pred_r`` is a predictor trained on the *reweighted data* by the ordinary denoising objective
(denoising score matching for a Gaussian model, the masked-diffusion ELBO here): no sampling
trajectories are needed to train it, only the data (or model samples) and their weights. ``scale = 1``
samples ``p_r`` exactly when both predictors are exact; ``scale > 1`` extrapolates (classifier-free
guidance is the case ``w(x) = p(c | x)``, for which the paper shows that guidance lowers
``E[1 / p(c | X)]``: see :func:`seqguide.metrics.expected_reciprocal_probability`).

The combination is on whatever the model predicts: clean-token log-probabilities of a discrete model, masked
diffusion or a simplex flow (combined in log space and renormalised over tokens, so the guided denoiser is a
distribution for any scale), or eps / x0 / v / velocity of a continuous model (combined linearly). The
reweighted predictor is a second network: every row it evaluates is added to the run's ``nfe`` and counted in
``RewardGuidance.reweighted_rows``; for a model that is not time-conditioned, rows whose state did not change
since the last step reuse their prediction.

Train the reweighted predictor with :func:`fit_reweighted` and :func:`reward_weights` (choose the tilt with
:func:`lam_for_ess` so that the reweighted data keep a given effective sample size).

Example (a trained model: ``w = reward_weights(r, lam=lam_for_ess(r, 0.1))``, then
``tilted = fit_reweighted(model, data.train_dataset, w).model``); with exact predictors:

    >>> from seqguide import Alphabet, sample
    >>> from seqguide.guidance import RewardGuidance
    >>> from seqguide.models import ExactMaskedModel
    >>> table = {"AA": 0.4, "AB": 0.3, "BA": 0.2, "BB": 0.1}
    >>> model = ExactMaskedModel(Alphabet("AB"), table, exact_joint=False)
    >>> tilted = ExactMaskedModel(Alphabet("AB"), model.tilted(lambda s: s.count("B"), 2.0), exact_joint=False)
    >>> out = sample(model, 200, steps=8, guidance=[RewardGuidance(tilted)], seed=0, progress=False)
    >>> sum(s.count("B") for s in out.sequences) / 400 > 0.5    # 0.3 under the model, 0.66 under the tilt
    True
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from seqguide.guidance.base import Guider
from seqguide.models.prediction import Prediction

__all__ = ["RewardGuidance", "ReweightedFit", "fit_reweighted", "guided_prediction", "reward_weights"]


def guided_prediction(pred: torch.Tensor, pred_r: torch.Tensor, scale: float, *, log_probs: bool) -> torch.Tensor:
    """``pred + scale * (pred_r - pred)``.

    Args:
        pred: ``(B, ...)`` the original prediction.
        pred_r: ``(B, ...)`` the reweighted predictor's.
        scale: Guidance strength (0: original, 1: reweighted).
        log_probs: The predictions are log-probabilities over the last dimension (masked models): entries
            that either predictor rules out (``-inf``) stay ruled out and the result is renormalised.
    """
    if pred.shape != pred_r.shape:
        raise ValueError(f"the reweighted prediction has shape {tuple(pred_r.shape)}, the model's {tuple(pred.shape)}")
    if not log_probs:
        return pred + scale * (pred_r - pred)
    if scale == 0:
        return pred
    finite = torch.isfinite(pred) & torch.isfinite(pred_r)
    zero = torch.zeros_like(pred)
    a, b = torch.where(finite, pred, zero), torch.where(finite, pred_r, zero)
    mixed = a + scale * (b - a)
    mixed = torch.where(finite, mixed, torch.full_like(pred, float("-inf")))
    return torch.log_softmax(mixed, dim=-1)


class RewardGuidance(Guider):
    """Reward guidance on the ``adjust`` hook: ``pred + scale * (pred_r - pred)`` with a reweighted predictor.

    Args:
        reweighted: A model with the same ``predict`` interface as the sampled one, trained on reweighted
            data (:func:`fit_reweighted`), e.g. a fine-tuned copy of it.
        scale: Multiplies the difference of the two predictions, ``pred + scale * (pred_r - pred)`` (log-
            probabilities, renormalised, for discrete models): 0 = the original model, 1 = the reweighted one
            (samples ``p(x) w(x)`` when both are exact), > 1 = extrapolation past it, < 0 = away from it.
        start: Fraction of the run at which guidance starts.
        stop: Fraction at which it stops.
    """

    resources: ClassVar[dict[str, tuple[str, ...]]] = {"reweighted": ("reweighted_model",)}
    paper: ClassVar[str] = "Jiao, Chen & Li 2025, arXiv 2512.04985 (reward guidance from reweighted scores)"

    def __init__(self, reweighted: Any, *, scale: float = 1.0, start: float = 0.0, stop: float = 1.0) -> None:
        super().__init__(start=start, stop=stop)
        if not callable(getattr(reweighted, "predict", None)):
            raise TypeError(f"reweighted must be a model with predict(state, t), got {type(reweighted).__name__}")
        if not np.isfinite(scale):
            raise ValueError(f"scale must be a finite number, got {scale}")
        self.reweighted = reweighted
        self.scale = float(scale)

    def reset(self, ctx: Any) -> None:
        super().reset(ctx)
        if hasattr(self.reweighted, "eval"):
            self.reweighted.eval()
        self._cache_state: torch.Tensor | None = None
        self._cache_pred: torch.Tensor | None = None
        self._rows = 0
        self._reused = 0

    def _predict(self, state: torch.Tensor, t: float) -> torch.Tensor:
        """The reweighted prediction for every row, evaluating only rows not seen unchanged at the last step."""
        reuse = (not torch.is_floating_point(state) and not getattr(self.reweighted, "time_conditioned", True)
                 and self._cache_state is not None and self._cache_state.shape == state.shape)
        if reuse:
            need = (state != self._cache_state).flatten(1).any(dim=1)
            out = self._cache_pred.clone()
        else:
            need = torch.ones(state.shape[0], dtype=torch.bool, device=state.device)
            out = None
        todo = need.nonzero().flatten()
        if todo.numel():
            fresh = self.reweighted.predict(state[todo], t)
            if out is None and todo.numel() == state.shape[0]:
                out = fresh
            else:
                if out is None:
                    out = torch.empty((state.shape[0], *fresh.shape[1:]), dtype=fresh.dtype, device=fresh.device)
                out[todo] = fresh
            counters = self.ctx.counters
            counters.rows += int(todo.numel())  # a second network of the same kind: part of the run's nfe
            counters.forward_calls += 1
            self._rows += int(todo.numel())
        self._reused += int(state.shape[0] - todo.numel())
        self._cache_state, self._cache_pred = state.clone(), out
        return out

    def adjust(self, state: torch.Tensor, pred: Any, t: float) -> Any:
        if not self.is_active():
            return pred
        if isinstance(pred, Prediction):  # a continuous model: eps / x0 / v / velocity, combined linearly
            pred_r = self._predict(state, t)
            if not isinstance(pred_r, Prediction) or pred_r.kind != pred.kind:
                raise TypeError(f"RewardGuidance: the reweighted model predicts {getattr(pred_r, 'kind', pred_r)!r}, "
                                f"the sampled one {pred.kind!r}: give a reweighted copy of the same kind of model")
            value = guided_prediction(pred.value, pred_r.value.to(pred.value.dtype), self.scale, log_probs=False)
            return pred.replace(value=value)
        if not isinstance(pred, torch.Tensor):
            raise TypeError(f"RewardGuidance combines tensor predictions, got {type(pred).__name__}")
        # A tensor prediction is a discrete model's clean-token log-probabilities, whether its state is token ids
        # (masked diffusion) or a point on the simplex (a simplex flow): always renormalised over tokens.
        pred_r = self._predict(state, t).to(pred.dtype)
        return guided_prediction(pred, pred_r, self.scale, log_probs=True)

    def trace(self) -> dict[str, Any]:
        return {"reweighted_rows": self._rows, "reweighted_reused_rows": self._reused}

    def __repr__(self) -> str:
        return f"RewardGuidance({type(self.reweighted).__name__}, scale={self.scale})"


def reward_weights(rewards: np.ndarray | Any, *, lam: float = 1.0, kind: str = "exp") -> np.ndarray:
    """Importance weights of the reweighted data, normalised to mean 1.

    Args:
        rewards: ``(N,)`` rewards; NaN (invalid) gets weight 0.
        lam: Inverse temperature of ``w = exp(lam * r)`` (``kind="exp"``).
        kind: ``"exp"`` for ``exp(lam * r)`` (the tilt ``p(x) exp(lam r(x))``) or ``"linear"`` for ``w = r``
            itself (rewards must then be >= 0, e.g. a classifier probability ``p(c | x)``).

    Raises:
        ValueError: for an unknown kind, negative linear rewards, or no valid reward.
    """
    r = np.asarray(rewards, dtype=np.float64)
    valid = np.isfinite(r)
    if not valid.any():
        raise ValueError("reward_weights: no finite reward")
    if kind == "exp":
        w = np.where(valid, np.exp(lam * (np.where(valid, r, 0.0) - r[valid].max())), 0.0)
    elif kind == "linear":
        if (r[valid] < 0).any():
            raise ValueError(f"kind='linear' needs rewards >= 0, got a minimum of {r[valid].min():.4g}")
        w = np.where(valid, r, 0.0)
    else:
        raise ValueError(f"kind must be 'exp' or 'linear', got {kind!r}")
    if w.sum() <= 0:
        raise ValueError("reward_weights: every weight is zero")
    return w * (len(w) / w.sum())


def effective_sample_size(weights: np.ndarray | Any) -> float:
    """``(sum w)^2 / sum w^2``: how many data points reweighted data effectively keep."""
    w = np.asarray(weights, dtype=np.float64)
    return float(w.sum() ** 2 / (w**2).sum())


def lam_for_ess(rewards: np.ndarray | Any, fraction: float, *, tol: float = 1e-3) -> float:
    """The tilt ``lam`` of ``w = exp(lam * r)`` whose reweighted data keep ``fraction`` of the data as effective
    sample size (bisection; the ESS falls monotonically as lam grows). A tilt chosen in reward units alone can
    leave one or two data points (the reweighted predictor then memorises them); fixing the ESS avoids that.

    Raises:
        ValueError: if ``fraction`` is not in (0, 1] or the rewards have fewer than two distinct finite values.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    r = np.asarray(rewards, dtype=np.float64)
    finite = r[np.isfinite(r)]
    if np.unique(finite).size < 2:
        raise ValueError("lam_for_ess needs at least two distinct finite rewards")
    target = fraction * r.size
    if effective_sample_size(reward_weights(r, lam=0.0)) <= target:
        return 0.0
    lo, hi = 0.0, 1.0 / max(float(finite.std()), 1e-12)
    while effective_sample_size(reward_weights(r, lam=hi)) > target:
        hi *= 2.0
    while hi - lo > tol * hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if effective_sample_size(reward_weights(r, lam=mid)) > target else (lo, mid)
    return 0.5 * (lo + hi)


@dataclass
class ReweightedFit:
    """What :func:`fit_reweighted` returns.

    Attributes:
        model: The reweighted predictor (a fine-tuned copy of the base model), in eval mode.
        ess: Effective sample size of the weights, ``(sum w)^2 / sum w^2`` (how many data points the tilt keeps).
        steps: Optimiser steps run.
        seconds: Training wall time.
        checkpoint: The last checkpoint's path.
    """

    model: Any
    ess: float
    steps: int
    seconds: float
    checkpoint: Path


def fit_reweighted(
    model: Any,
    dataset: torch.utils.data.Dataset,
    weights: np.ndarray | Any,
    *,
    max_steps: int = 500,
    batch_size: int = 64,
    lr: float | None = None,
    out_dir: str | Path = "runs/reweighted",
    seed: int = 0,
    progress: bool = False,
    accelerator: str = "auto",
) -> ReweightedFit:
    """Train the reweighted predictor: a copy of ``model`` fine-tuned on ``dataset`` drawn with ``weights``.

    Batches are drawn with replacement with probability proportional to the weights (so the model's own
    training step, unchanged, minimises the reweighted objective). Nothing is sampled from the model: the
    reweighted predictor needs no diffusion trajectories (Jiao, Chen & Li 2025, Sec. 4).

    Args:
        model: The pretrained LightningModule (e.g. :class:`~seqguide.models.MaskedDiffusion`); it is copied.
        dataset: Training items in the form ``model.training_step`` takes (e.g. a ``TokenDataset``).
        weights: ``(N,)`` non-negative weights (see :func:`reward_weights`).
        max_steps: Optimiser steps.
        batch_size: Batch size.
        lr: Learning rate of the fine-tune (default: the model's own ``hparams.lr``).
        out_dir: Where Lightning writes the checkpoint.
        seed: Seed of the weighted draws and the training randomness.
        progress: Show Lightning's progress bar.
        accelerator: Lightning accelerator.

    Raises:
        ValueError: if the weights do not match the dataset or are not non-negative with a positive sum.
    """
    import lightning as L
    from torch.utils.data import DataLoader, WeightedRandomSampler

    from seqguide.training.step_trainer import step_trainer

    w = torch.as_tensor(np.asarray(weights, dtype=np.float64))
    if w.dim() != 1 or w.numel() != len(dataset):
        raise ValueError(f"weights must have one entry per dataset item ({len(dataset)}), got shape {tuple(w.shape)}")
    if not torch.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError("weights must be finite, non-negative and not all zero")
    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    L.seed_everything(seed, verbose=False)
    tilted = copy.deepcopy(model)
    if lr is not None and hasattr(tilted, "hparams") and "lr" in tilted.hparams:
        tilted.hparams.lr = lr
    sampler = WeightedRandomSampler(w, num_samples=len(dataset), replacement=True,
                                    generator=torch.Generator().manual_seed(seed))
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler)
    trainer, ckpt = step_trainer(out_dir, monitor="train/nll", has_val=False, max_steps=max_steps,
                                 val_check_interval=max_steps, progress=progress, accelerator=accelerator)
    start = time.perf_counter()
    trainer.fit(tilted, train_dataloaders=loader)
    seconds = time.perf_counter() - start
    ess = effective_sample_size(w.numpy())
    tilted.eval()
    return ReweightedFit(tilted, ess, int(trainer.global_step), seconds, Path(ckpt.last_model_path or ""))
