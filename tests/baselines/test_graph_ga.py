"""Graph GA for molecules, as PMO ran it: each operator on hand-picked molecules, the ring-sanity and size filters,
the mutation table, the early stop and its flat AUC, and (slow) the GA climbing on a GuacaMol task."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from rdkit import Chem, RDLogger

from oracles import get_oracle
from oracles.molecule import MoleculeOracle
from seqguide.baselines import GraphGA, Screening, library_proposal, top_k_auc
from seqguide.baselines import mol_edits as me

RDLogger.DisableLog("rdApp.*")

PARENTS = ["CC(=O)Nc1ccc(O)cc1", "CCN(CC)CCOC(=O)c1ccc(N)cc1", "O=C(O)c1ccccc1OC(C)=O", "c1ccc2c(c1)[nH]c1ccccc12",
           "CC1CCCCC1NC(=O)C1CCCN1", "Clc1ccc(cc1)C(c1ccccc1)N1CCNCC1"]


def _labelled(smiles: str, isotope: int) -> Chem.Mol:
    """The molecule with every atom carrying ``isotope``, so a child's atoms tell which parent they came from."""
    mol = Chem.MolFromSmiles(smiles)
    for atom in mol.GetAtoms():
        atom.SetIsotope(isotope)
    return Chem.MolFromSmiles(Chem.MolToSmiles(mol))


def _cycles(mol) -> int:
    """The cyclomatic number (independent rings) of a connected molecule."""
    return mol.GetNumBonds() - mol.GetNumAtoms() + 1


def _elements(mol) -> Counter:
    return Counter(a.GetSymbol() for a in mol.GetAtoms())


@pytest.mark.parametrize("smiles,ok", [
    ("CCCCO", True), ("c1ccccc1", True), ("C1CCCCC1", True), ("c1ccc2ccccc2c1", True), ("C=C1CCC1", True),
    ("C1CC1", True), ("C1CCCCCC1", False), ("C1CCCCCCC1", False), ("C1=CC1", False), ("C1=CCC1", False),
    ("C1=C=CCCC1", False), ("O=C1CCCCCCCCCCN1", False),
])
def test_ring_ok_is_jensens_ring_filter(smiles, ok):
    # no ring over 6 atoms, no double bond inside a 3- or 4-ring, no ring allene (an exocyclic C=C is fine)
    assert me.ring_ok(Chem.MolFromSmiles(smiles)) is ok


def test_size_ok_bounds_heavy_atoms():
    rng = np.random.default_rng(0)
    assert not me.size_ok(Chem.MolFromSmiles("CCCCO"), rng, 39.15, 0.0)  # 5 atoms: not more than 5
    assert me.size_ok(Chem.MolFromSmiles("CCCCCO"), rng, 39.15, 0.0)
    assert not me.size_ok(Chem.MolFromSmiles("C" * 40), rng, 39.15, 0.0)  # 40 >= the size limit 39.15
    bad = Chem.RWMol(Chem.MolFromSmiles("CCCCCCC"))
    bad.GetAtomWithIdx(0).SetNumExplicitHs(5)  # pentavalent carbon: sanitization fails
    assert not me.size_ok(bad, rng)


def test_ring_crossover_makes_a_ring_of_both_parents():
    rng = np.random.default_rng(0)
    a, b = _labelled("c1ccc2ccccc2c1CCO", 13), _labelled("C1CCNCC1c1ccncc1", 14)
    made = 0
    for _ in range(30):
        child = me.ring_crossover(me._kekule_copy(a), me._kekule_copy(b), rng)
        if child is None:
            continue
        made += 1
        assert Chem.MolFromSmiles(Chem.MolToSmiles(child)) is not None and "." not in Chem.MolToSmiles(child)
        assert me.ring_ok(child) and 5 < child.GetNumAtoms()
        mixed = [r for r in child.GetRingInfo().AtomRings()
                 if {child.GetAtomWithIdx(i).GetIsotope() for i in r} == {13, 14}]
        assert mixed, Chem.MolToSmiles(child)  # the new ring is made of atoms of both parents
    assert made >= 10


def test_non_ring_crossover_joins_pieces_of_both_parents_by_an_acyclic_bond():
    rng = np.random.default_rng(1)
    a, b = _labelled("CC(=O)Nc1ccc(O)cc1", 13), _labelled("CCN(CC)CCOC(=O)c1ccc(N)cc1", 14)
    for _ in range(20):
        child = me.non_ring_crossover(me._kekule_copy(a), me._kekule_copy(b), rng)
        assert child is not None
        links = [bd for bd in child.GetBonds() if {bd.GetBeginAtom().GetIsotope(), bd.GetEndAtom().GetIsotope()}
                 == {13, 14}]
        assert len(links) == 1 and not links[0].IsInRing() and links[0].GetBondType() == Chem.BondType.SINGLE


