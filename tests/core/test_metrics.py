"""Benchmark metrics: the CFG diagnostic E[1 / p(c | X)], reconstruction error and posterior diversity."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seqguide.metrics import expected_reciprocal_probability, mse, pairwise_diversity, psnr


def test_expected_reciprocal_probability() -> None:
    assert expected_reciprocal_probability(torch.tensor([0.5, 0.25])) == pytest.approx(3.0)
    probs = np.array([[0.1, 0.9], [0.8, 0.2]])
    assert expected_reciprocal_probability(probs, labels=[1, 1]) == pytest.approx((1 / 0.9 + 1 / 0.2) / 2)
    assert expected_reciprocal_probability(probs, labels=0) == pytest.approx((10 + 1.25) / 2)
    assert math.isinf(expected_reciprocal_probability([0.0, 1.0]))
    with pytest.raises(ValueError, match="need labels"):
        expected_reciprocal_probability(probs)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        expected_reciprocal_probability([1.5])


def test_error_and_diversity() -> None:
    a, b = torch.zeros(2, 4), torch.full((2, 4), 2.0)
    assert mse(a, b) == 4.0 and psnr(a, b, peak=16.0) == pytest.approx(10 * math.log10(64))
    assert math.isinf(psnr(a, a, peak=1.0))
    x = torch.tensor([[0, 0], [0, 2], [5, 5], [5, 5]])  # two groups of two
    assert pairwise_diversity(x, 2) == pytest.approx((1.0 + 0.0) / 2)
    assert pairwise_diversity(x, 2, metric="hamming") == pytest.approx(0.25)
    assert math.isnan(pairwise_diversity(x, 4))
    with pytest.raises(ValueError, match="metric must be"):
        pairwise_diversity(x, 2, metric="cosine")
