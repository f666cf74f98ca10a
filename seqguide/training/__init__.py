"""Training: the Lightning entry points behind ``seqguide train`` and the Python functions design loops call.

What belongs here: code that runs a Lightning ``Trainer`` for a seqguide model, and what every such run shares:

- :mod:`.sequences`: the LightningCLI for sequence models and :func:`train_masked_diffusion`,
  :func:`train_gumbel_softmax_flow`, :func:`train_sequence_model`;
- :mod:`.images`: the LightningCLI for image models and :func:`train_image_model`;
- :mod:`.step_trainer`: a ``Trainer`` counted in optimiser steps with best/last checkpoints and exact resume
  (also used by the learned value model, the noisy classifier and reward guidance's fits);
- :mod:`.options`: ``seqguide train`` options beyond the Trainer's own (``--ckpt_path last``, ``--compile``).

The models themselves (and ``torch.compile`` of their networks) live in :mod:`seqguide.models`. Every name below
is imported on first use, so ``import seqguide.training`` does not load Lightning.

Example:
    >>> from seqguide.training import train_masked_diffusion          # doctest: +SKIP
    >>> result = train_masked_diffusion(SequenceDataModule(preset="crp"), max_steps=500, out_dir="runs/crp")
"""

from seqguide.lazy import lazy_exports

__all__ = [
    "ImageTrainResult",
    "SeqguideCLI",
    "TrainResult",
    "train_cli",
    "train_gumbel_softmax_flow",
    "train_image_model",
    "train_images_cli",
    "train_masked_diffusion",
    "train_sequence_model",
]

_SEQUENCES = "seqguide.training.sequences"
_IMAGES = "seqguide.training.images"
__getattr__ = lazy_exports(__name__, {
    "SeqguideCLI": _SEQUENCES,
    "TrainResult": _SEQUENCES,
    "train_cli": _SEQUENCES,
    "train_gumbel_softmax_flow": _SEQUENCES,
    "train_masked_diffusion": _SEQUENCES,
    "train_sequence_model": _SEQUENCES,
    "ImageTrainResult": _IMAGES,
    "train_image_model": _IMAGES,
    "train_images_cli": _IMAGES,
})
