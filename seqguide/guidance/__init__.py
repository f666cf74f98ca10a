"""The guider core: every guidance method is a ``Guider`` acting on the hooks of the sampling loop."""

from seqguide.guidance.base import Candidates, Final, Guider
from seqguide.guidance.beam import BeamSearch
from seqguide.guidance.best_of_n import BestOfN
from seqguide.guidance.registry import build_guider, guider_info, guider_spec, list_guiders
from seqguide.guidance.smc import SMC
from seqguide.guidance.svdd import SVDD
from seqguide.guidance.value import CallableValue, PosteriorMeanValue, ValueFunction, as_value

__all__ = [
    "SMC",
    "SVDD",
    "BeamSearch",
    "BestOfN",
    "CallableValue",
    "Candidates",
    "Final",
    "Guider",
    "LearnedValue",
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
