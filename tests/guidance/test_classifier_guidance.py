"""DiscreteClassifierGuidance against exact answers on ExactMaskedModel, with the exact noisy classifier
p(y | x_t) = sum_x0 p(x0 | x_t) p(y | x0) of the table; and the noisy classifier's training."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest
import torch

from seqguide import Alphabet, sample
from seqguide.guidance import DiscreteClassifierGuidance, NoisyClassifier, ValueModel, fit_noisy_classifier
from seqguide.models import ConvDenoiser, ExactMaskedModel
from seqguide.sampling.context import Counters, SamplingContext

ABC = Alphabet("ABC")
L = 3


def _table() -> dict[str, float]:
    seqs = ["".join(p) for p in itertools.product("ABC", repeat=L)]
    g = torch.Generator().manual_seed(4)
    p = torch.rand(len(seqs), generator=g, dtype=torch.float64) ** 2 + 0.02
    return dict(zip(seqs, (p / p.sum()).tolist()))


def _likelihood(seq: str, strength: float = 1.0) -> float:
    """p(y = 1 | x0): likes C's and dislikes a leading A."""
    return 1 / (1 + math.exp(-strength * (1.5 * seq.count("C") - 2.0 * (seq[0] == "A") - 1.0)))


class _ExactClassifier:
    """log p(y = 1 | x_t) of the table (independent of t for an absorbing process). On soft one-hots it is the
    mixture over hard states, ``log sum_h prod_l x[l, h_l] p(y | h)`` (h over tokens and mask), i.e. a soft input
    reads as "each position is token v with probability x[l, v]": differentiable, exact on one-hots."""

    def __init__(self, model: ExactMaskedModel, strength: float = 1.0) -> None:
        self.model = model
        self.rho = torch.tensor([_likelihood(s, strength) for s in model.sequences], dtype=torch.float64)
        ids = [*range(model.alphabet.size), model.mask_id]
        self.hard = torch.tensor(list(itertools.product(ids, repeat=model.length)))  # (H, L)
        self.p_hard = self._hard(self.hard)  # (H,)

    def _hard(self, x: torch.Tensor) -> torch.Tensor:
        m = self.model
        agree = ((x[:, None, :] == m.mask_id) | (x[:, None, :] == m.X[None])).all(-1).double() * m.p[None]
        return (agree * self.rho[None]).sum(-1) / agree.sum(-1)

    def log_potential(self, x: torch.Tensor, t: float, target: int | None = None) -> torch.Tensor:
        if not x.is_floating_point():
            return torch.log(self._hard(x))
        pos = torch.arange(self.model.length)
        weight = x.double()[:, pos[None, :], self.hard].prod(dim=-1)  # (N, H): prod_l x[l, h_l]
        return torch.log(weight @ self.p_hard)


def _ctx(model, n: int) -> SamplingContext:
    return SamplingContext(model, guiders=[], num_steps=4, n=n, expansion=1, generator=torch.Generator().manual_seed(0),
                           device=torch.device("cpu"), cond=None, use_cache=False, counters=Counters())


def _bayes(model: ExactMaskedModel, state: torch.Tensor, t: float, s: float) -> torch.Tensor:
    """Exact guided kernel of one state with ONE masked position: p(x_s | x_t) p(y | x_s) over {tokens, mask}."""
    clf = _ExactClassifier(model)
    pos = int((state == model.mask_id).nonzero()[0])
    p_reveal = float(model.schedule.unmask_probability(t, s))
    p0 = model.predict(state[None], t)[0, pos].exp().double()
    out = torch.zeros(model.alphabet.vocab_size, dtype=torch.float64)
    for v in range(model.alphabet.size):
        nb = state.clone()
        nb[pos] = v
        out[v] = p0[v] * p_reveal * clf.log_potential(nb[None], s).exp()[0]
    out[model.mask_id] = (1 - p_reveal) * clf.log_potential(state[None], s).exp()[0]
    return out / out.sum()


