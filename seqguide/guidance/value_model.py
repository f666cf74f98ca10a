"""Learned value models for soft value-based decoding: SVDD-MC (Li et al. 2024, arXiv 2408.08252, §4).

SVDD steers a pretrained masked diffusion model with a *value* of noisy states, the expected terminal
reward reachable from them. The soft value (SVDD eq. 3) is

    v_t(x_t) = alpha * log E_{x_0 ~ p_pre(x_0 | x_t)} [ exp(r(x_0) / alpha) ],

which tends to the posterior mean ``E[r(x_0) | x_t]`` as alpha grows. SVDD-MC (Alg. 1 with the value
learned by Monte-Carlo regression, §4) estimates it without look-ahead calls to the denoiser:

1. draw ``x_0^(i) ~ p_pre`` from the pretrained model (unguided sampling) and label them ``r(x_0^(i))``
   with the oracle (invalid designs are dropped);
2. corrupt them with the model's forward process, ``x_t = q(x_t | x_0)`` at a fresh ``t ~ U(0, 1)``
   and fresh masks every epoch;
3. regress ``r(x_0)`` on ``(x_t, t)`` with a time-conditioned network (MSE, optionally Huber).

The MSE minimiser is ``E[r(x_0) | x_t, t]``, the alpha -> infinity limit of the soft value, i.e. the
quantity SVDD-MC's regression targets. At sampling time :class:`LearnedValue` scores candidate states
with the network (one batched call per step, no denoiser look-ahead) and uses the oracle's exact reward
for fully clean states when an oracle is given, so the last selection and ``Samples.scores`` use the
true reward (:mod:`seqguide.guidance.learned_value`). The network base, the noised dataset and the training
run are shared with the noisy classifier of discrete classifier guidance (:mod:`seqguide.guidance.noisy_states`);
a :class:`ValueModel` also serves that guidance as a regressor (``log_potential``).

Example:
    >>> from seqguide.guidance import SVDD, LearnedValue, fit_value_model
    >>> vm = fit_value_model(model, oracle, n=2000, max_steps=2000)            # doctest: +SKIP
    >>> out = sample(model, 64, steps=64, guidance=SVDD(LearnedValue(vm, oracle), particles=8))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F

from seqguide.alphabet import Alphabet
from seqguide.devices import model_device
from seqguide.guidance.learned_value import LearnedValue
from seqguide.guidance.noisy_states import (
    NoisedStateDataset,
    NoisyStateModel,
    batch_loader,
    fit_noisy_state_model,
    split_indices,
)
from seqguide.models.backbones import Backbone
from seqguide.models.schedules import NoiseSchedule

__all__ = [
    "LearnedValue",
    "NoisedRewardDataset",
    "ValueFitReport",
    "ValueModel",
    "evaluate_value_model",
    "fit_value_model",
    "regression_metrics",
]

log = logging.getLogger(__name__)

_LOSSES = ("mse", "huber")


class ValueModel(NoisyStateModel):
    """A time-conditioned network ``v(x_t, t) ~ E[r(x_0) | x_t]`` on noisy token states.

    The backbone maps ``(B, L)`` tokens and ``t`` to per-position outputs; these are pooled over the
    positions that are not visible padding (masked positions count: their content is unknown) into one
    scalar per state. The network works on standardised rewards ``(r - reward_mean) / reward_std``;
    :meth:`forward` returns values in the oracle's own units.

    Args:
        alphabet: The generative model's alphabet (preset name, token list, ``to_dict()`` dict or Alphabet).
        length: Sequence length L (the backbone's positional size).
        backbone: An unbuilt :class:`~seqguide.models.backbones.Backbone` (built here with time conditioning
            and ``out_dim=1``, or 2 for attention pooling) or its ``spec()`` dict. Default: a 4-block dilated
            CNN of width 48 (``ConvDenoiser(dim=48, depth=4, dropout=0.0)``).
        schedule: Noise schedule of the generative model (``"loglinear"`` or ``"cosine"``), used to corrupt
            training states exactly as the model's forward process does.
        pooling: ``"mean"`` over non-pad positions, or ``"attention"`` (softmax weights from a second
            output channel).
        loss: ``"mse"`` (its minimiser is the posterior mean) or ``"huber"`` (robust to outlier rewards).
        huber_delta: Huber threshold, in standardised reward units.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        warmup_steps: Linear warm-up steps, followed by cosine decay to 10% of ``lr``.
        reward_mean: Mean of the training rewards (oracle units), for standardisation.
        reward_std: Standard deviation of the training rewards (oracle units), > 0.
        maximize: Whether larger rewards are better (copied from the oracle); :class:`LearnedValue` negates
            values of a minimised oracle so that larger is always better during selection.
        oracle_name: Name of the oracle that labelled the data (informational).
        weights: Scalarisation weights used for a multi-objective oracle, if any.

    Raises:
        ValueError: for an unknown pooling/loss/schedule or a non-positive ``reward_std`` or ``length``.
    """

    file_format: ClassVar[str] = "seqguide.ValueModel/1"
    required_hparams: ClassVar[tuple[str, ...]] = ("reward_std", "pooling", "backbone")

    def __init__(
        self,
        alphabet: str | list[str] | dict[str, Any] | Alphabet = "dna",
        length: int = 32,
        backbone: Backbone | dict[str, Any] | None = None,
        schedule: str = "loglinear",
        pooling: str = "mean",
        loss: str = "mse",
        huber_delta: float = 1.0,
        lr: float = 1e-3,
        weight_decay: float = 1e-2,
        warmup_steps: int = 50,
        reward_mean: float = 0.0,
        reward_std: float = 1.0,
        maximize: bool = True,
        oracle_name: str | None = None,
        weights: list[float] | None = None,
    ) -> None:
        if loss not in _LOSSES:
            raise ValueError(f"loss must be one of {_LOSSES}, got {loss!r}")
        if not (math.isfinite(reward_std) and reward_std > 0):
            raise ValueError(f"reward_std must be finite and > 0, got {reward_std}")
        if not math.isfinite(reward_mean):
            raise ValueError(f"reward_mean must be finite, got {reward_mean}")
        if huber_delta <= 0:
            raise ValueError(f"huber_delta must be > 0, got {huber_delta}")
        super().__init__(alphabet, length, backbone, schedule, pooling, out_features=1)
        self.save_hyperparameters(ignore=["backbone", "alphabet"])
        self._plain_hparams()
        self.hparams["weights"] = None if weights is None else [float(w) for w in weights]
        self._val_outputs: list[tuple[torch.Tensor, torch.Tensor]] = []

    # ------------------------------------------------------------------ network
    def _standardized(self, tokens: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
        """Network output in standardised reward units: ``(B,)`` float32."""
        return self.pooled(tokens, t)[:, 0]

    def forward(self, tokens: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
        """Predicted value ``E[r(x_0) | x_t]`` in the oracle's units.

        Args:
            tokens: ``(B, L)`` int64 noisy states (mask and pad ids allowed).
            t: Their time: a float or ``(B,)`` floats in [0, 1].

        Returns:
            ``(B,)`` float32 values.
        """
        return self._standardized(tokens, t) * self.hparams.reward_std + self.hparams.reward_mean

    @torch.no_grad()
    def predict(self, tokens: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
        """:meth:`forward` in eval mode without gradients, on the model's device: ``(B,)`` float32."""
        return self._eval_call(self, tokens.to(self.device), t)

    def log_potential(self, tokens: torch.Tensor, t: torch.Tensor | float, target: int | None = None) -> torch.Tensor:
        """The value as a guidance log-potential, larger-is-better (a minimised objective is negated): ``(B,)``.

        Used by :class:`~seqguide.guidance.DiscreteClassifierGuidance` as ``log p(y | x_t)`` of a regressor
        (the tilt ``exp(scale * v(x_t))``); ``tokens`` may be soft one-hots (differentiable).

        Raises:
            ValueError: if a class ``target`` is given (a regressor has no classes).
        """
        if target is not None:
            raise ValueError(f"a ValueModel is a regressor: it has no class target (got target={target})")
        sign = 1.0 if self.hparams.maximize else -1.0
        return sign * self(tokens, t)

    # ------------------------------------------------------------------ training
    def _loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.hparams.loss == "huber":
            return F.huber_loss(pred, target, delta=self.hparams.huber_delta)
        return F.mse_loss(pred, target)

    def _common_step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        x_t, t, r = batch["x_t"], batch["t"], batch["reward"].float()
        pred = self._standardized(x_t, t)
        target = (r - self.hparams.reward_mean) / self.hparams.reward_std
        loss = self._loss(pred, target)
        self.log(f"{stage}/loss", loss, prog_bar=stage == "train", batch_size=x_t.shape[0])
        if stage == "val":
            self._val_outputs.append((pred.detach() * self.hparams.reward_std + self.hparams.reward_mean,
                                      r.detach()))
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val_outputs = []

    def on_validation_epoch_end(self) -> None:
        if not self._val_outputs:
            return
        pred = torch.cat([p for p, _ in self._val_outputs]).double().cpu()
        target = torch.cat([r for _, r in self._val_outputs]).double().cpu()
        metrics = regression_metrics(pred.numpy(), target.numpy())
        self.log("val/mse", metrics["mse"], prog_bar=True)
        self.log("val/r2", metrics["r2"])
        self.log("val/spearman", metrics["spearman"], prog_bar=True)
        self._val_outputs = []

# ---------------------------------------------------------------------------------- data
class NoisedRewardDataset(NoisedStateDataset):
    """Pairs ``(x_t, t) -> r(x_0)`` whose noise is drawn when an item is read (SVDD-MC regression data): a
    :class:`~seqguide.guidance.noisy_states.NoisedStateDataset` with the target ``"reward"``.

    Args:
        tokens: ``(N, L)`` int64 clean sequences x_0.
        rewards: ``(N,)`` finite rewards r(x_0) in oracle units.
        schedule: The generative model's noise schedule.
        mask_id: The mask token id.
        seed: Seed of the noise.
        fixed: Draw the noise once (validation).
        repeats: Corruptions per sequence when ``fixed`` (the dataset has ``N * repeats`` items).
    """

    def __init__(self, tokens: torch.Tensor, rewards: torch.Tensor, schedule: NoiseSchedule, mask_id: int, *,
                 seed: int = 0, fixed: bool = False, repeats: int = 1) -> None:
        if not torch.isfinite(torch.as_tensor(rewards)).all():
            raise ValueError("rewards must be finite (drop invalid designs first)")
        super().__init__(tokens, torch.as_tensor(rewards).double(), schedule, mask_id, key="reward", seed=seed,
                         fixed=fixed, repeats=repeats)

    @property
    def rewards(self) -> torch.Tensor:
        return self.targets


# ---------------------------------------------------------------------------------- fitting
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


def regression_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """MSE, R^2 (against the target variance) and Spearman rank correlation of two ``(N,)`` arrays."""
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    mse = float(np.mean((pred - target) ** 2)) if pred.size else float("nan")
    var = float(np.var(target)) if target.size else float("nan")
    r2 = 1.0 - mse / var if var > 0 else float("nan")
    return {"mse": mse, "r2": r2, "spearman": _spearman(pred, target)}


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


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
    alphabet: Alphabet = model.alphabet
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
        if isinstance(sequences, torch.Tensor):
            tokens = sequences.long().cpu()
            if tokens.dim() != 2 or tokens.shape[1] != model.length:
                raise ValueError(f"sequences tensor must be (N, {model.length}) token ids, got {tuple(tokens.shape)}")
            seqs = alphabet.decode(tokens)
        else:
            seqs = list(sequences)
            if not seqs:
                raise ValueError("sequences= is empty")
            tokens = alphabet.encode(seqs, length=model.length)
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
    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    for attr in ("alphabet", "length", "schedule"):
        if not hasattr(model, attr):
            raise TypeError(f"model must be a masked diffusion process with .{attr} (e.g. MaskedDiffusion), got "
                            f"{type(model).__name__}")
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
    N = tokens.shape[0]
    train_idx, val_idx = split_indices(N, val_fraction, seed)
    n_val = int(val_idx.numel())
    r_train = r_t[train_idx]
    mean = float(r_train.mean())
    std = float(r_train.std()) if train_idx.numel() > 1 else 0.0
    if not std > 1e-12:
        std = 1.0  # constant rewards: nothing to standardise
    L.seed_everything(seed, verbose=False)
    vm = ValueModel(model.alphabet, model.length, backbone=backbone, schedule=model.schedule.name, pooling=pooling,
                    loss=loss, lr=lr, weight_decay=weight_decay, reward_mean=mean, reward_std=std,
                    maximize=bool(maximize), oracle_name=getattr(oracle, "name", None),
                    weights=None if weights is None else list(weights))
    train_ds = NoisedRewardDataset(tokens[train_idx], r_train, vm.schedule, vm.mask_id, seed=seed)
    val_ds = NoisedRewardDataset(tokens[val_idx], r_t[val_idx], vm.schedule, vm.mask_id, seed=seed + 1, fixed=True,
                                 repeats=val_repeats) if n_val else None
    best, steps, checkpoint = fit_noisy_state_model(
        vm, train_ds, val_ds, monitor="val/mse", out_dir=out_dir, max_steps=max_steps, batch_size=batch_size,
        val_check_interval=val_check_interval, progress=progress, accelerator=accelerator, seed=seed)
    best = best.to(device).eval()
    metrics = {"mse": float("nan"), "r2": float("nan"), "spearman": float("nan")}
    if val_ds is not None:
        metrics = evaluate_value_model(best, val_ds)
    best.fit_report = ValueFitReport(
        source=source, n_labelled=len(r), n_invalid=n_invalid, n_train=int(train_idx.numel()), n_val=n_val,
        reward_mean=mean, reward_std=float(r_train.std()) if train_idx.numel() > 1 else 0.0,
        val_mse=metrics["mse"], val_r2=metrics["r2"], val_spearman=metrics["spearman"], oracle_calls=calls,
        steps=steps, seconds=time.perf_counter() - started, checkpoint=checkpoint)
    log.info(best.fit_report.summary())
    return best


def evaluate_value_model(model: ValueModel, data: NoisedRewardDataset, batch_size: int = 1024) -> dict[str, float]:
    """MSE, R^2 and Spearman of ``model`` on a (fixed-noise) :class:`NoisedRewardDataset`."""
    preds, targets = [], []
    for batch in batch_loader(data, batch_size, shuffle=False, seed=0):
        preds.append(model.predict(batch["x_t"], batch["t"].to(model.device)).double().cpu())
        targets.append(batch["reward"].double())
    return regression_metrics(torch.cat(preds).numpy(), torch.cat(targets).numpy())
