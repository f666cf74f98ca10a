"""Fixtures of the continuous-model tests: exactly solvable Gaussian image models."""

from __future__ import annotations

import pytest
import torch

from seqguide.models import ExactGaussianDenoiser, FlowMatching, GaussianDiffusion

STD = 0.2
MU = (-0.5, 0.5, 0.0)  # class 0, class 1, null


def gaussian_means(shape=(1, 2, 2)) -> torch.Tensor:
    return torch.stack([torch.full(shape, m) for m in MU])


@pytest.fixture
def means() -> torch.Tensor:
    return gaussian_means()


def exact_diffusion(prediction: str = "eps", **kwargs) -> GaussianDiffusion:
    kwargs.setdefault("clip_x0", False)
    return GaussianDiffusion(ExactGaussianDenoiser(gaussian_means(), STD), image_shape=(1, 2, 2), num_classes=2,
                             prediction=prediction, **kwargs)


def exact_flow(**kwargs) -> FlowMatching:
    return FlowMatching(ExactGaussianDenoiser(gaussian_means(), STD), image_shape=(1, 2, 2), num_classes=2, **kwargs)
