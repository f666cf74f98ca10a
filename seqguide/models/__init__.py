"""Generative models implementing the model protocol (``prior, predict, step, x0_estimate, decode``)."""

from seqguide.models.backbones import Backbone, ConvDenoiser, TransformerDenoiser, build_backbone, register_backbone
from seqguide.models.masked import MaskedDiffusion
from seqguide.models.protocol import GenerativeProcess
from seqguide.models.schedules import CosineSchedule, LogLinearSchedule, NoiseSchedule, get_schedule
from seqguide.models.sequence_model import SequenceModel, load_model
from seqguide.models.simplex import GumbelSoftmaxFlow, SimplexProcess
from seqguide.models.simplex_path import GumbelSoftmaxPath
from seqguide.models.toy import ExactMaskedModel, ExactSimplexModel

__all__ = [
    "Backbone",
    "ConvDenoiser",
    "CosineSchedule",
    "ExactMaskedModel",
    "ExactSimplexModel",
    "GenerativeProcess",
    "GumbelSoftmaxFlow",
    "GumbelSoftmaxPath",
    "LogLinearSchedule",
    "MaskedDiffusion",
    "NoiseSchedule",
    "SequenceModel",
    "SimplexProcess",
    "TransformerDenoiser",
    "build_backbone",
    "get_schedule",
    "load_model",
    "register_backbone",
]
