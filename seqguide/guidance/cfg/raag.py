"""RAAG: ratio-aware adaptive guidance (Zhu et al. 2025, arXiv 2508.03442).

The ratio ``rho_t = ||c - u|| / ||u||`` spikes in the first steps of flow sampling, where a large guidance
scale amplifies errors. RAAG damps the scale there by an exponential in the ratio, per sample:

    w_t = 1 + (w - 1) exp(-alpha rho_t),      guided = u + w_t (c - u).

(diffusers implements the same rule as ``MagnitudeAwareGuidance``, citing the same arXiv id, with alpha = 8.)
"""

from __future__ import annotations

from typing import ClassVar

import torch

from seqguide.guidance.cfg.common import CFGBase, flat_norm, guidance_difference
from seqguide.sampling.numerics import EPS

__all__ = ["RAAG", "raag_scale"]


def raag_scale(c: torch.Tensor, u: torch.Tensor, w: float, alpha: float) -> torch.Tensor:
    """``w_t = 1 + (w - 1) exp(-alpha ||c - u|| / ||u||)`` ``(B,)``."""
    rho = flat_norm(guidance_difference(c, u)) / flat_norm(u).clamp_min(EPS)
    return 1.0 + (w - 1.0) * torch.exp(-alpha * rho)


class RAAG(CFGBase):
    """Ratio-aware adaptive guidance scale.

    Args:
        scale: w, the largest guidance scale, multiplying ``c - u`` in ``u + w_eff (c - u)`` after the decay in
            the ratio, ``w_eff = 1 + (w - 1) exp(-alpha ||c - u|| / ||u||)`` (between 1 and w): w = 1 is the
            conditional prediction (no guidance); w_eff = 0, the unconditional one, is never reached for w >= 0.
        alpha: Decay rate of the scale in the ratio ``||c - u|| / ||u||``.
        start: Fraction of the run (by step) from which guidance is applied.
        stop: Fraction after which it is not.
    """

    paper: ClassVar[str] = "Zhu et al. 2025, arXiv 2508.03442 (RAAG), adaptive schedule w(rho)"

    def __init__(self, *, scale: float = 5.0, alpha: float = 8.0, start: float = 0.0, stop: float = 1.0) -> None:
        super().__init__(scale=scale, start=start, stop=stop)
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        self.alpha = float(alpha)

    def guide(self, c: torch.Tensor, u: torch.Tensor, t: float) -> torch.Tensor:
        return self._cfg(c, u, raag_scale(c, u, self.weight, self.alpha))

    def _hyper(self) -> str:
        return f"scale={self.scale}, alpha={self.alpha}"
