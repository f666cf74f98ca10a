"""Networks on *noisy* masked-diffusion states and their training: shared by the learned value model (SVDD-MC,
:mod:`seqguide.guidance.value.model`) and the noisy-input classifier of discrete classifier guidance
(:mod:`seqguide.guidance.discrete.noisy_classifier`).

Both learn a function of the corrupted state ``x_t`` of a masked diffusion model: clean labelled sequences
``x_0`` are masked with the model's own forward process (each token masked with probability ``1 - alpha(t)``,
``t ~ U(0, 1)`` fresh at every read) and a time-conditioned backbone is fit to the label of ``x_0``. Its minimiser
is the posterior ``E[y | x_t]`` (regression) or ``p(y | x_t)`` (classification): what guidance needs at
intermediate steps (Li et al. 2024, arXiv 2408.08252, §4; Nisonoff et al. 2024, arXiv 2406.01572, §4).

- :class:`NoisyStateModel`: the LightningModule base (backbone built with time conditioning, pooling over the
  positions that are not visible padding, the forward-process corruption, eval-mode prediction, the collection of
  validation outputs, the optimiser, weights-only checkpoints). The backbone takes token ids ``(B, L)`` or soft
  one-hots ``(B, L, V)`` (for gradients).
- :class:`NoisedStateDataset`: ``(x_t, t) -> target`` items whose noise is drawn when they are read.
- :func:`split_indices`, :func:`batch_loader` and :func:`fit_noisy_state_model`: the seeded split and the one
  training run (:func:`seqguide.training.step_trainer.step_trainer`: best and last checkpoints, best reloaded).
- :func:`check_fit_arguments`, :func:`encode_clean`, :func:`fit_on_labels` (returning a :class:`NoisyStateFit`)
  and :func:`predict_dataset`: the one fit of both, from labelled clean sequences to the best network and its
  held-out predictions; each caller keeps only its targets, its network and its metrics.
"""

from __future__ import annotations

import contextlib
import logging
import math
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import lightning as L
import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from seqguide.alphabet import Alphabet, get_alphabet
from seqguide.models.backbones import Backbone, resolve_backbone
from seqguide.models.schedules import NoiseSchedule, get_schedule
from seqguide.training.step_trainer import step_trainer

__all__ = ["NoisedStateDataset", "NoisyStateFit", "NoisyStateModel", "batch_loader", "check_fit_arguments",
           "encode_clean", "fit_noisy_state_model", "fit_on_labels", "predict_dataset", "quiet_lightning",
           "split_indices"]

POOLINGS = ("mean", "attention")


