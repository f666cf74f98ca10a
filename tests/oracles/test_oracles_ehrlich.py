"""Ehrlich closed-form test functions (Stanton et al. 2024)."""

from __future__ import annotations

import numpy as np
import pytest

from oracles import get_oracle
from oracles.ehrlich import EHRLICH_TOKENS, Ehrlich


def _random_feasible(e: Ehrlich, n: int, seed: int) -> np.ndarray:
    """Feasible sequences: random walks on the allowed transitions."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, e.dim), dtype=np.int64)
    out[:, 0] = rng.integers(0, e.num_states, n)
    for t in range(1, e.dim):
        for i in range(n):
            out[i, t] = rng.choice(np.flatnonzero(e.allowed[out[i, t - 1]]))
    return out


@pytest.mark.parametrize("kwargs", [
    {"num_states": 20, "dim": 32, "num_motifs": 2, "motif_length": 4},
    {"num_states": 32, "dim": 256, "num_motifs": 4, "motif_length": 8, "quantization": 4},  # holo Fig. 5 setting
    {"num_states": 4, "dim": 8, "num_motifs": 2, "motif_length": 2, "quantization": 2},
])
def test_optimum_scores_one_and_initial_solution_is_feasible(kwargs):
    e = get_oracle("ehrlich", seed=3, **kwargs)
    opt, init = e.optimal_solution(), e.initial_solution()
    assert len(opt) == len(init) == kwargs["dim"]
    res = e([opt, init])
    assert res.valid.all()
    assert res.values[0] == 1.0 == e.optimal_value
    assert 0.0 <= res.values[1] < 1.0
    assert e.alphabet.tokens == list(EHRLICH_TOKENS[: kwargs["num_states"]])


def test_infeasible_sequence_is_invalid_with_the_banned_transition():
    e = Ehrlich(num_states=8, dim=16, num_motifs=2, motif_length=3, seed=0)
    a, b = map(int, np.argwhere(~e.allowed)[0])
    ta, tb = e.alphabet.tokens[a], e.alphabet.tokens[b]
    bad = ta * 7 + tb * 9  # repeats are allowed, so the only banned step is at 6 -> 7
    res = e([bad, e.optimal_solution()])
    assert res.valid.tolist() == [False, True]
    assert res.errors[0] == f"infeasible: banned transition {ta!r} -> {tb!r} at positions 6-7"
    assert np.isnan(res.values[0])


def test_bad_inputs_wrong_length_illegal_token_empty():
    e = Ehrlich(num_states=4, dim=8, num_motifs=2, motif_length=2)
    res = e(["ACDE", "ACDEACDZ", "", e.optimal_solution()])
    assert res.valid.tolist() == [False, False, False, True]
    assert res.errors[0] == "expected length 8, got 4"
    assert "illegal character 'Z'" in res.errors[1]
    assert res.errors[2] == "empty sequence"


def test_deterministic_from_seed():
    a = Ehrlich(num_states=16, dim=40, num_motifs=3, motif_length=4, seed=7)
    b = Ehrlich(num_states=16, dim=40, num_motifs=3, motif_length=4, seed=7)
    c = Ehrlich(num_states=16, dim=40, num_motifs=3, motif_length=4, seed=8)
    assert np.array_equal(a.motifs, b.motifs) and np.array_equal(a.offsets, b.offsets)
    assert np.array_equal(a.transition_matrix, b.transition_matrix)
    assert a.initial_solution() == b.initial_solution()
    assert not np.array_equal(a.transition_matrix, c.transition_matrix)


def test_structure_of_the_instance():
    e = Ehrlich(num_states=20, dim=64, num_motifs=4, motif_length=4, seed=1)
    v = e.num_states
    np.testing.assert_allclose(e.transition_matrix.sum(axis=1), 1.0)
    assert e.allowed.diagonal().all()  # repeats are always feasible
    band = 2 * int(0.4 * v) + 1
    assert ((e.allowed.sum(axis=1) == band) | (e.allowed.sum(axis=1) == band + 1)).all()
    np.testing.assert_allclose(e.stationary @ e.transition_matrix, e.stationary, atol=1e-10)
    slack = e.dim - e.num_motifs * e.motif_length
    spans = e.offsets[:, -1] + 1
    assert (np.diff(e.offsets, axis=1) >= 1).all() and spans.sum() <= e.dim
    assert (spans <= e.motif_length + slack // e.num_motifs).all()


def test_values_are_quantised_products_in_unit_interval():
    e = Ehrlich(num_states=12, dim=32, num_motifs=2, motif_length=4, quantization=2, seed=2)
    ids = _random_feasible(e, 60, seed=0)
    values, feasible = e.score_ids(ids)
    assert feasible.all()
    h = e.motif_presence(ids)
    assert set(np.unique(h)) <= {0.0, 0.5, 1.0}  # q = 2 levels above zero
    np.testing.assert_allclose(values, h.prod(axis=1))
    res = e(["".join(e.alphabet.tokens[i] for i in row) for row in ids])
    np.testing.assert_allclose(res.values, values)


def test_one_missing_motif_element_lowers_the_value():
    e = Ehrlich(num_states=10, dim=24, num_motifs=2, motif_length=4, seed=4)
    opt = e._optimal.copy()
    # Overwrite the first element of motif 0 (position 0) with a state that is not in motif 0.
    other = next(s for s in range(e.num_states) if s not in set(e.motifs[0].tolist()))
    opt[0] = other
    h = e.motif_presence(opt[None])[0]
    assert h[0] == 0.75 and h[1] == 1.0


def test_epistasis_response():
    e = Ehrlich(num_states=10, dim=24, num_motifs=1, motif_length=4, epistasis_factor=2.0, seed=4)
    ids = _random_feasible(e, 80, seed=1)
    h = e.motif_presence(ids)[:, 0]
    assert ((h > 0) & (h < 1)).any()
    values, _ = e.score_ids(ids)
    np.testing.assert_allclose(values, h * (1 + 2.0 * h * (h - 1)))  # e.g. h = 0.5 -> 0.25
    assert e.score_ids(e._optimal[None])[0][0] == 1.0


def test_argument_validation():
    with pytest.raises(ValueError, match="exceeds dim"):
        Ehrlich(num_states=4, dim=5, num_motifs=2, motif_length=3)
    with pytest.raises(ValueError, match=r"num_states must be in 2\.\.62"):
        Ehrlich(num_states=100)
    with pytest.raises(ValueError, match=r"cannot reach 1\.0"):
        Ehrlich(num_states=8, dim=16, num_motifs=1, motif_length=5, quantization=2)


def test_sample_feasible_draws_feasible_reproducible_sequences() -> None:
    from oracles import get_oracle

    f = get_oracle("ehrlich", num_states=8, dim=24, num_motifs=2, motif_length=3, seed=1)
    a, b, c = f.sample_feasible(300, seed=0), f.sample_feasible(300, seed=0), f.sample_feasible(300, seed=1)
    assert a == b and a != c and len(set(a)) > 250
    assert f(a).valid.all(), "every DMP draw avoids the banned transitions"
    assert all(len(s) == 24 and set(s) <= set(f.alphabet.tokens) for s in a)
