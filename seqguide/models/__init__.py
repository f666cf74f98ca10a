"""Generative models implementing the model protocol (``prior, predict, step, x0_estimate, decode``)."""

from seqguide.models.backbones import Backbone, ConvDenoiser, TransformerDenoiser, build_backbone, register_backbone
from seqguide.models.masked import MaskedDiffusion
from seqguide.models.protocol import GenerativeProcess
from seqguide.models.schedules import CosineSchedule, LogLinearSchedule, NoiseSchedule, get_schedule
from seqguide.models.toy import ExactMaskedModel

__all__ = [
    "Backbone",
    "ConvDenoiser",
    "CosineSchedule",
    "ExactMaskedModel",
    "GenerativeProcess",
    "LogLinearSchedule",
    "MaskedDiffusion",
    "NoiseSchedule",
    "TransformerDenoiser",
    "build_backbone",
    "get_schedule",
    "register_backbone",
]
