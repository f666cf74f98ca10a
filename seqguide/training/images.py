"""Training image models: the LightningCLI behind ``seqguide train`` for image configs, and a Python function.

``seqguide train --config configs/train/digits_diffusion.yaml`` (or ``digits_flow.yaml``) reaches
:func:`train_images_cli`: ``model.class_path`` picks :class:`~seqguide.models.GaussianDiffusion` or
:class:`~seqguide.models.FlowMatching`, ``data`` configures an :class:`~seqguide.data.ImageDataModule`, and the
image shape and number of classes are linked from the data into the model, so the YAML never repeats them.
Weights are averaged (EMA, Lightning's ``EMAWeightAveraging``); checkpoints hold the averaged weights.

From Python::

    from seqguide.data import ImageDataModule
    from seqguide.models import GaussianDiffusion, ImageUNet
    from seqguide.training.images import train_image_model

    data = ImageDataModule("digits")
    model = GaussianDiffusion(ImageUNet(base_channels=32), image_shape=data.image_shape,
                              num_classes=data.num_classes)
    result = train_image_model(model, data, max_steps=3000, out_dir="runs/digits")
    result.model, result.checkpoint, result.metrics
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.callbacks.weight_averaging import EMAWeightAveraging
from lightning.pytorch.cli import LightningCLI

from seqguide.data.images import ImageDataModule
from seqguide.training.quiet import QuietCLI
from seqguide.training.step_trainer import checkpoint_callback, step_trainer

__all__ = ["IMAGE_MODEL_CLASSES", "ImageCLI", "ImageTrainResult", "is_image_config", "train_image_model",
           "train_images_cli"]

#: Model class names that ``seqguide train`` sends to the image CLI.
IMAGE_MODEL_CLASSES = ("GaussianDiffusion", "FlowMatching")
_EMA_DECAY = 0.995


class ImageCLI(QuietCLI, LightningCLI):
    """LightningCLI for an image model (chosen by ``model.class_path``) + :class:`ImageDataModule`."""

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.link_arguments("data.image_shape", "model.init_args.image_shape", apply_on="instantiate")
        parser.link_arguments("data.num_classes", "model.init_args.num_classes", apply_on="instantiate")
        parser.set_defaults({
            "trainer.max_steps": 3000,
            "trainer.val_check_interval": 500,
            "trainer.check_val_every_n_epoch": None,
            "trainer.default_root_dir": "runs/train/images",
            "trainer.log_every_n_steps": 50,
        })


def train_images_cli(argv: Sequence[str] | None = None) -> int:
    """``seqguide train --config IMAGE_CONFIG [--trainer.* ...] [--model.init_args.* ...] [--data.* ...]``."""
    from seqguide.models.continuous import _ImageProcess

    cli = ImageCLI(
        _ImageProcess,
        ImageDataModule,
        subclass_mode_model=True,
        args=list(argv) if argv is not None else None,
        run=False,
        save_config_kwargs={"overwrite": True},
        trainer_defaults={"callbacks": [checkpoint_callback(monitor="val/loss"),
                                        EMAWeightAveraging(decay=_EMA_DECAY)]},
        seed_everything_default=0,
        auto_configure_optimizers=False,
    )
    ckpt = cli.trainer.checkpoint_callback
    if isinstance(ckpt, ModelCheckpoint) and ckpt.dirpath is None:  # a predictable place: <root>/checkpoints
        ckpt.dirpath = str(Path(cli.trainer.default_root_dir) / "checkpoints")
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    best = getattr(ckpt, "best_model_path", "") or getattr(ckpt, "last_model_path", "")
    metrics = {k: float(v) for k, v in cli.trainer.callback_metrics.items()}
    print(f"checkpoint: {best}")
    if metrics:
        print("metrics: " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items())))
    return 0


def is_image_config(argv: Sequence[str]) -> bool:
    """Whether ``seqguide train`` arguments configure an image model (by ``model.class_path`` in a
    ``--config`` file or a ``--model`` flag).

    Raises:
        seqguide.io.ConfigError: a config file the project's YAML loader refuses (binary, duplicate keys, ...).
    """
    from seqguide.io.safe_yaml import read_yaml

    args = list(argv)
    names: list[str] = []
    for i, arg in enumerate(args):
        value = None
        if arg in ("--config", "-c", "--model") and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(("--config=", "--model=")):
            value = arg.split("=", 1)[1]
        if value is None:
            continue
        if arg.startswith("--model"):
            names.append(value)
            continue
        path = Path(value)
        if not path.is_file():
            continue  # LightningCLI reports the missing file
        config = read_yaml(path, value, what="training config") or {}
        model = config.get("model") if isinstance(config, dict) else None
        if isinstance(model, dict) and isinstance(model.get("class_path"), str):
            names.append(model["class_path"])
    return any(name.rsplit(".", 1)[-1] in IMAGE_MODEL_CLASSES for name in names)


@dataclass
class ImageTrainResult:
    """What :func:`train_image_model` returns."""

    model: Any
    checkpoint: Path
    metrics: dict[str, float]


def train_image_model(
    model: Any,
    data: ImageDataModule,
    *,
    out_dir: str | Path = "runs/train/images",
    max_steps: int = 3000,
    val_check_interval: int = 500,
    seed: int = 0,
    ema_decay: float = _EMA_DECAY,
    progress: bool = True,
    accelerator: str = "auto",
) -> ImageTrainResult:
    """Train a :class:`~seqguide.models.GaussianDiffusion` or :class:`~seqguide.models.FlowMatching` on ``data``.

    Args:
        model: The image model (its ``image_shape`` and ``num_classes`` must match the data).
        data: The image data module.
        out_dir: Where checkpoints (``best.ckpt``, ``last.ckpt``) are written.
        max_steps: Optimiser steps.
        val_check_interval: Validate every this many steps.
        seed: Seed for weights, noise and data order.
        ema_decay: Decay of the exponential moving average of the weights (0 disables it).
        progress: Show Lightning's progress bar.
        accelerator: Lightning accelerator.

    Returns:
        The trained model (the best validation checkpoint reloaded, in eval mode), its checkpoint and the metrics.

    Raises:
        ValueError: if the model's image shape or classes do not match the data.
    """
    if tuple(model.image_shape) != tuple(data.image_shape):
        raise ValueError(f"model image_shape {model.image_shape} != data image_shape {data.image_shape}")
    if model.num_classes not in (0, data.num_classes):
        raise ValueError(f"model num_classes {model.num_classes} != data num_classes {data.num_classes}")
    L.seed_everything(seed, verbose=False)
    out_dir = Path(out_dir)
    trainer, ckpt_cb = step_trainer(out_dir, monitor="val/loss", has_val=data.val_fraction > 0, max_steps=max_steps,
                                    val_check_interval=val_check_interval, progress=progress, accelerator=accelerator)
    if ema_decay > 0:  # checkpoints then hold the averaged weights
        trainer.callbacks.append(EMAWeightAveraging(decay=ema_decay))
    trainer.fit(model, datamodule=data)
    path = Path(ckpt_cb.best_model_path or ckpt_cb.last_model_path)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    best = type(model).load(path, map_location=model.device) if path.is_file() else model.eval()
    return ImageTrainResult(best.to(torch.device("cpu")) if accelerator == "cpu" else best, path, metrics)
