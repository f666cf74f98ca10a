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
true reward.

Example:
    >>> from seqguide.guidance import SVDD, LearnedValue, fit_value_model
    >>> vm = fit_value_model(model, oracle, n=2000, max_steps=2000)            # doctest: +SKIP
    >>> out = sample(model, 64, steps=64, guidance=SVDD(LearnedValue(vm, oracle), particles=8))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import math
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from seqguide.alphabet import Alphabet, get_alphabet
from seqguide.devices import model_device
from seqguide.guidance.value import ValueFunction
from seqguide.models.backbones import Backbone, ConvDenoiser, resolve_backbone
from seqguide.models.schedules import NoiseSchedule, get_schedule
from seqguide.sampling.rows import unique_rows
from seqguide.step_trainer import step_trainer

if TYPE_CHECKING:
    from seqguide.sampling.context import SamplingContext

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

_POOLINGS = ("mean", "attention")
_LOSSES = ("mse", "huber")
_FORMAT = "seqguide.ValueModel/1"


def _default_backbone() -> Backbone:
    # A dilated CNN: in benchmarks/value_guidance.py it fit the JASPAR value (a convolution-like score) far better
    # than a transformer of similar cost (held-out R2 0.28 vs 0.08) and QED slightly better (0.095 vs 0.052), at
    # 2-3x less CPU time per step.
    return ConvDenoiser(dim=48, depth=4, kernel_size=5, dropout=0.0)


