"""Posterior sampling from a measurement, and reward guidance.

What belongs here: guiders that sample ``p(x | y) ∝ p(x) q(y | x)`` for an observation ``y`` of the design (APS's
anchored posterior sampling, the clamping baseline), the measurements that define ``q`` (forward operators such as
inpainting and downsampling, token observations, rewards as measurements: :mod:`.measurement`,
:mod:`.reward_measurement`), measurements used as values of value-based guiders (:mod:`.measurement_value`), and
reward guidance, which tilts the prediction toward a reward-reweighted one (:mod:`.reward_guidance`).
"""

from seqguide.guidance.posterior.aps import APS, QuantizedExpectation, quantized_expectation
from seqguide.guidance.posterior.measurement import (
    Downsample,
    GaussianMeasurement,
    Inpainting,
    LinearObservation,
    Measurement,
    TokenObservation,
)
from seqguide.guidance.posterior.measurement_value import ClampObserved, MeasurementValue
from seqguide.guidance.posterior.reward_guidance import (
    RewardGuidance,
    ReweightedFit,
    effective_sample_size,
    fit_reweighted,
    guided_prediction,
    lam_for_ess,
    reward_weights,
)
from seqguide.guidance.posterior.reward_measurement import DifferentiableReward, RewardMeasurement, as_measurement

__all__ = [
    "APS",
    "ClampObserved",
    "DifferentiableReward",
    "Downsample",
    "GaussianMeasurement",
    "Inpainting",
    "LinearObservation",
    "Measurement",
    "MeasurementValue",
    "QuantizedExpectation",
    "RewardGuidance",
    "RewardMeasurement",
    "ReweightedFit",
    "TokenObservation",
    "as_measurement",
    "effective_sample_size",
    "fit_reweighted",
    "guided_prediction",
    "lam_for_ess",
    "quantized_expectation",
    "reward_weights",
]
