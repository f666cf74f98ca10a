"""CFG++: manifold-constrained classifier-free guidance (Chung et al. 2024, arXiv 2406.08070, Alg. 1 / eq. 12).

The DDIM step with CFG renoises along the guided noise estimate; CFG++ keeps the guided clean estimate but
renoises along the *unconditional* one:

    x0_lam = x0(u + lam (c - u)),     x_s = alpha_s x0_lam + sigma_s eps(u)

with lam in [0, 1] (lam about 0.6 behaves like CFG w = 7.5 in the paper's README). The guider hands the step
the unconditional prediction in ``Prediction.uncond``; :class:`~seqguide.models.GaussianDiffusion` (DDIM/DDPM)
and :class:`~seqguide.models.FlowMatching` (Euler: ``x_s = (1 - s) x0_lam + s eps_u``, the flow analogue) do the
renoising. It needs a model whose step understands that field (``model.prediction_extras``); a masked discrete
model has no renoising direction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch

from seqguide.guidance.cfg.common import CFGBase
from seqguide.models.prediction import prediction_value, with_value

__all__ = ["CFGPlusPlus"]


class CFGPlusPlus(CFGBase):
    """CFG++ on the ``combine`` hook; the model's step renoises with the unconditional prediction.

    Args:
        scale: lambda, multiplying ``c - u`` in the clean estimate ``u + lam (c - u)`` (renoised with the
            unconditional eps): 0 = unconditional, 1 = the conditional estimate; the paper uses [0, 1].
        start: Fraction of the run (by step) from which guidance is applied.
        stop: Fraction after which it is not.
    """

    paper: ClassVar[str] = "Chung et al. 2024, arXiv 2406.08070 (CFG++), Alg. 1"

    def __init__(self, *, scale: float = 0.6, start: float = 0.0, stop: float = 1.0) -> None:
        if scale < 0:
            raise ValueError(f"scale must be >= 0 (lambda in [0, 1] in the paper), got {scale}")
        super().__init__(scale=scale, start=start, stop=stop)

    def reset(self, ctx: Any) -> None:
        super().reset(ctx)
        if "uncond" not in getattr(ctx.model, "prediction_extras", ()):
            raise TypeError(f"CFGPlusPlus needs a model whose step renoises with the unconditional prediction "
                            f"(GaussianDiffusion, FlowMatching); {type(ctx.model).__name__} does not")

    def is_noop(self) -> bool:
        return False  # lam = 1 still renoises with u: never the conditional model itself

    def wrap(self, preds: Mapping[str, Any], guided: torch.Tensor) -> Any:
        return with_value(preds["cond"], guided, uncond=prediction_value(preds["uncond"]))

    def _hyper(self) -> str:
        return f"scale={self.scale}"
