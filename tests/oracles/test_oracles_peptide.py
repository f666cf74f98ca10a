"""Peptide oracles: ProtParam, hydrophobic moment and the antimicrobial-peptide classifier."""

from __future__ import annotations

import json

import numpy as np
import pytest

from oracles import get_oracle
from oracles.amp import DEFAULT_WEIGHTS, AMPModel, _split, amp_features, load_amp_dataset, load_amp_model
from oracles.peptide import HydrophobicMoment, ProtParam

MAGAININ_2 = "GIGKFLHSAKKFGEIMNS"  # a classic AMP that is not in the AMPvsUniProt file
INSULIN_B = "FVNQHLCGSHLVEALYLVCGERGFFYTPKT"
GFP_N_TERM = "MSKGEELFTGVVPILVELDGDVNGHKFSVSGEGEGDATYGKLTLKFICTTGKLPVPWPTLVTTF"


def test_protparam_known_values():
    oracle = ProtParam(properties=["gravy", "aromaticity", "molecular_weight"])
    res = oracle(["AAAA", "FWYA", "G"])
    assert res.values.shape == (3, 3)
    assert res.values[0, 0] == pytest.approx(1.8)  # Kyte-Doolittle hydropathy of alanine
    assert res.values[1, 1] == pytest.approx(0.75)
    assert res.values[2, 2] == pytest.approx(75.07, abs=0.01)  # glycine, Da
    charge = get_oracle("protparam", properties="charge", ph=7.0)(["KKKKK", "DDDDD"]).values
    assert charge[0] == pytest.approx(5.0, abs=0.3) and charge[1] == pytest.approx(-5.0, abs=0.3)
    pi = ProtParam(properties="pi")(["KKKKK", "DDDDD"]).values
    assert pi[0] > 10 and pi[1] < 4.5
    assert ProtParam(properties="instability").maximize is False


def test_protparam_bad_inputs_and_arguments():
    res = ProtParam()(["", "GIGKXF", "gigkf"])
    assert res.valid.tolist() == [False, False, True]
    assert "illegal character 'X'" in res.errors[1]
    with pytest.raises(ValueError, match="unknown properties"):
        ProtParam(properties=["charge", "colour"])


def test_hydrophobic_moment_matches_modlamp_and_helix_geometry():
    from modlamp.core import load_scale
    from modlamp.descriptors import PeptideDescriptor

    peptides = ["GLFDIIKKIAESF", "KLLKLLKKLLKLLK", MAGAININ_2]
    scale = {aa: v[0] for aa, v in load_scale("eisenberg")[1].items()}
    ref = PeptideDescriptor(peptides, "eisenberg")
    for window in (1000, 11):
        ref.calculate_moment(window=window, angle=100, modality="max")
        ours = HydrophobicMoment(scale=scale, window=None if window == 1000 else window)(peptides).values
        np.testing.assert_allclose(ours, ref.descriptor[:, 0], atol=1e-6)
    # 18 residues x 100 degrees = 5 full turns: a uniform helix has zero moment.
    uniform, amphipathic = get_oracle("hydrophobic_moment")(["L" * 18, "KLLKLLKKLLKLLKKLLK"]).values
    assert uniform == pytest.approx(0.0, abs=1e-12) and amphipathic > 0.5


def test_amp_metrics_are_reported_and_reproduced_from_the_shipped_weights():
    metrics = json.loads(DEFAULT_WEIGHTS.with_suffix(".json").read_text())
    assert metrics["test_accuracy"] >= 0.85 and metrics["test_auroc"] >= 0.9
    sequences, labels = load_amp_dataset()
    assert len(sequences) == metrics["n_sequences"]
    _, test_idx = _split(labels, metrics["training"]["seed"])
    model = AMPModel.load(DEFAULT_WEIGHTS)
    p = model.predict_proba([sequences[i] for i in test_idx])
    assert np.mean((p > 0.5) == labels[test_idx]) == pytest.approx(metrics["test_accuracy"], abs=1e-4)


def test_amp_oracle_ranks_known_peptides():
    amp = get_oracle("amp")
    res = amp([MAGAININ_2, INSULIN_B, GFP_N_TERM, "", "GIGKFLZ"])
    assert res.values[0] > 0.8 and res.values[1] < 0.5 and res.values[2] < 0.5
    assert res.valid.tolist() == [True, True, True, False, False]
    assert amp.metrics["test_auroc"] >= 0.9
    logits = get_oracle("amp", logit=True)([MAGAININ_2]).values
    assert 1 / (1 + np.exp(-logits[0])) == pytest.approx(res.values[0])


def test_amp_features_shape_and_content():
    f = amp_features(["AAAK", "W"])
    assert f.shape == (2, 29)
    assert f[0, :20].sum() == pytest.approx(1.0) and f[0, 0] == pytest.approx(0.75)
    assert f[1, 20] == pytest.approx(0.0)  # log length of a single residue


@pytest.mark.slow
def test_amp_model_is_rebuilt_when_the_weights_are_missing(tmp_path):
    target = tmp_path / "amp.safetensors"
    with pytest.warns(UserWarning, match="retraining"):
        model = load_amp_model(target)
    assert target.exists() and target.with_suffix(".json").exists()
    shipped = json.loads(DEFAULT_WEIGHTS.with_suffix(".json").read_text())
    assert model.metrics["test_accuracy"] == pytest.approx(shipped["test_accuracy"], abs=0.01)
    reloaded = AMPModel.load(target)
    np.testing.assert_allclose(reloaded.predict_proba([MAGAININ_2]), model.predict_proba([MAGAININ_2]),
                               atol=1e-6)
