"""A Lightning ``Trainer`` counted in optimiser steps that keeps the best and the last checkpoint, and can
resume a killed run so that it ends with the weights an uninterrupted run would have.

Shared by :func:`seqguide.training.sequences.train_masked_diffusion` and :func:`seqguide.guidance.fit_value_model`,
so both validate, checkpoint and reload the same way.

Resuming (``trainer.fit(..., ckpt_path=last_checkpoint(root))``) is exact because every checkpoint holds,
besides the weights, optimiser, scheduler and loop counters that Lightning saves:

* the global random states (torch CPU and CUDA, Python, NumPy), restored when training restarts, so the
  masks and times drawn after the resume are the ones the uninterrupted run draws;
* the training loader's shuffle state and position (:class:`seqguide.data.ResumableLoader`), so the
  resumed epoch sees the same batches in the same order.

``last.ckpt`` is written at every validation (and every ``checkpoint_every`` steps when there is no
validation split) and, on SIGTERM, at the step boundary where Lightning stops; a SIGKILL loses at most the
steps since the last one, which the resumed run replays identically.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.trainer.states import RunningStage
from lightning.pytorch.utilities.exceptions import SIGTERMException

__all__ = ["ResumeState", "checked_resume", "checkpoint_callback", "last_checkpoint", "step_trainer"]

#: The name of the checkpoint a killed run resumes from.
LAST = "last.ckpt"


def checkpoint_callback(dirpath: str | Path | None = None, *, monitor: str | None) -> ModelCheckpoint:
    """``best.ckpt`` (lowest ``monitor``; the latest when ``monitor`` is None) and ``last.ckpt`` in ``dirpath``."""
    return ModelCheckpoint(dirpath=dirpath, filename="best", monitor=monitor, mode="min", save_last=True,
                           save_top_k=1)


def _rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002 - the global state, to restore it
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate(),
                             "numpy": [name, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos),
                                       int(has_gauss), float(cached)]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_as_tuple(state["python"]))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))  # noqa: NPY002
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuple(x: Any) -> Any:
    return tuple(_as_tuple(v) for v in x) if isinstance(x, list | tuple) else x


class ResumeState(Callback):
    """Makes a resumed run continue exactly where the killed one stopped (see the module docstring).

    Args:
        last_path: Where to write the checkpoint when Lightning stops on SIGTERM (default: ``last.ckpt`` next to
            the trainer's checkpoint callback, or under ``<default_root_dir>/checkpoints``).
    """

    def __init__(self, last_path: str | Path | None = None) -> None:
        self.last_path = None if last_path is None else Path(last_path)
        self._pending: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {"rng": _rng_state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = state_dict.get("rng")

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # After the sanity check, so its draws do not shift the restored stream.
        if self._pending is not None:
            _set_rng_state(self._pending)
            self._pending = None

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        # Lightning raises SIGTERMException at a step boundary: save there (not in the middle of validation).
        if isinstance(exception, SIGTERMException) and trainer.state.stage == RunningStage.TRAINING:
            path = self.last_path
            if path is None:
                cb = trainer.checkpoint_callback
                folder = getattr(cb, "dirpath", None) or Path(trainer.default_root_dir) / "checkpoints"
                path = Path(folder) / LAST
            path.parent.mkdir(parents=True, exist_ok=True)
            trainer.save_checkpoint(path, weights_only=False)  # the full state: weights, optimiser, loops


def last_checkpoint(root: str | Path) -> Path | None:
    """``<root>/checkpoints/last.ckpt`` if a run under ``root`` left one (resume from it), else None."""
    path = Path(root) / "checkpoints" / LAST
    return path if path.is_file() else None


def checked_resume(path: str | Path, *, other: str | None = "pass another --ckpt_path") -> tuple[Path, int]:
    """Check that training can resume from ``path`` before Lightning reads it: ``(path, its global step)``.

    Loaded with ``weights_only=True`` (never code), like every checkpoint seqguide reads.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        CheckpointError: one line naming the file, saying it is corrupt (empty, truncated, not a PyTorch
            checkpoint, holding Python objects, not a training checkpoint) and to delete it (or ``other``).
    """
    from seqguide.models.checkpoints import CheckpointError, load_checkpoint

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such checkpoint file: {path}")
    fix = "; it is corrupt: delete it to train afresh" + (f", or {other}" if other else "")
    try:
        ckpt = load_checkpoint(path, what="training checkpoint")
    except CheckpointError as err:
        raise CheckpointError(f"cannot resume training from {err}{fix}") from None
    missing = [k for k in ("state_dict", "global_step") if k not in ckpt]
    if missing:
        raise CheckpointError(f"cannot resume training from {path}: not a training checkpoint (no "
                              f"{' or '.join(missing)}){fix}")
    try:
        return path, int(ckpt["global_step"])
    except (TypeError, ValueError):
        raise CheckpointError(f"cannot resume training from {path}: its global_step is "
                              f"{ckpt['global_step']!r}, not a step count{fix}") from None


def step_trainer(root: str | Path, *, monitor: str, has_val: bool, max_steps: int, val_check_interval: int,
                 progress: bool, accelerator: str, checkpoint_every: int | None = None,
                 **trainer_kwargs: Any) -> tuple[L.Trainer, ModelCheckpoint]:
    """A one-device Trainer for ``max_steps`` steps, validating every ``val_check_interval`` steps when
    ``has_val``, with checkpoints under ``<root>/checkpoints`` and no logger.

    Args:
        checkpoint_every: Without a validation split, write ``last.ckpt`` every this many steps (default
            ``val_check_interval``); with one, ``last.ckpt`` is written at every validation.

    Returns:
        The trainer and its checkpoint callback (``best_model_path`` after ``fit``).
    """
    ckpt_dir = Path(root) / "checkpoints"
    ckpt_cb = checkpoint_callback(ckpt_dir, monitor=monitor if has_val else None)
    callbacks: list[Callback] = [ckpt_cb, ResumeState(ckpt_dir / LAST)]
    if not has_val:
        every = min(checkpoint_every or val_check_interval, max_steps)
        callbacks.append(ModelCheckpoint(dirpath=ckpt_dir, filename=Path(LAST).stem, monitor=None, save_top_k=1,
                                         every_n_train_steps=every, enable_version_counter=False))
    trainer = L.Trainer(
        max_steps=max_steps,
        val_check_interval=min(val_check_interval, max_steps) if has_val else None,
        check_val_every_n_epoch=None,
        limit_val_batches=1.0 if has_val else 0,
        callbacks=callbacks,
        default_root_dir=str(root),
        logger=False,
        enable_progress_bar=progress,
        enable_model_summary=False,
        accelerator=accelerator,
        devices=trainer_kwargs.pop("devices", 1),
        **trainer_kwargs,
    )
    return trainer, ckpt_cb
