"""Where a model lives: one helper shared by the sampler and the trainers (no heavy imports)."""

from __future__ import annotations

import torch

__all__ = ["model_device"]


def model_device(model: object) -> torch.device:
    """The device of ``model``: its ``device`` attribute, else its first parameter's, else the CPU."""
    dev = getattr(model, "device", None)
    if isinstance(dev, torch.device):
        return dev
    try:
        return next(model.parameters()).device  # type: ignore[attr-defined]
    except (AttributeError, StopIteration):
        return torch.device("cpu")
