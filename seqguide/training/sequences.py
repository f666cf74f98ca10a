"""Training entry points: the LightningCLI behind ``seqguide train`` and Python functions for design loops.

``seqguide train --config configs/train/crp.yaml`` builds a :class:`SequenceDataModule` and a sequence model
from YAML (any Trainer flag can be given on the command line, and ``--print_config`` prints the resolved
configuration). The model is any :class:`~seqguide.models.SequenceModel` subclass, chosen by ``model.class_path``
(LightningCLI subclass mode); without one it is :class:`~seqguide.models.MaskedDiffusion`, so a config that
gives only ``model.backbone``, ``model.lr``, ... trains masked diffusion::

    model:
      class_path: seqguide.models.GumbelSoftmaxFlow       # configs/train/crp_simplex.yaml
      init_args: {lr: 0.002, backbone: {class_path: seqguide.models.ConvDenoiser, init_args: {dim: 64}}}

``--model GumbelSoftmaxFlow`` switches the class on the command line. The model's alphabet, length, number of
classes and whether pad is allowed are read from the data, so the YAML never repeats them. The best checkpoint
is chosen by the model's own validation metric (``val/nll`` for masked diffusion, ``val/ce`` for the flow).

From Python::

    from seqguide.training.sequences import train_masked_diffusion, train_gumbel_softmax_flow
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
from seqguide.models.checkpoints import CheckpointError
from seqguide.models.masked import MaskedDiffusion
from seqguide.models.sequence_model import SequenceModel
from seqguide.models.simplex import GumbelSoftmaxFlow
from seqguide.training.options import add_trainer_options, prepare_fit
from seqguide.training.quiet import QuietCLI
from seqguide.training.step_trainer import ResumeState, checked_resume, last_checkpoint, step_trainer

__all__ = ["SeqguideCLI", "TrainResult", "train_cli", "train_gumbel_softmax_flow", "train_masked_diffusion",
           "train_sequence_model"]

#: Model hyperparameters read from the data module (linked, never written in the YAML).
_DATA_LINKS = ("alphabet", "length", "num_classes", "fixed_length")


class _ModelMetricCheckpoint(ModelCheckpoint):
    """``best.ckpt`` by the model's own validation metric (its ``monitor`` attribute), and ``last.ckpt``."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self.monitor is None:
            self.monitor = getattr(pl_module, "monitor", None)
        super().setup(trainer, pl_module, stage)


class SeqguideCLI(QuietCLI, LightningCLI):
    """LightningCLI for any :class:`SequenceModel` (default ``MaskedDiffusion``) + ``SequenceDataModule``, with
    data-to-model links."""

    def add_arguments_to_parser(self, parser: Any) -> None:
        for name in _DATA_LINKS:
            parser.link_arguments(f"data.{name}", f"model.init_args.{name}", apply_on="instantiate")
        add_trainer_options(parser)  # --ckpt_path last|FILE, --compile
        parser.add_argument("--resume", action="store_true",
                            help="continue from <default_root_dir>/checkpoints/last.ckpt (a killed run) if it exists; "
                                 "the same as --ckpt_path last")
        parser.set_defaults({
            "model": {"class_path": f"{MaskedDiffusion.__module__}.{MaskedDiffusion.__name__}"},
            "trainer.max_steps": 2000,
            "trainer.val_check_interval": 200,
            "trainer.check_val_every_n_epoch": None,
            "trainer.default_root_dir": "runs/train",
            "trainer.log_every_n_steps": 20,
        })


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
    """``seqguide train [--config FILE] [--model CLASS] [--trainer.* ...] [--model.* ...] [--data.* ...]``."""
    import sys

    from seqguide.io.safe_yaml import ConfigError, read_yaml

    args = list(sys.argv[1:] if argv is None else argv)
    try:  # the project's YAML refusals (binary files, duplicate keys, alias bombs) before jsonargparse reads it
        for file in _config_files(args):
            read_yaml(file, what="training config")
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    cli = SeqguideCLI(
        SequenceModel,
        SequenceDataModule,
        subclass_mode_model=True,
        args=list(argv) if argv is not None else None,
        run=False,
        save_config_kwargs={"overwrite": True},
        trainer_defaults={"callbacks": [_ModelMetricCheckpoint(filename="best", mode="min", save_last=True,
                                                               save_top_k=1), ResumeState()]},
        seed_everything_default=0,
        auto_configure_optimizers=False,
    )
    ckpt = cli.trainer.checkpoint_callback
    if isinstance(ckpt, ModelCheckpoint) and ckpt.dirpath is None:  # a predictable place: <root>/checkpoints
        ckpt.dirpath = str(Path(cli.trainer.default_root_dir) / "checkpoints")
    try:
        ckpt_path = prepare_fit(cli.config, cli.model, cli.trainer)  # --compile, --ckpt_path last|FILE
        if ckpt_path is None and cli.config.get("resume"):  # --resume: the same as --ckpt_path last
            ckpt_path = last_checkpoint(cli.trainer.default_root_dir)
            if ckpt_path is not None:
                ckpt_path = checked_resume(ckpt_path, other="train without --resume in another "
                                                            "--trainer.default_root_dir")[0]
    except (CheckpointError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        cli.trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=ckpt_path, weights_only=True)
    except SIGTERMException:  # Lightning stopped at a step boundary and saved last.ckpt
        print("stopped by SIGTERM; continue with the same command and --resume", file=sys.stderr)
        return 143
    if not cli.trainer.is_global_zero:  # under DDP every process runs this function; one reports
        return 0
    best = getattr(ckpt, "best_model_path", "") or getattr(ckpt, "last_model_path", "")
    metrics = {k: float(v) for k, v in cli.trainer.callback_metrics.items()}
    print(f"model: {type(cli.model).__name__}")
    print(f"checkpoint: {best}")
    if metrics:
        print("metrics: " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items())))
    return 0


