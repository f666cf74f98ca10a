"""What the classifier-free-guidance family shares: branch handling, activity, tensor helpers.

Every CFG-style guider combines the conditional prediction ``c`` and the unconditional one ``u`` on the
``combine`` hook. The helpers here work on any prediction the loop hands them: a discrete model's log-probabilities
``(B, L, V)`` (plain tensors, with ``-inf`` for impossible tokens) or a continuous model's
:class:`~seqguide.models.prediction.Prediction` (eps, x0, v or velocity ``(B, C, H, W)``). Reductions (norms, inner
products, standard deviations) are per sample over all non-batch dims and skip non-finite entries.

:class:`CFGBase` implements the parts every member shares:

- ``conditions(t)`` asks for ``("cond", "uncond")`` only while the guider is active (inside its window, not a
  no-op scale, not switched off by its own rule); otherwise only ``("cond",)``, so no network call is wasted and
  ``Samples.trace["nfe"]`` shows the saving;
- ``combine`` reads ``c`` and ``u``, calls the subclass's :meth:`CFGBase.guide`, optionally rescales (Lin et al.
  2024, arXiv 2305.08891, §3.4), renormalises discrete log-probabilities, and rewraps the result as the
  ``"cond"`` entry (the one the step uses).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import torch

from seqguide.guidance.base import Guider
from seqguide.models.prediction import Prediction, prediction_value, with_value
from seqguide.sampling.numerics import EPS

__all__ = ["CFGBase", "cosine", "dot", "flat_norm", "from_x0", "guidance_difference", "rescale_guidance", "to_x0"]

_NEG_INF = float("-inf")


def _finite(x: torch.Tensor) -> torch.Tensor:
    return torch.where(torch.isfinite(x), x, torch.zeros_like(x))


def guidance_difference(c: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """``c - u``, with 0 where both are ``-inf`` (a token impossible in both branches)."""
    d = c - u
    both = torch.isneginf(c) & torch.isneginf(u)
    return torch.where(both, torch.zeros_like(d), d) if both.any() else d


def _sanitize(out: torch.Tensor) -> torch.Tensor:
    """NaN from ``-inf + inf`` (a token impossible in one branch only) becomes ``-inf``."""
    return torch.where(torch.isnan(out), torch.full_like(out, _NEG_INF), out)


def dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-sample inner product ``(B,)`` over all non-batch dims (float64, finite entries)."""
    return (_finite(a).double() * _finite(b).double()).flatten(1).sum(dim=1)


