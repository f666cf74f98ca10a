"""APS: anchored posterior sampling for masked diffusion (Rout et al. 2025, arXiv 2510.02291).

Posterior sampling ``p(x | y) ∝ p(x) q(y | x)`` with a pretrained masked model and a
:class:`~seqguide.guidance.posterior.measurement.Measurement`, on two hooks of the sampling loop:

**adjust: quantized expectation + a test-time tilted table.** At each step the pretrained clean-token
prediction ``p_theta(x_0^l | x_t)`` of every masked position is tilted, ``q_phi ∝ p_theta exp(delta)``, and
the tilt ``delta`` ``(B, L, K)`` (the whole per-position table, warm-started from the previous step) is
optimised for ``inner_steps`` steps of Adam (or SGD) with learning rate ``lr`` on the test-time bound of
APS's Theorem 3.2 (measurement term + a term keeping the tilted denoiser near the pretrained one)::

    J(delta) = -log q(y | QE(q_phi)) + kl_weight * sum_{l masked} KL(q_phi^l || p_theta^l)

``QE`` is the quantized expectation: the expected token embedding ``E^l = sum_k q_phi^l(k) e_k`` snapped
to the nearest token embedding, with a straight-through estimator (forward: a valid token's embedding;
backward: the gradient reaches the whole table through ``E``). With one-hot embeddings (categorical
tokens) the snap is the argmax and the gradient is the exact per-token likelihood, so with
``kl_weight=1`` the optimum of J is the per-position posterior ``∝ p_theta q(y | x)``. A black-box
measurement (an oracle reward) has no gradient: J's first term is then estimated by the score-function
(REINFORCE) estimator over ``reward_samples`` draws from ``q_phi`` with a leave-one-out baseline, each
draw scored by the oracle (counted in ``oracle_calls``). The adjusted prediction is ``log q_phi``.

**remask: anchored remasking.** The loop's step reveals a random number of masked positions (the
schedule's count). APS keeps that count but chooses *which* positions: the most confident under the
tilted table (lowest entropy, or highest max-probability), whose tokens become anchors; every other
position the step revealed is masked again. Anchors, like all unmasked tokens, are never remasked. The
committed token is a draw from ``q_phi`` (``commit="sample"``) or the quantized expectation itself
(``"quantized"``: the snapped token); ``"auto"`` samples for one-hot embeddings, where ``q_phi`` is the
posterior, and snaps for ordinal values (grey levels), where the tilt is only a linearisation around the
expectation and a draw from it would ignore the measurement.

What the paper leaves open and is chosen here (see ``benchmarks/posterior_sampling.py``, whose ablation
varies each choice): Adam, lr 0.5, 30 inner steps per denoising step with the tilt warm-started across
steps, kl_weight 1, and the schedule's number of tokens per step. With ``commit="quantized"`` the snapped
token is taken from the inner iterate with the lowest objective (the quantized loss is piecewise
constant, so the last iterate may sit just past a rounding boundary). Fewer inner steps commit early
tokens before the table has moved far enough (tests/guidance/test_aps.py). APS adds no network call: its
cost is ``inner_steps`` (+1 with snapped commits) measurement evaluations per row and step
(``APS.measurement_rows`` in the trace), or ``reward_samples`` oracle calls per row and inner step for a
black-box reward.

Example:
    >>> import torch
    >>> from seqguide import Alphabet, sample
    >>> from seqguide.guidance import APS, TokenObservation
    >>> from seqguide.models import ExactMaskedModel
    >>> model = ExactMaskedModel(Alphabet("AB"), {"AA": 0.4, "AB": 0.3, "BA": 0.2, "BB": 0.1}, exact_joint=False)
    >>> seen = TokenObservation(torch.tensor([1, 1]), torch.ones(2, dtype=torch.bool), num_tokens=2,
    ...                         flip_prob=0.1)                       # "BB" seen through a noisy channel
    >>> out = sample(model, 100, steps=2, guidance=[APS(seen)], seed=0, progress=False)
    >>> out.sequences.count("BB") > 40          # 10% under the model, 62% under the posterior
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F

from seqguide.guidance.base import Guider
from seqguide.guidance.posterior.measurement import Measurement
from seqguide.guidance.posterior.reward_measurement import as_measurement
from seqguide.models.gumbel import gumbel_argmax

__all__ = ["APS", "QuantizedExpectation", "quantized_expectation"]

#: Scale of the random tie-break between equally confident positions (a fraction of one nat).
_TIE_BREAK = 1e-6
#: Bound on the tilt (nats): Adam's normalised steps would otherwise push the logit of a vanishing token
#: down without end across warm-started steps; e^-50 is zero for every purpose here.
_DELTA_MAX = 50.0


@dataclass
class QuantizedExpectation:
    """Output of :func:`quantized_expectation`.

    Attributes:
        tokens: ``(B, L)`` int64, the token whose embedding is nearest to the expected embedding.
        values: ``(B, L, D)`` straight-through values: equal to ``embedding[tokens]`` in the forward pass,
            with the gradient of the expectation ``probs @ embedding`` in the backward pass.
        expected: ``(B, L, D)`` the expected embedding itself.
    """

    tokens: torch.Tensor
    values: torch.Tensor
    expected: torch.Tensor


def quantized_expectation(probs: torch.Tensor, embedding: torch.Tensor) -> QuantizedExpectation:
    """Expected token embedding under ``probs``, snapped to the nearest token with a straight-through estimator.

    Args:
        probs: ``(B, L, K)`` per-position distributions over the K regular tokens (rows sum to 1).
        embedding: ``(K, D)`` token embeddings (grey levels ``(K, 1)``, one-hot ``eye(K)``, codebook vectors).

    Returns:
        :class:`QuantizedExpectation` with the snapped tokens and the straight-through values.
    """
    if probs.shape[-1] != embedding.shape[0]:
        raise ValueError(f"probs cover {probs.shape[-1]} tokens but the embedding has {embedding.shape[0]} rows")
    emb = embedding.to(device=probs.device, dtype=probs.dtype)
    expected = probs @ emb  # (B, L, D)
    with torch.no_grad():  # squared distances to every token embedding: |E|^2 - 2 E.e_k + |e_k|^2
        dist = (emb * emb).sum(dim=-1) - 2.0 * expected @ emb.T  # (B, L, K), |E|^2 dropped (same for all k)
        tokens = dist.argmin(dim=-1)
    snapped = emb[tokens]
    return QuantizedExpectation(tokens, expected + (snapped - expected).detach(), expected)


class APS(Guider):
    """Anchored posterior sampling on the ``adjust`` (tilted table) and ``remask`` (anchors) hooks.

    Args:
        measurement: A :class:`~seqguide.guidance.posterior.measurement.Measurement` (or an Oracle / a differentiable
            surrogate, turned into a reward measurement by :func:`as_measurement`).
        inner_steps: Optimisation steps of the tilted table per denoising step.
        lr: Step size of the inner optimiser.
        kl_weight: Weight of ``KL(q_phi || p_theta)`` over masked positions (1: the posterior's bound).
        optimizer: ``"adam"`` or ``"sgd"``.
        quantize: Apply the measurement to the quantized expectation (True, APS) or to the plain expectation
            (False: a continuous relaxation, for ablations).
        variance_term: Add the spread of the table to the measurement term (Gaussian linear measurements):
            ``E_q ||y - A v||^2`` splits into the loss at the mean plus ``sum_l ||A_l||^2 Var_q(v_l)``; the
            quantized expectation keeps only the first part, so on ordinal values (grey levels) the table's
            mean is pinned but not its spread. This second-order term (an extension, not in the paper) makes
            the tilt concentrate where the measurement looks, so a draw from it (``commit="sample"``) and the
            confidence ranking both respect the measurement.
        commit: Token written at a committed position: ``"sample"`` (a draw from the tilted table),
            ``"quantized"`` (the snapped expected token) or ``"auto"`` (sample for one-hot embeddings or with
            ``variance_term``, else snap).
        confidence: Ranking of positions for anchoring: ``"entropy"`` (low entropy first) or ``"max_prob"``.
        anchored: Choose the revealed positions by confidence (True) or keep the step's random ones (False).
        warm_start: Start each step's tilt from the previous step's (True) or from zero.
        reward_samples: Draws per row and inner step of the score-function estimate (black-box measurements).
        start: Fraction of the run at which APS becomes active.
        stop: Fraction at which it stops.
    """

    resources: ClassVar[dict[str, tuple[str, ...]]] = {"measurement": ("oracle", "surrogate")}
    paper: ClassVar[str] = "Rout et al. 2025, arXiv 2510.02291 (APS), Thm. 3.2 and Sec. 3"

    def __init__(
        self,
        measurement: Measurement | Any,
        *,
        inner_steps: int = 30,
        lr: float = 0.5,
        kl_weight: float = 1.0,
        optimizer: Literal["adam", "sgd", "mirror"] = "adam",
        quantize: bool = True,
        variance_term: bool = False,
        commit: Literal["auto", "sample", "quantized"] = "auto",
        confidence: Literal["entropy", "max_prob"] = "entropy",
        anchored: bool = True,
        warm_start: bool = True,
        reward_samples: int = 4,
        start: float = 0.0,
        stop: float = 1.0,
    ) -> None:
        super().__init__(start=start, stop=stop)
        if inner_steps < 0:
            raise ValueError(f"inner_steps must be >= 0, got {inner_steps}")
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if not kl_weight >= 0:
            raise ValueError(f"kl_weight must be >= 0, got {kl_weight}")
        if optimizer not in ("adam", "sgd", "mirror"):
            raise ValueError(f"optimizer must be 'adam', 'sgd' or 'mirror', got {optimizer!r}")
        if commit not in ("auto", "sample", "quantized"):
            raise ValueError(f"commit must be 'auto', 'sample' or 'quantized', got {commit!r}")
        if confidence not in ("entropy", "max_prob"):
            raise ValueError(f"confidence must be 'entropy' or 'max_prob', got {confidence!r}")
        if reward_samples < 2:
            raise ValueError(f"reward_samples must be >= 2 (leave-one-out baseline), got {reward_samples}")
        self.measurement = as_measurement(measurement)
        if commit == "quantized" and self.measurement.values is None:
            raise ValueError("commit='quantized' needs a measurement with token values (embeddings)")
        self.inner_steps, self.lr, self.kl_weight = inner_steps, lr, kl_weight
        if variance_term and not hasattr(self.measurement, "variance_penalty"):
            raise ValueError(f"variance_term=True needs a Gaussian linear measurement, got {self.measurement!r}")
        self.optimizer, self.quantize, self.commit = optimizer, quantize, commit
        self.variance_term = variance_term
        self.confidence, self.anchored, self.warm_start = confidence, anchored, warm_start
        self.reward_samples = reward_samples

    # ------------------------------------------------------------------ lifecycle
    def reset(self, ctx: Any) -> None:
        super().reset(ctx)
        model = ctx.model
        alphabet = getattr(model, "alphabet", None)
        if alphabet is None or not hasattr(model, "mask_id"):
            raise TypeError(f"APS needs a masked model with an alphabet and a mask_id, got {type(model).__name__}")
        self._K, self._mask_id, self._pad_id = alphabet.size, model.mask_id, alphabet.pad_id
        k_meas = self.measurement.num_tokens
        if k_meas is not None and k_meas != self._K:
            raise ValueError(f"the measurement knows {k_meas} tokens but the model's alphabet has {self._K}")
        meas = self.measurement
        sample_ok = meas.values is None or meas.categorical or self.variance_term
        self._commit = self.commit if self.commit != "auto" else ("sample" if sample_ok else "quantized")
        self._delta: torch.Tensor | None = None
        self._logq: torch.Tensor | None = None
        self._prev: torch.Tensor | None = None
        self._best_tokens: torch.Tensor | None = None
        self._stats = {"guided_steps": 0, "inner_steps": 0, "measurement_rows": 0, "committed": 0}

    # ------------------------------------------------------------------ adjust: tilted table
    def adjust(self, state: torch.Tensor, pred: torch.Tensor, t: float) -> torch.Tensor:
        self._logq = None
        if not self.is_active():
            return pred
        if (state == self._pad_id).any():
            raise ValueError("APS works on fixed-length sequences: the state holds pad tokens")
        masked = state == self._mask_id
        if not masked.any():
            return pred
        K = self._K
        base = torch.log_softmax(pred[..., :K].float(), dim=-1)  # pretrained table over regular tokens
        delta = self._delta if (self.warm_start and self._delta is not None
                                and self._delta.shape == base.shape) else torch.zeros_like(base)
        index = self.ctx.requests()
        self._fixed = F.one_hot(state.clamp_max(K - 1), K).to(base.dtype)  # committed tokens, as one-hot rows
        with torch.enable_grad():
            delta = self._optimise(base, delta, state, masked, index)
        delta = torch.where(masked.unsqueeze(-1), delta.detach(), torch.zeros_like(base))
        self._delta = delta
        logq = torch.log_softmax(base + delta, dim=-1)
        self._logq, self._prev = logq, state
        self._stats["guided_steps"] += 1
        self._stats["inner_steps"] += self.inner_steps
        out = pred.clone()
        out[..., :K] = torch.where(masked.unsqueeze(-1), logq.to(pred.dtype), pred[..., :K])
        out[..., K:] = torch.where(masked.unsqueeze(-1), torch.full_like(pred[..., K:], float("-inf")), pred[..., K:])
        return out

    def _optimise(self, base: torch.Tensor, delta: torch.Tensor, state: torch.Tensor, masked: torch.Tensor,
                  index: torch.Tensor) -> torch.Tensor:
        """Run the inner optimisation of the tilt ``delta`` ``(B, L, K)``; return the last iterate.

        Along the way, for ``commit="quantized"``, the snapped tokens of the iterate with the lowest objective
        J are kept per row (``self._best_tokens``): the quantized loss is piecewise constant, so the last
        iterate may sit just past a rounding boundary while an earlier one matched the measurement.

        ``"mirror"`` is mirror descent on the table (KL geometry): ``delta <- (1 - lr kl_weight) delta - lr dL/dq``
        with ``dL/dq`` the measurement gradient w.r.t. the table's probabilities; its fixed point is
        ``delta = -dL/dq / kl_weight``, reached in one step for a loss linear in q when ``lr kl_weight = 1``.
        """
        track_best = self._commit == "quantized" and self.measurement.differentiable
        best_j = torch.full(base.shape[:1], float("inf"), device=base.device)
        best_tokens = torch.zeros(base.shape[:2], dtype=torch.long, device=base.device)

        def track(j: torch.Tensor) -> None:
            """Keep the snapped tokens of the last measurement evaluation where J improved."""
            nonlocal best_j, best_tokens
            if not track_best:
                return
            better = j.detach() < best_j
            best_j = torch.where(better, j.detach(), best_j)
            best_tokens = torch.where(better[:, None], self._last_tokens, best_tokens)

        maskf = masked.to(base.dtype)

        def table(d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            """``log q``, ``q`` ``(B, L, K)`` of the tilt ``d`` and ``kl_weight * sum_masked KL(q || p)`` ``(B,)``,
            using ``KL = <q, d> - log sum_k p_k e^{d_k}`` (no log 0 of impossible tokens)."""
            z = base + d
            lse = torch.logsumexp(z, dim=-1, keepdim=True)
            logq = z - lse
            q = logq.exp()
            if self.kl_weight == 0:
                return logq, q, torch.zeros(base.shape[0], device=base.device)
            kl = (q * d).sum(dim=-1) - lse[..., 0]
            return logq, q, self.kl_weight * (kl * maskf).sum(dim=-1)

        if self.optimizer == "mirror":
            delta = delta.detach()
            for _ in range(self.inner_steps):
                logq, q, kl = table(delta)
                q = q.requires_grad_(True)
                term = self._measurement_term(logq, state, masked, index, probs=q)
                (grad,) = torch.autograd.grad(term.sum(), q)
                track(term.detach() + kl)
                delta = (1.0 - self.lr * self.kl_weight) * delta - self.lr * grad
                delta = delta - delta.max(dim=-1, keepdim=True).values  # softmax-invariant shift, keeps it bounded
        else:
            delta = delta.detach().clone().requires_grad_(True)
            opt = (torch.optim.Adam([delta], lr=self.lr) if self.optimizer == "adam"
                   else torch.optim.SGD([delta], lr=self.lr))
            for _ in range(self.inner_steps):
                logq, q, kl = table(delta)
                objective = self._measurement_term(logq, state, masked, index, probs=q) + kl
                track(objective)
                opt.zero_grad()
                objective.sum().backward()
                opt.step()
                with torch.no_grad():
                    delta.clamp_(-_DELTA_MAX, _DELTA_MAX)
        delta = delta.detach()
        if track_best:
            with torch.no_grad():
                logq, q, kl = table(delta)
                track(self._measurement_term(logq, state, masked, index, probs=q) + kl)
        self._best_tokens = best_tokens if track_best else None
        return delta

    def _measurement_term(self, logq: torch.Tensor, state: torch.Tensor, masked: torch.Tensor,
                          index: torch.Tensor, probs: torch.Tensor | None = None) -> torch.Tensor:
        """``(B,)`` the measurement part of J: differentiable through the (quantized) expectation, or a
        score-function surrogate whose gradient is that of ``E_q[loss]`` for a black-box measurement."""
        meas = self.measurement
        fixed = self._fixed
        if meas.differentiable:
            probs = torch.where(masked.unsqueeze(-1), logq.exp() if probs is None else probs, fixed)
            qe = quantized_expectation(probs, meas.values)
            self._last_tokens = qe.tokens
            v = qe.values if self.quantize else qe.expected
            self._stats["measurement_rows"] += state.shape[0]
            loss = meas.loss(v, index)
            if self.variance_term:
                values = meas.values.to(probs)[:, 0]
                var = probs @ values.pow(2) - (probs @ values).pow(2)
                loss = loss + meas.variance_penalty(var.clamp_min(0.0), index)
            return loss
        S, B = self.reward_samples, state.shape[0]
        with torch.no_grad():
            draws = gumbel_argmax(logq.detach().unsqueeze(0).expand(S, *logq.shape), self.ctx.generator)
            draws = torch.where(masked.unsqueeze(0), draws, state.unsqueeze(0))  # (S, B, L)
            losses = meas.token_loss(draws.flatten(0, 1), index.repeat(S), self.ctx).view(S, B).float()
            worst = torch.nan_to_num(losses, nan=float("-inf")).max(dim=0).values
            losses = torch.where(torch.isnan(losses), worst.unsqueeze(0).expand_as(losses), losses)
            losses = torch.nan_to_num(losses, neginf=0.0)  # a row whose draws are all invalid learns nothing
            baseline = (losses.sum(dim=0, keepdim=True) - losses) / (S - 1)
            advantage = losses - baseline
        self._stats["measurement_rows"] += S * B
        logp = logq.unsqueeze(0).expand(S, *logq.shape).gather(-1, draws.unsqueeze(-1)).squeeze(-1)  # (S, B, L)
        logp = torch.where(masked.unsqueeze(0), logp, torch.zeros_like(logp)).sum(dim=-1)
        return (advantage * logp).mean(dim=0)

    # ------------------------------------------------------------------ remask: anchors
    def remask(self, state: torch.Tensor, pred: Any, t: float) -> torch.Tensor:
        logq, prev = self._logq, self._prev
        if logq is None or prev is None:
            return state
        if prev.shape != state.shape:
            raise RuntimeError("APS cannot follow rows that another guider added or reordered (resampling)")
        was_masked = prev == self._mask_id
        revealed = (state != self._mask_id) & was_masked
        if self.anchored:
            n_new = revealed.sum(dim=1, keepdim=True)
            score = self._confidence(logq)
            noise = torch.rand(score.shape, generator=self.ctx.generator, device=score.device) * _TIE_BREAK
            score = torch.where(was_masked, score + noise, torch.full_like(score, float("-inf")))
            rank = score.argsort(dim=1, descending=True).argsort(dim=1)
            chosen = (rank < n_new) & was_masked
        else:
            chosen = revealed
        tokens = self._commit_tokens(logq, state, chosen)
        self._stats["committed"] += int(chosen.sum())
        self._logq = None
        return torch.where(chosen, tokens, prev)

    def _confidence(self, logq: torch.Tensor) -> torch.Tensor:
        if self.confidence == "max_prob":
            return logq.max(dim=-1).values
        q = logq.exp()
        return (q * torch.where(q > 0, logq, torch.zeros_like(logq))).sum(dim=-1)  # negative entropy

    def _commit_tokens(self, logq: torch.Tensor, state: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
        if self._commit == "quantized":
            if self._best_tokens is not None:
                return self._best_tokens
            return quantized_expectation(logq.exp(), self.measurement.values).tokens
        if not self.anchored:
            return state  # the loop's step already drew these positions from q_phi
        return gumbel_argmax(logq, self.ctx.generator)

    def trace(self) -> dict[str, Any]:
        return dict(self._stats)

    def __repr__(self) -> str:
        return (f"APS({self.measurement!r}, inner_steps={self.inner_steps}, lr={self.lr}, kl_weight={self.kl_weight}, "
                f"commit={self.commit!r}, anchored={self.anchored})")
