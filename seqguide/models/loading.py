"""Load whichever sequence model a checkpoint holds (:func:`load_model`).

The checkpoint records its class (``checkpoint["seqguide_model"]``); this module imports every concrete sequence
model so the name always resolves, which :class:`~seqguide.models.SequenceModel` itself cannot do without
importing its own subclasses.
"""

from __future__ import annotations

from pathlib import Path

import torch

from seqguide.models.checkpoints import CheckpointError
from seqguide.models.masked import MaskedDiffusion
from seqguide.models.sequence_model import SequenceModel, build_from_checkpoint, checkpoint_class, read_checkpoint
from seqguide.models.simplex import GumbelSoftmaxFlow

__all__ = ["MODELS", "load_model"]

#: The sequence models a checkpoint may hold (third-party subclasses are found once their module is imported).
MODELS: tuple[type[SequenceModel], ...] = (MaskedDiffusion, GumbelSoftmaxFlow)


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> SequenceModel:
    """Load any seqguide sequence-model checkpoint (``MaskedDiffusion``, ``GumbelSoftmaxFlow``, ...).

    Example:
        >>> model = load_model("runs/train/crp/checkpoints/best.ckpt")    # doctest: +SKIP

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        CheckpointError: (a ``ValueError``) if it is not a sequence-model checkpoint or its class cannot be told.
    """
    path = Path(path)
    ckpt = read_checkpoint(path, "seqguide sequence-model checkpoint")
    cls = checkpoint_class(ckpt, path)
    if cls is None:
        raise CheckpointError(f"{path}: cannot tell which sequence model this checkpoint holds")
    return build_from_checkpoint(cls, ckpt, path).to(map_location)
