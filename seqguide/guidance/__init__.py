"""The guider core: every guidance method is a ``Guider`` acting on the hooks of the sampling loop."""

from seqguide.guidance.base import Candidates, Final, Guider
from seqguide.guidance.beam import BeamSearch
from seqguide.guidance.best_of_n import BestOfN
from seqguide.guidance.classifier_discrete import DiscreteClassifierGuidance
from seqguide.guidance.discrete_cfg import DiscreteCFG
from seqguide.guidance.smc import SMC
from seqguide.guidance.stgflow import STGFlow
from seqguide.guidance.svdd import SVDD
from seqguide.guidance.value import CallableValue, PosteriorMeanValue, ValueFunction, as_value

__all__ = [
    "SMC",
    "SVDD",
    "BeamSearch",
    "BestOfN",
    "CallableValue",
    "Candidates",
    "ClassifierFitReport",
    "DiscreteCFG",
    "DiscreteClassifierGuidance",
    "Final",
    "Guider",
    "LearnedValue",
    "NoisyClassifier",
    "PosteriorMeanValue",
    "STGFlow",
    "ValueFitReport",
    "ValueFunction",
    "ValueModel",
    "as_value",
    "fit_noisy_classifier",
    "fit_value_model",
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