def _guided_kernel(method: str, state: torch.Tensor, t: float, s: float, scale: float = 1.0,
                   strength: float = 1.0) -> torch.Tensor:
    model = ExactMaskedModel(ABC, _table(), exact_joint=False)
    guide = DiscreteClassifierGuidance(_ExactClassifier(model, strength), target=1, scale=scale, approximation=method)
    guide.reset(_ctx(model, state.shape[0]))
    return guide.transition_log_probs(model, state, model.predict(state, t), t, s).exp()


def test_exact_guidance_is_bayes_rule_for_a_single_masked_position() -> None:
    model = ExactMaskedModel(ABC, _table(), exact_joint=False)
    m = model.mask_id
    states = torch.tensor([[m, 1, 2], [0, m, 0], [2, 2, m]])
    t, s = 0.6, 0.35
    kernel = _guided_kernel("exact", states, t, s)
    for i in range(states.shape[0]):
        pos = int((states[i] == m).nonzero()[0])
        assert torch.allclose(kernel[i, pos], _bayes(model, states[i], t, s), atol=1e-9)
        keep = [j for j in range(L) if j != pos]
        assert torch.equal(kernel[i, keep].argmax(-1), states[i, keep])  # unmasked tokens are carried
    # The tilt is real: it changes which token is revealed. With the exact classifier the reveal probability is
    # unchanged (p(y | x_t) is the posterior average of p(y | x_t with l <- v)), as Bayes' rule requires.
    plain = _guided_kernel("exact", states, t, s, scale=0.0)
    assert (kernel - plain).abs().max() > 0.05
    assert torch.allclose(kernel[..., m], plain[..., m], atol=1e-9)


class _LogLinear:
    """A classifier whose log p(y | x) is linear in the one-hot input (any per-token weights, mask included)."""

    def __init__(self, w: torch.Tensor) -> None:
        self.w = w

    def log_potential(self, x: torch.Tensor, t: float, target: int | None = None) -> torch.Tensor:
        if not x.is_floating_point():
            x = torch.nn.functional.one_hot(x, self.w.shape[-1]).double()
        return (x.double() * self.w).sum(dim=(1, 2))


def _kernel_with(classifier, method: str, states: torch.Tensor, t: float, s: float) -> torch.Tensor:
    model = ExactMaskedModel(ABC, _table(), exact_joint=False)
    guide = DiscreteClassifierGuidance(classifier, approximation=method)
    guide.reset(_ctx(model, states.shape[0]))
    return guide.transition_log_probs(model, states, model.predict(states, t), t, s).exp()


