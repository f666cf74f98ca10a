"""Molecule oracles on SMILES/SELFIES: QED, logP, SA, similarity, structural alerts, MPO."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import selfies as sf

from oracles import Parallel, get_oracle
from oracles.molecule import QED, Gaussian, ReverseSigmoid, parse_molecule

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
ERYTHROMYCIN = (
    "CC[C@@H]1[C@@]([C@@H]([C@H](C(=O)[C@@H](C[C@@]([C@@H]([C@H]([C@@H]([C@H](C(=O)O1)C)O[C@H]2C[C@@]"
    "([C@H]([C@@H](O2)C)O)(C)OC)C)O[C@H]3[C@@H]([C@H](C[C@H](O3)C)N(C)C)O)(C)O)C)C)O)(C)O"
)


@pytest.mark.slow
def test_known_values_for_aspirin():
    assert get_oracle("qed")([ASPIRIN]).values[0] == pytest.approx(0.550, abs=1e-3)
    assert get_oracle("logp")([ASPIRIN]).values[0] == pytest.approx(1.3101, abs=1e-4)
    sa = get_oracle("sa")(["c1ccccc1", ASPIRIN, ERYTHROMYCIN]).values
    assert sa[0] < sa[1] < 2.0 < 5.0 < sa[2]  # simple -> easy; a macrolide -> hard
    assert get_oracle("sa").maximize is False


def test_selfies_input_is_detected_or_forced():
    selfies = sf.encoder(ASPIRIN)
    qed = get_oracle("qed")
    auto = qed([ASPIRIN, selfies]).values
    assert auto[0] == pytest.approx(auto[1])
    assert QED(input_format="selfies")([selfies]).values[0] == pytest.approx(auto[0])
    forced = QED(input_format="smiles")([selfies])  # read as SMILES, "[=Branch1]" is not an atom
    assert not forced.valid[0]
    assert "syntax error while parsing" in forced.errors[0] and "around position 8" in forced.errors[0]


def test_unparsable_molecules_carry_rdkit_reasons_and_do_not_sink_the_batch():
    res = get_oracle("qed")([ASPIRIN, "C1CC", "C(C)(C)(C)(C)C", "[C][Foo]", "", "   ", None, "CCO"])
    assert res.valid.tolist() == [True, False, False, False, False, False, False, True]
    assert "could not parse SMILES 'C1CC'" in res.errors[1] and "unclosed ring" in res.errors[1]
    assert "Explicit valence" in res.errors[2]
    assert "could not decode SELFIES '[C][Foo]'" in res.errors[3] and "[Foo]" in res.errors[3]
    assert res.errors[4] == "empty sequence"
    assert res.errors[5] == "empty molecule string"
    assert res.errors[6] == "missing input (None)"
    mol, err = parse_molecule("CC(C")
    assert mol is None and "extra open parentheses" in err


def test_similarity_to_target():
    sim = get_oracle("similarity", target=ASPIRIN)
    values = sim([ASPIRIN, "OC(=O)c1ccccc1O", "CCO"]).values  # itself, salicylic acid, ethanol
    assert values[0] == pytest.approx(1.0)
    assert 0.2 < values[1] < 1.0 and values[2] < values[1]
    with pytest.raises(ValueError, match="bad target"):
        get_oracle("similarity", target="C1CC")


def test_structural_alerts_name_the_alert():
    pains = get_oracle("pains")
    brenk = get_oracle("brenk")
    quinone, azobenzene = "O=C1C=CC(=O)C=C1", "c1ccc(cc1)N=Nc1ccccc1"
    assert pains([quinone, azobenzene, "CCO"]).values.tolist() == [1.0, 1.0, 0.0]
    assert "quinone" in pains.describe(quinone) and "azo" in pains.describe(azobenzene)
    assert brenk([ASPIRIN]).values[0] >= 1 and "phenol_ester" in brenk.describe(ASPIRIN)
    assert pains.default_bounds == (None, 0.0)
    with pytest.raises(ValueError, match="unknown catalogs"):
        get_oracle("pains").__class__(catalogs=["NOPE"])


def test_radicals_count_unpaired_electrons():
    radicals = get_oracle("radicals")
    # ethyl radical, ethane, methylene (a carbene: two unpaired electrons), a SELFIES with an under-bonded CH2
    res = radicals(["C[CH2]", "CC", "[CH2]", "[CH2][C][=O]"])
    assert res.values.tolist() == [1.0, 0.0, 2.0, 1.0] and res.valid.all()
    assert radicals.default_bounds == (None, 0.0) and not radicals.maximize


def test_mpo_is_the_geometric_mean_of_desirabilities():
    mpo = get_oracle("mpo", target=ASPIRIN)
    xs = [ASPIRIN, "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "CCO"]
    res = mpo(xs)
    q = get_oracle("qed")(xs).values
    lp = Gaussian(2.5, 1.5)(get_oracle("logp")(xs).values)
    sa = ReverseSigmoid(4.5, 1.0)(get_oracle("sa")(xs).values)
    sim = get_oracle("similarity", target=ASPIRIN)(xs).values
    np.testing.assert_allclose(res.values, (q * lp * sa * sim) ** 0.25)
    assert ((res.values >= 0) & (res.values <= 1)).all() and mpo.optimal_value == 1.0


def test_mpo_filters_are_hard_constraints():
    mpo = get_oracle("mpo", filters=["PAINS", "BRENK"])
    res = mpo([ASPIRIN, "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "O=C1C=CC(=O)C=C1", "C1CC"])
    assert res.valid.tolist() == [False, True, False, False]
    assert "constraint brenk violated" in res.errors[0] and "phenol_ester" in res.errors[0]
    assert "constraint pains violated" in res.errors[2] and "quinone" in res.errors[2]
    assert "unclosed ring" in res.errors[3]


def test_molecule_oracles_pickle_and_run_in_a_process_pool():
    mpo = get_oracle("mpo", target=ASPIRIN, filters="PAINS")
    clone = pickle.loads(pickle.dumps(mpo))
    xs = [ASPIRIN, "CCO", "c1ccccc1", "C1CC", "CCN(CC)CC"]
    np.testing.assert_array_equal(clone(xs).values, mpo(xs).values)
    with Parallel(mpo, workers=2, chunk_size=2) as par:
        np.testing.assert_array_equal(par(xs).values, mpo(xs).values)
