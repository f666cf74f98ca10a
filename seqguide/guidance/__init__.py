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
from seqguide.guidance.classifier_discrete import DiscreteClassifierGuidance
from seqguide.guidance.classifier_guidance import ClassifierGuidance
from seqguide.guidance.discrete_cfg import DiscreteCFG
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
from seqguide.guidance.stgflow import STGFlow
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
    "ClassifierFitReport",
    "ClassifierGuidance",
    "DifferentiableReward",
    "DiscreteCFG",
    "DiscreteClassifierGuidance",
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
    "NoisyClassifier",
    "PosteriorMeanValue",
    "QuantizedExpectation",
    "RewardGuidance",
    "RewardMeasurement",
    "ReweightedFit",
    "STGFlow",
    "TokenObservation",
    "ValueFitReport",
    "ValueFunction",
    "ValueModel",
    "as_measurement",
    "as_value",
    "build_guider",
    "effective_sample_size",
    "fit_noisy_classifier",
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

# The learned models on noisy states need Lightning; import them on first use so that `import seqguide` stays light.
_LAZY = {
    "LearnedValue": "seqguide.guidance.learned_value",
    "ValueFitReport": "seqguide.guidance.value_model",
    "ValueModel": "seqguide.guidance.value_model",
    "fit_value_model": "seqguide.guidance.value_model",
    "ClassifierFitReport": "seqguide.guidance.noisy_classifier",
    "NoisyClassifier": "seqguide.guidance.noisy_classifier",
    "fit_noisy_classifier": "seqguide.guidance.noisy_classifier",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
