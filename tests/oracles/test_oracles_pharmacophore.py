"""The vectorised Gobbi 2D pharmacophore fingerprint sets exactly RDKit's bits."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from rdkit import Chem, RDLogger
from rdkit.Chem.Pharm2D import Generate, Gobbi_Pharm2D

from oracles.pharmacophore import gobbi_fingerprint

REFERENCE = Path(__file__).parent / "data" / "guacamol_reference.json.gz"


@pytest.mark.slow
def test_gobbi_fingerprint_equals_rdkit_gen2dfingerprint():
    with gzip.open(REFERENCE, "rt") as fh:
        smiles = json.load(fh)["smiles"]
    RDLogger.DisableLog("rdApp.*")
    mols = [m for m in (Chem.MolFromSmiles(s) for s in smiles[:80] + smiles[300:]) if m is not None]
    RDLogger.EnableLog("rdApp.*")
    assert len(mols) > 100
    for mol in mols:
        ours, rdkit = gobbi_fingerprint(mol), Generate.Gen2DFingerprint(mol, Gobbi_Pharm2D.factory)
        assert list(ours.GetOnBits()) == list(rdkit.GetOnBits()), Chem.MolToSmiles(mol)
        assert ours.GetNumBits() == rdkit.GetNumBits()
    assert sum(gobbi_fingerprint(m).GetNumOnBits() > 100 for m in mols) > 20  # the 3-point bits are exercised