def flat_norm(x: torch.Tensor) -> torch.Tensor:
    """Per-sample L2 norm ``(B,)`` over all non-batch dims (float64, finite entries)."""
    return dot(x, x).sqrt()


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-sample cosine similarity ``(B,)``."""
    return dot(a, b) / (flat_norm(a) * flat_norm(b)).clamp_min(EPS)


def _per_sample(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return x.to(like.dtype).reshape(-1, *([1] * (like.dim() - 1)))


def _std(x: torch.Tensor) -> torch.Tensor:
    finite = torch.isfinite(x).flatten(1)
    v = _finite(x).double().flatten(1)
    n = finite.sum(dim=1).clamp_min(1)
    mean = v.sum(dim=1) / n
    var = ((v - mean[:, None]) ** 2 * finite).sum(dim=1) / n
    return var.sqrt()


def rescale_guidance(guided: torch.Tensor, cond: torch.Tensor, phi: float) -> torch.Tensor:
    """Guidance rescale (Lin et al. 2024, arXiv 2305.08891, Alg. 2): ``phi * guided * std(cond) / std(guided)
    + (1 - phi) * guided``, standard deviations per sample."""
    ratio = _std(cond) / _std(guided).clamp_min(EPS)
    return phi * guided * _per_sample(ratio, guided) + (1.0 - phi) * guided


def to_x0(model: Any, pred: Any) -> torch.Tensor:
    """The clean-data estimate of a prediction: ``E[x_0 | x_t]`` for a continuous one; a discrete model's
    log-probabilities already predict x_0 and are returned as they are."""
    if isinstance(pred, Prediction):
        return model.to_x0_eps(pred)[0]
    return pred


def from_x0(model: Any, like: Any, x0: torch.Tensor) -> Any:
    """Inverse of :func:`to_x0`: ``like`` changed so that its clean-data estimate is ``x0``."""
    if isinstance(like, Prediction):
        return model.from_x0(like, x0)
    return x0


class CFGBase(Guider):
    """Base of the CFG family: ``guide(c, u, t)`` on the ``combine`` hook, active only when it changes something.

    Args:
        scale: Guidance scale w.
            Multiplies the guidance difference ``c - u``: with ``base="uncond"`` ``u + w (c - u)`` (w = 0
            the unconditional prediction, 1 the conditional one: no guidance); with ``base="cond"``
            ``c + w (c - u)`` (w = 0 no guidance).
        base: ``"uncond"``: ``u + w (c - u)`` (w = 1 is no guidance; the diffusers/Imagen convention);
            ``"cond"``: ``c + w (c - u)`` (w = 0 is no guidance; Ho & Salimans 2022, eq. 6). The same guidance
            has ``w_uncond = w_cond + 1``.
        rescale: phi of guidance rescale (0: off).
        start: Fraction of the run (by step) at which guidance starts.
        stop: Fraction at which it stops (cond-only steps outside).
    """

    resources: ClassVar[dict[str, tuple[str, ...]]] = {}
    paper: ClassVar[str] = ""

    def __init__(self, *, scale: float, base: Literal["uncond", "cond"] = "uncond", rescale: float = 0.0,
                 start: float = 0.0, stop: float = 1.0) -> None:
        super().__init__(start=start, stop=stop)
        if base not in ("uncond", "cond"):
            raise ValueError(f"base must be 'uncond' or 'cond', got {base!r}")
        if not 0.0 <= rescale <= 1.0:
            raise ValueError(f"rescale must be in [0, 1], got {rescale}")
        self.scale = float(scale)
        self.base = base
        self.rescale = float(rescale)

    # -- activity ----------------------------------------------------------------------------
    @property
    def weight(self) -> float:
        """The scale in the ``u + w (c - u)`` convention."""
        return self.scale if self.base == "uncond" else self.scale + 1.0

    def is_noop(self) -> bool:
        """True when the scale makes guidance the conditional prediction itself."""
        return abs(self.weight - 1.0) < 1e-12

    def guidance_active(self, t: float) -> bool:
        """Whether this step needs the unconditional branch (subclasses add their own rules)."""
        return self.is_active() and not self.is_noop()

    def conditions(self, t: float) -> tuple[str, ...]:
        return ("cond", "uncond") if self.guidance_active(t) else ("cond",)

    # -- combination ---------------------------------------------------------------------------
    def guide(self, c: torch.Tensor, u: torch.Tensor, t: float) -> torch.Tensor:
        """The guided prediction from ``c`` and ``u`` (same shape); CFG by default."""
        return self._cfg(c, u, self.weight)

    @staticmethod
    def _cfg(c: torch.Tensor, u: torch.Tensor, w: float | torch.Tensor) -> torch.Tensor:
        if isinstance(w, torch.Tensor):
            w = _per_sample(w, c)
        return u + w * guidance_difference(c, u)

    def wrap(self, preds: Mapping[str, Any], guided: torch.Tensor) -> Any:
        """Rewrap the guided tensor as the ``"cond"`` entry (CFG++ attaches the unconditional prediction)."""
        return with_value(preds["cond"], guided)

    def guided_value(self, c: torch.Tensor, u: torch.Tensor, t: float, *, discrete: bool) -> torch.Tensor:
        """:meth:`guide`, then NaN clean-up, rescale, and (discrete) renormalisation to log-probabilities."""
        guided = self.guide(c, u, t)
        if not (torch.isfinite(c).all() and torch.isfinite(u).all()):
            guided = _sanitize(guided)
        if self.rescale > 0:
            guided = rescale_guidance(guided, c, self.rescale)
        if discrete:  # the product of experts p_c^w p_u^(1 - w), normalised per position
            guided = guided.log_softmax(dim=-1)
        return guided

    def combine(self, preds: Mapping[str, Any], t: float) -> Mapping[str, Any]:
        if "uncond" not in preds or not self.guidance_active(t):
            return preds
        c, u = prediction_value(preds["cond"]), prediction_value(preds["uncond"])
        guided = self.guided_value(c, u, t, discrete=not isinstance(preds["cond"], Prediction))
        out = dict(preds)
        out["cond"] = self.wrap(preds, guided)
        return out

    def _hyper(self) -> str:
        return f"scale={self.scale}" + (f", base={self.base!r}" if self.base != "uncond" else "") + (
            f", rescale={self.rescale}" if self.rescale else "")

    def __repr__(self) -> str:
        window = "" if (self.start, self.stop) == (0.0, 1.0) else f", start={self.start}, stop={self.stop}"
        return f"{type(self).__name__}({self._hyper()}{window})"
