"""A small class-conditional U-Net denoiser for images (DDPM-style, Ho et al. 2020, §4 / App. B).

Residual blocks (GroupNorm, SiLU, 3x3 convolutions) at each resolution, downsampled by strided convolutions
and upsampled by nearest-neighbour + convolution, with skip connections between matching resolutions. Time
and class condition every block through a FiLM scale and shift from ``c = time_embedding(t) +
class_embedding(y)``; the class table has one extra row, the *null* class ``num_classes``, so one network
gives conditional and unconditional predictions (classifier-free training by label dropout, Ho & Salimans
2022). The output convolution starts at zero.

Like the sequence backbones, a denoiser is configured first and built by the model that owns it
(``build(channels=..., num_classes=...)``); ``spec()`` is plain data, so checkpoints rebuild it without pickles.

Example:
    >>> net = ImageUNet(base_channels=16, channel_mult=(1, 2))
    >>> net.build(channels=1, num_classes=10)
    >>> net(torch.zeros(4, 1, 8, 8), torch.rand(4), torch.arange(4)).shape
    torch.Size([4, 1, 8, 8])
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ImageDenoiser", "ImageUNet", "build_image_denoiser", "register_image_denoiser"]

_REGISTRY: dict[str, type[ImageDenoiser]] = {}
_TIME_SCALE = 1000.0  # sinusoidal features of 1000 t, as for DDPM's integer steps
_MAX_PERIOD = 10_000.0


def register_image_denoiser(cls: type[ImageDenoiser]) -> type[ImageDenoiser]:
    """Class decorator: make an image denoiser rebuildable from a checkpoint's ``spec()``."""
    _REGISTRY[cls.__name__] = cls
    return cls


def build_image_denoiser(spec: dict[str, Any]) -> ImageDenoiser:
    """Recreate an *unbuilt* image denoiser from ``{"name": ..., "config": {...}}``."""
    name = spec.get("name")
    if name not in _REGISTRY:
        raise ValueError(f"unknown image denoiser {name!r}: registered ones are {sorted(_REGISTRY)}")
    return _REGISTRY[name](**spec.get("config", {}))


