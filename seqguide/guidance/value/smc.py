"""SMC / Feynman-Kac steering (Singhal, Horvitz, Teehan, ..., Ranganath 2025, arXiv 2501.06848, Alg. 1).

k particles per requested sample run the pretrained sampler; at potential steps each particle gets an
intermediate reward ``r_i`` (a value function on its state: the oracle on the look-ahead estimate by
default) and a potential ``G_i``:

- ``diff``: ``G_i = exp(lam * (r_i - r_prev))``  (r_prev: the particle's reward at the last potential step)
- ``max``:  ``G_i = exp(lam * max(r_i, r_max))``  (running max along the path)
- ``sum``:  ``G_i = exp(lam * (r_i + r_sum))``    (running sum along the path)
- ``rt``:   ``G_i = exp(lam * r_i)``

At the last step the potential is ``exp(lam * r(x_0)) / prod_{j<last} G_j``, so the product of all
potentials along any path is ``exp(lam * r(x_0))`` and the particle system targets

    p_pre(x_0) exp(lam * r(x_0)) / Z                                          (FK steering, eq. 5)

exactly as k grows, whatever the intermediate potentials. How fast it gets there does depend on them:
``diff`` telescopes, so intermediate targets are never tilted more than the terminal one, while the
products of ``sum`` and ``rt`` potentials grow with the number of potential steps, over-tilting the
intermediate targets; the final correction then needs low-reward paths that resampling has thinned out,
so with many potential steps those two need many more particles (or a larger ``resample_every``) to be
unbiased. Prefer ``diff`` (the FK code's default) or ``max`` for sampling the tilted target.

Log-weights accumulate between resamplings; particles are resampled within their request's group every
``resample_every`` potential steps when the effective sample size falls below ``ess_threshold * k``
(``ess_threshold >= 1``: always).
``output="sample"`` returns one particle per request drawn by its final weight (the tilted target),
``"best"`` the highest-reward particle (the FK code's choice), ``"all"`` every particle with its weight.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch

from seqguide.guidance.base import Candidates, Final, Guider
from seqguide.guidance.value.functions import ValueFunction, as_value
from seqguide.guidance.value.resampling import ess, normalize_log_weights, resample_indices

__all__ = ["SMC"]

_POTENTIALS = ("diff", "max", "sum", "rt")
_OUTPUTS = ("sample", "best", "all")


class SMC(Guider):
    """Sequential Monte Carlo / Feynman-Kac steering on the ``select`` hook.

    Args:
        value: An Oracle (look-ahead reward of each particle) or a :class:`ValueFunction`.
        particles: k, particles per requested sample.
        lam: lambda, the tilt of the target ``p(x) exp(lam r(x))`` (``1 / alpha`` in SVDD's notation).
        potential: ``"diff"``, ``"max"``, ``"sum"`` or ``"rt"``.
        resample_every: Evaluate potentials (and consider resampling) every this many steps inside the
            active window; the last step is always a potential step.
        ess_threshold: Resample a group when its ESS < ``ess_threshold * k``; 1.0 resamples every time.
            The ESS is never below 1, so with k = 2 and the default 0.5 resampling never triggers (only the
            final weighted draw tilts the output): use ``ess_threshold=1.0`` or more particles.
        output: ``"sample"``, ``"best"`` or ``"all"``.
        resampling: ``"multinomial"`` or ``"systematic"``.
        start: Fraction of the run from which potentials are evaluated.
        stop: Fraction after which they are not (the final correction still happens).
    """

    resources: ClassVar[dict[str, tuple[str, ...]]] = {"value": ("oracle", "surrogate", "value_model")}
    paper: ClassVar[str] = "Singhal et al. 2025, arXiv 2501.06848 (FK steering), Alg. 1"

    def __init__(
        self,
        value: Any,
        *,
        particles: int = 8,
        lam: float = 1.0,
        potential: Literal["diff", "max", "sum", "rt"] = "diff",
        resample_every: int = 1,
        ess_threshold: float = 0.5,
        output: Literal["sample", "best", "all"] = "sample",
        resampling: Literal["multinomial", "systematic"] = "multinomial",
        start: float = 0.0,
        stop: float = 1.0,
    ) -> None:
        super().__init__(start=start, stop=stop)
        if particles < 1:
            raise ValueError(f"particles must be >= 1, got {particles}")
        if lam < 0:
            raise ValueError(f"lam must be >= 0, got {lam}")
        if potential not in _POTENTIALS:
            raise ValueError(f"potential must be one of {_POTENTIALS}, got {potential!r}")
        if resample_every < 1:
            raise ValueError(f"resample_every must be >= 1, got {resample_every}")
        if ess_threshold < 0:
            raise ValueError(f"ess_threshold must be >= 0, got {ess_threshold}")
        if output not in _OUTPUTS:
            raise ValueError(f"output must be one of {_OUTPUTS}, got {output!r}")
        if resampling not in ("multinomial", "systematic"):
            raise ValueError(f"resampling must be 'multinomial' or 'systematic', got {resampling!r}")
        self.value: ValueFunction = as_value(value)
        self.particles = particles
        self.expansion = particles
        self.lam = lam
        self.potential = potential
        self.resample_every = resample_every
        self.ess_threshold = ess_threshold
        self.output = output
        self.resampling = resampling

    def reset(self, ctx: Any) -> None:
        super().reset(ctx)
        R, dev = ctx.rows, ctx.device
        z = torch.zeros(R, dtype=torch.float64, device=dev)
        self._logw = z.clone()  # log-weights since the last resampling
        self._logprod = z.clone()  # sum of log-potentials along each particle's path
        self._r_prev = z.clone()  # diff: reward at the last potential step (0 at the start: a constant)
        self._r_max = torch.full_like(z, float("-inf"))
        self._r_sum = z.clone()
        self._r_last = torch.full_like(z, float("nan"))
        self._potential_steps = 0
        self._resamples = torch.zeros((), dtype=torch.long, device=dev)  # on the device: no sync per step

    def _is_potential_step(self) -> bool:
        ctx = self.ctx
        if ctx.is_last_step:
            return True
        if not self.is_active():
            return False
        return (ctx.step_index - int(self.start * ctx.num_steps)) % self.resample_every == 0

    def select(self, cands: Candidates, t: float) -> torch.Tensor:
        state = cands.states[:, 0]
        if cands.num != 1:
            raise ValueError("SMC expects one proposal per particle; do not combine it with a multi-candidate proposer")
        if not self._is_potential_step():
            return state
        ctx = self.ctx
        n, k = ctx.n, self.particles
        r = self.value(state, cands.s, ctx)
        valid = torch.isfinite(r)
        lam = self.lam
        if ctx.is_last_step:
            logG = lam * r - self._logprod
        elif self.potential == "diff":
            logG = lam * (r - self._r_prev)
        elif self.potential == "max":
            logG = lam * torch.maximum(r, self._r_max)
        elif self.potential == "sum":
            logG = lam * (r + self._r_sum)
        else:  # rt
            logG = lam * r
        logG = torch.where(valid, logG, torch.full_like(logG, float("-inf")))
        # A group in which every particle is invalid learns nothing from this step.
        dead = (~valid).view(n, k).all(dim=1).repeat_interleave(k)
        logG = torch.where(dead, torch.zeros_like(logG), logG)
        self._logw = self._logw + logG
        upd = valid & ~dead
        self._logprod = torch.where(upd, self._logprod + logG, self._logprod)
        self._r_prev = torch.where(upd, r, self._r_prev)
        self._r_max = torch.where(upd, torch.maximum(r, self._r_max), self._r_max)
        self._r_sum = torch.where(upd, self._r_sum + r, self._r_sum)
        self._r_last = r
        self._potential_steps += 1
        if ctx.is_last_step:
            return state
        w = normalize_log_weights(self._logw.view(n, k))
        group_ess = ess(w)
        if self.ess_threshold >= 1.0:
            redo = torch.ones_like(group_ess, dtype=torch.bool)
        else:
            redo = group_ess < self.ess_threshold * k
            if not redo.any():  # the one sync of a potential step: resampling draws from the generator
                return state
        idx = torch.arange(n * k, device=state.device).view(n, k)
        anc = resample_indices(w, self.resampling, ctx.generator) + torch.arange(n, device=state.device)[:, None] * k
        index = torch.where(redo[:, None], anc, idx).flatten()
        self._resamples = self._resamples + redo.sum()
        for name in ("_logprod", "_r_prev", "_r_max", "_r_sum", "_r_last"):
            setattr(self, name, getattr(self, name)[index])
        self._logw = torch.where(redo.repeat_interleave(k), torch.zeros_like(self._logw), self._logw[index])
        ctx.gather(index)
        return state[index]

    def finalize(self, state: torch.Tensor) -> Final:
        n, k = self.ctx.n, self.particles
        w = normalize_log_weights(self._logw.view(n, k))
        scores = self.value.to_oracle_units(self._r_last) if self.value.oracle is not None else None
        if self.output == "all":
            group = torch.arange(n, device=state.device).repeat_interleave(k)
            return Final(state, scores=scores, weights=w.flatten(), group=group)
        if self.output == "sample":
            pick = torch.multinomial(w.float(), 1, generator=self.ctx.generator)[:, 0]
        else:
            r = torch.nan_to_num(self._r_last.view(n, k), nan=float("-inf"))
            pick = r.argmax(dim=1)
        index = torch.arange(n, device=state.device) * k + pick
        return Final(state[index], scores=None if scores is None else scores[index])

    def trace(self) -> dict[str, Any]:
        return {"potential_steps": self._potential_steps, "resampled_groups": int(self._resamples)}

    def __repr__(self) -> str:
        return (f"SMC({self.value!r}, particles={self.particles}, lam={self.lam}, potential={self.potential!r}, "
                f"resample_every={self.resample_every}, ess_threshold={self.ess_threshold}, output={self.output!r})")