@dataclass
class TrainResult:
    """What :func:`train_sequence_model` (and the per-class functions) return."""

    model: SequenceModel
    checkpoint: Path
    metrics: dict[str, float]


def train_sequence_model(
    model_class: type[SequenceModel],
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
    """Train a sequence model of ``model_class`` on ``data`` with a Lightning Trainer.

    Args:
        model_class: :class:`MaskedDiffusion`, :class:`GumbelSoftmaxFlow` or another :class:`SequenceModel`.
        data: The data module (its alphabet, length, classes and fixed-length flag configure the model).
        backbone: An unbuilt backbone (default: the model's default transformer).
        out_dir: Where checkpoints (``best.ckpt``, ``last.ckpt``) are written.
        max_steps: Optimiser steps.
        val_check_interval: Validate every this many steps.
        seed: Seed for weights, noise and data order.
        progress: Show Lightning's progress bar.
        accelerator: Lightning accelerator (``"auto"``, ``"cpu"``, ``"gpu"``).
        resume: Continue a killed run from ``<out_dir>/checkpoints/last.ckpt`` when it exists (the result equals
            an uninterrupted run's; see :mod:`seqguide.training.step_trainer`).
        trainer_kwargs: Further ``lightning.Trainer`` arguments (``precision="bf16-mixed"``,
            ``accumulate_grad_batches``, ``devices``, ``strategy``); several devices from a script relaunch the
            script per device (Lightning's ``ddp``), so use ``seqguide train`` or a script for that.
        **model_kwargs: Further model arguments (``lr``, ``schedule``, ``tau_max``, ...).

    Returns:
        The trained model (best validation checkpoint loaded when there is a validation split, by the model's
        ``monitor`` metric), the checkpoint path and the final metrics.
    """
    if not (isinstance(model_class, type) and issubclass(model_class, SequenceModel)):
        raise TypeError(f"model_class must be a SequenceModel subclass, got {model_class!r}")
    L.seed_everything(seed, verbose=False)
    out_dir = Path(out_dir)
    model = model_class(data.alphabet, length=data.length, backbone=backbone, num_classes=data.num_classes,
                        fixed_length=data.fixed_length, **model_kwargs)
    has_val = data.val_fraction > 0
    trainer, ckpt_cb = step_trainer(out_dir, monitor=model.monitor, has_val=has_val, max_steps=max_steps,
                                    val_check_interval=val_check_interval, progress=progress, accelerator=accelerator,
                                    **dict(trainer_kwargs or {}))
    last = last_checkpoint(out_dir) if resume else None
    if last is not None:  # a corrupt last.ckpt: one line naming it (CheckpointError), not Lightning's traceback
        last = checked_resume(last, other=None)[0]
    trainer.fit(model, datamodule=data, ckpt_path=last, weights_only=True)
    path = Path(ckpt_cb.best_model_path or ckpt_cb.last_model_path)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    best = model_class.load(path, map_location=model.device) if path.is_file() else model.eval()
    return TrainResult(best.to(torch.device("cpu")) if accelerator == "cpu" else best, path, metrics)


def train_masked_diffusion(data: SequenceDataModule, **kwargs: Any) -> TrainResult:
    """Train a :class:`MaskedDiffusion` on ``data``; the arguments are those of :func:`train_sequence_model`
    (``backbone``, ``out_dir``, ``max_steps``, ``val_check_interval``, ``seed``, ``progress``, ``accelerator``,
    and model arguments such as ``lr`` or ``schedule``)."""
    return train_sequence_model(MaskedDiffusion, data, **kwargs)


def train_gumbel_softmax_flow(data: SequenceDataModule, **kwargs: Any) -> TrainResult:
    """Train a :class:`GumbelSoftmaxFlow` on ``data``; the arguments are those of :func:`train_sequence_model`
    (``backbone``, ``out_dir``, ``max_steps``, ...; model arguments such as ``lr``, ``tau_max``, ``decay``)."""
    return train_sequence_model(GumbelSoftmaxFlow, data, **kwargs)
