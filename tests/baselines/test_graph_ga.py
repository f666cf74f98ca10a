"""Graph GA for molecules: the edit operators do what they say, children are valid, the GA climbs."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from rdkit import Chem

from oracles import get_oracle
from seqguide.baselines import GraphGA, Screening, library_proposal
from seqguide.baselines import mol_edits as me

PARENTS = ["CC(=O)Nc1ccc(O)cc1", "CCN(CC)CCOC(=O)c1ccc(N)cc1", "O=C(O)c1ccccc1OC(C)=O", "c1ccc2c(c1)[nH]c1ccccc12",
           "CC1CCCCC1NC(=O)C1CCCN1", "Clc1ccc(cc1)C(c1ccccc1)N1CCNCC1"]


def _mols():
    return [Chem.MolFromSmiles(s) for s in PARENTS]


def _cycles(mol) -> int:
    """The cyclomatic number (independent rings) of a connected molecule."""
    return mol.GetNumBonds() - mol.GetNumAtoms() + 1


def _elements(mol) -> Counter:
    return Counter(a.GetSymbol() for a in mol.GetAtoms())


def test_crossovers_give_valid_single_molecules_built_from_both_parents():
    rng = np.random.default_rng(0)
    mols = _mols()
    made = {"ring": 0, "non_ring": 0}
    for _ in range(60):
        i, j = rng.choice(len(mols), size=2, replace=False)
        a, b = mols[i], mols[j]
        for kind, op in (("non_ring", me.non_ring_crossover), ("ring", me.ring_crossover)):
            child = op(a, b, rng)
            if child is None:
                continue
            made[kind] += 1
            smiles = Chem.MolToSmiles(child)
            assert Chem.MolFromSmiles(smiles) is not None and "." not in smiles
            # every atom of the child comes from one of the parents
            assert not (_elements(child) - (_elements(a) + _elements(b)))
            assert child.GetNumAtoms() < a.GetNumAtoms() + b.GetNumAtoms()
    assert made["non_ring"] > 25 and made["ring"] > 15  # the carbazole has no acyclic bond to cut


@pytest.mark.parametrize("op,check", [
    (me._append_atom, lambda a, b: b.GetNumAtoms() == a.GetNumAtoms() + 1),
    (me._insert_atom, lambda a, b: b.GetNumAtoms() == a.GetNumAtoms() + 1),
    (me._delete_atom, lambda a, b: b.GetNumAtoms() == a.GetNumAtoms() - 1),
    (me._change_atom, lambda a, b: b.GetNumAtoms() == a.GetNumAtoms() and _elements(a) != _elements(b)),
    (me._add_ring_bond, lambda a, b: _cycles(b) == _cycles(a) + 1),
    (me._delete_ring_bond, lambda a, b: _cycles(b) == _cycles(a) - 1),
    (me._change_bond_order, lambda a, b: b.GetNumAtoms() == a.GetNumAtoms() and
     Chem.MolToSmiles(a) != Chem.MolToSmiles(b)),
])
def test_each_mutation_does_its_edit(op, check):
    rng = np.random.default_rng(1)
    done = 0
    for mol in _mols() * 5:
        rw = me._kekule(mol)
        if not op(rw, rng):
            continue
        child = me._sanitized(rw)
        if child is None:
            continue
        assert check(mol, child), (Chem.MolToSmiles(mol), Chem.MolToSmiles(child))
        done += 1
    assert done >= 5


def test_mutate_returns_a_different_valid_molecule():
    rng = np.random.default_rng(2)
    for mol in _mols():
        child = me.mutate(mol, rng)
        assert child is not None and Chem.MolToSmiles(child) != Chem.MolToSmiles(mol)


@pytest.mark.slow
def test_graph_ga_climbs_and_charges_each_molecule_once():
    import pandas as pd

    from seqguide.data.presets import package_file

    library = pd.read_csv(package_file("moses", "dataset", "data", "train.csv.gz"), nrows=3000)["SMILES"].tolist()
    task = get_oracle("guacamol_celecoxib_rediscovery", input_format="smiles")
    ga_best, screen_best = [], []
    for seed in range(2):
        run = GraphGA(population=40, offspring=30).run(task, library=library, budget=600, seed=seed)
        h = run.history
        assert len(h) <= 600 and len(set(h.designs)) == len(h)
        ga_best.append(h.top_k_auc(600))
        screen = Screening(library_proposal(library), batch_size=200, stop_at_optimum=False).run(
            task, budget=600, seed=seed)
        screen_best.append(screen.history.top_k_auc(600))
    assert np.mean(ga_best) > np.mean(screen_best) + 0.05
    with pytest.raises(ValueError, match="fewer than the population"):
        GraphGA(population=50).run(task, library=library[:10], budget=10)
