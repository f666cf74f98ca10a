"""Fitting SVDD-MC value models (Li et al. 2024, arXiv 2408.08252, §4): label unguided samples with the oracle,
regress the reward on noised states, report held-out regression metrics.

The split, the training run and the held-out predictions are the fit shared with the noisy classifier
(:func:`seqguide.guidance.noisy_states.fit_on_labels`); here are the value model's own parts: labels from the
oracle or given rewards, invalid designs dropped, reward standardisation, regression metrics. The model is in
:mod:`seqguide.guidance.value.model`, the metrics in :mod:`seqguide.guidance.value.regression`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqguide.guidance.noisy_states import check_fit_arguments, encode_clean, fit_on_labels, predict_dataset
from seqguide.guidance.value.model import NoisedRewardDataset, ValueModel
from seqguide.guidance.value.regression import regression_metrics
from seqguide.models.backbones import Backbone
from seqguide.models.devices import model_device

__all__ = ["ValueFitReport", "evaluate_value_model", "fit_value_model"]

log = logging.getLogger("seqguide.guidance.value.model")


@dataclass
class ValueFitReport:
    """What :func:`fit_value_model` did (also stored as ``ValueModel.fit_report``).

    Attributes:
        source: ``"sampled"`` (x_0 drawn from the pretrained model) or ``"given"`` (sequences passed in).
        n_labelled: Designs sent to the oracle (or given with rewards).
        n_invalid: Of those, invalid or non-finite rewards, dropped.
        n_train, n_val: Clean sequences in the training and validation splits.
        reward_mean, reward_std: Statistics of the kept rewards (oracle units).
        val_mse: Validation MSE of the best checkpoint on noisy states (oracle units), NaN without a split.
        val_r2: ``1 - val_mse / Var(r)`` (how much of the reward variance the noisy-state value explains).
        val_spearman: Spearman correlation of predictions with r(x_0) on the noisy validation states.
        oracle_calls: Oracle evaluations spent on labels.
        steps: Optimiser steps run.
        seconds: Wall time of sampling, labelling and training.
        checkpoint: Path of the best checkpoint when ``out_dir`` was given, else None.
    """

    source: str
    n_labelled: int
    n_invalid: int
    n_train: int
    n_val: int
    reward_mean: float
    reward_std: float
    val_mse: float
    val_r2: float
    val_spearman: float
    oracle_calls: int
    steps: int
    seconds: float
    checkpoint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (f"value model: {self.n_train} train / {self.n_val} val designs ({self.source}; {self.n_invalid} of "
                f"{self.n_labelled} invalid, dropped), {self.oracle_calls} oracle calls, {self.steps} steps, "
                f"val MSE {self.val_mse:.4g} (R2 {self.val_r2:.3f}), Spearman {self.val_spearman:.3f}, "
                f"{self.seconds:.1f}s")


def _scalarize(values: np.ndarray, weights: Sequence[float] | None, name: str) -> np.ndarray:
    if values.ndim == 2:
        if values.shape[1] == 1:
            return values[:, 0]
        if weights is None:
            raise ValueError(f"oracle {name!r} returns {values.shape[1]} objectives: pass weights=[...] to combine "
                             "them")
        return values @ np.asarray(weights, dtype=np.float64)
    return values


def _labelled_data(
    model: Any, oracle: Any, sequences: Sequence[str] | torch.Tensor | None, rewards: Any, *, n: int,
    sample_steps: int | None, sample_batch_size: int | None, weights: Sequence[float] | None, seed: int,
    progress: bool,
) -> tuple[torch.Tensor, np.ndarray, str, int]:
    """Clean tokens ``(N, L)`` and rewards ``(N,)`` (NaN where invalid), the source, and oracle calls spent."""
    if sequences is None:
        if rewards is not None:
            raise ValueError("rewards= was given without sequences=; pass the sequences they label")
        if oracle is None:
            raise ValueError("fit_value_model needs an oracle to label samples of the model, or sequences= and "
                             "rewards= (labels from elsewhere)")
        if n < 2:
            raise ValueError(f"n must be >= 2, got {n}")
        from seqguide.sampling.sampler import sample

        out = sample(model, n, steps=sample_steps or model.length, seed=seed, batch_size=sample_batch_size,
                     progress=progress)
        tokens = out.tokens.long()
        seqs = list(out.sequences)
        source = "sampled"
    else:
        tokens, given = encode_clean(model, sequences, name="sequences=")
        seqs = given if given is not None else model.alphabet.decode(tokens)
        source = "given"
    calls = 0
    if sequences is not None and rewards is not None:
        r = np.asarray(rewards, dtype=np.float64)
        if r.ndim == 2:
            r = _scalarize(r, weights, "rewards")
        if r.shape != (len(seqs),):
            raise ValueError(f"rewards must hold one value per sequence: got shape {r.shape} for {len(seqs)} "
                             "sequences")
    else:
        if oracle is None:
            raise ValueError("sequences= was given without rewards= and without an oracle to label them")
        result = oracle(seqs)
        calls = len(seqs)
        r = _scalarize(np.asarray(result.values, dtype=np.float64), weights, getattr(oracle, "name", "oracle"))
        r = np.where(np.asarray(result.valid, dtype=bool), r, np.nan)
    return tokens, r, source, calls


def fit_value_model(
    model: Any,
    oracle: Any = None,
    *,
    sequences: Sequence[str] | torch.Tensor | None = None,
    rewards: Sequence[float] | np.ndarray | None = None,
    n: int = 2000,
    sample_steps: int | None = None,
    max_steps: int = 2000,
    batch_size: int = 128,
    backbone: Backbone | None = None,
    seed: int = 0,
    out_dir: str | Path | None = None,
    progress: bool = True,
    val_fraction: float = 0.1,
    val_repeats: int = 4,
    val_check_interval: int = 200,
    pooling: str = "mean",
    loss: str = "mse",
    lr: float = 1e-3,
    weight_decay: float = 1e-2,
    weights: Sequence[float] | None = None,
    maximize: bool | None = None,
    sample_batch_size: int | None = None,
    accelerator: str = "auto",
) -> ValueModel:
    """Train a :class:`ValueModel` by SVDD-MC regression (Li et al. 2024, §4).

    Labels come from one of three sources: ``n`` unguided samples of ``model`` scored by ``oracle``
    (the SVDD-MC recipe); ``sequences`` scored by ``oracle``; or ``sequences`` with their ``rewards``
    (e.g. the labels of a design campaign). Invalid designs (invalid oracle result or non-finite reward)
    are dropped and counted. A seeded ``val_fraction`` of the clean sequences is held out; the best
    checkpoint by validation MSE is returned.

    Args:
        model: The pretrained generative model (its alphabet, length and noise schedule define the states).
        oracle: The oracle defining r; None when ``rewards`` are given.
        sequences: Designs to learn from instead of sampling (strings or ``(N, L)`` token ids).
        rewards: ``(N,)`` rewards of ``sequences`` in oracle units (NaN = invalid).
        n: Samples to draw from ``model`` when ``sequences`` is None.
        sample_steps: Reverse steps for those samples (default: the model length).
        max_steps: Optimiser steps.
        batch_size: Training batch size.
        backbone: Unbuilt backbone for the value network (default: a small dilated CNN, see :class:`ValueModel`).
        seed: Seed of sampling, the split, the weights, the noise and the data order (same seed, same model).
        out_dir: Directory for ``checkpoints/best.ckpt`` and ``last.ckpt``; None keeps them in a temporary
            directory that is removed afterwards.
        progress: Show progress bars (sampling and Lightning's).
        val_fraction: Fraction of sequences held out (0 disables validation; then the last weights are kept).
        val_repeats: Fixed corruptions per validation sequence.
        val_check_interval: Validate every this many steps.
        pooling: ``"mean"`` or ``"attention"`` (see :class:`ValueModel`).
        loss: ``"mse"`` or ``"huber"``.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        weights: Scalarisation weights for a multi-objective oracle (or 2-D ``rewards``).
        maximize: Whether larger rewards are better; default the oracle's ``maximize`` (True without one).
        sample_batch_size: Batch size of the label sampling run.
        accelerator: Lightning accelerator (``"auto"``, ``"cpu"``, ``"gpu"``).

    Returns:
        The trained :class:`ValueModel` in eval mode on the generative model's device, with ``fit_report``
        (:class:`ValueFitReport`).

    Raises:
        ValueError: when no labels can be formed (no oracle and no rewards, mismatched lengths, too few
            valid designs) or an argument is out of range.
    """
    check_fit_arguments(model, max_steps=max_steps, val_fraction=val_fraction, batch_size=batch_size)
    started = time.perf_counter()
    device = model_device(model)
    if maximize is None:
        maximize = bool(getattr(oracle, "maximize", True)) if oracle is not None else True
    tokens, r, source, calls = _labelled_data(model, oracle, sequences, rewards, n=n, sample_steps=sample_steps,
                                              sample_batch_size=sample_batch_size, weights=weights, seed=seed,
                                              progress=progress)
    ok = np.isfinite(r)
    n_invalid = int((~ok).sum())
    if ok.sum() < 2:
        raise ValueError(f"only {int(ok.sum())} of {len(r)} designs have a valid reward; need at least 2 to fit a "
                         "value model")
    if n_invalid:
        log.info("fit_value_model: dropped %d of %d designs with invalid rewards", n_invalid, len(r))
    keep = torch.from_numpy(np.flatnonzero(ok))
    tokens = tokens[keep].cpu()
    r_t = torch.from_numpy(r[ok])

    def build(train_idx: torch.Tensor) -> ValueModel:
        mean, std = _reward_stats(r_t[train_idx])
        return ValueModel(model.alphabet, model.length, backbone=backbone, schedule=model.schedule.name,
                          pooling=pooling, loss=loss, lr=lr, weight_decay=weight_decay, reward_mean=mean,
                          reward_std=std if std > 1e-12 else 1.0,  # constant rewards: nothing to standardise
                          maximize=bool(maximize), oracle_name=getattr(oracle, "name", None),
                          weights=None if weights is None else list(weights))

    fit = fit_on_labels(build, tokens, r_t, key="reward", device=device, monitor="val/mse", seed=seed,
                        val_fraction=val_fraction, val_repeats=val_repeats, out_dir=out_dir, max_steps=max_steps,
                        batch_size=batch_size, val_check_interval=val_check_interval, progress=progress,
                        accelerator=accelerator)
    metrics = fit.held_out(evaluate_value_model, ("mse", "r2", "spearman"))
    mean, std = _reward_stats(r_t[fit.train_idx])
    best = fit.model
    best.fit_report = ValueFitReport(
        source=source, n_labelled=len(r), n_invalid=n_invalid, n_train=int(fit.train_idx.numel()),
        n_val=int(fit.val_idx.numel()), reward_mean=mean, reward_std=std, val_mse=metrics["mse"],
        val_r2=metrics["r2"], val_spearman=metrics["spearman"], oracle_calls=calls, steps=fit.steps,
        seconds=time.perf_counter() - started, checkpoint=fit.checkpoint)
    log.info(best.fit_report.summary())
    return best


def _reward_stats(rewards: torch.Tensor) -> tuple[float, float]:
    """Mean and standard deviation of training rewards (the deviation is 0 for a single one)."""
    return float(rewards.mean()), float(rewards.std()) if rewards.numel() > 1 else 0.0


def evaluate_value_model(model: ValueModel, data: NoisedRewardDataset, batch_size: int = 1024) -> dict[str, float]:
    """MSE, R^2 and Spearman of ``model`` on a (fixed-noise) :class:`NoisedRewardDataset`."""
    pred, target = predict_dataset(model, data, batch_size)
    return regression_metrics(pred.numpy(), target.double().numpy())