def test_first_order_guidance_is_exact_for_a_log_linear_classifier() -> None:
    """If log p(y | x) is linear in the one-hot, the Taylor expansion is exact: both methods give one kernel."""
    m = ExactMaskedModel(ABC, _table()).mask_id
    w = torch.randn(L, ABC.vocab_size, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    states = torch.tensor([[m, m, m], [m, 1, m], [0, m, 2]])
    exact = _kernel_with(_LogLinear(w), "exact", states, 0.7, 0.5)
    first = _kernel_with(_LogLinear(w), "first_order", states, 0.7, 0.5)
    assert torch.allclose(first, exact, atol=1e-6)
    plain = _guided_kernel("exact", states, 0.7, 0.5, scale=0.0)
    assert (exact - plain).abs().max() > 0.1


@pytest.mark.parametrize("strength,tol,ratio", [(0.3, 0.012, 0.35), (0.6, 0.05, 0.6)])
def test_first_order_guidance_is_close_to_exact(strength: float, tol: float, ratio: float) -> None:
    """For the exact (non-log-linear) classifier the first-order log-ratio is ``r - 1`` where the exact one is
    ``log r`` (r the likelihood ratio of a neighbour): close while the guidance is mild, and much closer to the exact
    kernel than the unguided one (the error grows with the classifier's strength)."""
    m = ExactMaskedModel(ABC, _table()).mask_id
    states = torch.tensor([[m, m, m], [m, 1, m], [0, m, 2]])
    exact = _guided_kernel("exact", states, 0.7, 0.5, strength=strength)
    first = _guided_kernel("first_order", states, 0.7, 0.5, strength=strength)
    plain = _guided_kernel("exact", states, 0.7, 0.5, scale=0.0)
    masked = states == m
    tv_first = 0.5 * (first - exact).abs().sum(-1)[masked]
    tv_plain = 0.5 * (plain - exact).abs().sum(-1)[masked]
    assert tv_first.max() < tol, tv_first
    assert (tv_first < ratio * tv_plain).all(), (tv_first, tv_plain)


def test_draw_frequencies_of_a_guided_step_match_the_kernel() -> None:
    model = ExactMaskedModel(ABC, _table(), exact_joint=False)
    m = model.mask_id
    n = 30000
    state = torch.tensor([[m, m, 0]]).repeat(n, 1)
    guide = DiscreteClassifierGuidance(_ExactClassifier(model), target=1, approximation="exact")
    guide.reset(_ctx(model, n))
    t, s = 0.5, 0.2
    pred = model.predict(state, t)
    kernel = guide.transition_log_probs(model, state[:1], pred[:1], t, s).exp()[0]  # (L, V)
    nxt = guide.propose(model, state, pred, t, s).states[:, 0]
    for pos in range(2):
        freq = torch.bincount(nxt[:, pos], minlength=model.alphabet.vocab_size).double() / n
        p = kernel[pos]
        assert torch.all((freq - p).abs() <= 4 * torch.sqrt(p * (1 - p) / n) + 1e-12), (pos, freq, p)
    assert (nxt[:, 2] == 0).all()


def test_guided_sampling_targets_the_class_conditional_distribution() -> None:
    """Exact classifier guidance with many small steps samples p(x | y = 1) = p(x) p(y | x) / Z."""
    table = _table()
    model = ExactMaskedModel(ABC, table, exact_joint=False)
    z = sum(table[s] * _likelihood(s) for s in table)
    target = {s: table[s] * _likelihood(s) / z for s in table}
    assert 0.5 * sum(abs(target[s] - table[s]) for s in table) > 0.25
    for method, tol in (("exact", 0.045), ("first_order", 0.08)):
        guide = DiscreteClassifierGuidance(_ExactClassifier(model), target=1, approximation=method)
        out = sample(model, 3000, steps=16, seed=0, progress=False, guidance=[guide])
        counts = Counter(out.sequences)
        tv = 0.5 * sum(abs(counts[s] / 3000 - p) for s, p in target.items())
        assert tv < tol, (method, tv)
        assert out.trace["classifier_rows"] > 0


def test_errors() -> None:
    with pytest.raises(TypeError, match="log_potential"):
        DiscreteClassifierGuidance(object())
    clf = _ExactClassifier(ExactMaskedModel(ABC, _table()))
    cases = (({"scale": -1.0}, "scale"), ({"approximation": "nos"}, "approximation"), ({"batch_size": 0}, "batch"))
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            DiscreteClassifierGuidance(clf, **kwargs)


@pytest.mark.slow
def test_noisy_classifier_learns_p_y_given_x_t_and_guides(tmp_path) -> None:
    """fit_noisy_classifier (the value model's noisy-state trainer) on labelled samples of the table learns the exact
    noisy posterior p(y | x_t); guiding with it raises P(y = 1) of the samples; it saves and reloads weights-only."""
    table = _table()
    model = ExactMaskedModel(ABC, table, exact_joint=False)
    rng = np.random.default_rng(0)
    seqs = rng.choice(model.sequences, size=2000, p=np.array([table[s] for s in model.sequences]))
    labels = (rng.random(2000) < np.array([_likelihood(s) for s in seqs])).astype(int)
    clf = fit_noisy_classifier(model, sequences=list(seqs), labels=labels, max_steps=250, batch_size=128,
                               backbone=ConvDenoiser(dim=32, depth=2, dropout=0.0), seed=0, progress=False,
                               val_check_interval=100, lr=3e-3, out_dir=tmp_path / "fit")
    rep = clf.fit_report
    assert rep.n_train + rep.n_val == 2000 and sum(rep.class_counts) == rep.n_train
    exact = _ExactClassifier(model)
    states = model.alphabet.encode(model.sequences)
    g = torch.Generator().manual_seed(0)
    states = torch.where(torch.rand(states.shape, generator=g) < 0.5, torch.full_like(states, model.mask_id), states)
    p_hat = clf.log_potential(states, 0.5, target=1).detach().exp()
    p_true = exact.log_potential(states, 0.5).exp()
    assert float((p_hat - p_true).abs().mean()) < 0.06
    loaded = NoisyClassifier.load(clf.save(tmp_path / "clf.ckpt"))
    assert torch.equal(loaded.predict(states, 0.5), clf.predict(states, 0.5))
    with pytest.raises(ValueError, match="not a seqguide NoisyClassifier"):
        NoisyClassifier.load(ValueModel(ABC, L, backbone=ConvDenoiser(dim=8, depth=1)).save(tmp_path / "v.ckpt"))
    plain = sample(model, 2000, steps=12, seed=1, progress=False)
    guided = sample(model, 2000, steps=12, seed=1, progress=False,
                    guidance=[DiscreteClassifierGuidance(clf, target=1, approximation="first_order")])
    py = [np.mean([_likelihood(s) for s in o.sequences]) for o in (plain, guided)]
    assert py[1] > py[0] + 0.1, py
    with pytest.raises(ValueError, match="labels hold a single class"):
        fit_noisy_classifier(model, sequences=list(seqs[:20]), labels=[1] * 20, progress=False)
    with pytest.raises(ValueError, match="outside"):
        fit_noisy_classifier(model, sequences=list(seqs[:20]), labels=[0, 5] * 10, num_classes=2, progress=False)


class _TimeRecorder(_LogLinear):
    """A log-linear classifier that records the times it is read at."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__(w)
        self.times: list[float] = []

    def log_potential(self, x: torch.Tensor, t: float, target: int | None = None) -> torch.Tensor:
        self.times.append(float(t))
        return super().log_potential(x, t, target)


@pytest.mark.parametrize("method", ["exact", "first_order"])
def test_the_classifier_is_read_at_the_next_time_s(method: str) -> None:
    """Bayes' rule tilts by p(y | x_s): the classifier sees the candidate next states at time s, never t."""
    m = ExactMaskedModel(ABC, _table()).mask_id
    clf = _TimeRecorder(torch.randn(L, ABC.vocab_size, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    _kernel_with(clf, method, torch.tensor([[m, 1, m]]), 0.7, 0.4)
    assert clf.times and set(clf.times) == {0.4}


@pytest.mark.parametrize("method", ["exact", "first_order"])
def test_scale_changes_which_token_is_revealed_not_how_many(method: str) -> None:
    """With an approximate classifier and any scale, a masked position stays masked with the model's probability
    (1 - alpha_s) / (1 - alpha_t) (Rojas et al. 2025's column normalisation); only the token distribution moves.
    Normalising over tokens and mask (keep_unmask_rate=False) would move the rate: the check can fail."""
    model = ExactMaskedModel(ABC, _table(), exact_joint=False)
    m = model.mask_id
    w = 2 * torch.randn(L, ABC.vocab_size, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    states = torch.tensor([[m, m, m], [m, 1, m], [0, m, 2]])
    t, s = 0.7, 0.4
    stay = 1 - float(model.schedule.unmask_probability(t, s))
    masked = states == m
    kernels = {}
    for scale in (0.0, 0.5, 1.0, 3.0):
        for keep in (True, False):
            guide = DiscreteClassifierGuidance(_LogLinear(w), scale=scale, approximation=method, keep_unmask_rate=keep)
            guide.reset(_ctx(model, states.shape[0]))
            kernels[scale, keep] = guide.transition_log_probs(model, states, model.predict(states, t), t, s).exp()
    for scale in (0.0, 0.5, 1.0, 3.0):
        k = kernels[scale, True]
        assert torch.allclose(k.sum(-1), torch.ones_like(k.sum(-1)))
        assert torch.allclose(k[..., m][masked], torch.full_like(k[..., m][masked], stay), atol=1e-12)
    assert (kernels[3.0, True] - kernels[0.0, True]).abs().max() > 0.1  # the tilt moves the tokens
    assert (kernels[3.0, False][..., m][masked] - stay).abs().max() > 0.05  # the other normalisation moves the rate
