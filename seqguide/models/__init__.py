"""Generative models implementing the model protocol (``prior, predict, step, x0_estimate, decode``).

- sequence models (Lightning modules): :mod:`.masked` (:class:`MaskedDiffusion`), :mod:`.simplex`
  (:class:`GumbelSoftmaxFlow`), their base :mod:`.sequence_model` and :mod:`.loading` (:func:`load_model`);
  networks :mod:`.backbones`; noise schedules :mod:`.schedules`, :mod:`.simplex_path`;
- image models: :mod:`.continuous` (:class:`GaussianDiffusion`, :class:`FlowMatching`), :mod:`.unet`,
  :mod:`.gaussian_schedules`; the prediction they hand the step, :mod:`.prediction`;
- exactly solvable models for tests: :mod:`.toy`, :mod:`.toy_continuous`;
- where a model runs: :mod:`.devices` (device, accelerator and precision resolution), :mod:`.compile`
  (``torch.compile`` of its network), :mod:`.checkpoints` (safe checkpoint reading).

Every name below is imported on first use, so that ``seqguide.models.prediction`` and ``seqguide.models.devices``
(used by the sampler) do not load Lightning.
"""

from typing import TYPE_CHECKING

from seqguide.lazy import lazy_exports

if TYPE_CHECKING:
    from seqguide.models.backbones import Backbone, ConvDenoiser, TransformerDenoiser, build_backbone, register_backbone
    from seqguide.models.continuous import FlowMatching, GaussianDiffusion
    from seqguide.models.gaussian_schedules import CosineVPSchedule, LinearVPSchedule, VPSchedule, get_vp_schedule
    from seqguide.models.loading import load_model
    from seqguide.models.masked import MaskedDiffusion
    from seqguide.models.prediction import Prediction
    from seqguide.models.protocol import GenerativeProcess
    from seqguide.models.schedules import CosineSchedule, LogLinearSchedule, NoiseSchedule, get_schedule
    from seqguide.models.sequence_model import SequenceModel
    from seqguide.models.simplex import GumbelSoftmaxFlow, SimplexProcess
    from seqguide.models.simplex_path import GumbelSoftmaxPath
    from seqguide.models.toy import ExactMaskedModel, ExactSimplexModel
    from seqguide.models.toy_continuous import ExactGaussianDenoiser
    from seqguide.models.unet import ImageDenoiser, ImageUNet, build_image_denoiser, register_image_denoiser

_NAMES = {
    "Backbone": "seqguide.models.backbones",
    "ConvDenoiser": "seqguide.models.backbones",
    "TransformerDenoiser": "seqguide.models.backbones",
    "build_backbone": "seqguide.models.backbones",
    "register_backbone": "seqguide.models.backbones",
    "FlowMatching": "seqguide.models.continuous",
    "GaussianDiffusion": "seqguide.models.continuous",
    "CosineVPSchedule": "seqguide.models.gaussian_schedules",
    "LinearVPSchedule": "seqguide.models.gaussian_schedules",
    "VPSchedule": "seqguide.models.gaussian_schedules",
    "get_vp_schedule": "seqguide.models.gaussian_schedules",
    "load_model": "seqguide.models.loading",
    "MaskedDiffusion": "seqguide.models.masked",
    "Prediction": "seqguide.models.prediction",
    "GenerativeProcess": "seqguide.models.protocol",
    "CosineSchedule": "seqguide.models.schedules",
    "LogLinearSchedule": "seqguide.models.schedules",
    "NoiseSchedule": "seqguide.models.schedules",
    "get_schedule": "seqguide.models.schedules",
    "SequenceModel": "seqguide.models.sequence_model",
    "GumbelSoftmaxFlow": "seqguide.models.simplex",
    "SimplexProcess": "seqguide.models.simplex",
    "GumbelSoftmaxPath": "seqguide.models.simplex_path",
    "ExactMaskedModel": "seqguide.models.toy",
    "ExactSimplexModel": "seqguide.models.toy",
    "ExactGaussianDenoiser": "seqguide.models.toy_continuous",
    "ImageDenoiser": "seqguide.models.unet",
    "ImageUNet": "seqguide.models.unet",
    "build_image_denoiser": "seqguide.models.unet",
    "register_image_denoiser": "seqguide.models.unet",
}
__all__ = [
    "Backbone",
    "ConvDenoiser",
    "CosineSchedule",
    "CosineVPSchedule",
    "ExactGaussianDenoiser",
    "ExactMaskedModel",
    "ExactSimplexModel",
    "FlowMatching",
    "GaussianDiffusion",
    "GenerativeProcess",
    "GumbelSoftmaxFlow",
    "GumbelSoftmaxPath",
    "ImageDenoiser",
    "ImageUNet",
    "LinearVPSchedule",
    "LogLinearSchedule",
    "MaskedDiffusion",
    "NoiseSchedule",
    "Prediction",
    "SequenceModel",
    "SimplexProcess",
    "TransformerDenoiser",
    "VPSchedule",
    "build_backbone",
    "build_image_denoiser",
    "get_schedule",
    "get_vp_schedule",
    "load_model",
    "register_backbone",
    "register_image_denoiser",
]
__getattr__ = lazy_exports(__name__, _NAMES)
