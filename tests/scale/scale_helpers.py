"""Shared helpers of the scale-out tests (imported by name: ``from scale_helpers import tiny_model``)."""

from __future__ import annotations

import torch

from seqguide.models import MaskedDiffusion, TransformerDenoiser


def tiny_model(num_classes: int = 0) -> MaskedDiffusion:
    """A length-8 DNA transformer with random (not zero) output weights, in eval mode."""
    torch.manual_seed(0)
    model = MaskedDiffusion("dna", length=8, backbone=TransformerDenoiser(dim=16, depth=1, heads=2),
                            num_classes=num_classes)
    with torch.no_grad():  # untrained heads are zero: give the logits some structure
        torch.nn.init.normal_(model.backbone.head.weight, std=1.0)
    return model.eval()
