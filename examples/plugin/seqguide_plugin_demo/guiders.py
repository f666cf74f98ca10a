"""The ``gc_bias`` guider of the example plugin: tilts a DNA model's clean-token prediction toward G and C."""

from __future__ import annotations

import torch

from seqguide import DNA
from seqguide.guidance import Guider


class GCBias(Guider):
    """Add ``strength`` to the logits of G and C in every clean-token prediction: an ``adjust`` hook.

    The sampler then reveals G or C with odds ``exp(strength)`` times the model's, i.e. it samples the model tilted
    by ``exp(strength * #GC)`` position by position (a toy of classifier guidance with a known log-likelihood).

    Args:
        strength: Logit added to G and C (0 leaves the model unchanged).
        start: Fraction of the run at which the guider becomes active.
        stop: Fraction at which it stops.
    """

    paper = "an example plugin (docs/tutorials/plugins.md)"

    def __init__(self, strength: float = 1.0, *, start: float = 0.0, stop: float = 1.0) -> None:
        super().__init__(start=start, stop=stop)
        if not strength == strength or abs(strength) == float("inf"):
            raise ValueError(f"strength must be finite, got {strength}")
        self.strength = float(strength)
        self.ids = DNA.encode(["GC"], length=2)[0].tolist()

    def adjust(self, state: torch.Tensor, pred: torch.Tensor, t: float) -> torch.Tensor:
        bias = torch.zeros(pred.shape[-1], dtype=pred.dtype, device=pred.device)
        bias[self.ids] = self.strength
        return pred + bias  # (B, L, V) logits; -inf (mask, pad) stays -inf
