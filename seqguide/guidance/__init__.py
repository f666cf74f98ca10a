"""The guider core: every guidance method is a ``Guider`` acting on the hooks of the sampling loop.

The package root holds the core every family builds on; each family of methods is a subpackage whose
``__init__`` says what belongs there:

- :mod:`.base` (:class:`Guider`, :class:`Candidates`, :class:`Final`: the hooks), :mod:`.registry` (every guider
  by name, validated arguments, ``seqguide guiders``), :mod:`.noisy_states` (networks on noisy masked states and
  their one training run, shared by the value model and the noisy classifier);
- :mod:`.value`: derivative-free guidance by a value of states (SVDD, SMC, best-of-N, beam) and value functions;
- :mod:`.cfg`: the classifier-free family for continuous models (CFG, CFG++, APG, FDG, ...) and image classifier
  guidance;
- :mod:`.discrete`: discrete CFG, discrete classifier guidance, STGFlow and the noisy classifier;
- :mod:`.posterior`: posterior sampling from a measurement (APS) and reward guidance.

Every public name is importable from here (``from seqguide.guidance import SVDD``); registry names do not depend on
where a class lives.
"""

from seqguide.guidance.base import Candidates, Final, Guider
from seqguide.guidance.cfg import (
    APG,
    CFG,
    FDG,
    RAAG,
    AdaptiveGuidance,
    CFGCtrl,
    CFGPlusPlus,
    CFGZeroStar,
    ClassifierGuidance,
    DynamicCFG,
    GuidanceInterval,
    LinearAG,
)
from seqguide.guidance.discrete import DiscreteCFG, DiscreteClassifierGuidance, STGFlow
from seqguide.guidance.posterior import (
    APS,
    ClampObserved,
    DifferentiableReward,
    Downsample,
    GaussianMeasurement,
    Inpainting,
    LinearObservation,
    Measurement,
    MeasurementValue,
    QuantizedExpectation,
    RewardGuidance,
    RewardMeasurement,
    ReweightedFit,
    TokenObservation,
    as_measurement,
    effective_sample_size,
    fit_reweighted,
    guided_prediction,
    lam_for_ess,
    quantized_expectation,
    reward_weights,
)
from seqguide.guidance.registry import build_guider, guider_info, guider_spec, list_guiders
from seqguide.guidance.value import (
    SMC,
    SVDD,
    BeamSearch,
    BestOfN,
    CallableValue,
    PosteriorMeanValue,
    ValueFunction,
    as_value,
)
from seqguide.lazy import lazy_exports

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
__getattr__ = lazy_exports(__name__, {
    "LearnedValue": "seqguide.guidance.value.learned",
    "ValueFitReport": "seqguide.guidance.value.fit",
    "ValueModel": "seqguide.guidance.value.model",
    "fit_value_model": "seqguide.guidance.value.fit",
    "ClassifierFitReport": "seqguide.guidance.discrete.noisy_classifier",
    "NoisyClassifier": "seqguide.guidance.discrete.noisy_classifier",
    "fit_noisy_classifier": "seqguide.guidance.discrete.noisy_classifier",
})
