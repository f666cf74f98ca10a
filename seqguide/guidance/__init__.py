"""The guider core: every guidance method is a ``Guider`` acting on the hooks of the sampling loop."""

from seqguide.guidance.adaptive_guidance import AdaptiveGuidance
from seqguide.guidance.apg import APG
from seqguide.guidance.aps import APS, QuantizedExpectation, quantized_expectation
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
from seqguide.guidance.measurement import (
    Downsample,
    GaussianMeasurement,
    Inpainting,
    LinearObservation,
    Measurement,
    TokenObservation,
)
from seqguide.guidance.measurement_value import ClampObserved, MeasurementValue
from seqguide.guidance.raag import RAAG
from seqguide.guidance.registry import build_guider, guider_info, guider_spec, list_guiders
from seqguide.guidance.reward_guidance import (
    RewardGuidance,
    ReweightedFit,
    effective_sample_size,
    fit_reweighted,
    guided_prediction,
    lam_for_ess,
    reward_weights,
)
from seqguide.guidance.reward_measurement import DifferentiableReward, RewardMeasurement, as_measurement
from seqguide.guidance.smc import SMC
from seqguide.guidance.svdd import SVDD
from seqguide.guidance.value import CallableValue, PosteriorMeanValue, ValueFunction, as_value

__all__ = [
    "APG",
    "APS",
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
    "ClampObserved",
    "ClassifierGuidance",
    "DifferentiableReward",
    "Downsample",
    "DynamicCFG",
    "Final",
    "GaussianMeasurement",
    "GuidanceInterval",
    "Guider",
    "Inpainting",
    "LearnedValue",
    "LinearAG",
    "LinearObservation",
    "Measurement",
    "MeasurementValue",
    "PosteriorMeanValue",
    "QuantizedExpectation",
    "RewardGuidance",
    "RewardMeasurement",
    "ReweightedFit",
    "TokenObservation",
    "ValueFitReport",
    "ValueFunction",
    "ValueModel",
    "as_measurement",
    "as_value",
    "build_guider",
    "effective_sample_size",
    "fit_reweighted",
    "fit_value_model",
    "guided_prediction",
    "guider_info",
    "guider_spec",
    "lam_for_ess",
    "list_guiders",
    "quantized_expectation",
    "reward_weights",
]

# The learned value model (SVDD-MC) needs Lightning; import it on first use so that `import seqguide` stays light.
_VALUE_MODEL_NAMES = ("LearnedValue", "ValueFitReport", "ValueModel", "fit_value_model")


def __getattr__(name: str):
    if name in _VALUE_MODEL_NAMES:
        from seqguide.guidance import value_model

        return getattr(value_model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
