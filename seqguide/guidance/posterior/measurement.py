"""Measurements for posterior sampling: a forward operator A, an observation y and a loss ``-log q(y | x)``.

Posterior sampling draws from ``p(x | y) ∝ p(x) q(y | x)`` where ``p`` is a pretrained model and ``q`` the
measurement's likelihood. A measurement acts on the *values* of tokens: each regular token k has an
embedding ``e_k`` (``values[k]``, D numbers), its grey level (D = 1) for a quantised image or its one-hot
vector (D = K) for categorical tokens. A sequence of L tokens has values ``v = e[x]`` ``(L, D)``; every
``loss`` also accepts a soft ``(B, L, D)`` tensor (APS's quantized expectation), through which it is
differentiable.

Measurements here:

- :class:`Inpainting`: partial observation of token values, ``y = M ⊙ v + noise`` (M a 0/1 mask);
- :class:`Downsample`: block averages (2x super-resolution of an image, window means of a sequence);
- :class:`LinearObservation`: ``y = A v + noise`` for any matrix A (``A = None``: identity, i.e. denoising);
- :class:`TokenObservation`: partial observation of categorical tokens through a symmetric noisy channel
  (each observed token replaced by a uniformly drawn other token with probability ``flip_prob``);
- :mod:`seqguide.guidance.posterior.reward_measurement`: a black-box oracle reward or a differentiable surrogate.

Gaussian measurements have ``-log q(y | x) = ||y - A v||^2 / (2 sigma^2)`` (up to a constant). An
observation is per request (``y`` with a leading dimension N, one row per requested sample) or shared
(no leading dimension); the ``index`` argument (``(B,)`` request ids, :meth:`GuiderContext.requests`)
picks each row's observation.

Example:
    >>> import torch
    >>> from seqguide.guidance import Inpainting
    >>> from seqguide.data.digit_tokens import grey_values
    >>> truth = torch.randint(0, 17, (4, 64))
    >>> mask = torch.arange(64) < 32                                  # observe the top half
    >>> meas = Inpainting.simulate(truth, mask, values=grey_values(), noise_std=0.5,
    ...                            generator=torch.Generator().manual_seed(0))
    >>> meas.token_loss(truth).shape
    torch.Size([4])
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

__all__ = ["Downsample", "GaussianMeasurement", "Inpainting", "LinearObservation", "Measurement", "TokenObservation"]

#: Effective noise standard deviation (in value units) of a noise-free (``noise_std=0``) Gaussian measurement.
NOISE_FREE_STD = 0.05
#: Smallest channel probability used in logs (a noise-free token channel would give log 0).
MIN_PROB = 1e-6


class Measurement:
    """Base class: the likelihood ``q(y | x)`` of an observation given token values.

    Attributes:
        values: ``(K, D)`` float embedding of the K regular tokens the operator acts on (None when the
            measurement only scores whole token sequences, e.g. a black-box reward).
        differentiable: Whether :meth:`loss` accepts soft values and back-propagates.
        num_observations: N when the observation is per request, None when one observation is shared.
    """

    differentiable: ClassVar[bool] = True
    values: torch.Tensor | None = None
    num_observations: int | None = None

    # -- to implement ----------------------------------------------------------------------
    def loss(self, v: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        """``-log q(y | x)`` up to a constant, per row.

        Args:
            v: ``(B, L, D)`` token values (hard ``values[x]`` or soft, differentiable).
            index: ``(B,)`` request ids selecting each row's observation (default: row i -> request i,
                or the shared observation).

        Returns:
            ``(B,)`` float losses.
        """
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------
    def log_likelihood(self, v: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        """``log q(y | x)`` up to a constant: ``-loss``."""
        return -self.loss(v, index)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """Values ``(B, L, D)`` of token ids ``(B, L)``.

        Raises:
            ValueError: if a token is not a regular token (mask or pad), naming the row and position.
        """
        values = self._values(tokens.device)
        bad = (tokens < 0) | (tokens >= values.shape[0])
        if bad.any():
            i, j = (int(x) for x in bad.nonzero()[0])
            raise ValueError(f"row {i}, position {j}: token id {int(tokens[i, j])} is not one of the "
                             f"{values.shape[0]} regular tokens this measurement knows (a mask or pad left?)")
        return values[tokens]

    def token_loss(self, tokens: torch.Tensor, index: torch.Tensor | None = None, ctx: Any = None) -> torch.Tensor:
        """``-log q(y | x)`` of clean token ids ``(B, L)``: ``(B,)``. ``ctx`` (the run's GuiderContext) lets
        black-box measurements count their oracle calls."""
        return self.loss(self.embed(tokens), index)

    def observed_tokens(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(mask (N, L) bool, tokens (N, L) int64)``: positions the measurement observes directly and the
        token nearest to each observation (for the clamping baseline); None if it observes no position."""
        return None

    @property
    def categorical(self) -> bool:
        """True when token values are one-hot vectors (the loss is then a per-token likelihood, linear in v)."""
        v = self.values
        return v is not None and v.shape[0] == v.shape[1] and bool(torch.equal(v, torch.eye(v.shape[0]).to(v)))

    @property
    def num_tokens(self) -> int | None:
        """K, the number of regular tokens (None if the measurement has no token values)."""
        return None if self.values is None else int(self.values.shape[0])

    def _values(self, device: torch.device) -> torch.Tensor:
        if self.values is None:
            raise TypeError(f"{type(self).__name__} has no token values to embed")
        if self.values.device != device:
            self.values = self.values.to(device)
        return self.values

    def _select(self, name: str, index: torch.Tensor | None, rows: int, device: torch.device) -> torch.Tensor:
        """Rows of a per-request tensor attribute ``name`` (leading dim N) for ``index`` (or shared)."""
        t = getattr(self, name)
        if t.device != device:
            t = t.to(device)
            setattr(self, name, t)
        if self.num_observations is None:
            return t.unsqueeze(0).expand(rows, *t.shape)
        if index is None:
            if rows != self.num_observations:
                raise ValueError(f"{type(self).__name__} holds {self.num_observations} observations; pass index= "
                                 f"to pick them for {rows} rows (or sample n={self.num_observations})")
            return t
        index = index.to(device)
        if int(index.max()) >= self.num_observations or int(index.min()) < 0:
            raise ValueError(f"{type(self).__name__} holds {self.num_observations} observations but request "
                             f"{int(index.max())} was asked for: sample as many requests as observations")
        return t[index]

    def __repr__(self) -> str:
        n = "shared" if self.num_observations is None else f"{self.num_observations} observations"
        return f"{type(self).__name__}({n})"


def _as_values(values: torch.Tensor | Any) -> torch.Tensor:
    v = torch.as_tensor(values, dtype=torch.float32)
    if v.dim() == 1:
        v = v[:, None]
    if v.dim() != 2 or v.shape[1] != 1:
        raise ValueError(f"values must give one number per token, shape (K,) or (K, 1); got {tuple(v.shape)}")
    return v


class GaussianMeasurement(Measurement):
    """``y = A(v) + N(0, noise_std^2)`` on scalar token values: ``loss = ||y - A(v)||^2 / (2 noise_std^2)``.

    Subclasses implement :meth:`operator`.

    Args:
        y: ``(N, M)`` one observation per request, or ``(M,)`` shared by all.
        values: ``(K,)`` value of each regular token (e.g. grey levels 0..16).
        noise_std: Standard deviation of the noise in value units; 0 means noise-free (the loss then uses
            :data:`NOISE_FREE_STD`, a near-hard constraint).
    """

    def __init__(self, y: torch.Tensor | Any, *, values: torch.Tensor | Any, noise_std: float) -> None:
        if not noise_std >= 0 or not math.isfinite(noise_std):
            raise ValueError(f"noise_std must be a finite number >= 0, got {noise_std}")
        self.values = _as_values(values)
        y = torch.as_tensor(y, dtype=torch.float32)
        if y.dim() not in (1, 2):
            raise ValueError(f"y must have shape (N, M) or (M,), got {tuple(y.shape)}")
        if not torch.isfinite(y).all():
            raise ValueError("y must be finite")
        self.y = y
        self.num_observations = int(y.shape[0]) if y.dim() == 2 else None
        self.noise_std = float(noise_std)

    @property
    def effective_std(self) -> float:
        return self.noise_std if self.noise_std > 0 else NOISE_FREE_STD

    def operator(self, v: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        """A applied to values ``(B, L, 1)``: ``(B, M)``."""
        raise NotImplementedError

    def loss(self, v: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        y = self._select("y", index, v.shape[0], v.device)
        r = self.operator(v, index) - y
        return 0.5 * (r * r).sum(dim=-1) / self.effective_std**2

    def column_weights(self, index: torch.Tensor | None, rows: int, length: int, device: torch.device) -> torch.Tensor:
        """``(rows, L)`` ``sum_m A_ml^2``: how strongly the (linear) operator sees the value at each position."""
        eye = torch.eye(length, device=device).unsqueeze(-1)  # L unit inputs
        w = self.operator(eye, None).pow(2).sum(dim=-1)  # (L,)
        return w.unsqueeze(0).expand(rows, length)

    def variance_penalty(self, var: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        """``(B,)`` the part of the expected loss a point estimate misses: for a linear operator,
        ``E_q ||y - A v||^2 = ||y - A E_q[v]||^2 + sum_l ||A_l||^2 Var_q(v_l)`` (per-position independent q),
        divided by ``2 noise_std^2``. ``var`` is ``(B, L)`` the per-position variance of the values."""
        w = self.column_weights(index, var.shape[0], var.shape[1], var.device)
        return 0.5 * (w * var).sum(dim=-1) / self.effective_std**2

    def _nearest_tokens(self, y: torch.Tensor) -> torch.Tensor:
        values = self._values(y.device)[:, 0]
        return (y.unsqueeze(-1) - values).abs().argmin(dim=-1)

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, noise_std={self.noise_std})"


def _mask_rows(mask: torch.Tensor | Any, num: int | None, length: int) -> torch.Tensor:
    m = torch.as_tensor(mask, dtype=torch.bool)
    if m.dim() == 1:
        m = m.unsqueeze(0) if num is None else m.unsqueeze(0).expand(num, -1).clone()
    if m.shape[-1] != length:
        raise ValueError(f"mask covers {m.shape[-1]} positions but the observation has {length}")
    if num is not None and m.shape[0] != num:
        raise ValueError(f"mask has {m.shape[0]} rows for {num} observations")
    return m if num is not None else m[0]


class Inpainting(GaussianMeasurement):
    """Partial observation of token values: ``y_l = v_l + noise`` at observed positions (``mask``), nothing
    elsewhere (image inpainting, or any partly known sequence of values).

    Args:
        y: ``(N, L)`` observed values per request (entries at hidden positions are ignored), or ``(L,)``.
        mask: ``(N, L)`` or ``(L,)`` bool, True where observed.
        values: ``(K,)`` token values.
        noise_std: Noise standard deviation (0: noise-free).
    """

    def __init__(self, y: torch.Tensor | Any, mask: torch.Tensor | Any, *, values: torch.Tensor | Any,
                 noise_std: float = 0.0) -> None:
        super().__init__(y, values=values, noise_std=noise_std)
        self.mask = _mask_rows(mask, self.num_observations, self.y.shape[-1])
        self.y = torch.where(self.mask, self.y, torch.zeros_like(self.y))

    def operator(self, v: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        mask = self._select("mask", index, v.shape[0], v.device)
        return torch.where(mask, v[..., 0], torch.zeros_like(v[..., 0]))

    def column_weights(self, index: torch.Tensor | None, rows: int, length: int, device: torch.device) -> torch.Tensor:
        return self._select("mask", index, rows, device).float()

    def observed_tokens(self) -> tuple[torch.Tensor, torch.Tensor]:
        mask = self.mask if self.num_observations is not None else self.mask.unsqueeze(0)
        y = self.y if self.num_observations is not None else self.y.unsqueeze(0)
        return mask, self._nearest_tokens(y)

    @classmethod
    def simulate(cls, tokens: torch.Tensor, mask: torch.Tensor | Any, *, values: torch.Tensor | Any,
                 noise_std: float = 0.0, generator: torch.Generator | None = None) -> Inpainting:
        """Observe clean ``tokens (N, L)`` at ``mask`` with Gaussian noise: one observation per row."""
        v = _as_values(values)[tokens.cpu(), 0]
        noise = torch.randn(v.shape, generator=generator) * noise_std
        return cls(v + noise, mask, values=values, noise_std=noise_std)


class Downsample(GaussianMeasurement):
    """Block averages: ``y = avgpool_f(v) + noise`` over ``factor x factor`` blocks of an image of ``shape``
    (H, W), or windows of ``factor`` positions of a sequence (``shape=(L,)``): super-resolution.

    Args:
        y: ``(N, M)`` or ``(M,)`` block means, M = (H/f)(W/f) (row-major) or L/f.
        shape: ``(H, W)`` of the image the L = H W tokens form (row-major), or ``(L,)``.
        factor: Block side f (must divide every side).
        values: ``(K,)`` token values.
        noise_std: Noise standard deviation (0: noise-free).
    """

    def __init__(self, y: torch.Tensor | Any, *, shape: tuple[int, ...], factor: int = 2,
                 values: torch.Tensor | Any, noise_std: float = 0.0) -> None:
        super().__init__(y, values=values, noise_std=noise_std)
        if len(shape) not in (1, 2) or any(s < 1 for s in shape):
            raise ValueError(f"shape must be (L,) or (H, W) with positive sides, got {shape}")
        if factor < 1 or any(s % factor for s in shape):
            raise ValueError(f"factor={factor} must be >= 1 and divide every side of shape={shape}")
        self.shape, self.factor = tuple(int(s) for s in shape), int(factor)
        m = math.prod(s // factor for s in self.shape)
        if self.y.shape[-1] != m:
            raise ValueError(f"y has {self.y.shape[-1]} entries but shape={shape}, factor={factor} gives {m} blocks")

    def operator(self, v: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        x = v[..., 0].reshape(v.shape[0], 1, *self.shape)
        pool = F.avg_pool1d if len(self.shape) == 1 else F.avg_pool2d
        return pool(x, self.factor).flatten(1)

    @classmethod
    def simulate(cls, tokens: torch.Tensor, *, shape: tuple[int, ...], factor: int = 2, values: torch.Tensor | Any,
                 noise_std: float = 0.0, generator: torch.Generator | None = None) -> Downsample:
        """Down-sample clean ``tokens (N, L)`` with Gaussian noise: one observation per row."""
        blank = cls(torch.zeros(math.prod(s // factor for s in shape)), shape=shape, factor=factor, values=values)
        y = blank.operator(blank.embed(tokens.cpu()))
        y = y + torch.randn(y.shape, generator=generator) * noise_std
        return cls(y, shape=shape, factor=factor, values=values, noise_std=noise_std)


class LinearObservation(GaussianMeasurement):
    """``y = A v + noise`` for a matrix ``A`` ``(M, L)`` on the token values; ``A = None`` is the identity
    (a noisy copy of every value: denoising).

    Args:
        y: ``(N, M)`` or ``(M,)`` observations.
        operator: ``(M, L)`` matrix, or None for the identity (M = L).
        values: ``(K,)`` token values.
        noise_std: Noise standard deviation (0: noise-free).
    """

    def __init__(self, y: torch.Tensor | Any, *, operator: torch.Tensor | Any | None = None,
                 values: torch.Tensor | Any, noise_std: float = 0.0) -> None:
        super().__init__(y, values=values, noise_std=noise_std)
        self.A = None if operator is None else torch.as_tensor(operator, dtype=torch.float32)
        if self.A is not None and (self.A.dim() != 2 or self.A.shape[0] != self.y.shape[-1]):
            raise ValueError(f"operator must be (M, L) with M = {self.y.shape[-1]} observations per request, "
                             f"got {tuple(self.A.shape)}")

    def operator(self, v: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        x = v[..., 0]
        if self.A is None:
            return x
        if self.A.device != x.device:
            self.A = self.A.to(x.device)
        return x @ self.A.T

    def observed_tokens(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        if self.A is not None:
            return None
        y = self.y if self.num_observations is not None else self.y.unsqueeze(0)
        return torch.ones_like(y, dtype=torch.bool), self._nearest_tokens(y)

    @classmethod
    def simulate(cls, tokens: torch.Tensor, *, operator: torch.Tensor | Any | None = None,
                 values: torch.Tensor | Any, noise_std: float = 0.0,
                 generator: torch.Generator | None = None) -> LinearObservation:
        """Observe clean ``tokens (N, L)`` through ``operator`` with Gaussian noise: one observation per row."""
        v = _as_values(values)[tokens.cpu(), 0]
        y = v if operator is None else v @ torch.as_tensor(operator, dtype=torch.float32).T
        y = y + torch.randn(y.shape, generator=generator) * noise_std
        return cls(y, operator=operator, values=values, noise_std=noise_std)


class TokenObservation(Measurement):
    """Categorical tokens seen through a symmetric noisy channel at observed positions.

    ``q(y_l | x_l) = 1 - flip_prob`` if ``y_l = x_l`` else ``flip_prob / (K - 1)`` at every observed
    position; hidden positions carry no information. Token values are one-hot, so the loss is linear in
    v and APS's quantized expectation gives the exact per-token likelihood as its gradient.

    Args:
        tokens: ``(N, L)`` observed token ids per request (entries at hidden positions are ignored), or ``(L,)``.
        mask: ``(N, L)`` or ``(L,)`` bool, True where observed.
        num_tokens: K, the number of regular tokens of the alphabet (``alphabet.size``).
        flip_prob: Probability that an observed token was replaced by another (0: noise-free, whose
            log-likelihood uses :data:`MIN_PROB` instead of 0).
    """

    def __init__(self, tokens: torch.Tensor | Any, mask: torch.Tensor | Any, *, num_tokens: int,
                 flip_prob: float = 0.0) -> None:
        if num_tokens < 2:
            raise ValueError(f"num_tokens must be >= 2, got {num_tokens}")
        if not 0.0 <= flip_prob < 1.0:
            raise ValueError(f"flip_prob must be in [0, 1), got {flip_prob}")
        y = torch.as_tensor(tokens, dtype=torch.long)
        if y.dim() not in (1, 2):
            raise ValueError(f"tokens must have shape (N, L) or (L,), got {tuple(y.shape)}")
        self.num_observations = int(y.shape[0]) if y.dim() == 2 else None
        self.mask = _mask_rows(mask, self.num_observations, y.shape[-1])
        bad = self.mask & ((y < 0) | (y >= num_tokens))
        if bad.any():
            where = tuple(int(v) for v in bad.nonzero()[0])
            raise ValueError(f"observed token at {where} is {int(y[where])}, not a regular token id "
                             f"0..{num_tokens - 1}")
        self.y = torch.where(self.mask, y, torch.zeros_like(y))
        self.values = torch.eye(num_tokens)
        self.flip_prob = float(flip_prob)
        self.log_match = math.log(1.0 - self.flip_prob)
        self.log_flip = math.log(max(self.flip_prob, MIN_PROB) / (num_tokens - 1))

    def loss(self, v: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        y = self._select("y", index, v.shape[0], v.device)
        mask = self._select("mask", index, v.shape[0], v.device)
        match = v.gather(-1, y.unsqueeze(-1)).squeeze(-1)  # v_{l, y_l}: 1 for a matching one-hot
        ll = match * self.log_match + (1.0 - match) * self.log_flip
        return -torch.where(mask, ll, torch.zeros_like(ll)).sum(dim=-1)

    def observed_tokens(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.num_observations is None:
            return self.mask.unsqueeze(0), self.y.unsqueeze(0)
        return self.mask, self.y

    @classmethod
    def simulate(cls, tokens: torch.Tensor, mask: torch.Tensor | Any, *, num_tokens: int, flip_prob: float = 0.0,
                 generator: torch.Generator | None = None) -> TokenObservation:
        """Observe clean ``tokens (N, L)`` at ``mask``, each observed token replaced with probability
        ``flip_prob`` by a uniformly drawn *other* token: one observation per row."""
        tokens = tokens.cpu()
        flip = torch.rand(tokens.shape, generator=generator) < flip_prob
        shift = torch.randint(1, num_tokens, tokens.shape, generator=generator)
        noisy = torch.where(flip, (tokens + shift) % num_tokens, tokens)
        return cls(noisy, mask, num_tokens=num_tokens, flip_prob=flip_prob)

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, flip_prob={self.flip_prob})"
