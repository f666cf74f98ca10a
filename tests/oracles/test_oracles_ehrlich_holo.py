"""Our Ehrlich planted with pytorch-holo's parameters gives holo's values (fixture written by holo 0.0.5).

The fixture (``data/holo_ehrlich_values.npz``, from ``python -m benchmarks.holo_fidelity --write-fixture``)
holds three holo instances' transition matrices, motifs and spacings, and holo's values for ~2,900
sequences: uniform, DMP samples, mutants of the optimum and motifs at the first and last start positions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oracles.ehrlich import Ehrlich

FIXTURE = Path(__file__).parent / "data" / "holo_ehrlich_values.npz"


def _instances():
    data = np.load(FIXTURE)
    n = len([k for k in data.files if k.endswith("_size")])
    return [{k.split("_", 1)[1]: data[k] for k in data.files if k.startswith(f"{i}_")} for i in range(n)]


@pytest.mark.parametrize("inst", _instances(), ids=lambda d: "v{}_L{}_c{}_k{}_q{}".format(*d["size"].tolist()))
def test_planted_ehrlich_reproduces_holo_values_exactly(inst):
    v, L, c, k, q = inst["size"].tolist()
    f = Ehrlich.from_parameters(dim=L, transition_matrix=inst["transition_matrix"], motifs=inst["motifs"],
                                spacings=inst["spacings"], quantization=q, epistasis_factor=float(inst["epistasis"]))
    assert (f.num_states, f.num_motifs, f.motif_length) == (v, c, k)
    X = inst["sequences"].astype(np.int64)
    values, feasible = f.score_ids(X)
    holo = inst["values"]
    np.testing.assert_array_equal(feasible, np.isfinite(holo))
    np.testing.assert_array_equal(values[feasible], holo[feasible])
    # the fixture exercises the interesting cases: both feasibilities, several value levels, the optimum
    assert 0.2 < feasible.mean() < 0.8 and len(np.unique(holo[feasible])) >= 5
    assert (holo == 1.0).any()
    # through the Oracle interface, infeasible sequences are invalid with the banned transition as reason
    strings = ["".join(f.alphabet.tokens[i] for i in row) for row in X[:50]]
    res = f(strings)
    np.testing.assert_array_equal(res.valid, feasible[:50])
    assert all("banned transition" in e for e, ok in zip(res.errors, res.valid) if not ok)


def test_from_parameters_rejects_inconsistent_parameters():
    inst = _instances()[0]
    P, m, s = inst["transition_matrix"], inst["motifs"], inst["spacings"]
    with pytest.raises(ValueError, match="spacings of shape"):
        Ehrlich.from_parameters(dim=32, transition_matrix=P, motifs=m, spacings=s[:, :2])
    with pytest.raises(ValueError, match="rows must be probabilities"):
        Ehrlich.from_parameters(dim=32, transition_matrix=P * 2, motifs=m, spacings=s)
    with pytest.raises(ValueError, match=r"exceeds dim|more than dim"):
        Ehrlich.from_parameters(dim=8, transition_matrix=P, motifs=m, spacings=s)
    with pytest.raises(ValueError, match="motif states"):
        Ehrlich.from_parameters(dim=32, transition_matrix=P, motifs=m + 100, spacings=s)
