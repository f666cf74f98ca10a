"""What every trainable discrete sequence model shares: labels with dropout, the optimiser, checkpoints.

:class:`SequenceModel` is the base of :class:`~seqguide.models.MaskedDiffusion` and
:class:`~seqguide.models.GumbelSoftmaxFlow` (and the class the ``seqguide train`` LightningCLI accepts in
``model.class_path``). A subclass defines the learning problem in ``_common_step(batch, stage)`` and the
sampling process (``prior, predict, step, x0_estimate, decode``). Checkpoints are plain data: they record the
class in ``checkpoint["seqguide_model"]`` and load with ``torch.load(weights_only=True)``;
:func:`seqguide.models.load_model` (:mod:`seqguide.models.loading`) rebuilds whichever sequence model a checkpoint
holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch

from seqguide.models.checkpoints import CheckpointError, load_checkpoint
from seqguide.models.lightning_steps import WarmupSteps

__all__ = ["SequenceModel", "build_from_checkpoint", "checkpoint_class", "read_checkpoint"]

_CLASS_KEY = "seqguide_model"


class SequenceModel(WarmupSteps):
    """Base class: class-label dropout, AdamW with linear warm-up, train/val/test steps and checkpoint loading.

    Subclasses set ``alphabet``, ``length``, ``num_classes`` and ``hparams`` (``lr``, ``weight_decay``,
    ``warmup_steps``, ``cond_dropout``, plain-data ``alphabet`` and ``backbone``) and implement
    ``_common_step(batch, stage) -> loss``.
    """

    #: Hyperparameters only this class has: identifies its checkpoints written before the class was recorded.
    checkpoint_keys: ClassVar[frozenset[str]] = frozenset()
    #: The validation metric (lower is better) that picks the best checkpoint.
    monitor: ClassVar[str] = "val/loss"

    # ------------------------------------------------------------------ data
    def encode(self, sequences: Sequence[str]) -> torch.Tensor:
        """Strings to ``(B, length)`` ids on the model's device."""
        return self.alphabet.encode(sequences, length=self.length, device=self.device)

    # ------------------------------------------------------------------ training
    # ------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[_CLASS_KEY] = type(self).__name__

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> SequenceModel:
        """Load a Lightning checkpoint with ``torch.load(weights_only=True)`` (no pickled objects).

        Raises:
            FileNotFoundError: if ``path`` does not exist.
            CheckpointError: (a ``ValueError``) if the file is not a checkpoint of this class: empty, random or
                truncated bytes, pickled code, another model's weights (the message names the class it holds).
        """
        path = Path(path)
        ckpt = read_checkpoint(path, f"seqguide {cls.__name__} checkpoint")
        name = ckpt.get(_CLASS_KEY)
        if isinstance(name, str) and name != cls.__name__ and name not in _subclasses(cls):
            # Another model's checkpoint, whether or not its module is imported (seqguide.models.load_model
            # imports every model and says which one it is).
            raise CheckpointError(f"{path}: a {name} checkpoint, not a {cls.__name__} one; load it with "
                                  "seqguide.models.load_model")
        found = checkpoint_class(ckpt, path)
        if found is not None and not issubclass(found, cls):
            raise CheckpointError(f"{path}: a {found.__name__} checkpoint, not a {cls.__name__} one; load it with "
                                  f"{found.__name__}.load or seqguide.models.load_model")
        return build_from_checkpoint(found or cls, ckpt, path).to(map_location)


def read_checkpoint(path: Path, what: str) -> dict[str, Any]:
    """The checkpoint dict at ``path``, refused unless it is a Lightning checkpoint of a sequence model."""
    ckpt = load_checkpoint(path, map_location="cpu", what=what)
    if "state_dict" not in ckpt or "hyper_parameters" not in ckpt:
        raise CheckpointError(f"{path}: not a Lightning checkpoint (missing state_dict/hyper_parameters)")
    hp = ckpt["hyper_parameters"]
    if not isinstance(hp, dict) or "backbone" not in hp or "alphabet" not in hp:
        raise CheckpointError(f"{path}: not a {what} (its hyperparameters have no backbone/alphabet)")
    return ckpt


def _subclasses(base: type[SequenceModel] | None = None) -> dict[str, type[SequenceModel]]:
    """The classes derived from ``base`` (default: every sequence model) that are defined so far, by name.
    :mod:`seqguide.models.loading` imports the concrete models, so :func:`~seqguide.models.load_model` knows them
    all."""
    out: dict[str, type[SequenceModel]] = {}
    todo = list((base or SequenceModel).__subclasses__())
    while todo:
        c = todo.pop()
        out[c.__name__] = c
        todo.extend(c.__subclasses__())
    return out


def checkpoint_class(ckpt: dict[str, Any], path: Path) -> type[SequenceModel] | None:
    """The class a checkpoint records, or the one whose ``checkpoint_keys`` its hyperparameters have."""
    classes = _subclasses()
    name = ckpt.get(_CLASS_KEY)
    if isinstance(name, str):
        if name not in classes:
            raise CheckpointError(f"{path}: a checkpoint of the unknown sequence model {name!r} (known: "
                                  f"{sorted(classes)})")
        return classes[name]
    hp = set(ckpt["hyper_parameters"])
    matches = [c for c in classes.values() if c.checkpoint_keys and c.checkpoint_keys <= hp]
    return matches[0] if len(matches) == 1 else None


def build_from_checkpoint(cls: type[SequenceModel], ckpt: dict[str, Any], path: Path) -> SequenceModel:
    """``cls`` built from the checkpoint's hyperparameters with its weights loaded, in eval mode."""
    # LightningCLI adds its own bookkeeping keys (the instantiator, the class path in subclass mode).
    hp = {k: v for k, v in ckpt["hyper_parameters"].items() if not k.startswith("_")}
    try:
        model = cls(**hp)
        model.load_state_dict(ckpt["state_dict"])
    except (TypeError, ValueError, KeyError, RuntimeError) as err:
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path}: not a {cls.__name__} checkpoint this version can build ({detail[:300]})"
                              ) from None
    return model.eval()

