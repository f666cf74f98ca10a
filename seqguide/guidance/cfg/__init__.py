"""The classifier-free-guidance family for continuous models (image diffusion and flows), and image classifier
guidance.

What belongs here: guiders that combine the conditional and unconditional predictions of a continuous model
(eps, x0, v or a velocity) in ``combine``: CFG and its corrections (CFG++, APG, FDG, CFG-Zero*, adaptive and
interval guidance, LinearAG, RAAG, CFG-Ctrl, dynamic CFG), plus classifier guidance with a clean-image classifier
(EluCD), which adjusts the same predictions. Their shared branch handling and tensor helpers live in
:mod:`.common` (:class:`~seqguide.guidance.cfg.common.CFGBase`): a new CFG-style guider subclasses it. CFG for
*discrete* models is in :mod:`seqguide.guidance.discrete`.
"""

from seqguide.guidance.cfg.adaptive_guidance import AdaptiveGuidance
from seqguide.guidance.cfg.apg import APG
from seqguide.guidance.cfg.cfg import CFG
from seqguide.guidance.cfg.cfg_ctrl import CFGCtrl
from seqguide.guidance.cfg.cfg_plus_plus import CFGPlusPlus
from seqguide.guidance.cfg.cfg_zero_star import CFGZeroStar
from seqguide.guidance.cfg.classifier_guidance import ClassifierGuidance
from seqguide.guidance.cfg.dynamic_cfg import DynamicCFG
from seqguide.guidance.cfg.fdg import FDG
from seqguide.guidance.cfg.guidance_interval import GuidanceInterval
from seqguide.guidance.cfg.linear_ag import LinearAG
from seqguide.guidance.cfg.raag import RAAG

__all__ = [
    "APG",
    "CFG",
    "FDG",
    "RAAG",
    "AdaptiveGuidance",
    "CFGCtrl",
    "CFGPlusPlus",
    "CFGZeroStar",
    "ClassifierGuidance",
    "DynamicCFG",
    "GuidanceInterval",
    "LinearAG",
]