class ValueModel(L.LightningModule):
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
        super().__init__()
        if length < 1:
            raise ValueError(f"length must be >= 1, got {length}")
        if pooling not in _POOLINGS:
            raise ValueError(f"pooling must be one of {_POOLINGS}, got {pooling!r}")
        if loss not in _LOSSES:
            raise ValueError(f"loss must be one of {_LOSSES}, got {loss!r}")
        if not (math.isfinite(reward_std) and reward_std > 0):
            raise ValueError(f"reward_std must be finite and > 0, got {reward_std}")
        if not math.isfinite(reward_mean):
            raise ValueError(f"reward_mean must be finite, got {reward_mean}")
        if huber_delta <= 0:
            raise ValueError(f"huber_delta must be > 0, got {huber_delta}")
        self.alphabet = get_alphabet(alphabet)
        backbone = resolve_backbone(backbone, _default_backbone)
        backbone.build(vocab_size=self.alphabet.vocab_size, length=length, num_classes=0, time_conditioning=True,
                       out_dim=1 if pooling == "mean" else 2)
        self.backbone = backbone
        self.schedule: NoiseSchedule = get_schedule(schedule)
        self.length = length
        self.mask_id = self.alphabet.mask_id
        self.pad_id = self.alphabet.pad_id
        self.save_hyperparameters(ignore=["backbone", "alphabet"])
        # Plain data only, so checkpoints load with torch.load(weights_only=True).
        self.hparams["alphabet"] = self.alphabet.to_dict()
        self.hparams["backbone"] = backbone.spec()
        self.hparams["weights"] = None if weights is None else [float(w) for w in weights]
        self._val_outputs: list[tuple[torch.Tensor, torch.Tensor]] = []

    # ------------------------------------------------------------------ network
    def _standardized(self, tokens: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
        """Network output in standardised reward units: ``(B,)`` float32."""
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be (B, L) token ids, got shape {tuple(tokens.shape)}")
        B = tokens.shape[0]
        t_in = torch.as_tensor(t, dtype=torch.float32, device=tokens.device).expand(B)
        out = self.backbone(tokens, t_in).float()  # (B, L, 1 or 2)
        keep = tokens != self.pad_id  # visible padding carries no content; masked positions do count
        keep = keep | ~keep.any(dim=1, keepdim=True)  # an all-pad row pools over every position
        if self.hparams.pooling == "mean":
            w = keep.float() / keep.sum(dim=1, keepdim=True)
        else:
            w = out[..., 1].masked_fill(~keep, float("-inf")).softmax(dim=1)
        return (out[..., 0] * w).sum(dim=1)

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
        was_training = self.training
        self.eval()
        try:
            return self(tokens.to(self.device), t)
        finally:
            self.train(was_training)

    def noise(self, x0: torch.Tensor, t: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The forward process of the generative model: mask each token of ``x0 (B, L)`` with probability
        ``1 - alpha(t)`` for ``t (B,)`` (the same kernel as ``MaskedDiffusion.q_xt``)."""
        move = 1.0 - self.schedule.alpha(t.to(torch.float64))[:, None]
        u = torch.rand(x0.shape, device=x0.device, generator=generator, dtype=torch.float64)
        return torch.where(u < move, torch.full_like(x0, self.mask_id), x0)

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

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._common_step(batch, "train")

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._common_step(batch, "val")

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

    def configure_optimizers(self) -> dict[str, Any]:
        opt = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        warm = max(1, int(self.hparams.warmup_steps))
        total = int(self.trainer.max_steps) if self.trainer.max_steps and self.trainer.max_steps > 0 else \
            int(self.trainer.estimated_stepping_batches)
        total = max(total, warm + 1)

        def factor(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            progress = min(1.0, (step - warm) / (total - warm))
            return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    # ------------------------------------------------------------------ checkpoints
    def save(self, path: str | Path) -> Path:
        """Write weights and plain-data hyperparameters to ``path`` (loadable with ``weights_only=True``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"format": _FORMAT, "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()},
                    "hyper_parameters": dict(self.hparams)}, path)
        return path

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> ValueModel:
        """Load a file written by :meth:`save` or a Lightning checkpoint, with ``torch.load(weights_only=True)``.

        Raises:
            FileNotFoundError: if ``path`` does not exist.
            ValueError: if the file is not a seqguide value-model checkpoint.
        """
        from seqguide.models.checkpoints import load_checkpoint

        ckpt = load_checkpoint(path, map_location=map_location, what="value-model checkpoint")
        if "state_dict" not in ckpt or "hyper_parameters" not in ckpt:
            raise ValueError(f"{path}: not a checkpoint (missing state_dict/hyper_parameters)")
        hp = dict(ckpt["hyper_parameters"])
        hp.pop("_instantiator", None)
        if "reward_std" not in hp or "pooling" not in hp or "backbone" not in hp:
            raise ValueError(f"{path}: not a seqguide ValueModel checkpoint (hyperparameters {sorted(hp)})")
        model = cls(**hp)
        model.load_state_dict(ckpt["state_dict"])
        return model.to(map_location).eval()


# ---------------------------------------------------------------------------------- data
class NoisedRewardDataset(Dataset):
    """Pairs ``(x_t, t) -> r(x_0)`` whose noise is drawn when an item is read (SVDD-MC regression data).

    Every read draws a fresh ``t ~ U(0, 1)`` and fresh masks from the dataset's own generator, so each
    epoch sees new corruptions of the same clean sequences; the stream is reproducible from ``seed`` and the
    (seeded) order of reads. With ``fixed=True`` the noise is drawn once at construction (``repeats``
    corruptions per sequence), for a validation set whose loss is comparable between evaluations.

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
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be (N, L), got shape {tuple(tokens.shape)}")
        if rewards.shape != (tokens.shape[0],):
            raise ValueError(f"rewards must be ({tokens.shape[0]},), got shape {tuple(rewards.shape)}")
        if not torch.isfinite(rewards).all():
            raise ValueError("rewards must be finite (drop invalid designs first)")
        if repeats < 1:
            raise ValueError(f"repeats must be >= 1, got {repeats}")
        self.tokens = tokens.long().cpu()
        self.rewards = rewards.double().cpu()
        self.schedule = schedule
        self.mask_id = mask_id
        self.generator = torch.Generator().manual_seed(seed)
        self.fixed = fixed
        self._fixed: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        if fixed:
            x0 = self.tokens.repeat(repeats, 1)
            t = torch.rand(x0.shape[0], generator=self.generator, dtype=torch.float64)
            self._fixed = (self._corrupt(x0, t), t.float(), self.rewards.repeat(repeats))

    def _corrupt(self, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        move = 1.0 - self.schedule.alpha(t)[:, None]
        u = torch.rand(x0.shape, generator=self.generator, dtype=torch.float64)
        return torch.where(u < move, torch.full_like(x0, self.mask_id), x0)

    def __len__(self) -> int:
        return self._fixed[0].shape[0] if self._fixed is not None else self.tokens.shape[0]

    def __getitem__(self, index: int | Sequence[int] | torch.Tensor) -> dict[str, torch.Tensor]:
        """One item (``x_t (L,)``, ``t ()``, ``reward ()``) for an int index, or a batch (``(B, L)``, ``(B,)``,
        ``(B,)``) for a list of indices, noised in one vectorised draw (use with a ``BatchSampler``)."""
        single = isinstance(index, (int, np.integer)) or (isinstance(index, torch.Tensor) and index.dim() == 0)
        idx = torch.as_tensor(index, dtype=torch.long).reshape(-1)
        if self._fixed is not None:
            x_t, t, r = (part[idx] for part in self._fixed)
        else:
            t = torch.rand(idx.shape[0], generator=self.generator, dtype=torch.float64)
            x_t, r = self._corrupt(self.tokens[idx], t), self.rewards[idx]
            t = t.float()
        if single:
            return {"x_t": x_t[0], "t": t[0], "reward": r[0]}
        return {"x_t": x_t, "t": t, "reward": r}


def _batch_loader(data: NoisedRewardDataset, batch_size: int, *, shuffle: bool, seed: int) -> DataLoader:
    """Batches read from ``data`` with one vectorised ``__getitem__`` call each."""
    order = RandomSampler(data, generator=torch.Generator().manual_seed(seed)) if shuffle else SequentialSampler(data)
    return DataLoader(data, batch_size=None, sampler=BatchSampler(order, batch_size=batch_size, drop_last=False))


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


@contextlib.contextmanager
def _quiet_lightning(enabled: bool) -> Iterator[None]:
    """Silence Lightning's informational messages (accelerator summary, tips) while ``enabled``."""
    names = ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.accelerators.cuda", "lightning.fabric")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    if enabled:
        for lg in loggers:
            lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


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
    n_val = 0 if val_fraction == 0 or N < 10 else max(1, round(val_fraction * N))
    perm = torch.randperm(N, generator=torch.Generator().manual_seed(seed))
    val_idx, train_idx = perm[:n_val], perm[n_val:]
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
    loader = _batch_loader(train_ds, min(batch_size, len(train_ds)), shuffle=True, seed=seed)
    val_loader = _batch_loader(val_ds, max(batch_size, 256), shuffle=False, seed=seed) if val_ds is not None else None

    tmp = None
    if out_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="seqguide-value-")
        root = Path(tmp.name)
    else:
        root = Path(out_dir)
    try:
        with _quiet_lightning(not progress):
            trainer, ckpt_cb = step_trainer(root, monitor="val/mse", has_val=val_ds is not None, max_steps=max_steps,
                                            val_check_interval=val_check_interval, progress=progress,
                                            accelerator=accelerator, num_sanity_val_steps=0)
        with warnings.catch_warnings(), _quiet_lightning(not progress):
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=".*GPU available but not used.*")
            warnings.filterwarnings("ignore", message=".*validation_step.*but have no .val_dataloader.*")
            trainer.fit(vm, train_dataloaders=loader, val_dataloaders=val_loader)
        best_path = Path(ckpt_cb.best_model_path) if ckpt_cb.best_model_path else None
        best = ValueModel.load(best_path) if best_path is not None and best_path.is_file() else vm.cpu().eval()
        steps = int(trainer.global_step)
        checkpoint = str(best_path) if (best_path is not None and tmp is None) else None
    finally:
        if tmp is not None:
            tmp.cleanup()
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
    for batch in _batch_loader(data, batch_size, shuffle=False, seed=0):
        preds.append(model.predict(batch["x_t"], batch["t"].to(model.device)).double().cpu())
        targets.append(batch["reward"].double())
    return regression_metrics(torch.cat(preds).numpy(), torch.cat(targets).numpy())


