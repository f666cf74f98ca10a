"""Guidance with gradients or a second branch on discrete models: masked diffusion and simplex flows.

What belongs here: guiders that change a discrete model's clean-token distribution with a class branch or a
differentiable model of the objective: discrete classifier-free guidance with a time schedule, discrete classifier
(and regressor) guidance with a noisy-input classifier, and straight-through guided simplex flows (STGFlow), plus
the noisy-input classifier they train (:mod:`.noisy_classifier`, needs Lightning, imported on first use).
Selection by a black-box value belongs in :mod:`seqguide.guidance.value`; posterior sampling from a measurement in
:mod:`seqguide.guidance.posterior`.
"""


from seqguide.guidance.discrete.cfg import DiscreteCFG
from seqguide.guidance.discrete.classifier import DiscreteClassifierGuidance
from seqguide.guidance.discrete.stgflow import STGFlow
from seqguide.lazy import lazy_exports

__all__ = [
    "ClassifierFitReport",
    "DiscreteCFG",
    "DiscreteClassifierGuidance",
    "NoisyClassifier",
    "STGFlow",
    "fit_noisy_classifier",
]

# The noisy classifier needs Lightning; import it on first use so that `import seqguide` stays light.
_LAZY = {
    "ClassifierFitReport": "seqguide.guidance.discrete.noisy_classifier",
    "NoisyClassifier": "seqguide.guidance.discrete.noisy_classifier",
    "fit_noisy_classifier": "seqguide.guidance.discrete.noisy_classifier",
}
__getattr__ = lazy_exports(__name__, _LAZY)
