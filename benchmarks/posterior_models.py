"""Models of the posterior-sampling benchmark, trained once and cached under ``runs/`` (git-ignored).

- the masked diffusion models: tokenised 8x8 digits (64 tokens over 17 grey levels) and CRP sites (26 nt);
- the judge classifier of the digits (scikit-learn MLP on the training split, scored on the validation
  split), separate from every model that generates;
- reweighted predictors for unified reward guidance (a fine-tune of a base model on reweighted data).

Each cached item lives in a folder named by a hash of the settings that change it
(:func:`benchmarks.model_cache.cached_fit`).
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import Timer
from benchmarks.model_cache import cached_fit, settings_hash
from seqguide.data import SequenceDataModule
from seqguide.guidance import fit_reweighted
from seqguide.models import ConvDenoiser, MaskedDiffusion
from seqguide.training.step_trainer import step_trainer

__all__ = ["CACHE", "SEED", "ModelSpec", "data_module", "load_or_fit_reweighted", "load_or_train", "train_judge"]

CACHE = Path("runs/benchmarks/posterior_sampling")
SEED = 0


@dataclass(frozen=True)
class ModelSpec:
    """A masked diffusion model of one data preset: the settings that define (and key) it."""

    preset: str
    dim: int
    depth: int
    train_steps: int
    batch_size: int = 32
    lr: float = 2e-3

    def key(self) -> str:
        return settings_hash(self.__dict__)


def _accelerator(device: str) -> str:
    return "gpu" if device.startswith("cuda") else "cpu"


def _load(ckpt: Path, device: str) -> MaskedDiffusion:
    return MaskedDiffusion.load(ckpt, map_location=device).eval()


def data_module(preset: str, batch_size: int = 32) -> SequenceDataModule:
    return SequenceDataModule(preset=preset, batch_size=batch_size, seed=SEED)


def load_or_train(spec: ModelSpec, *, device: str, retrain: bool) -> tuple[MaskedDiffusion, dict[str, Any]]:
    """An unconditional MaskedDiffusion (dilated CNN denoiser) on ``spec.preset``, trained or from the cache.

    The model is unconditional even when the data have labels (digits): posterior sampling needs p(x).
    """

    def fit(ckpt: Path) -> tuple[MaskedDiffusion, dict[str, Any]]:
        data = data_module(spec.preset, spec.batch_size)
        torch.manual_seed(SEED)
        model = MaskedDiffusion(data.alphabet, length=data.length,
                                backbone=ConvDenoiser(dim=spec.dim, depth=spec.depth), fixed_length=data.fixed_length,
                                lr=spec.lr, warmup_steps=100)
        trainer, cb = step_trainer(ckpt.parent / "lightning", monitor="val/nll", has_val=True,
                                   max_steps=spec.train_steps, val_check_interval=max(1, spec.train_steps // 5),
                                   progress=False, accelerator=_accelerator(device))
        with Timer(device) as timer:
            trainer.fit(model, datamodule=data)
        shutil.copyfile(cb.best_model_path, ckpt)
        meta = {"train_seconds": round(timer.seconds, 1), "val_nll": float(cb.best_model_score),
                "train_sequences": len(data.train_dataset), "val_sequences": len(data.val_dataset), "cached": False,
                **spec.__dict__}
        return _load(ckpt, device), meta

    return cached_fit(CACHE / f"{spec.preset}-{spec.key()}", load=lambda ckpt: _load(ckpt, device), fit=fit,
                      retrain=retrain)


def train_judge() -> tuple[Any, dict[str, Any]]:
    """The digits judge: an MLP classifier (one hidden layer of 128) on the training split's grey levels
    (seconds to train, so it is not cached)."""
    from sklearn.neural_network import MLPClassifier

    data = data_module("digits")
    x_tr, y_tr = data.train_dataset.tokens.long().numpy(), data.train_dataset.labels.numpy()
    x_va, y_va = data.val_dataset.tokens.long().numpy(), data.val_dataset.labels.numpy()
    with Timer("cpu") as timer:
        judge = MLPClassifier(hidden_layer_sizes=(128,), max_iter=600, random_state=SEED).fit(x_tr, y_tr)
    return judge, {"val_accuracy": float(judge.score(x_va, y_va)), "train": len(y_tr), "val": len(y_va),
                   "train_seconds": round(timer.seconds, 1)}


def load_or_fit_reweighted(base: MaskedDiffusion, base_key: str, name: str, dataset: Any, weights: np.ndarray, *,
                           steps: int, device: str, retrain: bool) -> tuple[MaskedDiffusion, dict[str, Any]]:
    """The reweighted predictor of reward guidance: ``base`` fine-tuned on ``dataset`` drawn with ``weights``."""
    key = settings_hash({"base": base_key, "name": name, "steps": steps,
                         "weights": hashlib.sha1(np.asarray(weights, dtype=np.float64).tobytes()).hexdigest()})

    def fit(ckpt: Path) -> tuple[MaskedDiffusion, dict[str, Any]]:
        result = fit_reweighted(base, dataset, weights, max_steps=steps, batch_size=32, lr=5e-4,
                                out_dir=ckpt.parent / "lightning", seed=SEED, accelerator=_accelerator(device))
        shutil.copyfile(result.checkpoint, ckpt)
        meta = {"ess": round(result.ess, 1), "steps": result.steps, "train_seconds": round(result.seconds, 1),
                "cached": False, "data": len(dataset)}
        return _load(ckpt, device), meta

    return cached_fit(CACHE / f"reweighted-{name}-{key}", load=lambda ckpt: _load(ckpt, device), fit=fit,
                      retrain=retrain)
