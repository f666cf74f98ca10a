"""The one sampling loop (``sample``) and its per-run context."""

from seqguide.sampling.context import Counters, SamplingContext
from seqguide.sampling.sampler import Samples, sample

__all__ = ["Counters", "Samples", "SamplingContext", "sample"]