def test_crossover_children_are_new_valid_molecules_and_the_ring_switch_works():
    rng = np.random.default_rng(2)
    mols = [Chem.MolFromSmiles(s) for s in PARENTS]
    mixed_ring = {True: 0, False: 0}
    for ring in (True, False):
        for _ in range(40):
            i, j = rng.choice(len(mols), size=2, replace=False)
            a, b = _labelled(PARENTS[i], 13), _labelled(PARENTS[j], 14)
            before = Chem.MolToSmiles(a)
            child = me.crossover(a, b, rng, ring=ring)
            assert Chem.MolToSmiles(a) == before  # the parent is not edited in place
            if child is None:
                continue
            smiles = Chem.MolToSmiles(child)
            assert "." not in smiles and smiles not in {Chem.MolToSmiles(a), Chem.MolToSmiles(b)}
            mixed_ring[ring] += any({child.GetAtomWithIdx(k).GetIsotope() for k in r} == {13, 14}
                                    for r in child.GetRingInfo().AtomRings())
    assert mixed_ring[True] >= 5 and mixed_ring[False] == 0  # only ring crossover mixes rings


def test_mutation_table_is_pmos():
    assert [m[0] for m in me.MUTATIONS] == ["insert_atom", "change_bond_order", "delete_ring_bond", "add_ring",
                                            "delete_atom", "change_atom", "append_atom"]
    assert [m[1] for m in me.MUTATIONS] == [0.15, 0.14, 0.14, 0.14, 0.14, 0.14, 0.15]


@pytest.mark.parametrize("name,check", [
    ("append_atom", lambda a, b: b.GetNumAtoms() == a.GetNumAtoms() + 1 and _cycles(b) == _cycles(a)),
    ("insert_atom", lambda a, b: b.GetNumAtoms() == a.GetNumAtoms() + 1 and _cycles(b) == _cycles(a)),
    ("delete_atom", lambda a, b: b.GetNumAtoms() == a.GetNumAtoms() - 1),
    ("change_atom", lambda a, b: b.GetNumAtoms() == a.GetNumAtoms() and _elements(a) != _elements(b)),
    ("add_ring", lambda a, b: b.GetNumAtoms() == a.GetNumAtoms() and _cycles(b) == _cycles(a) + 1),
    ("delete_ring_bond", lambda a, b: b.GetNumAtoms() == a.GetNumAtoms() and _cycles(b) == _cycles(a) - 1),
    ("change_bond_order", lambda a, b: b.GetNumAtoms() == a.GetNumAtoms() and
     Chem.MolToSmiles(a) != Chem.MolToSmiles(b)),
])
def test_each_mutation_does_its_edit(name, check):
    rng = np.random.default_rng(3)
    done = 0
    for smiles in ["CCCCCCOc1ccccc1", "CC(C)CCCCNC(=O)C1CCCN1", "CCCCCCCC(=O)OCC"]:
        mol = Chem.MolFromSmiles(smiles)
        for _ in range(4):
            child = me.mutate(mol, rng, only=name)
            if child is None:
                continue
            assert check(mol, child), (smiles, Chem.MolToSmiles(child))
            assert me.ring_ok(child)
            done += 1
    assert done >= 6
    with pytest.raises(ValueError, match="unknown mutation 'nope'"):
        me.mutate(mol, rng, only="nope")


class _Flat(MoleculeOracle):
    """Every molecule scores 0.5: the GA can never improve its top-100 mean."""

    name = "flat"

    def _score_mol(self, mol) -> float:
        return 0.5


def test_early_stop_after_patience_and_the_auc_is_held_flat_to_the_budget():
    library = [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in PARENTS] * 1
    library += ["CCCCCCO", "CCCCCCN", "CCOCCOCC", "c1ccccc1CC", "c1ccncc1CCC", "CC(C)CC(C)CO", "OCCCCCCO",
                "NCCCCCN", "CCCC(=O)OCC", "c1ccc(O)cc1C"]
    budget = 5000
    run = GraphGA(population=12, offspring=40, patience=5).run(_Flat(input_format="smiles"), library=library,
                                                               budget=budget, seed=0)
    assert run.stopped == "converged" and 100 < len(run.history) < budget
    # 5 generations after the first one past 100 calls, each without progress
    assert run.history.top_k_auc(budget) == pytest.approx(0.5 - 25 / budget)  # 0 -> 0.5 over the first 100 calls
    assert top_k_auc(run.history.values, budget=budget) == pytest.approx(0.5 - 25 / budget)
    never = GraphGA(population=12, offspring=40, patience=None, max_stalled=3).run(
        _Flat(input_format="smiles"), library=library, budget=400, seed=0)
    assert never.stopped in ("budget", "stalled")


def test_graph_ga_rejects_bad_settings():
    with pytest.raises(ValueError, match="patience"):
        GraphGA(patience=0)
    with pytest.raises(ValueError, match="mutation_rate"):
        GraphGA(mutation_rate=2.0)


@pytest.mark.slow
def test_graph_ga_climbs_and_charges_each_molecule_once():
    from benchmarks.design_pmo import moses_smiles

    library = moses_smiles("train", 3000)
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
