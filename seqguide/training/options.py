"""Options of ``seqguide train`` beyond the Trainer's own: resuming a run and ``torch.compile``.

Everything about *where* a run trains is a Trainer key that LightningCLI already exposes, from the command line
or the YAML, with nothing in the models to change:

    --trainer.strategy ddp|fsdp|ddp_spawn    --trainer.devices 8    --trainer.num_nodes 2
    --trainer.precision bf16-mixed|16-mixed  --trainer.accumulate_grad_batches 4

This module adds the rest:

* ``--ckpt_path last`` resumes an interrupted run from ``<default_root_dir>/checkpoints/last.ckpt`` (weights,
  optimiser, scheduler, step counter); a path resumes from that file. With ``last`` and no checkpoint yet the
  run starts fresh and says so, so one command both starts and resumes a job on a preemptible machine. A file
  that cannot be resumed from (empty, truncated, not a training checkpoint, holding code) is refused in one line
  naming it before Lightning reads it.
* ``--compile true`` compiles the model's network in place with ``torch.compile`` (``--compile_backend``,
  ``--compile_mode``); checkpoint keys are unchanged, so compiled and plain runs resume from each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import ModelCheckpoint

from seqguide.models.compile import compile_backbone
from seqguide.training.step_trainer import checked_resume

__all__ = ["add_trainer_options", "prepare_fit", "resolve_ckpt_path"]

LAST = "last"


def add_trainer_options(parser: Any) -> None:
    """Add ``--ckpt_path``, ``--compile``, ``--compile_backend`` and ``--compile_mode`` to a LightningCLI parser."""
    parser.add_argument("--ckpt_path", type=str | None, default=None,
                        help="Resume from a checkpoint file, or 'last': <default_root_dir>/checkpoints/last.ckpt "
                             "(a fresh start when there is none yet).")
    parser.add_argument("--compile", type=bool, default=False, help="torch.compile the model's network in place.")
    parser.add_argument("--compile_backend", type=str, default="inductor", help="torch.compile backend.")
    parser.add_argument("--compile_mode", type=str | None, default=None,
                        help="torch.compile mode (default, reduce-overhead, max-autotune).")


def _checkpoint_dirs(trainer: Any) -> list[Path]:
    return [Path(cb.dirpath) for cb in trainer.callbacks if isinstance(cb, ModelCheckpoint) and cb.dirpath]


def resolve_ckpt_path(ckpt_path: str | None, trainer: Any) -> tuple[str | None, str]:
    """The file to resume from and a message saying what happens.

    Args:
        ckpt_path: None (fresh run), ``"last"`` (the run's ``last.ckpt`` if there is one) or a file.
        trainer: The Trainer (its checkpoint callbacks say where ``last.ckpt`` lives).

    Raises:
        FileNotFoundError: for a checkpoint path that does not exist.
        CheckpointError: for a file that training cannot resume from (one line naming it).
    """
    if ckpt_path is None:
        return None, ""
    if ckpt_path != LAST:
        path = Path(ckpt_path)
        if not path.is_file():
            raise FileNotFoundError(f"--ckpt_path {ckpt_path}: no such checkpoint file")
        return str(path), f"resuming from {path} (step {checked_resume(path)[1]})"
    dirs = _checkpoint_dirs(trainer)
    for d in dirs:
        last = d / "last.ckpt"
        if last.is_file():
            return str(last), f"resuming from {last} (step {checked_resume(last)[1]})"
    where = ", ".join(str(d) for d in dirs) or "(no checkpoint directory)"
    return None, f"--ckpt_path last: no last.ckpt in {where} yet; starting a fresh run"


def prepare_fit(config: Any, model: Any, trainer: Any) -> str | None:
    """Apply ``--compile`` to ``model`` and resolve ``--ckpt_path``; print what happens on global rank 0.

    Args:
        config: The CLI's parsed configuration (``cli.config``).
        model: The LightningModule to fit.
        trainer: Its Trainer.

    Returns:
        The checkpoint file to pass to ``trainer.fit(ckpt_path=...)``, or None.
    """
    if config.get("compile"):
        compile_backbone(model, backend=config.get("compile_backend") or "inductor",
                         mode=config.get("compile_mode"))
    ckpt_path, message = resolve_ckpt_path(config.get("ckpt_path"), trainer)
    if message and trainer.is_global_zero:
        print(message)
    return ckpt_path
