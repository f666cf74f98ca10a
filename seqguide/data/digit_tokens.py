"""scikit-learn's 8x8 handwritten digits as discrete images: 64 tokens over 17 grey levels.

``sklearn.datasets.load_digits`` ships 1797 images of 8x8 pixels whose values are the integers 0-16 (the
number of "on" pixels in each 4x4 block of the original 32x32 bitmap), with the digit 0-9 as label. Read
row by row, an image is a sequence of 64 tokens over the :data:`~seqguide.alphabet.GREY17` alphabet
(token id = grey level, written ``0-9A-G``), so a :class:`~seqguide.models.MaskedDiffusion` models it like
any other sequence and the posterior-sampling guiders (APS, SVDD, SMC) solve image inverse problems on it.

Example:
    >>> from seqguide.data import SequenceDataModule
    >>> dm = SequenceDataModule(preset="digits")            # doctest: +SKIP
    >>> dm.alphabet.name, dm.length, dm.num_classes          # doctest: +SKIP
    ('grey17', 64, 10)
    >>> tokens_to_images(dm.train_dataset.tokens[:2]).shape  # doctest: +SKIP
    torch.Size([2, 8, 8])
"""

from __future__ import annotations

import numpy as np
import torch

from seqguide.alphabet import GREY17
from seqguide.data.records import SequenceRecords

__all__ = ["DIGIT_SIDE", "GREY_LEVELS", "grey_values", "images_to_tokens", "load_digit_records", "tokens_to_images"]

DIGIT_SIDE = 8  #: image side in pixels
GREY_LEVELS = 17  #: grey levels 0..16 (= regular tokens of GREY17)


def load_digit_records() -> SequenceRecords:
    """All 1797 digits as 64-token strings over GREY17, labelled by digit (``class_names`` ``"0"``-``"9"``)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    tokens = images_to_tokens(bunch.data)
    return SequenceRecords(
        sequences=GREY17.decode(tokens),
        labels=[int(v) for v in bunch.target],
        class_names=[str(d) for d in range(10)],
        source="sklearn.datasets.load_digits (sklearn/datasets/data/digits.csv.gz)",
        lines=list(range(1, len(tokens) + 1)),
    )


def images_to_tokens(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Grey-level images ``(N, 8, 8)`` or ``(N, 64)`` (values in [0, 16], rounded) to token ids ``(N, 64)``.

    Raises:
        ValueError: for a wrong shape, or values outside [0, 16] (naming the first bad image and pixel).
    """
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images, dtype=torch.float64)
    if x.dim() == 3:
        x = x.flatten(1)
    if x.dim() != 2 or x.shape[1] != DIGIT_SIDE * DIGIT_SIDE:
        raise ValueError(f"expected images of shape (N, 8, 8) or (N, 64), got {tuple(x.shape)}")
    bad = (x < 0) | (x > GREY_LEVELS - 1) | ~torch.isfinite(x)
    if bad.any():
        i, j = (int(v) for v in bad.nonzero()[0])
        raise ValueError(f"image {i}, pixel {j}: value {float(x[i, j])} is outside the grey levels 0..16")
    return x.round().long()


def tokens_to_images(tokens: torch.Tensor) -> torch.Tensor:
    """Token ids ``(N, 64)`` (grey levels; no mask or pad) to float images ``(N, 8, 8)``.

    Raises:
        ValueError: if a token is not a grey level (e.g. a mask left in an unfinished sample).
    """
    if tokens.dim() != 2 or tokens.shape[1] != DIGIT_SIDE * DIGIT_SIDE:
        raise ValueError(f"expected token ids of shape (N, 64), got {tuple(tokens.shape)}")
    bad = (tokens < 0) | (tokens >= GREY_LEVELS)
    if bad.any():
        i, j = (int(v) for v in bad.nonzero()[0])
        raise ValueError(f"image {i}, pixel {j}: token id {int(tokens[i, j])} is not a grey level (0..16)")
    return tokens.float().view(-1, DIGIT_SIDE, DIGIT_SIDE)


def grey_values(device: torch.device | str | None = None) -> torch.Tensor:
    """The value of each GREY17 token, ``(17, 1)`` float: token k has grey level k."""
    return torch.arange(GREY_LEVELS, dtype=torch.float32, device=device)[:, None]
