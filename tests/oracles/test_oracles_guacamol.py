"""GuacaMol goal-directed tasks against the guacamol package's own values.

``data/guacamol_reference.json.gz`` was written by guacamol 0.5.5 in its own environment
(``benchmarks/guacamol_reference.py``): 335 molecules (NCI sample, every task's reference molecules,
isomers, hop variants, invalid SMILES) x 21 tasks.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from oracles import get_oracle, list_oracles
from oracles.guacamol import PMO_TASKS, TASKS, GuacaMolTask
from oracles.guacamol_scoring import parse_formula

REFERENCE = Path(__file__).parent / "data" / "guacamol_reference.json.gz"


@pytest.fixture(scope="module")
def reference():
    with gzip.open(REFERENCE, "rt") as fh:
        return json.load(fh)


def test_every_guacamol_task_is_registered_and_the_reference_covers_them(reference):
    assert set(reference["scores"]) == set(TASKS)
    names = set(list_oracles())
    assert {f"guacamol_{t}" for t in TASKS} <= names
    assert set(PMO_TASKS) <= names and len(PMO_TASKS) == 20


@pytest.mark.slow
@pytest.mark.parametrize("task", sorted(TASKS))
def test_task_values_match_guacamol(task, reference):
    smiles = reference["smiles"]
    expected = np.array(reference["scores"][task])
    res = get_oracle(f"guacamol_{task}", input_format="smiles")(smiles)
    np.testing.assert_array_equal(~res.valid, expected == -1.0)  # guacamol scores unreadable molecules -1
    np.testing.assert_allclose(res.values[res.valid], expected[res.valid], rtol=0, atol=1e-12)
    assert all(e for e, ok in zip(res.errors, res.valid) if not ok)


def test_reference_exercises_both_ends_of_each_task(reference):
    scores = {t: np.array(v) for t, v in reference["scores"].items()}
    for task in ("celecoxib_rediscovery", "albuterol_similarity", "mestranol_similarity", "isomers_c11h24",
                 "isomers_c7h8n2o2"):
        assert scores[task].max() == 1.0, task
    for task, v in scores.items():
        assert len(np.unique(v[v >= 0])) >= 5, task


def test_selfies_input_and_errors():
    import selfies as sf

    f = GuacaMolTask("celecoxib_rediscovery")
    smiles = "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F"
    res = f([sf.encoder(smiles), "C1CC"])
    assert res.values[0] == pytest.approx(1.0) and not res.valid[1] and "C1CC" in res.errors[1]
    with pytest.raises(ValueError, match="did you mean celecoxib_rediscovery"):
        GuacaMolTask("celecoxib_rediscovry")
    assert parse_formula("C9H10N2O2PF2Cl") == [("C", 9), ("H", 10), ("N", 2), ("O", 2), ("P", 1), ("F", 2),
                                               ("Cl", 1)]
    with pytest.raises(ValueError, match="molecular formula"):
        parse_formula("c9h10")
