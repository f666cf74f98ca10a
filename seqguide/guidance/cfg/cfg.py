"""CFG: classifier-free guidance (Ho & Salimans 2022, arXiv 2207.12598, eq. 6), with guidance rescale.

    guided = u + w (c - u)          (base="uncond": w = 1 is the conditional model; diffusers/Imagen)
    guided = c + w (c - u)          (base="cond":   w = 0 is the conditional model; the paper's eq. 6)

on whatever the model predicts: eps, x0, v or a velocity (the combination is affine with weights summing to 1,
so all parameterisations give the same x0 estimate), or a discrete model's clean-token log-probabilities, where
it is the normalised product of experts ``p_c^w p_u^(1 - w)`` per position. ``rescale = phi`` applies guidance
rescale (Lin et al. 2024, arXiv 2305.08891, §3.4). One instance steers masked discrete models and image models.

Example:
    >>> from seqguide import sample
    >>> out = sample(model, 16, steps=30, cond=3, guidance=[CFG(scale=3.0)])      # doctest: +SKIP
"""

from __future__ import annotations

from typing import ClassVar, Literal

from seqguide.guidance.cfg.common import CFGBase

__all__ = ["CFG"]


class CFG(CFGBase):
    """Classifier-free guidance on the ``combine`` hook.

    Args:
        scale: Guidance scale w.
            Multiplies the guidance difference ``c - u``: with ``base="uncond"`` ``u + w (c - u)`` (w = 0
            the unconditional prediction, 1 the conditional one: no guidance); with ``base="cond"``
            ``c + w (c - u)`` (w = 0 no guidance).
        base: ``"uncond"`` (``u + w (c - u)``) or ``"cond"`` (``c + w (c - u)``).
        rescale: Guidance rescale phi in [0, 1] (0.7 in Lin et al.).
        start: Fraction of the run (by step) from which guidance is applied.
        stop: Fraction after which it is not (only the conditional branch is evaluated outside).
    """

    paper: ClassVar[str] = ("Ho & Salimans 2022, arXiv 2207.12598 (CFG), eq. 6; "
                            "rescale: Lin et al. 2024, arXiv 2305.08891")

    def __init__(self, *, scale: float = 3.0, base: Literal["uncond", "cond"] = "uncond", rescale: float = 0.0,
                 start: float = 0.0, stop: float = 1.0) -> None:
        super().__init__(scale=scale, base=base, rescale=rescale, start=start, stop=stop)