class NoisyStateModel(L.LightningModule):
    """Base of time-conditioned networks on noisy masked states: ``(x_t, t) -> (B, out_features)``.

    The backbone maps tokens and ``t`` to per-position outputs, pooled over the positions that are not visible
    padding (masked positions count: their content is unknown) by their mean, or by softmax weights from one
    extra output channel (``pooling="attention"``). Subclasses call ``save_hyperparameters``, define ``forward``
    and the loss (``_common_step``, which appends ``(prediction, target)`` of validation batches to
    ``_val_outputs``), and log validation metrics over a whole validation run in ``_log_validation``.

    Args:
        alphabet: The generative model's alphabet.
        length: Sequence length L.
        backbone: An unbuilt backbone (or its ``spec()``); ``default_backbone()`` if None.
        schedule: The generative model's noise schedule (corrupts training states like its forward process).
        pooling: ``"mean"`` or ``"attention"``.
        out_features: Outputs per state after pooling.
    """

    #: Written into :meth:`save` files; :meth:`load` checks it.
    file_format: ClassVar[str] = "seqguide.NoisyStateModel/1"
    #: Hyperparameters a checkpoint of the subclass must have (checked by :meth:`load`).
    required_hparams: ClassVar[tuple[str, ...]] = ("backbone", "pooling")

    def __init__(self, alphabet: str | list[str] | dict[str, Any] | Alphabet, length: int,
                 backbone: Backbone | dict[str, Any] | None, schedule: str, pooling: str, out_features: int) -> None:
        super().__init__()
        if length < 1:
            raise ValueError(f"length must be >= 1, got {length}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.alphabet = get_alphabet(alphabet)
        backbone = resolve_backbone(backbone, self.default_backbone)
        backbone.build(vocab_size=self.alphabet.vocab_size, length=length, num_classes=0, time_conditioning=True,
                       out_dim=out_features + (pooling == "attention"))
        self.backbone = backbone
        self.schedule: NoiseSchedule = get_schedule(schedule)
        self.length = length
        self.pooling = pooling
        self.out_features = out_features
        self.mask_id = self.alphabet.mask_id
        self.pad_id = self.alphabet.pad_id
        self._val_outputs: list[tuple[torch.Tensor, torch.Tensor]] = []

    @staticmethod
    def default_backbone() -> Backbone:
        # A dilated CNN: in benchmarks/value_guidance.py it fit the JASPAR value (a convolution-like score) far better
        # than a transformer of similar cost (held-out R2 0.28 vs 0.08) and QED slightly better (0.095 vs 0.052), at
        # 2-3x less CPU time per step.
        from seqguide.models.backbones import ConvDenoiser

        return ConvDenoiser(dim=48, depth=4, kernel_size=5, dropout=0.0)

    def _plain_hparams(self) -> None:
        """Plain data only in the hyperparameters, so checkpoints load with ``torch.load(weights_only=True)``."""
        self.hparams["alphabet"] = self.alphabet.to_dict()
        self.hparams["backbone"] = self.backbone.spec()

    # ------------------------------------------------------------------ network
    def pooled(self, tokens: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
        """Pooled network output ``(B, out_features)`` float32.

        Args:
            tokens: ``(B, L)`` int64 noisy states (mask and pad ids allowed) or ``(B, L, vocab_size)`` soft one-hots.
            t: Their time: a float or ``(B,)``.
        """
        soft = tokens.is_floating_point()
        if tokens.dim() != (3 if soft else 2):
            raise ValueError(f"tokens must be (B, L) ids or (B, L, V) one-hots, got shape {tuple(tokens.shape)}")
        B = tokens.shape[0]
        t_in = torch.as_tensor(t, dtype=torch.float32, device=tokens.device).expand(B)
        out = self.backbone(tokens, t_in).float()  # (B, L, out_features [+ 1])
        keep = (1.0 - tokens[..., self.pad_id].float()) if soft else (tokens != self.pad_id).float()
        empty = keep.sum(dim=1, keepdim=True) <= 0
        keep = torch.where(empty, torch.ones_like(keep), keep)  # an all-pad row pools over every position
        if self.pooling == "mean":
            w = keep / keep.sum(dim=1, keepdim=True)
        else:
            w = out[..., -1].masked_fill(keep <= 0, float("-inf")).softmax(dim=1)
        return (out[..., : self.out_features] * w[..., None]).sum(dim=1)

    def noise(self, x0: torch.Tensor, t: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The forward process of the generative model: mask each token of ``x0 (B, L)`` with probability
        ``1 - alpha(t)`` for ``t (B,)`` (the same kernel as ``MaskedDiffusion.q_xt``)."""
        move = 1.0 - self.schedule.alpha(t.to(torch.float64))[:, None]
        u = torch.rand(x0.shape, device=x0.device, generator=generator, dtype=torch.float64)
        return torch.where(u < move, torch.full_like(x0, self.mask_id), x0)

    def _eval_call(self, fn: Any, *args: Any) -> Any:
        was_training = self.training
        self.eval()
        try:
            return fn(*args)
        finally:
            self.train(was_training)

    @torch.no_grad()
    def predict(self, tokens: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
        """:meth:`forward` in eval mode without gradients, on the model's device (a value model's ``(B,)`` values, a
        classifier's ``(B, C)`` log-probabilities)."""
        return self._eval_call(self, tokens.to(self.device), t)

    # ------------------------------------------------------------------ training
    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._common_step(batch, "train")

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._common_step(batch, "val")

    def _common_step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        raise NotImplementedError

    def on_validation_epoch_start(self) -> None:
        self._val_outputs = []

    def on_validation_epoch_end(self) -> None:
        if not self._val_outputs:
            return
        pred = torch.cat([p for p, _ in self._val_outputs])
        target = torch.cat([y for _, y in self._val_outputs])
        self._log_validation(pred, target)
        self._val_outputs = []

    def _log_validation(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """Log the metrics of one validation run from its predictions and targets (all batches, in order)."""
        raise NotImplementedError

    def configure_optimizers(self) -> dict[str, Any]:
        """AdamW; linear warm-up over ``warmup_steps``, then cosine decay to 10% of ``lr``."""
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
        torch.save({"format": self.file_format,
                    "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()},
                    "hyper_parameters": dict(self.hparams)}, path)
        return path

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> NoisyStateModel:
        """Load a file written by :meth:`save` or a Lightning checkpoint, with ``torch.load(weights_only=True)``.

        Raises:
            FileNotFoundError: if ``path`` does not exist.
            CheckpointError: (a ``ValueError``) if the file is not a checkpoint of this class: empty, random or
                truncated bytes, pickled code, another model's weights.
        """
        from seqguide.models.checkpoints import CheckpointError, load_checkpoint

        path = Path(path)
        label = cls.__name__
        ckpt = load_checkpoint(path, map_location=map_location, what=f"seqguide {label} checkpoint")
        if "state_dict" not in ckpt or "hyper_parameters" not in ckpt:
            raise CheckpointError(f"{path}: not a checkpoint (missing state_dict/hyper_parameters)")
        hp = dict(ckpt["hyper_parameters"]) if isinstance(ckpt["hyper_parameters"], dict) else {}
        hp.pop("_instantiator", None)
        fmt = ckpt.get("format")
        if (fmt is not None and fmt != cls.file_format) or any(k not in hp for k in cls.required_hparams):
            raise CheckpointError(f"{path}: not a seqguide {label} checkpoint (format {fmt!r}, hyperparameters "
                                  f"{sorted(hp)})")
        try:
            model = cls(**hp)
            model.load_state_dict(ckpt["state_dict"])
        except (TypeError, ValueError, KeyError, RuntimeError) as err:
            detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise CheckpointError(f"{path}: not a {label} checkpoint this version can build ({detail[:300]})"
                                  ) from None
        return model.to(map_location).eval()


# ---------------------------------------------------------------------------------- data
class NoisedStateDataset(Dataset):
    """Pairs ``(x_t, t) -> target`` whose noise is drawn when an item is read.

    Every read draws a fresh ``t ~ U(0, 1)`` and fresh masks from the dataset's own generator, so each
    epoch sees new corruptions of the same clean sequences; the stream is reproducible from ``seed`` and the
    (seeded) order of reads. With ``fixed=True`` the noise is drawn once at construction (``repeats``
    corruptions per sequence), for a validation set whose loss is comparable between evaluations.

    Args:
        tokens: ``(N, L)`` int64 clean sequences x_0.
        targets: ``(N,)`` targets (float rewards or int64 class labels).
        schedule: The generative model's noise schedule.
        mask_id: The mask token id.
        key: Name of the target in an item (``"reward"``, ``"label"``).
        seed: Seed of the noise.
        fixed: Draw the noise once (validation).
        repeats: Corruptions per sequence when ``fixed`` (the dataset has ``N * repeats`` items).
    """

    def __init__(self, tokens: torch.Tensor, targets: torch.Tensor, schedule: NoiseSchedule, mask_id: int, *,
                 key: str = "target", seed: int = 0, fixed: bool = False, repeats: int = 1) -> None:
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be (N, L), got shape {tuple(tokens.shape)}")
        if targets.shape != (tokens.shape[0],):
            raise ValueError(f"{key}s must be ({tokens.shape[0]},), got shape {tuple(targets.shape)}")
        if repeats < 1:
            raise ValueError(f"repeats must be >= 1, got {repeats}")
        self.tokens = tokens.long().cpu()
        self.targets = targets.cpu()
        self.key = key
        self.schedule = schedule
        self.mask_id = mask_id
        self.generator = torch.Generator().manual_seed(seed)
        self.fixed = fixed
        self._fixed: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        if fixed:
            x0 = self.tokens.repeat(repeats, 1)
            t = torch.rand(x0.shape[0], generator=self.generator, dtype=torch.float64)
            self._fixed = (self._corrupt(x0, t), t.float(), self.targets.repeat(repeats))

    def _corrupt(self, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        move = 1.0 - self.schedule.alpha(t)[:, None]
        u = torch.rand(x0.shape, generator=self.generator, dtype=torch.float64)
        return torch.where(u < move, torch.full_like(x0, self.mask_id), x0)

    def __len__(self) -> int:
        return self._fixed[0].shape[0] if self._fixed is not None else self.tokens.shape[0]

    def __getitem__(self, index: int | Sequence[int] | torch.Tensor) -> dict[str, torch.Tensor]:
        """One item (``x_t (L,)``, ``t ()``, target ``()``) for an int index, or a batch (``(B, L)``, ``(B,)``,
        ``(B,)``) for a list of indices, noised in one vectorised draw (use with a ``BatchSampler``)."""
        single = isinstance(index, (int, np.integer)) or (isinstance(index, torch.Tensor) and index.dim() == 0)
        idx = torch.as_tensor(index, dtype=torch.long).reshape(-1)
        if self._fixed is not None:
            x_t, t, y = (part[idx] for part in self._fixed)
        else:
            t = torch.rand(idx.shape[0], generator=self.generator, dtype=torch.float64)
            x_t, y = self._corrupt(self.tokens[idx], t), self.targets[idx]
            t = t.float()
        if single:
            return {"x_t": x_t[0], "t": t[0], self.key: y[0]}
        return {"x_t": x_t, "t": t, self.key: y}


def batch_loader(data: NoisedStateDataset, batch_size: int, *, shuffle: bool, seed: int) -> DataLoader:
    """Batches read from ``data`` with one vectorised ``__getitem__`` call each."""
    order = RandomSampler(data, generator=torch.Generator().manual_seed(seed)) if shuffle else SequentialSampler(data)
    return DataLoader(data, batch_size=None, sampler=BatchSampler(order, batch_size=batch_size, drop_last=False))


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded train/validation split of ``n`` items: ``(train_idx, val_idx)``; no validation below 10 items."""
    n_val = 0 if val_fraction == 0 or n < 10 else max(1, round(val_fraction * n))
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[n_val:], perm[:n_val]


@contextlib.contextmanager
def quiet_lightning(enabled: bool) -> Iterator[None]:
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


def fit_noisy_state_model(module: NoisyStateModel, train: NoisedStateDataset, val: NoisedStateDataset | None, *,
                          monitor: str, out_dir: str | Path | None, max_steps: int, batch_size: int,
                          val_check_interval: int, progress: bool, accelerator: str, seed: int,
                          ) -> tuple[NoisyStateModel, int, str | None]:
    """Train ``module`` on noisy states with the shared step trainer and reload its best checkpoint.

    Args:
        module: A fresh :class:`NoisyStateModel`.
        train: Training items (fresh noise every read).
        val: Fixed-noise validation items, or None (then the last weights are kept).
        monitor: The validation metric that picks the best checkpoint (lower is better).
        out_dir: Directory for ``checkpoints/best.ckpt`` and ``last.ckpt``; None uses a temporary directory that
            is removed afterwards.
        max_steps: Optimiser steps.
        batch_size: Training batch size.
        val_check_interval: Validate every this many steps.
        progress: Show Lightning's progress bar.
        accelerator: Lightning accelerator.
        seed: Seed of the data order.

    Returns:
        ``(best, steps, checkpoint)``: the best model in eval mode (on CPU), the optimiser steps run, and the
        best checkpoint's path when ``out_dir`` was given (else None).
    """
    loader = batch_loader(train, min(batch_size, len(train)), shuffle=True, seed=seed)
    val_loader = batch_loader(val, max(batch_size, 256), shuffle=False, seed=seed) if val is not None else None
    tmp = None
    if out_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="seqguide-noisy-")
        root = Path(tmp.name)
    else:
        root = Path(out_dir)
    try:
        with quiet_lightning(not progress):
            trainer, ckpt_cb = step_trainer(root, monitor=monitor, has_val=val is not None, max_steps=max_steps,
                                            val_check_interval=val_check_interval, progress=progress,
                                            accelerator=accelerator, num_sanity_val_steps=0)
        with warnings.catch_warnings(), quiet_lightning(not progress):
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=".*GPU available but not used.*")
            warnings.filterwarnings("ignore", message=".*validation_step.*but have no .val_dataloader.*")
            trainer.fit(module, train_dataloaders=loader, val_dataloaders=val_loader)
        best_path = Path(ckpt_cb.best_model_path) if ckpt_cb.best_model_path else None
        cls = type(module)
        best = cls.load(best_path) if best_path is not None and best_path.is_file() else module.cpu().eval()
        checkpoint = str(best_path) if (best_path is not None and tmp is None) else None
        return best, int(trainer.global_step), checkpoint
    finally:
        if tmp is not None:
            tmp.cleanup()


# ---------------------------------------------------------------------------------- the fit from labels
def check_fit_arguments(model: Any, *, max_steps: int, val_fraction: float, batch_size: int | None = None) -> None:
    """The argument checks of a fit on noisy states of ``model`` (``batch_size`` only when given).

    Raises:
        ValueError: for ``max_steps < 1``, ``batch_size < 1`` or ``val_fraction`` outside [0, 1).
        TypeError: if ``model`` is not a masked diffusion process (no ``alphabet``, ``length`` or ``schedule``).
    """
    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    for attr in ("alphabet", "length", "schedule"):
        if not hasattr(model, attr):
            raise TypeError(f"model must be a masked diffusion process with .{attr} (e.g. MaskedDiffusion), got "
                            f"{type(model).__name__}")


def encode_clean(model: Any, sequences: Sequence[str] | torch.Tensor, *, name: str = "sequences"
                 ) -> tuple[torch.Tensor, list[str] | None]:
    """Clean tokens ``(N, L)`` of ``sequences`` given as strings or as token ids, and the strings (None for ids).

    Raises:
        ValueError: for token ids not shaped ``(N, model.length)``, or no strings (``"<name> is empty"``).
    """
    if isinstance(sequences, torch.Tensor):
        tokens = sequences.long().cpu()
        if tokens.dim() != 2 or tokens.shape[1] != model.length:
            raise ValueError(f"sequences tensor must be (N, {model.length}) token ids, got {tuple(tokens.shape)}")
        return tokens, None
    seqs = list(sequences)
    if not seqs:
        raise ValueError(f"{name} is empty")
    return model.alphabet.encode(seqs, length=model.length), seqs


@dataclass
class NoisyStateFit:
    """What :func:`fit_on_labels` trained.

    Attributes:
        model: The best network, in eval mode on the requested device.
        train_idx, val_idx: The seeded split of the clean sequences (indices into the ones given).
        val: The fixed-noise validation items, None without a validation split.
        steps: Optimiser steps run.
        checkpoint: The best checkpoint's path when ``out_dir`` was given, else None.
    """

    model: NoisyStateModel
    train_idx: torch.Tensor
    val_idx: torch.Tensor
    val: NoisedStateDataset | None
    steps: int
    checkpoint: str | None

    def held_out(self, evaluate: Callable[[Any, NoisedStateDataset], dict[str, float]], keys: Sequence[str]
                 ) -> dict[str, float]:
        """``evaluate(model, val)`` on the validation items; NaN for each of ``keys`` without a validation split."""
        if self.val is None:
            return dict.fromkeys(keys, float("nan"))
        return evaluate(self.model, self.val)


def fit_on_labels(build: Callable[[torch.Tensor], NoisyStateModel], tokens: torch.Tensor, targets: torch.Tensor, *,
                  key: str, device: torch.device | str, monitor: str, seed: int, val_fraction: float,
                  val_repeats: int, out_dir: str | Path | None, max_steps: int, batch_size: int,
                  val_check_interval: int, progress: bool, accelerator: str) -> NoisyStateFit:
    """Train a network on noised states of labelled clean sequences and keep the best: the fit of the value model
    and of the noisy classifier.

    In this order (so that one seed gives one model): the seeded split of the sequences (:func:`split_indices`);
    the global seed set to ``seed``; ``build(train_idx)`` makes the fresh network (its initial weights); training
    items re-noised at every read (noise seed ``seed``), ``val_repeats`` fixed corruptions per validation sequence
    (seed ``seed + 1``); the training run (:func:`fit_noisy_state_model`, data order seed ``seed``).

    Args:
        build: Makes the network from the training indices (a value model standardises by their rewards).
        tokens: ``(N, L)`` int64 clean sequences.
        targets: ``(N,)`` their targets (float rewards, int64 class labels).
        key: Name of the target in an item (``"reward"``, ``"label"``).
        device: Where the best network goes.
        monitor: The validation metric that picks the best checkpoint (lower is better).
        seed: Seed of the split, the weights, the noise and the data order.
        val_fraction: Fraction of sequences held out (0: none; then the last weights are kept).
        val_repeats: Fixed corruptions per validation sequence.
        out_dir, max_steps, batch_size, val_check_interval, progress, accelerator: As for
            :func:`fit_noisy_state_model`.
    """
    train_idx, val_idx = split_indices(tokens.shape[0], val_fraction, seed)
    L.seed_everything(seed, verbose=False)
    module = build(train_idx)
    train = NoisedStateDataset(tokens[train_idx], targets[train_idx], module.schedule, module.mask_id, key=key,
                               seed=seed)
    val = None
    if val_idx.numel():
        val = NoisedStateDataset(tokens[val_idx], targets[val_idx], module.schedule, module.mask_id, key=key,
                                 seed=seed + 1, fixed=True, repeats=val_repeats)
    best, steps, checkpoint = fit_noisy_state_model(
        module, train, val, monitor=monitor, out_dir=out_dir, max_steps=max_steps, batch_size=batch_size,
        val_check_interval=val_check_interval, progress=progress, accelerator=accelerator, seed=seed)
    return NoisyStateFit(best.to(device).eval(), train_idx, val_idx, val, steps, checkpoint)


def predict_dataset(model: NoisyStateModel, data: NoisedStateDataset, batch_size: int = 1024
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """``model.predict`` on every item of ``data`` in order: the predictions (float64, on CPU) and the targets."""
    preds, targets = [], []
    for batch in batch_loader(data, batch_size, shuffle=False, seed=0):
        preds.append(model.predict(batch["x_t"], batch["t"].to(model.device)).double().cpu())
        targets.append(batch[data.key])
    return torch.cat(preds), torch.cat(targets)
