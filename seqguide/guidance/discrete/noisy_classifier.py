"""A noisy-input classifier ``p(y | x_t)`` for discrete classifier guidance (Nisonoff et al. 2024, arXiv 2406.01572,
§4; Schiff et al. 2024, arXiv 2412.10193, D-CBG).

Labelled clean sequences (e.g. the AMP / non-AMP classes of a data set, or thresholded oracle scores) are masked
with the generative model's forward process at a fresh ``t ~ U(0, 1)`` every read, and a time-conditioned network
is trained by cross-entropy on the label of the clean sequence: its minimiser is the posterior ``p(y | x_t)``,
the quantity the guided transition of :class:`~seqguide.guidance.DiscreteClassifierGuidance` needs. The network
base, dataset, fit and training run are the ones of the learned value model (:mod:`seqguide.guidance.noisy_states`);
what is here is the classifier's own: its labels, cross-entropy and accuracy.

Example:
    >>> clf = fit_noisy_classifier(model, sequences=seqs, labels=labels, max_steps=1000)        # doctest: +SKIP
    >>> guide = DiscreteClassifierGuidance(clf, target=1, scale=1.0)                              # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from seqguide.alphabet import Alphabet
from seqguide.guidance.noisy_states import (
    NoisedStateDataset,
    NoisyStateModel,
    check_fit_arguments,
    encode_clean,
    fit_on_labels,
    predict_dataset,
)
from seqguide.models.backbones import Backbone
from seqguide.models.devices import model_device

__all__ = ["ClassifierFitReport", "NoisyClassifier", "fit_noisy_classifier"]

log = logging.getLogger(__name__)


class NoisyClassifier(NoisyStateModel):
    """A time-conditioned classifier ``p(y | x_t)`` on noisy masked states.

    Args:
        alphabet: The generative model's alphabet.
        length: Sequence length L.
        num_classes: Number of classes C (>= 2).
        backbone: An unbuilt backbone (built with time conditioning; default a small dilated CNN) or its spec.
        schedule: The generative model's noise schedule.
        pooling: ``"mean"`` or ``"attention"`` over the positions that are not visible padding.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        warmup_steps: Linear warm-up steps, then cosine decay to 10% of ``lr``.
        class_names: Optional names of the classes (informational).

    Raises:
        ValueError: for ``num_classes < 2`` or an unknown pooling/schedule.
    """

    file_format: ClassVar[str] = "seqguide.NoisyClassifier/1"
    required_hparams: ClassVar[tuple[str, ...]] = ("num_classes", "pooling", "backbone")

    def __init__(
        self,
        alphabet: str | list[str] | dict[str, Any] | Alphabet = "dna",
        length: int = 32,
        num_classes: int = 2,
        backbone: Backbone | dict[str, Any] | None = None,
        schedule: str = "loglinear",
        pooling: str = "mean",
        lr: float = 1e-3,
        weight_decay: float = 1e-2,
        warmup_steps: int = 50,
        class_names: list[str] | None = None,
    ) -> None:
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        super().__init__(alphabet, length, backbone, schedule, pooling, out_features=num_classes)
        self.num_classes = num_classes
        self.save_hyperparameters(ignore=["backbone", "alphabet"])
        self._plain_hparams()

    def forward(self, tokens: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
        """Class log-probabilities ``log p(y | x_t)`` ``(B, C)``.

        Args:
            tokens: ``(B, L)`` int64 noisy states or ``(B, L, V)`` soft one-hots (differentiable).
            t: Their time: a float or ``(B,)``.
        """
        return self.pooled(tokens, t).log_softmax(dim=-1)

    def log_potential(self, tokens: torch.Tensor, t: torch.Tensor | float, target: int | None = None) -> torch.Tensor:
        """``log p(y = target | x_t)`` ``(B,)``: the guidance log-potential of class ``target``.

        Raises:
            ValueError: if ``target`` is None or not a class.
        """
        if target is None or not 0 <= int(target) < self.num_classes:
            raise ValueError(f"target must be a class in [0, {self.num_classes}), got {target!r}")
        return self(tokens, t)[:, int(target)]

    def _common_step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        x_t, t, y = batch["x_t"], batch["t"], batch["label"].long()
        logp = self(x_t, t)
        loss = F.nll_loss(logp, y)
        self.log(f"{stage}/ce", loss, prog_bar=stage == "train", batch_size=x_t.shape[0])
        if stage == "val":
            self._val_outputs.append((logp.detach(), y.detach()))
        return loss

    def _log_validation(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        self.log("val/accuracy", (pred.argmax(dim=1) == target).float().mean(), prog_bar=True)


@dataclass
class ClassifierFitReport:
    """What :func:`fit_noisy_classifier` did (also stored as ``NoisyClassifier.fit_report``).

    Attributes:
        n_given: Labelled sequences given.
        n_train, n_val: Sequences in the training and validation splits.
        class_counts: Training sequences per class.
        val_ce: Validation cross-entropy on noisy states (nats), NaN without a split.
        val_accuracy: Validation accuracy on noisy states.
        val_ce_clean: Validation cross-entropy on the clean sequences (t = 0).
        steps: Optimiser steps run.
        seconds: Wall time.
        checkpoint: Path of the best checkpoint when ``out_dir`` was given, else None.
    """

    n_given: int
    n_train: int
    n_val: int
    class_counts: list[int]
    val_ce: float
    val_accuracy: float
    val_ce_clean: float
    steps: int
    seconds: float
    checkpoint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (f"noisy classifier: {self.n_train} train / {self.n_val} val sequences (classes {self.class_counts}), "
                f"{self.steps} steps, val CE {self.val_ce:.4g} (accuracy {self.val_accuracy:.3f}; clean CE "
                f"{self.val_ce_clean:.4g}), {self.seconds:.1f}s")


def evaluate_classifier(model: NoisyClassifier, data: NoisedStateDataset, batch_size: int = 1024) -> dict[str, float]:
    """Cross-entropy and accuracy of ``model`` on a (fixed-noise) dataset of ``label`` items."""
    logp, y = predict_dataset(model, data, batch_size)
    y = y.long()
    return {"ce": float(F.nll_loss(logp, y)), "accuracy": float((logp.argmax(1) == y).double().mean())}


def fit_noisy_classifier(
    model: Any,
    *,
    sequences: Sequence[str] | torch.Tensor,
    labels: Sequence[int] | np.ndarray | torch.Tensor,
    num_classes: int | None = None,
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
    lr: float = 1e-3,
    weight_decay: float = 1e-2,
    class_names: Sequence[str] | None = None,
    accelerator: str = "auto",
) -> NoisyClassifier:
    """Train a :class:`NoisyClassifier` on labelled clean sequences, noised with ``model``'s forward process.

    Args:
        model: The masked generative model (its alphabet, length and noise schedule define the noisy states).
        sequences: Clean sequences (strings or ``(N, L)`` token ids).
        labels: ``(N,)`` class labels in ``[0, num_classes)``.
        num_classes: Number of classes (default ``max(labels) + 1``).
        max_steps: Optimiser steps.
        batch_size: Training batch size.
        backbone: Unbuilt backbone of the classifier (default: a small dilated CNN).
        seed: Seed of the split, the weights, the noise and the data order.
        out_dir: Directory for ``checkpoints/best.ckpt`` and ``last.ckpt`` (None: a temporary directory).
        progress: Show Lightning's progress bar.
        val_fraction: Fraction held out (0 disables validation; then the last weights are kept).
        val_repeats: Fixed corruptions per validation sequence.
        val_check_interval: Validate every this many steps.
        pooling: ``"mean"`` or ``"attention"``.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        class_names: Optional class names.
        accelerator: Lightning accelerator.

    Returns:
        The best classifier by validation cross-entropy, in eval mode on ``model``'s device, with ``fit_report``.

    Raises:
        ValueError: for mismatched lengths, labels outside the classes, a single class, or a bad argument.
    """
    started = time.perf_counter()
    check_fit_arguments(model, max_steps=max_steps, val_fraction=val_fraction)
    tokens, _ = encode_clean(model, sequences)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long).reshape(-1)
    if y.shape[0] != tokens.shape[0]:
        raise ValueError(f"labels must hold one label per sequence: {y.shape[0]} labels for {tokens.shape[0]} "
                         "sequences")
    C = int(num_classes) if num_classes is not None else int(y.max()) + 1
    bad = torch.nonzero((y < 0) | (y >= C)).flatten()
    if bad.numel():
        raise ValueError(f"label {int(y[bad[0]])} of sequence {int(bad[0])} is outside [0, {C})")
    if torch.unique(y).numel() < 2:
        raise ValueError("labels hold a single class; a classifier needs at least two")

    def build(train_idx: torch.Tensor) -> NoisyClassifier:
        return NoisyClassifier(model.alphabet, model.length, C, backbone=backbone, schedule=model.schedule.name,
                               pooling=pooling, lr=lr, weight_decay=weight_decay,
                               class_names=None if class_names is None else list(class_names))

    fit = fit_on_labels(build, tokens, y, key="label", device=model_device(model), monitor="val/ce", seed=seed,
                        val_fraction=val_fraction, val_repeats=val_repeats, out_dir=out_dir, max_steps=max_steps,
                        batch_size=batch_size, val_check_interval=val_check_interval, progress=progress,
                        accelerator=accelerator)
    best = fit.model
    metrics = fit.held_out(evaluate_classifier, ("ce", "accuracy"))
    ce_clean = float("nan")
    if fit.val is not None:
        clean = best.predict(tokens[fit.val_idx], 0.0).double().cpu()
        ce_clean = float(F.nll_loss(clean, y[fit.val_idx]))
    best.fit_report = ClassifierFitReport(
        n_given=int(tokens.shape[0]), n_train=int(fit.train_idx.numel()), n_val=int(fit.val_idx.numel()),
        class_counts=torch.bincount(y[fit.train_idx], minlength=C).tolist(), val_ce=metrics["ce"],
        val_accuracy=metrics["accuracy"], val_ce_clean=ce_clean, steps=fit.steps,
        seconds=time.perf_counter() - started, checkpoint=fit.checkpoint)
    log.info(best.fit_report.summary())
    return best
