"""Image data sets shipped inside installed packages, and the LightningDataModule that feeds image models.

Presets (nothing is downloaded):

- ``digits``: scikit-learn's bundled handwritten digits (UCI optdigits test set; 1,797 images of 8 x 8 pixels
  with 17 grey levels, 10 classes), ``sklearn.datasets.load_digits``.
- ``photo_patches``: 16 x 16 RGB patches cut (at a fixed seed) from scikit-learn's two bundled sample
  photographs (``load_sample_images``: a Chinese temple and a flower, 427 x 640), downscaled 4x first so a patch
  holds visible structure; the class is the photograph a patch comes from (2 classes).

Batches are dicts ``{"images": FloatTensor (B, C, H, W) in [-1, 1], "labels": LongTensor (B,)}``; ``[-1, 1]`` is
the model space of :class:`~seqguide.models.GaussianDiffusion` / :class:`~seqguide.models.FlowMatching`.

Example:
    >>> dm = ImageDataModule("digits", batch_size=64)
    >>> dm.image_shape, dm.num_classes
    ((1, 8, 8), 10)
    >>> next(iter(dm.train_dataloader()))["images"].shape
    torch.Size([64, 1, 8, 8])
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

__all__ = ["IMAGE_PRESETS", "ImageDataModule", "ImageDataset", "ImageSet", "load_image_preset"]

log = logging.getLogger(__name__)

_DIGITS_MAX = 16.0  # load_digits pixels are integers 0..16
_PATCH = 16
_PATCHES_PER_PHOTO = 1500
_PHOTO_DOWNSCALE = 4


@dataclass
class ImageSet:
    """Images with labels: ``images (N, C, H, W)`` float32 in [0, 1], ``labels (N,)`` int64, class names."""

    images: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    source: str


def _digits(seed: int) -> ImageSet:
    from sklearn.datasets import load_digits

    d = load_digits()
    images = torch.from_numpy(d.images.astype(np.float32) / _DIGITS_MAX).unsqueeze(1)
    return ImageSet(images, torch.from_numpy(d.target.astype(np.int64)), [str(c) for c in d.target_names],
                    "sklearn.datasets.load_digits")


def _photo_patches(seed: int) -> ImageSet:
    from sklearn.datasets import load_sample_images

    photos = load_sample_images()
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label, photo in enumerate(photos.images):
        x = torch.from_numpy(photo.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
        x = torch.nn.functional.avg_pool2d(x, _PHOTO_DOWNSCALE)[0]
        H, W = x.shape[1:]
        rows = rng.integers(0, H - _PATCH + 1, _PATCHES_PER_PHOTO)
        cols = rng.integers(0, W - _PATCH + 1, _PATCHES_PER_PHOTO)
        images += [x[:, r : r + _PATCH, c : c + _PATCH] for r, c in zip(rows, cols)]
        labels += [label] * _PATCHES_PER_PHOTO
    names = [name.rsplit("/", 1)[-1].split(".")[0] for name in photos.filenames]
    return ImageSet(torch.stack(images), torch.tensor(labels, dtype=torch.long), names,
                    "sklearn.datasets.load_sample_images (16x16 patches)")


#: name -> loader(seed) of each image set shipped in a package.
IMAGE_PRESETS: dict[str, Callable[[int], ImageSet]] = {"digits": _digits, "photo_patches": _photo_patches}


def load_image_preset(name: str, *, seed: int = 0) -> ImageSet:
    """Load a packaged image set by name (``digits`` or ``photo_patches``).

    Raises:
        ValueError: for an unknown name.
    """
    try:
        loader = IMAGE_PRESETS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown image preset {name!r}; available: {', '.join(IMAGE_PRESETS)}") from None
    return loader(seed)


class ImageDataset(Dataset):
    """Images in model space ``[-1, 1]`` with labels; items are ``{"images": (C, H, W), "labels": ()}``."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        if len(images) != len(labels):
            raise ValueError(f"ImageDataset: {len(labels)} labels for {len(images)} images")
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"images": self.images[index], "labels": self.labels[index]}


