"""MOSES distribution metrics: exact on small cases, equal to RDKit's Tanimoto, MOSES-like on real data."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import DataStructs
from rdkit.Chem import MolFromSmiles, rdFingerprintGenerator

from seqguide.metrics import (
    canonical_smiles,
    distribution_metrics,
    internal_diversity,
    morgan_matrix,
    nearest_neighbour_similarity,
    novelty,
    tanimoto_matrix,
    uniqueness,
    validity,
)

MOLS = ["CCO", "OCC", "c1ccccc1", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "C1CC", "O=C(O)c1ccccc1OC(C)=O", "xyz"]


def test_validity_uniqueness_novelty_on_a_small_set():
    canon = canonical_smiles(MOLS)
    assert canon[0] == canon[1] == "CCO" and canon[5] is None and canon[7] is None
    assert validity(canon) == 6 / 8
    assert uniqueness(canon) == 5 / 6 and uniqueness(canon, k=2) == 0.5
    assert novelty(canon, {"CCO", "c1ccccc1"}) == 3 / 5
    # SELFIES are decoded first
    import selfies as sf

    assert canonical_smiles([sf.encoder("CC(=O)Nc1ccc(O)cc1")]) == [canon[3]]


def test_tanimoto_matrix_equals_rdkit_and_diversity_and_snn_equal_brute_force():
    smiles = [c for c in canonical_smiles(MOLS) if c is not None]
    fps = morgan_matrix(smiles)
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    bitvecs = [gen.GetFingerprint(MolFromSmiles(s)) for s in smiles]
    expected = np.array([DataStructs.BulkTanimotoSimilarity(v, bitvecs) for v in bitvecs])
    T = tanimoto_matrix(fps, fps)
    np.testing.assert_allclose(T, expected, atol=1e-6)
    assert internal_diversity(fps, 1) == pytest.approx(1 - expected.mean(), abs=1e-6)
    assert internal_diversity(fps, 2) == pytest.approx(1 - np.sqrt((expected ** 2).mean()), abs=1e-6)
    ref = fps[:2]
    assert nearest_neighbour_similarity(fps, ref) == pytest.approx(expected[:, :2].max(axis=1).mean(), abs=1e-6)


@pytest.mark.slow
def test_moses_test_molecules_have_moses_like_diversity():
    import pandas as pd

    from seqguide.data.moses_data import moses_file

    test = pd.read_csv(moses_file("test.csv.gz"), nrows=2000)["SMILES"].tolist()
    m = distribution_metrics(test[:1000], train=set(test[1000:]), reference=test[1000:])
    assert m["validity"] == 1.0 and m["uniqueness"] == 1.0 and m["novelty"] == 1.0
    assert 0.84 < m["intdiv1"] < 0.87  # MOSES reports IntDiv1 = 0.857 for its test set
    assert 0.3 < m["snn"] < 0.6  # nearest neighbours among 1,000 other test molecules
