"""A Lightning ``Trainer`` counted in optimiser steps that keeps the best and the last checkpoint.

Shared by :func:`seqguide.training.train_masked_diffusion` and :func:`seqguide.guidance.fit_value_model`,
so both validate, checkpoint and reload the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

__all__ = ["checkpoint_callback", "step_trainer"]


def checkpoint_callback(dirpath: str | Path | None = None, *, monitor: str | None) -> ModelCheckpoint:
    """``best.ckpt`` (lowest ``monitor``; the latest when ``monitor`` is None) and ``last.ckpt`` in ``dirpath``."""
    return ModelCheckpoint(dirpath=dirpath, filename="best", monitor=monitor, mode="min", save_last=True,
                           save_top_k=1)


def step_trainer(root: str | Path, *, monitor: str, has_val: bool, max_steps: int, val_check_interval: int,
                 progress: bool, accelerator: str, **trainer_kwargs: Any) -> tuple[L.Trainer, ModelCheckpoint]:
    """A one-device Trainer for ``max_steps`` steps, validating every ``val_check_interval`` steps when
    ``has_val``, with checkpoints under ``<root>/checkpoints`` and no logger.

    Returns:
        The trainer and its checkpoint callback (``best_model_path`` after ``fit``).
    """
    ckpt_cb = checkpoint_callback(Path(root) / "checkpoints", monitor=monitor if has_val else None)
    trainer = L.Trainer(
        max_steps=max_steps,
        val_check_interval=min(val_check_interval, max_steps) if has_val else None,
        check_val_every_n_epoch=None,
        limit_val_batches=1.0 if has_val else 0,
        callbacks=[ckpt_cb],
        default_root_dir=str(root),
        logger=False,
        enable_progress_bar=progress,
        enable_model_summary=False,
        accelerator=accelerator,
        devices=trainer_kwargs.pop("devices", 1),
        **trainer_kwargs,
    )
    return trainer, ckpt_cb