class ImageDataModule(L.LightningDataModule):
    """A packaged image set, scaled to [-1, 1] and split (seeded, stratified by class) into train/val/test.

    Args:
        preset: ``"digits"`` or ``"photo_patches"``.
        batch_size: Batch size of every loader.
        val_fraction: Fraction held out for validation (0 disables validation).
        test_fraction: Fraction held out as a test set (e.g. for a judge classifier); 0 for none.
        flip: Augment training batches with random horizontal flips (off for digits, whose classes are not
            mirror-symmetric).
        seed: Seed of the split, the patches and the shuffle.
        num_workers: DataLoader worker processes.

    Raises:
        ValueError: for an unknown preset or fractions outside [0, 1) that leave no training data.
    """

    def __init__(self, preset: str = "digits", batch_size: int = 128, val_fraction: float = 0.1,
                 test_fraction: float = 0.0, flip: bool = False, seed: int = 0, num_workers: int = 0) -> None:
        super().__init__()
        if preset.lower() not in IMAGE_PRESETS:
            raise ValueError(f"unknown preset={preset!r}; available: {', '.join(IMAGE_PRESETS)}")
        for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {name}={value}")
        if val_fraction + test_fraction >= 1.0:
            raise ValueError(f"val_fraction + test_fraction must be < 1, got {val_fraction} + {test_fraction}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got batch_size={batch_size}")
        self.save_hyperparameters()
        self.preset, self.batch_size, self.flip = preset.lower(), batch_size, flip
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.seed, self.num_workers = seed, num_workers
        self._set: ImageSet | None = None
        self._splits: dict[str, ImageDataset] = {}

    def _load(self) -> None:
        if self._set is not None:
            return
        data = load_image_preset(self.preset, seed=self.seed)
        x = data.images * 2.0 - 1.0
        g = torch.Generator().manual_seed(self.seed)
        parts: dict[str, list[torch.Tensor]] = {"train": [], "val": [], "test": []}
        for c in range(len(data.class_names)):  # stratified: every split has every class in proportion
            idx = torch.nonzero(data.labels == c).flatten()
            idx = idx[torch.randperm(len(idx), generator=g)]
            n_test = round(self.test_fraction * len(idx))
            n_val = round(self.val_fraction * len(idx))
            parts["test"].append(idx[:n_test])
            parts["val"].append(idx[n_test : n_test + n_val])
            parts["train"].append(idx[n_test + n_val :])
        for name, chunks in parts.items():
            idx = torch.cat(chunks).sort().values
            self._splits[name] = ImageDataset(x[idx], data.labels[idx])
        self._set = data
        log.info("%s: %d train / %d val / %d test images of shape %s", data.source, len(self._splits["train"]),
                 len(self._splits["val"]), len(self._splits["test"]), tuple(x.shape[1:]))

    # ------------------------------------------------------------------ properties
    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)``."""
        self._load()
        return tuple(self._set.images.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        self._load()
        return len(self._set.class_names)

    @property
    def class_names(self) -> list[str]:
        self._load()
        return list(self._set.class_names)

    def split(self, name: str) -> ImageDataset:
        """The ``"train"``, ``"val"`` or ``"test"`` split (images in [-1, 1])."""
        self._load()
        if name not in self._splits:
            raise ValueError(f"split must be 'train', 'val' or 'test', got {name!r}")
        return self._splits[name]

    # ------------------------------------------------------------------ Lightning
    def setup(self, stage: str | None = None) -> None:
        """Load and split the data (once)."""
        self._load()

    def _collate_flip(self, items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        batch = torch.utils.data.default_collate(items)
        flip = torch.rand(batch["images"].shape[0]) < 0.5
        batch["images"] = torch.where(flip[:, None, None, None], batch["images"].flip(-1), batch["images"])
        return batch

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        data = self.split(name)
        collate = self._collate_flip if (self.flip and name == "train") else None
        g = torch.Generator().manual_seed(self.seed)
        return DataLoader(data, batch_size=self.batch_size, shuffle=shuffle, num_workers=self.num_workers,
                          collate_fn=collate, generator=g if shuffle else None, drop_last=False)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
