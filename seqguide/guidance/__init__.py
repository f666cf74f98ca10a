"""The guider core: every guidance method is a ``Guider`` acting on the hooks of the sampling loop."""

from seqguide.guidance.base import Candidates, Final, Guider
from seqguide.guidance.beam import BeamSearch
from seqguide.guidance.best_of_n import BestOfN
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
    "PosteriorMeanValue",
    "ValueFunction",
    "as_value",
]
