"""Value-based, derivative-free guidance: steer by *selecting* among the model's own proposals by a value.

What belongs here: guiders that implement ``propose``/``select``/``finalize`` with a value of states (SVDD, SMC /
Feynman-Kac steering, best-of-N, beam search), the value functions they score with (the oracle on the
look-ahead, a callable, a learned value model) and what those need (resampling, fitting and training the
SVDD-MC value model). A new guider that picks or reweights particles by a reward goes here.

- :mod:`.svdd`, :mod:`.smc`, :mod:`.best_of_n`, :mod:`.beam`: the guiders; :mod:`.resampling`: SMC's resamplers.
- :mod:`.functions`: :class:`ValueFunction` and the look-ahead values; :mod:`.learned`: the SVDD-MC value.
- :mod:`.model`, :mod:`.regression`, :mod:`.fit`, :mod:`.train_cli`: the learned value model, its regression
  metrics, its fit and ``seqguide train-value`` (these need Lightning and are imported on first use).
"""


from seqguide.guidance.value.beam import BeamSearch
from seqguide.guidance.value.best_of_n import BestOfN
from seqguide.guidance.value.functions import CallableValue, PosteriorMeanValue, ValueFunction, as_value
from seqguide.guidance.value.smc import SMC
from seqguide.guidance.value.svdd import SVDD
from seqguide.lazy import lazy_exports

__all__ = [
    "SMC",
    "SVDD",
    "BeamSearch",
    "BestOfN",
    "CallableValue",
    "LearnedValue",
    "PosteriorMeanValue",
    "ValueFitReport",
    "ValueFunction",
    "ValueModel",
    "as_value",
    "fit_value_model",
]

# The learned value model needs Lightning; import it on first use so that `import seqguide` stays light.
# The last three are not public here: they keep the old module path seqguide.guidance.value_model (moved.py maps it
# to this package) offering every name it had.
_LAZY = {
    "LearnedValue": "seqguide.guidance.value.learned",
    "ValueFitReport": "seqguide.guidance.value.fit",
    "ValueModel": "seqguide.guidance.value.model",
    "fit_value_model": "seqguide.guidance.value.fit",
    "NoisedRewardDataset": "seqguide.guidance.value.model",
    "evaluate_value_model": "seqguide.guidance.value.fit",
    "regression_metrics": "seqguide.guidance.value.regression",
}
__getattr__ = lazy_exports(__name__, _LAZY)
