"""Denoising networks for discrete diffusion: a transformer and a dilated 1-D CNN.

Both map tokens ``(B, L)`` (and optionally a time ``(B,)`` and class labels ``(B,)``) to logits
``(B, L, V)``; they also take soft tokens ``(B, L, V)`` (a probability vector per position: the state of a
simplex flow, or a one-hot to differentiate through). Conditioning follows DiT's adaptive layer norm
(Peebles & Xie 2023): a vector ``c = time_embedding(t) + class_embedding(y)`` modulates every block with a
scale, shift and gate.
The class embedding has one extra row, the *null* class ``num_classes``, so one network gives both
conditional and unconditional predictions (classifier-free training by label dropout; Ho &
Salimans 2022).

A backbone is configured first and built later: ``TransformerDenoiser(dim=128, depth=4)`` records the
architecture, and the model that owns it calls :meth:`Backbone.build` with the vocabulary size,
length and number of classes it reads from the data. ``spec()`` returns that configuration as plain
data so a checkpoint can rebuild the network without pickles (see :func:`build_backbone`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Backbone", "ConvDenoiser", "TransformerDenoiser", "build_backbone", "register_backbone", "resolve_backbone"]

_REGISTRY: dict[str, type[Backbone]] = {}


def register_backbone(cls: type[Backbone]) -> type[Backbone]:
    """Class decorator: make a backbone rebuildable from a checkpoint's ``spec()`` by its class name."""
    _REGISTRY[cls.__name__] = cls
    return cls


def build_backbone(spec: dict[str, Any]) -> Backbone:
    """Recreate an *unbuilt* backbone from ``{"name": ..., "config": {...}}`` (see ``Backbone.spec``)."""
    name = spec.get("name")
    if name not in _REGISTRY:
        raise ValueError(f"unknown backbone {name!r}: registered backbones are {sorted(_REGISTRY)}")
    return _REGISTRY[name](**spec.get("config", {}))


def resolve_backbone(backbone: Backbone | dict[str, Any] | None, default: Callable[[], Backbone]) -> Backbone:
    """An unbuilt backbone from an instance, a ``spec()`` dict, or None (``default()``).

    Raises:
        TypeError: for anything else.
    """
    if backbone is None:
        backbone = default()
    elif isinstance(backbone, dict):
        backbone = build_backbone(backbone)
    if not isinstance(backbone, Backbone):
        raise TypeError(f"backbone must be a seqguide Backbone or its spec dict, got {type(backbone).__name__}")
    return backbone


class TimestepEmbedding(nn.Module):
    """Sinusoidal features of t in [0, 1] followed by a 2-layer MLP."""

    def __init__(self, dim: int, freq_dim: int = 64) -> None:
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.freq_dim // 2
        freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
        args = 1000.0 * t.float()[:, None] * freqs[None]
        return self.mlp(torch.cat([torch.cos(args), torch.sin(args)], dim=-1))


