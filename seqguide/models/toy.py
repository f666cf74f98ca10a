"""Exactly solvable models (masked diffusion and a simplex flow), for tests and for checking guidance against
exact answers.

:class:`ExactMaskedModel` is defined by an explicit probability table over all sequences of one
length. Its ``predict`` returns the exact clean-token conditionals ``p(x_0^l = v | x_t)`` (the
posterior over sequences that agree with the unmasked positions, marginalised per position), so it is
the Bayes-optimal denoiser of any absorbing process. Its ``step`` can draw from the *exact* joint
reverse kernel (draw ``x_0 ~ p(x_0 | x_t)`` from the table, then reveal each masked position with the
schedule's probability), so unguided sampling returns exactly ``p(x)`` for any number of steps, and the
only approximation left in a test is the guidance method itself.

It also computes exact quantities that guidance approximates, e.g. the soft value
``v(x_t) = alpha * log E[exp(r(x_0) / alpha) | x_t]`` (SVDD, Li et al. 2024, eq. 3) and the tilted
target ``p(x) exp(r(x) / alpha) / Z``.

:class:`ExactSimplexModel` is the same for Gumbel-Softmax flow matching: its ``predict`` is the exact
denoiser ``p(x_1^l = v | x_t)`` of the table under the Gumbel-softmax path (Bayes' rule with the path's
Concrete likelihood, :meth:`~seqguide.models.simplex_path.GumbelSoftmaxPath.log_likelihood`), and its sampling
process is :class:`~seqguide.models.simplex.GumbelSoftmaxFlow`'s, so the flow's endpoint distribution can be
compared with the table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from seqguide.alphabet import Alphabet, get_alphabet
from seqguide.models.protocol import Cond
from seqguide.models.schedules import get_schedule
from seqguide.models.simplex import SimplexProcess
from seqguide.models.simplex_path import GumbelSoftmaxPath

__all__ = ["ExactMaskedModel", "ExactSimplexModel"]


def _table_tensors(alphabet: Alphabet, table: Mapping[str, float]) -> tuple[list[str], int, torch.Tensor, torch.Tensor]:
    """Sequences, their common length, ids ``(S, L)`` and probabilities ``(S,)`` of a validated table."""
    if not table:
        raise ValueError("table must hold at least one sequence")
    seqs = list(table)
    lengths = {len(alphabet.tokenize(s, index=i)) for i, s in enumerate(seqs)}
    if len(lengths) != 1:
        raise ValueError(f"all table sequences must have one length, got lengths {sorted(lengths)}")
    probs = torch.tensor([float(table[s]) for s in seqs], dtype=torch.float64)
    if (probs < 0).any():
        raise ValueError("table probabilities must be non-negative")
    if abs(float(probs.sum()) - 1.0) > 1e-6:
        raise ValueError(f"table probabilities must sum to 1, got {float(probs.sum()):.6g}")
    length = lengths.pop()
    return seqs, length, alphabet.encode(seqs, length=length), probs


class ExactMaskedModel(nn.Module):
    """A masked-diffusion process whose denoiser is exact, from a table ``{sequence: probability}``.

    Args:
        alphabet: The alphabet the sequences are written in.
        table: ``{sequence: probability}``, all sequences of one length, probabilities summing to 1
            (within 1e-6). Sequences missing from the table have probability 0.
        schedule: Noise schedule name (``"loglinear"`` or ``"cosine"``).
        exact_joint: If True, ``step`` draws from the exact joint reverse kernel; if False it uses the
            factorised MDLM step (each revealed position drawn independently from its marginal), which
            is what a trained network would do.
    """

    time_conditioned = False

    def __init__(
        self,
        alphabet: Alphabet | str | Sequence[str],
        table: Mapping[str, float],
        *,
        schedule: str = "loglinear",
        exact_joint: bool = True,
    ) -> None:
        super().__init__()
        self.alphabet = get_alphabet(alphabet)
        seqs, self.length, ids, probs = _table_tensors(self.alphabet, table)
        self.sequences = seqs
        self.register_buffer("X", ids)  # (S, L)
        self.register_buffer("p", probs)  # (S,)
        self.schedule = get_schedule(schedule)
        self.exact_joint = exact_joint
        self.mask_id = self.alphabet.mask_id
        self.num_classes = 0
        self.nfe = 0  # number of predict() calls, for tests of the sampler's accounting

    @property
    def device(self) -> torch.device:
        return self.X.device

    # ------------------------------------------------------------------ exact quantities
    def _posterior(self, state: torch.Tensor) -> torch.Tensor:
        """``(B, S)`` posterior over table sequences given the unmasked positions of ``state``."""
        agree = (state[:, None, :] == self.mask_id) | (state[:, None, :] == self.X[None])
        w = agree.all(dim=-1).double() * self.p[None]
        z = w.sum(dim=-1, keepdim=True)
        if (z == 0).any():
            bad = int((z[:, 0] == 0).nonzero()[0])
            raise ValueError(f"state row {bad} is inconsistent with every table sequence")
        return w / z

    def soft_value(self, state: torch.Tensor, rewards: torch.Tensor, alpha: float) -> torch.Tensor:
        """Exact soft value ``alpha * log E[exp(r(x0)/alpha) | x_t]`` ``(B,)``; alpha=0 gives max over support."""
        post = self._posterior(state)
        r = rewards.to(post)
        if alpha == 0:
            return torch.where(post > 0, r[None], torch.full_like(post, float("-inf"))).max(dim=-1).values
        return alpha * torch.logsumexp(torch.log(post.clamp_min(1e-300)) + r[None] / alpha, dim=-1)

    def tilted(self, rewards: torch.Tensor | Callable[[str], float], lam: float) -> dict[str, float]:
        """The exact target ``p(x) exp(lam r(x)) / Z`` as a table."""
        r = self._reward_vector(rewards)
        logw = torch.log(self.p.clamp_min(1e-300)) + lam * r
        w = torch.softmax(logw, dim=0)
        return {s: float(v) for s, v in zip(self.sequences, w)}

    def _reward_vector(self, rewards: torch.Tensor | Callable[[str], float]) -> torch.Tensor:
        if callable(rewards):
            return torch.tensor([float(rewards(s)) for s in self.sequences], dtype=torch.float64)
        return torch.as_tensor(rewards, dtype=torch.float64)

    # ------------------------------------------------------------------ process protocol
    def prior(
        self, n: int, length: int | None = None, *, generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        if length not in (None, self.length):
            raise ValueError(f"this model only generates length {self.length}, asked for {length}")
        return torch.full((n, self.length), self.mask_id, dtype=torch.long, device=device or self.device)

    def predict(self, state: torch.Tensor, t: float | torch.Tensor, cond: Cond = None):
        """Exact ``log p(x_0^l = v | x_t)`` ``(B, L, V)`` (the table has no classes: cond is ignored)."""
        if isinstance(cond, Mapping):
            out = self.predict(state, t)
            return {name: out for name in cond}
        self.nfe += 1
        post = self._posterior(state)  # (B, S)
        onehot = torch.nn.functional.one_hot(self.X, self.alphabet.vocab_size).double()  # (S, L, V)
        marg = torch.einsum("bs,slv->blv", post, onehot)
        return torch.log(marg.clamp_min(0.0)).float()

    def step(
        self, state: torch.Tensor, pred: torch.Tensor, t: float, s: float,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        p_reveal = float(self.schedule.unmask_probability(t, s))
        masked = state == self.mask_id
        reveal = masked & (torch.rand(state.shape, generator=generator, device=state.device) < p_reveal)
        if self.exact_joint:
            idx = torch.multinomial(self._posterior(state).float(), 1, generator=generator)[:, 0]
            draw = self.X[idx]
        else:
            probs = pred.exp().flatten(0, -2)
            draw = torch.multinomial(probs, 1, generator=generator).view(state.shape)
        return torch.where(reveal, draw, state)

    def x0_estimate(
        self, state: torch.Tensor, pred: torch.Tensor, *, generator: torch.Generator | None = None,
        sample: bool = False,
    ) -> torch.Tensor:
        if sample:
            draw = torch.multinomial(pred.exp().flatten(0, -2), 1, generator=generator).view(state.shape)
        else:
            draw = pred.argmax(dim=-1)
        return torch.where(state == self.mask_id, draw, state)

    def is_clean(self, state: torch.Tensor) -> torch.Tensor:
        return (state != self.mask_id).all(dim=-1)

    def decode(self, clean: torch.Tensor) -> list[str]:
        return self.alphabet.decode(clean)

    def extra_repr(self) -> str:
        return f"alphabet={self.alphabet.name}, length={self.length}, support={len(self.sequences)}"

    def describe(self) -> dict[str, Any]:
        return {"length": self.length, "support": len(self.sequences), "exact_joint": self.exact_joint}


class ExactSimplexModel(SimplexProcess, nn.Module):
    """A Gumbel-Softmax flow whose denoiser is exact, from a table ``{sequence: probability}``.

    ``predict`` returns ``log p(x_1^l = v | x_t)``: the posterior over table sequences given the state (the path's
    likelihood is independent across positions given the clean sequence), marginalised per position. Sampling
    uses :class:`~seqguide.models.simplex.SimplexProcess` (the same prior, step and read-out as
    :class:`~seqguide.models.GumbelSoftmaxFlow`), so the only approximation left is the integrator (and guidance).

    Args:
        alphabet: The alphabet of the sequences (the simplex is over its regular tokens).
        table: ``{sequence: probability}``, all of one length, summing to 1.
        tau_max, decay, beta: The path (:class:`~seqguide.models.simplex_path.GumbelSoftmaxPath`).
        eta: Step stochasticity (0 = ODE step, 1 = ancestral step).
    """

    num_classes = 0

    def __init__(self, alphabet: Alphabet | str | Sequence[str], table: Mapping[str, float], *,
                 tau_max: float = 10.0, decay: float = 3.0, beta: float = 2.0, eta: float = 0.0) -> None:
        super().__init__()
        self.alphabet = get_alphabet(alphabet)
        seqs, self.length, ids, probs = _table_tensors(self.alphabet, table)
        if int(ids.max()) >= self.alphabet.size:
            raise ValueError("table sequences must use regular tokens only (no pad)")
        self.sequences = seqs
        self.register_buffer("X", ids)  # (S, L)
        self.register_buffer("p", probs)  # (S,)
        self.path = GumbelSoftmaxPath(tau_max=tau_max, decay=decay, beta=beta)
        self.num_tokens = self.alphabet.size
        self.eta = eta
        self.nfe = 0

    @property
    def device(self) -> torch.device:
        return self.X.device

    def posterior(self, state: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """``(B, S)`` exact posterior over the table's sequences given simplex states ``(B, L, K)`` at time t."""
        ll = self.path.log_likelihood(state, t)  # (B, L, K) float64
        per_seq = ll.gather(-1, self.X.T[None].expand(state.shape[0], -1, -1)).sum(dim=1)  # (B, S)
        return torch.softmax(per_seq + torch.log(self.p.clamp_min(1e-300))[None], dim=-1)

    def predict(self, state: torch.Tensor, t: float | torch.Tensor, cond: Cond = None):
        """Exact ``log p(x_1^l = v | x_t)`` ``(B, L, K)`` (no classes: cond is ignored)."""
        if isinstance(cond, Mapping):
            out = self.predict(state, t)
            return {name: out for name in cond}
        self._check_state(state)
        self.nfe += 1
        post = self.posterior(state, t)
        onehot = torch.nn.functional.one_hot(self.X, self.num_tokens).double()  # (S, L, K)
        marg = torch.einsum("bs,slk->blk", post, onehot)
        return torch.log(marg.clamp_min(0.0)).float()

    def tilted(self, rewards: torch.Tensor | Callable[[str], float], lam: float) -> dict[str, float]:
        """The exact target ``p(x) exp(lam r(x)) / Z`` as a table."""
        r = rewards if not callable(rewards) else torch.tensor([float(rewards(s)) for s in self.sequences])
        w = torch.softmax(torch.log(self.p.clamp_min(1e-300)) + lam * torch.as_tensor(r, dtype=torch.float64), 0)
        return {s: float(v) for s, v in zip(self.sequences, w)}

    def extra_repr(self) -> str:
        return f"alphabet={self.alphabet.name}, length={self.length}, support={len(self.sequences)}, {self.path}"
