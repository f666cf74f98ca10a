"""Training entry points: the LightningCLI behind ``seqguide train`` and a Python function for design loops.

``seqguide train --config configs/train/crp.yaml`` builds a :class:`SequenceDataModule` and a
:class:`MaskedDiffusion` from YAML (any Trainer flag can be given on the command line, and
``--print_config`` prints the resolved configuration). The model's alphabet, length, number of classes
and whether pad is allowed are read from the data, so the YAML never repeats them.

From Python::

    from seqguide.training import train_masked_diffusion
    result = train_masked_diffusion(SequenceDataModule(preset="crp"), max_steps=500, out_dir="runs/crp")
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
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.utilities.exceptions import SIGTERMException

from seqguide.data import SequenceDataModule
from seqguide.models.backbones import Backbone
from seqguide.models.masked import MaskedDiffusion
from seqguide.step_trainer import ResumeState, checkpoint_callback, last_checkpoint, step_trainer
from seqguide.trainer_options import add_trainer_options, prepare_fit

__all__ = ["SeqguideCLI", "TrainResult", "train_cli", "train_masked_diffusion"]


class SeqguideCLI(LightningCLI):
    """LightningCLI for ``MaskedDiffusion`` + ``SequenceDataModule`` with data-to-model links."""

    def add_arguments_to_parser(self, parser: Any) -> None:
        for name in ("alphabet", "length", "num_classes", "fixed_length"):
            parser.link_arguments(f"data.{name}", f"model.{name}", apply_on="instantiate")
        add_trainer_options(parser)  # --ckpt_path last, --compile
        parser.set_defaults({
            "trainer.max_steps": 2000,
            "trainer.val_check_interval": 200,
            "trainer.check_val_every_n_epoch": None,
            "trainer.default_root_dir": "runs/train",
            "trainer.log_every_n_steps": 20,
        })
        parser.add_argument("--resume", action="store_true",
                            help="continue from <default_root_dir>/checkpoints/last.ckpt (a killed run) if it exists")


def _config_files(argv: Sequence[str]) -> list[str]:
    """The ``--config FILE`` / ``--config=FILE`` arguments of a command line."""
    found = []
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            found.append(argv[i + 1])
        elif arg.startswith("--config="):
            found.append(arg.partition("=")[2])
    return found


def train_cli(argv: Sequence[str] | None = None) -> int:
    """``seqguide train [--config FILE] [--trainer.* ...] [--model.* ...] [--data.* ...]``."""
    import sys

    from seqguide.yaml_io import ConfigError, read_yaml

    args = list(sys.argv[1:] if argv is None else argv)
    try:  # the project's YAML refusals (binary files, duplicate keys, alias bombs) before jsonargparse reads it
        for file in _config_files(args):
            read_yaml(file, what="training config")
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    cli = SeqguideCLI(
        MaskedDiffusion,
        SequenceDataModule,
        args=list(argv) if argv is not None else None,
        run=False,
        save_config_kwargs={"overwrite": True},
        trainer_defaults={"callbacks": [checkpoint_callback(monitor="val/nll"), ResumeState()]},
        seed_everything_default=0,
        auto_configure_optimizers=False,
    )
    ckpt = cli.trainer.checkpoint_callback
    if isinstance(ckpt, ModelCheckpoint) and ckpt.dirpath is None:  # a predictable place: <root>/checkpoints
        ckpt.dirpath = str(Path(cli.trainer.default_root_dir) / "checkpoints")
    ckpt_path = prepare_fit(cli.config, cli.model, cli.trainer)  # --compile, --ckpt_path last|FILE
    if ckpt_path is None and cli.config.get("resume"):  # --resume: the same as --ckpt_path last
        ckpt_path = last_checkpoint(cli.trainer.default_root_dir)
    try:
        cli.trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=ckpt_path, weights_only=True)
    except SIGTERMException:  # Lightning stopped at a step boundary and saved last.ckpt
        print("stopped by SIGTERM; continue with the same command and --resume", file=sys.stderr)
        return 143
    if not cli.trainer.is_global_zero:  # under DDP every process runs this function; one reports
        return 0
    best = getattr(ckpt, "best_model_path", "") or getattr(ckpt, "last_model_path", "")
    metrics = {k: float(v) for k, v in cli.trainer.callback_metrics.items()}
    print(f"checkpoint: {best}")
    if metrics:
        print("metrics: " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items())))
    return 0


@dataclass
class TrainResult:
    """What :func:`train_masked_diffusion` returns."""

    model: MaskedDiffusion
    checkpoint: Path
    metrics: dict[str, float]


def train_masked_diffusion(
    data: SequenceDataModule,
    *,
    backbone: Backbone | None = None,
    out_dir: str | Path = "runs/train",
    max_steps: int = 2000,
    val_check_interval: int = 200,
    seed: int = 0,
    progress: bool = True,
    accelerator: str = "auto",
    resume: bool = False,
    trainer_kwargs: dict[str, Any] | None = None,
    **model_kwargs: Any,
) -> TrainResult:
    """Train a :class:`MaskedDiffusion` on ``data`` with a Lightning Trainer.

    Args:
        data: The data module (its alphabet, length, classes and fixed-length flag configure the model).
        backbone: An unbuilt backbone (default: the model's default transformer).
        out_dir: Where checkpoints (``best.ckpt``, ``last.ckpt``) are written.
        max_steps: Optimiser steps.
        val_check_interval: Validate every this many steps.
        seed: Seed for weights, masking and data order.
        progress: Show Lightning's progress bar.
        accelerator: Lightning accelerator (``"auto"``, ``"cpu"``, ``"gpu"``).
        resume: Continue a killed run from ``<out_dir>/checkpoints/last.ckpt`` when it exists (the result equals
            an uninterrupted run's; see :mod:`seqguide.step_trainer`).
        trainer_kwargs: Further ``lightning.Trainer`` arguments (``precision="bf16-mixed"``,
            ``accumulate_grad_batches``, ``devices``, ``strategy``); several devices from a script relaunch the
            script per device (Lightning's ``ddp``), so use ``seqguide train`` or a script for that.
        **model_kwargs: Further ``MaskedDiffusion`` arguments (``lr``, ``schedule``, ...).

    Returns:
        The trained model (best validation checkpoint loaded when there is a validation split), the
        checkpoint path and the final metrics.
    """
    L.seed_everything(seed, verbose=False)
    out_dir = Path(out_dir)
    model = MaskedDiffusion(data.alphabet, length=data.length, backbone=backbone, num_classes=data.num_classes,
                            fixed_length=data.fixed_length, **model_kwargs)
    has_val = data.val_fraction > 0
    trainer, ckpt_cb = step_trainer(out_dir, monitor="val/nll", has_val=has_val, max_steps=max_steps,
                                    val_check_interval=val_check_interval, progress=progress, accelerator=accelerator,
                                    **dict(trainer_kwargs or {}))
    trainer.fit(model, datamodule=data, ckpt_path=last_checkpoint(out_dir) if resume else None, weights_only=True)
    path = Path(ckpt_cb.best_model_path or ckpt_cb.last_model_path)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    best = MaskedDiffusion.load(path, map_location=model.device) if path.is_file() else model.eval()
    return TrainResult(best.to(torch.device("cpu")) if accelerator == "cpu" else best, path, metrics)
