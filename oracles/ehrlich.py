"""Ehrlich functions: closed-form test functions for biological sequence design.

Stanton, Alberstein, Frey, Watkins & Cho (2024), "Closed-Form Test Functions for Biophysical Sequence
Optimization Algorithms", arXiv:2407.00236. This is our own implementation of the definition used by
their reference code (holo-bench, ``holo.test_functions.closed_form.Ehrlich``):

* **Feasibility.** A discrete Markov process (DMP) over ``v`` states has a random transition matrix:
  a softmax of Gaussian logits (temperature 0.5) times a banded 0/1 mask (bandwidth ``int(0.4 v)``,
  wrapping around, rows shuffled, self-transitions always allowed), renormalised, and required to be
  ergodic. A sequence is feasible iff it contains no banned transition ``x_t -> x_{t+1}``.
* **Motifs.** ``c`` motifs of length ``k`` are one DMP sample of length ``c k`` cut into chunks, so a
  feasible sequence containing all of them exists. Each motif has ``k - 1`` gaps
  ``1 + floor((L - c k) // c * w)`` with ``w`` uniform on the simplex.
* **Value.** For motif ``i`` let ``h_i`` be the largest number of its elements found at their spaced
  offsets, over all start positions, quantised to ``q`` levels: ``floor(h / ceil(k/q)) / (k / ceil(k/q))``.
  The value is ``prod_i h_i (1 + e h_i (h_i - 1))`` (epistasis factor ``e``, default 0) in [0, 1]; it is 1
  exactly when every motif is present. Infeasible sequences are invalid (holo scores them ``-inf``).

Differences from holo: randomness comes from a NumPy generator seeded with ``seed``, so instances are
deterministic but are not holo's instances for the same seed; and ``q`` must satisfy ``k % ceil(k/q) == 0``
so that the optimum is exactly 1. The motif search tries the same start positions as holo's
``motif_search`` (``0 .. L - 1 - span``, where ``span`` is the offset of the motif's last element). Planted
with holo's parameters (:meth:`Ehrlich.from_parameters`: its transition matrix, motifs and spacings), this
implementation gives holo's values exactly; ``tests/oracles/data/holo_ehrlich_values.npz`` holds holo
values that the test suite checks, and ``python -m benchmarks run holo_fidelity`` repeats the check
against an installed pytorch-holo.

Sequences are strings over a custom :class:`~seqguide.alphabet.Alphabet` of ``v`` single characters: the
first ``v`` characters of :data:`EHRLICH_TOKENS` (so ``v = 20`` is the 20 amino-acid letters).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from oracles.base import Oracle, OracleResult
from seqguide.alphabet import Alphabet

__all__ = ["EHRLICH_TOKENS", "Ehrlich"]

EHRLICH_TOKENS = "ACDEFGHIKLMNPQRSTVWY" + "BJOUXZ" + "abcdefghijklmnopqrstuvwxyz" + "0123456789"
_SOFTMAX_TEMP = 0.5
_BAND_FRACTION = 0.4
_MAX_TRIES = 1000


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _is_irreducible(allowed: np.ndarray) -> bool:
    """Strong connectivity of the transition graph (with self-loops this also makes it aperiodic)."""
    v = allowed.shape[0]
    reach = allowed.astype(bool) | np.eye(v, dtype=bool)
    for _ in range(max(1, math.ceil(math.log2(v)) + 1)):  # transitive closure by repeated squaring
        reach = (reach.astype(np.int64) @ reach.astype(np.int64)) > 0
    return bool(reach.all())


def _numpy(x: Any) -> np.ndarray:
    """A tensor (any device) or array-like as a NumPy array."""
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _sample_chain(rng: np.random.Generator, p0: np.ndarray, P: np.ndarray, length: int, n: int = 1) -> np.ndarray:
    """``n`` DMP samples of ``length`` states: ``(n, length)`` int64."""
    out = np.empty((n, length), dtype=np.int64)
    cdf = np.cumsum(P, axis=1)
    cdf[:, -1] = 1.0  # round-off must not push a draw past the last allowed state
    out[:, 0] = rng.choice(len(p0), size=n, p=p0 / p0.sum())
    for t in range(1, length):
        u = rng.random(n)
        nxt = (u[:, None] > cdf[out[:, t - 1]]).sum(axis=1)
        out[:, t] = np.minimum(nxt, P.shape[0] - 1)
    return out


class Ehrlich(Oracle):
    """An Ehrlich function instance: value in [0, 1], infeasible sequences invalid, optimum 1.0.

    Args:
        num_states: Alphabet size ``v`` (2..62).
        dim: Sequence length ``L``.
        num_motifs: Number of motifs ``c``.
        motif_length: Motif length ``k``; needs ``c * k <= L``.
        quantization: Levels ``q`` per motif (1..k, default k); ``k % ceil(k/q)`` must be 0.
        epistasis_factor: ``e >= 0`` in the response ``h (1 + e h (h - 1))``.
        seed: Seeds every random choice; equal seeds give identical instances.

    Attributes:
        alphabet: The first ``v`` characters of :data:`EHRLICH_TOKENS`.
        transition_matrix: ``(v, v)`` DMP transition probabilities (0 = banned transition).
        motifs: ``(c, k)`` int64 motif states.
        offsets: ``(c, k)`` int64 offsets of the motif elements from the motif start.
    """

    optimal_value = 1.0

    def __init__(self, *, num_states: int = 20, dim: int = 32, num_motifs: int = 2, motif_length: int = 4,
                 quantization: int | None = None, epistasis_factor: float = 0.0, seed: int = 0) -> None:
        self._configure(num_states, dim, num_motifs, motif_length, quantization, epistasis_factor, seed)
        v, L, c, k = self.num_states, self.dim, self.num_motifs, self.motif_length
        rng = np.random.default_rng([self.seed, v, L, c, k])
        transition_matrix = self._sample_transition_matrix(rng)
        chain = _sample_chain(rng, self._stationary(transition_matrix), transition_matrix, c * k)[0]
        slack = L - c * k
        offsets = np.zeros((c, k), dtype=np.int64)
        for i in range(c):
            if k > 1:
                w = rng.random(k - 1)
                w /= w.sum()
                gaps = 1 + np.floor((slack // c) * w).astype(np.int64)
                offsets[i, 1:] = np.cumsum(gaps)
        self._plant(transition_matrix, chain.reshape(c, k), offsets)

    def _configure(self, num_states: int, dim: int, num_motifs: int, motif_length: int, quantization: int | None,
                   epistasis_factor: float, seed: int) -> None:
        v, L, c, k = int(num_states), int(dim), int(num_motifs), int(motif_length)
        if not 2 <= v <= len(EHRLICH_TOKENS):
            raise ValueError(f"Ehrlich: num_states must be in 2..{len(EHRLICH_TOKENS)}, got {num_states!r}")
        if c < 1 or k < 1:
            raise ValueError(f"Ehrlich: num_motifs and motif_length must be >= 1, got {c}, {k}")
        if c * k > L:
            raise ValueError(f"Ehrlich: num_motifs * motif_length = {c * k} exceeds dim = {L}; no sequence "
                             "could hold every motif")
        q = k if quantization is None else int(quantization)
        if not 1 <= q <= k:
            raise ValueError(f"Ehrlich: quantization must be in 1..motif_length={k}, got {quantization!r}")
        if k % math.ceil(k / q):
            raise ValueError(f"Ehrlich: quantization={q} with motif_length={k} cannot reach 1.0 "
                             f"(k must be divisible by ceil(k/q) = {math.ceil(k / q)})")
        if epistasis_factor < 0:
            raise ValueError(f"Ehrlich: epistasis_factor must be >= 0, got {epistasis_factor!r}")
        self.num_states, self.dim, self.num_motifs, self.motif_length = v, L, c, k
        self.quantization = q
        self.epistasis_factor = float(epistasis_factor)
        self.seed = int(seed)
        self.alphabet = Alphabet(EHRLICH_TOKENS[:v], name=f"ehrlich{v}")
        self.name = "ehrlich"
        self.maximize = True

    @classmethod
    def from_parameters(cls, *, dim: int, transition_matrix: Any, motifs: Any, spacings: Any,
                        quantization: int | None = None, epistasis_factor: float = 0.0, seed: int = 0) -> Ehrlich:
        """The function with given parameters, e.g. a holo ``Ehrlich``'s, value for value.

        Example:
            >>> from holo.test_functions.closed_form import Ehrlich as HoloEhrlich      # doctest: +SKIP
            >>> h = HoloEhrlich(num_states=32, dim=32, num_motifs=4, motif_length=4, random_seed=0)  # doctest: +SKIP
            >>> f = Ehrlich.from_parameters(dim=32, transition_matrix=h.transition_matrix, motifs=h.motifs,
            ...                             spacings=h.spacings, quantization=4)           # doctest: +SKIP

        Args:
            dim: Sequence length ``L``.
            transition_matrix: ``(v, v)`` DMP transition probabilities (array or tensor); zeros are banned
                transitions.
            motifs: ``(c, k)`` motif states, or ``c`` length-``k`` arrays/tensors.
            spacings: ``(c, k - 1)`` gaps between consecutive motif elements (holo's ``spacings``), each >= 1.
            quantization: Levels ``q`` per motif (default ``k``).
            epistasis_factor: As in the constructor.
            seed: Seeds only :meth:`initial_solution` and :meth:`sample_feasible` (not holo's).

        Raises:
            ValueError: if the shapes disagree, a row of the matrix does not sum to 1, a motif state is out
                of range, a spacing is < 1 or a spaced motif does not fit in ``dim``.
        """
        P = np.asarray(_numpy(transition_matrix), dtype=np.float64)
        m = np.asarray(np.stack([_numpy(x) for x in motifs]), dtype=np.int64)
        gaps = np.asarray(np.stack([_numpy(x) for x in spacings]), dtype=np.int64).reshape(len(m), -1)
        if P.ndim != 2 or P.shape[0] != P.shape[1]:
            raise ValueError(f"Ehrlich.from_parameters: transition_matrix must be (v, v), got {P.shape}")
        if not np.allclose(P.sum(axis=1), 1.0, atol=1e-5) or (P < 0).any():
            raise ValueError("Ehrlich.from_parameters: transition_matrix rows must be probabilities summing to 1")
        if m.ndim != 2 or gaps.shape != (m.shape[0], m.shape[1] - 1):
            raise ValueError(f"Ehrlich.from_parameters: motifs {m.shape} need spacings of shape "
                             f"({m.shape[0]}, {m.shape[1] - 1}), got {gaps.shape}")
        if m.min() < 0 or m.max() >= P.shape[0]:
            raise ValueError(f"Ehrlich.from_parameters: motif states must be in [0, {P.shape[0]})")
        if m.shape[1] > 1 and gaps.min() < 1:
            raise ValueError("Ehrlich.from_parameters: every spacing must be >= 1")
        offsets = np.concatenate([np.zeros((len(m), 1), dtype=np.int64), np.cumsum(gaps, axis=1)], axis=1)
        if offsets[:, -1].max() >= dim:
            raise ValueError(f"Ehrlich.from_parameters: a spaced motif spans {int(offsets[:, -1].max()) + 1} "
                             f"positions, more than dim = {dim}")
        self = cls.__new__(cls)
        self._configure(P.shape[0], dim, m.shape[0], m.shape[1], quantization, epistasis_factor, seed)
        self._plant(P, m, offsets)
        return self

    def _plant(self, transition_matrix: np.ndarray, motifs: np.ndarray, offsets: np.ndarray) -> None:
        self.transition_matrix = transition_matrix
        self.allowed = self.transition_matrix > 0
        self.stationary = self._stationary(self.transition_matrix)
        self.motifs = motifs
        self.offsets = offsets
        self._initial = self._make_initial()
        self._optimal = self._make_optimal()

    # -- construction -----------------------------------------------------------------------
    def _sample_transition_matrix(self, rng: np.random.Generator) -> np.ndarray:
        v = self.num_states
        band = int(v * _BAND_FRACTION)
        base = np.zeros((v, v), dtype=bool)
        for i in range(v):
            base[i, [(i + d) % v for d in range(-band, band + 1)]] = True
        for _ in range(_MAX_TRIES):
            dense = _softmax(rng.standard_normal((v, v)) / _SOFTMAX_TEMP)
            mask = base[rng.permutation(v)] | np.eye(v, dtype=bool)
            if _is_irreducible(mask):
                P = np.where(mask, dense, 0.0)
                return P / P.sum(axis=1, keepdims=True)
        raise RuntimeError(f"Ehrlich: no ergodic transition matrix found in {_MAX_TRIES} draws")  # pragma: no cover

    @staticmethod
    def _stationary(P: np.ndarray) -> np.ndarray:
        v = P.shape[0]
        A = np.vstack([(np.eye(v) - P).T, np.ones((1, v))])
        b = np.zeros(v + 1)
        b[-1] = 1.0
        pi, *_ = np.linalg.lstsq(A, b, rcond=None)
        pi = np.clip(pi, 0.0, None)
        return pi / pi.sum()

    def _make_initial(self) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 1])
        return _sample_chain(rng, self.stationary, self.transition_matrix, self.dim)[0]

    def _make_optimal(self) -> np.ndarray:
        """Each motif's elements at their offsets, gaps filled by repeating the previous element."""
        out: list[int] = []
        for motif, off in zip(self.motifs, self.offsets):
            span = int(off[-1]) + 1
            block = np.empty(span, dtype=np.int64)
            for j in range(self.motif_length):
                end = int(off[j + 1]) if j + 1 < self.motif_length else span
                block[int(off[j]) : end] = motif[j]
            out.extend(block.tolist())
        out.extend([out[-1]] * (self.dim - len(out)))
        sol = np.asarray(out, dtype=np.int64)
        values, feasible = self.score_ids(sol[None])
        if not (feasible[0] and values[0] == 1.0):  # a construction bug must not go unnoticed
            raise RuntimeError("Ehrlich: the constructed optimum does not score 1.0")
        return sol

    # -- public ------------------------------------------------------------------------------
    def initial_solution(self) -> str:
        """A fixed feasible sequence (a DMP sample), usually with a low value: a starting point."""
        return "".join(self.alphabet.tokens[i] for i in self._initial)

    def optimal_solution(self) -> str:
        """A sequence with value 1.0 (every motif present at its spacing, feasible)."""
        return "".join(self.alphabet.tokens[i] for i in self._optimal)

    def sample_feasible(self, n: int, seed: int = 0) -> list[str]:
        """``n`` feasible sequences drawn from the function's discrete Markov process (its stationary
        start and banded transition matrix): a "natural" training set for a generative model.

        Args:
            n: Number of sequences.
            seed: Seed of the NumPy generator (the same seed gives the same sequences).
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        states = _sample_chain(np.random.default_rng([self.seed, 2, seed]), self.stationary,
                               self.transition_matrix, self.dim, n)
        if not self.is_feasible(states).all():  # banned transitions have probability 0
            raise RuntimeError("Ehrlich.sample_feasible drew an infeasible sequence")
        tokens = self.alphabet.tokens
        return ["".join(tokens[i] for i in row) for row in states]

    def is_feasible(self, ids: np.ndarray | torch.Tensor) -> np.ndarray:
        """Feasibility of ``(N, L)`` state indices: no banned transition. Returns ``(N,)`` bool."""
        x = np.asarray(ids.cpu() if isinstance(ids, torch.Tensor) else ids, dtype=np.int64)
        if x.shape[1] < 2:
            return np.ones(x.shape[0], dtype=bool)
        return self.allowed[x[:, :-1], x[:, 1:]].all(axis=1)

    def motif_presence(self, ids: np.ndarray | torch.Tensor) -> np.ndarray:
        """Quantised presence ``h_i`` of each motif: ``(N, c)`` float in [0, 1]."""
        x = np.asarray(ids.cpu() if isinstance(ids, torch.Tensor) else ids, dtype=np.int64)
        k = self.motif_length
        f1 = math.ceil(k / self.quantization)
        f2 = k / f1
        out = np.empty((x.shape[0], self.num_motifs))
        for i, (motif, off) in enumerate(zip(self.motifs, self.offsets)):
            starts = np.arange(self.dim - int(off[-1]))
            windows = x[:, starts[:, None] + off[None, :]]  # (N, P, k)
            count = (windows == motif).sum(axis=2).max(axis=1)  # best start position
            out[:, i] = (count // f1) / f2
        return out

    def score_ids(self, ids: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised values of ``(N, L)`` state indices: ``(values (N,), feasible (N,))``.

        Values of infeasible rows are still the motif product (the caller decides; ``__call__`` marks
        them invalid).
        """
        h = self.motif_presence(ids)
        e = self.epistasis_factor
        response = h * (1.0 + e * h * (h - 1.0))
        return response.prod(axis=1), self.is_feasible(ids)

    def validate(self, x: Any) -> str | None:
        err = super().validate(x)
        if err is None and len(x) != self.dim:
            return f"expected length {self.dim}, got {len(x)}"
        return err

    def _score(self, xs: list[str]) -> OracleResult:
        index = {t: i for i, t in enumerate(self.alphabet.tokens)}
        ids = np.array([[index[ch] for ch in s] for s in xs], dtype=np.int64)
        values, feasible = self.score_ids(ids)
        errors: list[str | None] = []
        for row, ok in zip(ids, feasible):
            if ok:
                errors.append(None)
                continue
            t = int(np.flatnonzero(~self.allowed[row[:-1], row[1:]])[0])
            a, b = self.alphabet.tokens[row[t]], self.alphabet.tokens[row[t + 1]]
            errors.append(f"infeasible: banned transition {a!r} -> {b!r} at positions {t}-{t + 1}")
        return OracleResult(values, feasible, errors)

    def _repr_params(self) -> dict[str, Any]:
        return {"num_states": self.num_states, "dim": self.dim, "num_motifs": self.num_motifs,
                "motif_length": self.motif_length, "quantization": self.quantization,
                "epistasis_factor": self.epistasis_factor, "seed": self.seed}