def _timestep_features(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(_MAX_PERIOD) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = _TIME_SCALE * t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ImageDenoiser(nn.Module):
    """Base class of image denoisers: ``forward(x (B, C, H, W), t (B,), labels (B,) or None) -> (B, C, H, W)``."""

    def __init__(self) -> None:
        super().__init__()
        self._config: dict[str, Any] = {}
        self.built = False

    def spec(self) -> dict[str, Any]:
        """Plain-data description (class name + constructor arguments) for checkpoints."""
        return {"name": type(self).__name__, "config": dict(self._config)}

    def build(self, *, channels: int, num_classes: int) -> None:
        """Create the layers for images with ``channels`` channels and ``num_classes`` labels (0: unconditional)."""
        raise NotImplementedError


class _ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, emb_dim: int, dropout: float, groups: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(min(groups, c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * c_out)
        self.norm2 = nn.GroupNorm(min(groups, c_out), c_out)
        self.drop = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.drop(F.silu(h)))
        return self.skip(x) + h


@register_image_denoiser
class ImageUNet(ImageDenoiser):
    """Small U-Net with FiLM time/class conditioning.

    Args:
        base_channels: Channels at full resolution.
        channel_mult: Channel multiplier per resolution; each level after the first halves H and W (so
            ``H`` and ``W`` must be divisible by ``2 ** (len(channel_mult) - 1)``).
        blocks: Residual blocks per resolution (down and up paths).
        emb_dim: Width of the time/class embedding (default ``4 * base_channels``).
        dropout: Dropout inside residual blocks.
        groups: GroupNorm groups (capped by the channel count).
    """

    def __init__(self, base_channels: int = 32, channel_mult: tuple[int, ...] = (1, 2), blocks: int = 1,
                 emb_dim: int | None = None, dropout: float = 0.0, groups: int = 8) -> None:
        super().__init__()
        if base_channels < 1:
            raise ValueError(f"base_channels must be >= 1, got {base_channels}")
        if not channel_mult or any(m < 1 for m in channel_mult):
            raise ValueError(f"channel_mult must be a non-empty tuple of positive ints, got {channel_mult}")
        if blocks < 1:
            raise ValueError(f"blocks must be >= 1, got {blocks}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.base_channels, self.channel_mult, self.blocks = base_channels, tuple(channel_mult), blocks
        self.emb_dim = emb_dim or 4 * base_channels
        self.dropout, self.groups = dropout, groups
        self._config = {"base_channels": base_channels, "channel_mult": list(channel_mult), "blocks": blocks,
                        "emb_dim": emb_dim, "dropout": dropout, "groups": groups}

    def build(self, *, channels: int, num_classes: int) -> None:
        if self.built:
            raise RuntimeError("ImageUNet is already built")
        self.channels, self.num_classes = channels, num_classes
        E, g, p = self.emb_dim, self.groups, self.dropout
        self.time_mlp = nn.Sequential(nn.Linear(self.base_channels, E), nn.SiLU(), nn.Linear(E, E))
        self.class_embed = nn.Embedding(num_classes + 1, E) if num_classes > 0 else None
        widths = [self.base_channels * m for m in self.channel_mult]
        self.conv_in = nn.Conv2d(channels, widths[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        skips, c = [widths[0]], widths[0]
        for i, w in enumerate(widths):
            level = nn.ModuleList()
            for _ in range(self.blocks):
                level.append(_ResBlock(c, w, E, p, g))
                c = w
                skips.append(c)
            self.down.append(level)
            if i < len(widths) - 1:
                self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
                skips.append(c)
        self.mid = nn.ModuleList([_ResBlock(c, c, E, p, g), _ResBlock(c, c, E, p, g)])
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, w in reversed(list(enumerate(widths))):
            level = nn.ModuleList()
            for _ in range(self.blocks + 1):
                level.append(_ResBlock(c + skips.pop(), w, E, p, g))
                c = w
            self.up.append(level)
            if i > 0:
                self.upsample.append(nn.Conv2d(c, c, 3, padding=1))
        self.norm_out = nn.GroupNorm(min(g, c), c)
        self.conv_out = nn.Conv2d(c, channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)
        self.built = True

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Predict ``(B, C, H, W)`` from noisy images ``x (B, C, H, W)``, times ``t (B,)`` in [0, 1] and labels
        ``(B,)`` in ``[0, num_classes]`` (``num_classes`` or None: the null class)."""
        if not self.built:
            raise RuntimeError("ImageUNet must be built (the model owning it calls build())")
        B = x.shape[0]
        levels = len(self.channel_mult) - 1
        if x.shape[-1] % (2**levels) or x.shape[-2] % (2**levels):
            raise ValueError(f"image size {tuple(x.shape[-2:])} must be divisible by {2 ** levels} "
                             f"(channel_mult has {levels + 1} resolutions)")
        t = torch.as_tensor(t, device=x.device).expand(B)
        emb = self.time_mlp(_timestep_features(t, self.base_channels))
        if self.class_embed is not None:
            if labels is None:
                labels = torch.full((B,), self.num_classes, dtype=torch.long, device=x.device)
            emb = emb + self.class_embed(labels)
        emb = F.silu(emb)
        h = self.conv_in(x)
        hs = [h]
        for i, level in enumerate(self.down):
            for block in level:
                h = block(h, emb)
                hs.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
                hs.append(h)
        for block in self.mid:
            h = block(h, emb)
        for i, level in enumerate(self.up):
            for block in level:
                h = block(torch.cat([h, hs.pop()], dim=1), emb)
            if i < len(self.upsample):
                h = self.upsample[i](F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))
