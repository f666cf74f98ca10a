"""DiscreteClassifierGuidance: classifier guidance for masked diffusion with a noisy-input classifier or regressor
(Nisonoff, Xiong, Allenspach, Listgarten 2024, arXiv 2406.01572, "Unlocking guidance for discrete state-space
diffusion and flow models", §3-4; Schiff et al. 2024, arXiv 2412.10193, D-CBG).

Bayes' rule tilts the reverse kernel by the classifier at the next state: ``p(x_s | x_t, y) proportional to
p(x_s | x_t) p(y | x_s)``. Per position (the factorised step of masked diffusion: each position changes at most
once, from mask to a token), position l of a masked row moves to

- token v with probability ``q(v) = p(x_0^l = v | x_t) (alpha_s - alpha_t) / (1 - alpha_t)``, tilted by
  ``p(y | x_t^{l <- v}) / p(y | x_t)`` (``x_t^{l <- v}``: the state with only position l set to v);
- stays masked with ``q(mask) = (1 - alpha_s) / (1 - alpha_t)``, untilted (the state does not change).

With the exact noisy classifier the tilted token probabilities already sum to the unguided reveal probability
(``p(y | x_t)`` is the posterior average of ``p(y | x_t^{l <- v})`` over v, and for an absorbing process it does
not depend on t), so Bayes' rule changes only *which* token is revealed. An approximate classifier (learned,
first-order) or ``scale != 1`` breaks that balance: normalising the tilted kernel over the tokens *and* the mask
(Nisonoff et al.'s rate tilt, D-CBG's softmax over V) then changes how fast positions unmask, the "imbalanced
transitions" of Rojas et al. 2025 (arXiv 2507.08965: unmasking too fast early in the run). By default
(``keep_unmask_rate=True``) the tilt is normalised over the tokens only ("column normalisation", Rojas et al.'s
fix) and the reveal probability stays the model's ``(alpha_s - alpha_t) / (1 - alpha_t)`` whatever the scale;
for the exact classifier at ``scale = 1`` both normalisations are the same kernel. With a single masked position
the tilted kernel is the exact guided transition (checked against ``ExactMaskedModel``). ``scale`` raises the
likelihood to a power, ``p(y | x)^scale`` (1 = Bayes, 0 = the unguided model).

Two ways to get the ratios, both with the classifier at time ``s`` (the time of the next state):

- ``approximation="exact"``: enumerate every single-token change of every masked position (``sum_b masked_b x V``
  states per step, evaluated in batches of ``batch_size``);
- ``approximation="first_order"``: one forward and backward pass on the one-hot state: ``log p(y | x^{l <- v}) -
  log p(y | x) ~ g_{l, v} - g_{l, mask}``, ``g = d log p(y | x) / d onehot(x)`` (a Taylor expansion; Nisonoff
  et al. eq. 11).

The classifier is a :class:`~seqguide.guidance.NoisyClassifier` (``log p(y = target | x_t)``) or a
:class:`~seqguide.guidance.ValueModel` regressor (the tilt ``exp(scale * v(x_t))``), or any object with
``log_potential(x, t, target) -> (N,)`` on ids ``(N, L)`` and, for the first-order method, on differentiable
one-hots ``(N, L, V)``. It acts on the ``propose`` hook (it draws the next state itself), so it cannot be combined
with another proposer (SVDD).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F

from seqguide.guidance.base import Candidates, Guider
from seqguide.models.gumbel import gumbel_argmax

__all__ = ["DiscreteClassifierGuidance"]

_NEG_INF = float("-inf")


class DiscreteClassifierGuidance(Guider):
    """Noisy-classifier guidance of masked diffusion on the ``propose`` hook (see the module docstring).

    Args:
        classifier: A :class:`NoisyClassifier`, a :class:`ValueModel`, or an object with ``log_potential``.
        target: The class to steer toward (classifiers); None for a regressor.
        scale: The power of the likelihood, ``p(y | x)^scale``: it multiplies the classifier's log-ratios
            ``log p(y | x^{l <- v}) - log p(y | x)`` added to the denoiser's token log-probabilities. 0 = the unguided
            model, 1 = Bayes' rule (the class-conditional model for an exact classifier), > 1 = sharper.
        approximation: ``"exact"`` (enumerate single-token changes) or ``"first_order"`` (Taylor expansion).
        batch_size: States per classifier call for the exact method.
        keep_unmask_rate: Normalise the tilt over the tokens only, so a masked position is revealed with the
            model's probability whatever the scale (Rojas et al. 2025); False normalises over the tokens and the
            mask (the reveal rate then moves with the tilt).
        start: Fraction of the run at which guidance starts.
        stop: Fraction at which it stops.

    Raises:
        TypeError: if the classifier has no ``log_potential``.
        ValueError: for a negative or non-finite ``scale``, an unknown ``approximation`` or ``batch_size < 1``.
    """

    resources: ClassVar[dict[str, tuple[str, ...]]] = {"classifier": ("value_model", "noisy_classifier")}
    paper: ClassVar[str] = ("Nisonoff et al. 2024, arXiv 2406.01572 (discrete guidance), §3-4; Schiff et al. 2024, "
                            "arXiv 2412.10193 (D-CBG)")

    def __init__(self, classifier: Any, *, target: int | None = None, scale: float = 1.0,
                 approximation: Literal["exact", "first_order"] = "exact", batch_size: int = 4096,
                 keep_unmask_rate: bool = True, start: float = 0.0, stop: float = 1.0) -> None:
        super().__init__(start=start, stop=stop)
        if not callable(getattr(classifier, "log_potential", None)) and hasattr(classifier, "model"):
            classifier = classifier.model  # a LearnedValue (a campaign's value_model source): its ValueModel
        if not callable(getattr(classifier, "log_potential", None)):
            raise TypeError(f"classifier must have log_potential(x, t, target) (a NoisyClassifier or ValueModel), "
                            f"got {type(classifier).__name__}")
        if not (scale >= 0 and scale < float("inf")):
            raise ValueError(f"scale must be finite and >= 0, got {scale}")
        if approximation not in ("exact", "first_order"):
            raise ValueError(f"approximation must be 'exact' or 'first_order', got {approximation!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.classifier = classifier
        self.target = target
        self.scale = float(scale)
        self.approximation = approximation
        self.batch_size = int(batch_size)
        self.keep_unmask_rate = bool(keep_unmask_rate)

    def reset(self, ctx: Any) -> None:
        super().reset(ctx)
        self._guided_steps = 0
        self._rows = 0

    # ------------------------------------------------------------------ classifier
    def _phi(self, x: torch.Tensor, s: float) -> torch.Tensor:
        out = []
        for i in range(0, x.shape[0], self.batch_size):
            out.append(self.classifier.log_potential(x[i : i + self.batch_size], s, self.target).double())
        self._rows += x.shape[0]
        extra = self.ctx.counters.extra
        extra["classifier_rows"] = extra.get("classifier_rows", 0) + x.shape[0]
        extra["classifier_calls"] = extra.get("classifier_calls", 0) + len(out)
        return torch.cat(out)

    def log_ratios(self, state: torch.Tensor, pred: torch.Tensor, s: float, mask_id: int) -> torch.Tensor:
        """``log p(y | x^{l <- v}, s) - log p(y | x, s)`` at masked positions and allowed tokens, 0 elsewhere:
        ``(B, L, V)`` float64.

        Args:
            state: ``(B, L)`` int64 masked states.
            pred: ``(B, L, V)`` clean-token log-probabilities (tokens with ``-inf`` are not enumerated).
            s: The next time (the classifier's time).
            mask_id: The mask token id.
        """
        B, L, V = pred.shape
        masked = state == mask_id
        allowed = masked[..., None] & torch.isfinite(pred)
        out = torch.zeros(B, L, V, dtype=torch.float64, device=state.device)
        if self.approximation == "first_order":
            with torch.enable_grad():
                onehot = F.one_hot(state, V).float().requires_grad_(True)
                phi = self.classifier.log_potential(onehot, s, self.target)
                (grad,) = torch.autograd.grad(phi.sum(), onehot)
            self._rows += B
            extra = self.ctx.counters.extra
            extra["classifier_rows"] = extra.get("classifier_rows", 0) + B
            extra["classifier_calls"] = extra.get("classifier_calls", 0) + 1
            delta = (grad - grad[..., mask_id : mask_id + 1]).double()
            return torch.where(allowed, delta, out)
        idx = torch.nonzero(allowed)  # (n, 3): row, position, token
        if idx.numel() == 0:
            return out
        rows = torch.unique(idx[:, 0])
        base = torch.zeros(B, dtype=torch.float64, device=state.device)
        base[rows] = self._phi(state[rows], s)
        neighbours = state[idx[:, 0]].clone()
        neighbours[torch.arange(idx.shape[0], device=state.device), idx[:, 1]] = idx[:, 2]
        out[idx[:, 0], idx[:, 1], idx[:, 2]] = self._phi(neighbours, s) - base[idx[:, 0]]
        return out

    # ------------------------------------------------------------------ kernel
    def transition_log_probs(self, model: Any, state: torch.Tensor, pred: torch.Tensor, t: float,
                             s: float) -> torch.Tensor:
        """The guided per-position kernel ``log p~(x_s^l = v | x_t, y)``: ``(B, L, V)``, a distribution over the
        tokens and the mask id (whose entry is the probability of staying masked: the model's own with
        ``keep_unmask_rate``); unmasked positions keep their token.
        """
        mask_id = int(model.mask_id)
        p_reveal = float(model.schedule.unmask_probability(t, s))
        log_reveal = math.log(p_reveal) if p_reveal > 0 else _NEG_INF
        log_stay = math.log1p(-p_reveal) if p_reveal < 1 else _NEG_INF
        logits = pred.double()
        if self.scale != 0:
            delta = self.log_ratios(state, pred, s, mask_id)
            logits = torch.where(torch.isfinite(logits), logits + self.scale * delta, logits)
        logits[..., mask_id] = _NEG_INF
        if self.keep_unmask_rate:  # which token, from the tilt; whether to unmask, from the model
            logits = logits.log_softmax(dim=-1) + log_reveal
            logits[..., mask_id] = log_stay
        else:  # the tilt normalised with the stay-masked entry: the reveal rate follows the tilt
            logits = logits + log_reveal
            logits[..., mask_id] = log_stay
            logits = logits.log_softmax(dim=-1)
        masked = (state == mask_id)[..., None]
        carried = torch.full_like(logits, _NEG_INF).scatter_(-1, state.unsqueeze(-1), 0.0)
        return torch.where(masked, logits, carried)

    def propose(self, model: Any, state: torch.Tensor, pred: Any, t: float, s: float) -> Candidates | None:
        if not self.is_active():
            return None
        for attr in ("mask_id", "schedule"):
            if not hasattr(model, attr):
                raise TypeError(f"DiscreteClassifierGuidance needs a masked diffusion model (with .{attr}), got "
                                f"{type(model).__name__}")
        if not (state == model.mask_id).any():
            return None
        logp = self.transition_log_probs(model, state, pred, t, s)
        nxt = gumbel_argmax(logp, self.ctx.generator, torch.float64)
        self._guided_steps += 1
        return Candidates(nxt.unsqueeze(1), state, pred, t, s)

    def trace(self) -> dict[str, Any]:
        return {"guided_steps": self._guided_steps, "classifier_rows": self._rows}

    def __repr__(self) -> str:
        name = type(self.classifier).__name__
        return (f"DiscreteClassifierGuidance({name}, target={self.target}, scale={self.scale:g}, "
                f"approximation={self.approximation!r}, keep_unmask_rate={self.keep_unmask_rate})")