# ---------------------------------------------------------------------------------- value function
class LearnedValue(ValueFunction):
    """SVDD-MC value: a trained :class:`ValueModel` on noisy states, the oracle's reward on clean ones.

    For each batch of states, rows with no masked position are scored by the oracle (when one is given:
    then SVDD's last selection, SMC's final weights and ``Samples.scores`` use the true reward), every
    other row by the network in one batched call (identical rows evaluated once), at the states' time
    ``s`` and on the states' device. Values are larger-is-better: a minimised oracle is negated.

    Variable-length designs (and short runs) can be complete before the last step; with
    ``oracle_on="clean"`` such a row is sent to the oracle at every remaining step, with
    ``oracle_on="last_step"`` the network scores it until the last step, so the oracle cost of an SVDD run
    is at most the M candidates of its final selection.

    The network's cost is counted in ``ctx.counters.extra["value_model_rows"]`` (distinct rows evaluated)
    and ``["value_model_calls"]`` (batched calls); ``rows_evaluated`` and ``calls`` hold the same totals
    over the object's lifetime (``reset_counts()`` clears them).

    Args:
        model: A trained :class:`ValueModel` or the path of its checkpoint.
        oracle: The oracle for clean rows; None scores every row with the network.
        weights: Scalarisation weights for a multi-objective oracle (default: the ones it was trained with).
        batch_size: Rows per network call (bounds memory).
        oracle_on: ``"clean"`` (every fully clean row) or ``"last_step"`` (only rows of the run's last step).

    Raises:
        ValueError: if the oracle's ``maximize`` disagrees with the one the model was trained for, or for an
            unknown ``oracle_on``.
    """

    def __init__(self, model: ValueModel | str | Path, oracle: Any = None, *, weights: Sequence[float] | None = None,
                 batch_size: int = 8192, oracle_on: str = "clean") -> None:
        if isinstance(model, (str, Path)):
            model = ValueModel.load(model)
        if not isinstance(model, ValueModel):
            raise TypeError(f"model must be a ValueModel or a checkpoint path, got {type(model).__name__}")
        if oracle is not None and not callable(oracle):
            raise TypeError(f"oracle must be callable (an Oracle), got {type(oracle).__name__}")
        if oracle is not None and bool(getattr(oracle, "maximize", True)) != bool(model.hparams.maximize):
            raise ValueError(f"oracle {getattr(oracle, 'name', oracle)!r} has maximize={oracle.maximize} but the value "
                             f"model was trained with maximize={model.hparams.maximize}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if oracle_on not in ("clean", "last_step"):
            raise ValueError(f"oracle_on must be 'clean' or 'last_step', got {oracle_on!r}")
        self.oracle_on = oracle_on
        self.model = model.eval()
        self.oracle = oracle
        self.weights = list(weights) if weights is not None else model.hparams.weights
        self.batch_size = batch_size
        self.rows_evaluated = 0
        self.calls = 0

    @property
    def sign(self) -> float:
        if self.oracle is not None:
            return 1.0 if getattr(self.oracle, "maximize", True) else -1.0
        return 1.0 if self.model.hparams.maximize else -1.0

    def reset_counts(self) -> None:
        """Zero ``rows_evaluated`` and ``calls``."""
        self.rows_evaluated = 0
        self.calls = 0

    def network_value(self, states: torch.Tensor, s: float | torch.Tensor) -> torch.Tensor:
        """The network's value of ``states (N, L)`` at time ``s``, larger-is-better: ``(N,)`` float64."""
        if self.model.device != states.device:
            self.model.to(states.device)
        out = [self.model.predict(states[i : i + self.batch_size], s) for i in range(0, states.shape[0],
                                                                                        self.batch_size)]
        self.calls += len(out)
        self.rows_evaluated += states.shape[0]
        return self.sign * torch.cat(out).double()

    def __call__(
        self, states: torch.Tensor, s: float, ctx: SamplingContext, rows: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Values of ``states (N, L)`` at time ``s``: ``(N,)`` float64 (``-inf`` for invalid clean designs)."""
        model = ctx.model
        alphabet = getattr(model, "alphabet", None)
        if alphabet is not None and alphabet != self.model.alphabet:
            raise ValueError(f"the value model was trained for alphabet {self.model.alphabet!r}, but the sampled "
                             f"model uses {alphabet!r}")
        N = states.shape[0]
        if hasattr(model, "is_clean"):
            clean = model.is_clean(states)
        else:
            clean = (states != self.model.mask_id).all(dim=-1)
        use_oracle = self.oracle is not None and (self.oracle_on == "clean" or ctx.is_last_step)
        exact = clean if use_oracle else torch.zeros_like(clean)
        values = torch.empty(N, dtype=torch.float64, device=states.device)
        if exact.any():
            values[exact] = self.reward(states[exact], ctx)
        net = ~exact
        if net.any():
            x = states[net]
            inverse, first = unique_rows(x)
            before = self.calls
            v = self.network_value(x[first], s)
            values[net] = v[inverse]
            extra = ctx.counters.extra
            extra["value_model_rows"] = extra.get("value_model_rows", 0) + int(first.numel())
            extra["value_model_calls"] = extra.get("value_model_calls", 0) + (self.calls - before)
        return values

    def __repr__(self) -> str:
        name = getattr(self.oracle, "name", None) or self.model.hparams.oracle_name
        return f"LearnedValue({name!r})" if name else "LearnedValue()"
