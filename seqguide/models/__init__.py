"""Generative models implementing the model protocol (``prior, predict, step, x0_estimate, decode``)."""

from seqguide.models.backbones import Backbone, ConvDenoiser, TransformerDenoiser, build_backbone, register_backbone
from seqguide.models.continuous import FlowMatching, GaussianDiffusion
from seqguide.models.gaussian_schedules import CosineVPSchedule, LinearVPSchedule, VPSchedule, get_vp_schedule
from seqguide.models.masked import MaskedDiffusion
from seqguide.models.protocol import GenerativeProcess
from seqguide.models.schedules import CosineSchedule, LogLinearSchedule, NoiseSchedule, get_schedule
from seqguide.models.sequence_model import SequenceModel, load_model
from seqguide.models.simplex import GumbelSoftmaxFlow, SimplexProcess
from seqguide.models.simplex_path import GumbelSoftmaxPath
from seqguide.models.toy import ExactMaskedModel, ExactSimplexModel
from seqguide.models.toy_continuous import ExactGaussianDenoiser
from seqguide.models.unet import ImageDenoiser, ImageUNet, build_image_denoiser, register_image_denoiser
from seqguide.prediction import Prediction

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