class Backbone(nn.Module):
    """Base class: holds the architecture config; ``build`` creates the layers.

    Subclasses implement ``_build`` and ``_forward(h, c)`` where ``h`` is the token embedding
    ``(B, L, D)`` and ``c`` the conditioning vector ``(B, D)`` or None.
    """

    def __init__(self, dim: int = 128, dropout: float = 0.1) -> None:
        super().__init__()
        if dim <= 0:
            raise ValueError(f"dim must be positive, got {dim}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.dim = dim
        self.dropout = dropout
        self._config: dict[str, Any] = {"dim": dim, "dropout": dropout}
        self.built = False

    def spec(self) -> dict[str, Any]:
        """Plain-data description (class name + constructor arguments) for checkpoints."""
        return {"name": type(self).__name__, "config": dict(self._config)}

    def build(
        self, *, vocab_size: int, length: int, num_classes: int = 0, time_conditioning: bool = False,
        out_dim: int | None = None,
    ) -> None:
        """Create the layers for a vocabulary of ``vocab_size`` ids and sequences up to ``length``.

        Args:
            vocab_size: Input/output width (regular tokens + pad + mask).
            length: Maximal sequence length (positional table size).
            num_classes: Number of class labels; 0 for an unconditional network. Label ``num_classes``
                is the null class.
            time_conditioning: Whether the network sees t.
            out_dim: Width of the per-position output (default ``vocab_size``: logits); e.g. 1 for a
                value network that pools per-position outputs into a scalar.
        """
        if self.built:
            raise RuntimeError(f"{type(self).__name__} is already built")
        self.vocab_size, self.length = vocab_size, length
        self.num_classes, self.time_conditioning = num_classes, time_conditioning
        self.embed = nn.Embedding(vocab_size, self.dim)
        self.pos = nn.Parameter(torch.randn(1, length, self.dim) * 0.02)
        self.time_embed = TimestepEmbedding(self.dim) if time_conditioning else None
        self.class_embed = nn.Embedding(num_classes + 1, self.dim) if num_classes > 0 else None
        self.conditioned = time_conditioning or num_classes > 0
        self._build()
        self.norm_out = nn.LayerNorm(self.dim)
        self.out_dim = vocab_size if out_dim is None else out_dim
        self.head = nn.Linear(self.dim, self.out_dim)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.built = True

    def _build(self) -> None:
        raise NotImplementedError

    def _forward(self, h: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def forward(
        self, tokens: torch.Tensor, t: torch.Tensor | None = None, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits over the vocabulary.

        Args:
            tokens: ``(B, L)`` int64 token ids, ``L <= length``, or *soft* tokens ``(B, L, vocab_size)``: a
                probability vector per position (a point on the simplex, e.g. a simplex flow's state, or a
                one-hot with gradients), embedded as the probability-weighted mean of the token embeddings
                (a one-hot gives exactly the id's embedding).
            t: ``(B,)`` float times in [0, 1]; required iff built with ``time_conditioning``.
            labels: ``(B,)`` int64 class ids in ``[0, num_classes]`` (``num_classes`` = null); None means null.

        Returns:
            ``(B, L, out_dim)`` float outputs (logits over the vocabulary by default).
        """
        if not self.built:
            raise RuntimeError(f"{type(self).__name__} must be built (the model owning it calls build())")
        B, L = tokens.shape[:2]
        if L > self.length:
            raise ValueError(f"sequence length {L} exceeds the backbone's length {self.length}")
        if tokens.is_floating_point():
            if tokens.dim() != 3 or tokens.shape[-1] != self.vocab_size:
                raise ValueError(f"soft tokens must be (B, L, {self.vocab_size}) probabilities, got shape "
                                 f"{tuple(tokens.shape)}")
            h = tokens.to(self.embed.weight.dtype) @ self.embed.weight + self.pos[:, :L]
        else:
            h = self.embed(tokens) + self.pos[:, :L]
        c = None
        if self.conditioned:
            c = torch.zeros(B, self.dim, device=tokens.device, dtype=h.dtype)
            if self.time_embed is not None:
                if t is None:
                    raise ValueError("this backbone is time-conditioned: pass t")
                c = c + self.time_embed(torch.as_tensor(t, device=tokens.device).expand(B))
            if self.class_embed is not None:
                if labels is None:
                    labels = torch.full((B,), self.num_classes, dtype=torch.long, device=tokens.device)
                c = c + self.class_embed(labels)
            c = F.silu(c)
        h = self._forward(h, c)
        return self.head(self.norm_out(h))


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale[:, None]) + shift[:, None]


def _rotary_tables(length: int, head_dim: int, device: torch.device) -> torch.Tensor:
    """Rotary position embeddings (RoFormer, Su et al. 2021) as unit complex numbers ``(L, head_dim / 2)``: the
    rotation of channel pair ``(2i, 2i + 1)`` at position ``l`` by the angle ``l * 10000^(-2i / head_dim)``."""
    inv = 1.0 / (10_000.0 ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim))
    angles = torch.arange(length, device=device, dtype=torch.float32)[:, None] * inv[None]
    return torch.polar(torch.ones_like(angles), angles)


def _rotate(x: torch.Tensor, rope: torch.Tensor) -> torch.Tensor:
    """Rotate the channel pairs ``(2i, 2i + 1)`` of ``x (B, H, L, Dh)`` by the position's angles: one complex
    multiply on a view of ``x`` (pair = real and imaginary part), no strided copies. Half-precision inputs are
    rotated in float32 (there is no bfloat16 complex type) and cast back."""
    dtype = x.dtype
    work = x if dtype in (torch.float32, torch.float64) else x.float()
    z = torch.view_as_complex(work.unflatten(-1, (-1, 2)))
    return torch.view_as_real(z * rope.to(z.dtype)).flatten(-2).to(dtype)


class _TransformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float, conditioned: bool) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=not conditioned)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=not conditioned)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))
        self.drop = nn.Dropout(dropout)
        self.ada = nn.Linear(dim, 6 * dim) if conditioned else None
        if self.ada is not None:  # adaLN-Zero: every block starts as the identity
            nn.init.zeros_(self.ada.weight)
            nn.init.zeros_(self.ada.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None, rope: torch.Tensor) -> torch.Tensor:
        B, L, D = x.shape
        modulated = self.ada is not None and c is not None
        h = self.norm1(x)
        if modulated:  # an unconditioned block does no modulation work (the identity scale, shift and gate)
            sh1, sc1, g1, sh2, sc2, g2 = self.ada(c).chunk(6, dim=-1)
            h = _modulate(h, sh1, sc1)
        q, k, v = self.qkv(h).view(B, L, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        q, k = _rotate(q, rope), _rotate(k, rope)  # relative positions: local patterns are easy to attend to
        p = self.drop.p if self.training else 0.0
        a = F.scaled_dot_product_attention(q, k, v, dropout_p=p).transpose(1, 2).reshape(B, L, D)
        a = self.drop(self.proj(a))
        x = x + g1[:, None] * a if modulated else x + a
        h = self.norm2(x)
        if modulated:
            h = _modulate(h, sh2, sc2)
        m = self.drop(self.mlp(h))
        return x + g2[:, None] * m if modulated else x + m


@register_backbone
class TransformerDenoiser(Backbone):
    """Bidirectional transformer denoiser with adaLN-Zero conditioning (DiT-style) and rotary position
    embeddings, as in MDLM's DiT (plus a learned absolute position table for position-specific data).

    Args:
        dim: Model width D.
        depth: Number of transformer blocks.
        heads: Attention heads (must divide ``dim``).
        mlp_ratio: Hidden width of the MLP as a multiple of ``dim``.
        dropout: Dropout on attention and MLP outputs.
    """

    def __init__(self, dim: int = 128, depth: int = 4, heads: int = 4, mlp_ratio: float = 4.0,
                 dropout: float = 0.1) -> None:
        super().__init__(dim=dim, dropout=dropout)
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        if dim % heads or (dim // heads) % 2:
            raise ValueError(f"heads={heads} must divide dim={dim} into an even head width (rotary embeddings)")
        self.depth, self.heads, self.mlp_ratio = depth, heads, mlp_ratio
        self._config.update(depth=depth, heads=heads, mlp_ratio=mlp_ratio)

    def _build(self) -> None:
        self.blocks = nn.ModuleList(
            _TransformerBlock(self.dim, self.heads, self.mlp_ratio, self.dropout, self.conditioned)
            for _ in range(self.depth)
        )

    def _forward(self, h: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        rope = _rotary_tables(h.shape[1], self.dim // self.heads, h.device)
        for block in self.blocks:
            h = block(h, c, rope)
        return h


class _ConvBlock(nn.Module):
    def __init__(self, dim: int, kernel_size: int, dilation: int, dropout: float, conditioned: bool) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim, elementwise_affine=not conditioned)
        self.conv = nn.Conv1d(dim, dim, kernel_size, dilation=dilation, padding=dilation * (kernel_size // 2))
        self.mix = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)
        self.film = nn.Linear(dim, 3 * dim) if conditioned else None
        if self.film is not None:
            nn.init.zeros_(self.film.weight)
            nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        h = self.norm(x)
        gate = 1.0
        if self.film is not None and c is not None:
            shift, scale, g = self.film(c).chunk(3, dim=-1)
            h = _modulate(h, shift, scale)
            gate = g[:, None] + 1.0
        h = self.conv(h.transpose(1, 2)).transpose(1, 2)
        return x + gate * self.drop(self.mix(F.gelu(h)))


@register_backbone
class ConvDenoiser(Backbone):
    """Residual dilated 1-D CNN denoiser with FiLM conditioning (a fast option for short sequences).

    Args:
        dim: Channels D.
        depth: Number of residual blocks; dilations cycle through ``1, 2, 4, 8``.
        kernel_size: Odd convolution width.
        dropout: Dropout on block outputs.
    """

    def __init__(self, dim: int = 128, depth: int = 6, kernel_size: int = 5, dropout: float = 0.1) -> None:
        super().__init__(dim=dim, dropout=dropout)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.depth, self.kernel_size = depth, kernel_size
        self._config.update(depth=depth, kernel_size=kernel_size)

    def _build(self) -> None:
        self.blocks = nn.ModuleList(
            _ConvBlock(self.dim, self.kernel_size, 2 ** (i % 4), self.dropout, self.conditioned)
            for i in range(self.depth)
        )

    def _forward(self, h: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        for block in self.blocks:
            h = block(h, c)
        return h
