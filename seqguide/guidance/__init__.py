"""The guider core: every guidance method is a ``Guider`` acting on the hooks of the sampling loop."""

from seqguide.guidance.adaptive_guidance import AdaptiveGuidance
from seqguide.guidance.apg import APG
from seqguide.guidance.base import Candidates, Final, Guider
from seqguide.guidance.beam import BeamSearch
from seqguide.guidance.best_of_n import BestOfN
from seqguide.guidance.cfg import CFG
from seqguide.guidance.cfg_ctrl import CFGCtrl
from seqguide.guidance.cfg_plus_plus import CFGPlusPlus
from seqguide.guidance.cfg_zero_star import CFGZeroStar
from seqguide.guidance.classifier_guidance import ClassifierGuidance
from seqguide.guidance.dynamic_cfg import DynamicCFG
from seqguide.guidance.fdg import FDG
from seqguide.guidance.guidance_interval import GuidanceInterval
from seqguide.guidance.linear_ag import LinearAG
from seqguide.guidance.raag import RAAG
from seqguide.guidance.registry import build_guider, guider_info, guider_spec, list_guiders
from seqguide.guidance.smc import SMC
from seqguide.guidance.svdd import SVDD
from seqguide.guidance.value import CallableValue, PosteriorMeanValue, ValueFunction, as_value

__all__ = [
    "APG",
    "CFG",
    "FDG",
    "RAAG",
    "SMC",
    "SVDD",
    "AdaptiveGuidance",
    "BeamSearch",
    "BestOfN",
    "CFGCtrl",
    "CFGPlusPlus",
    "CFGZeroStar",
    "CallableValue",
    "Candidates",
    "ClassifierGuidance",
    "DynamicCFG",
    "Final",
    "GuidanceInterval",
    "Guider",
    "LearnedValue",
    "LinearAG",
    "PosteriorMeanValue",
    "ValueFitReport",
    "ValueFunction",
    "ValueModel",
    "as_value",
    "build_guider",
    "fit_value_model",
    "guider_info",
    "guider_spec",
    "list_guiders",
]

# The learned value model (SVDD-MC) needs Lightning; import it on first use so that `import seqguide` stays light.
_VALUE_MODEL_NAMES = ("LearnedValue", "ValueFitReport", "ValueModel", "fit_value_model")


def __getattr__(name: str):
    if name in _VALUE_MODEL_NAMES:
        from seqguide.guidance import value_model

        return getattr(value_model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
