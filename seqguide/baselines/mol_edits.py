"""Graph edits of RDKit molecules for the graph GA: crossover and mutation.

Operators as described by Jensen (2019), "A graph-based genetic algorithm and generative model/Monte Carlo
tree search for the exploration of chemical space", Chem. Sci. 10:3567, section 2.1:

* **crossover**, chosen with equal probability: *non-ring* (cut each parent at a random acyclic single bond
  and join a piece of one with a piece of the other) or *ring* (cut a ring of each parent at two bonds and
  join the two pieces across the parents, so the child has a ring made of both);
* **mutation**, one of seven chosen uniformly: append an atom, insert an atom into a bond, delete an atom,
  change an atom's element, change a bond's order, add a ring bond (closing a 3- to 7-membered ring), delete
  a ring bond.

Edits work on the Kekulé form; any child RDKit cannot sanitize is discarded (the operator returns None). All
randomness comes from the NumPy generator passed in.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["crossover", "mutate", "non_ring_crossover", "ring_crossover"]

# elements a mutation may introduce (Jensen's list), with their weights
_ELEMENTS = np.array([6, 7, 8, 9, 16, 17, 35])
_ELEMENT_WEIGHTS = np.array([0.45, 0.15, 0.15, 0.07, 0.06, 0.06, 0.06])
_MAX_TRIES = 10
_RING_SIZES = (3, 4, 5, 6, 7)


def _chem() -> Any:
    from rdkit import Chem

    return Chem


def _sanitized(mol: Any) -> Any | None:
    Chem = _chem()
    try:
        m = mol.GetMol() if hasattr(mol, "GetMol") else mol
        Chem.SanitizeMol(m)
        smiles = Chem.MolToSmiles(m)
        out = Chem.MolFromSmiles(smiles)
    except Exception:  # RDKit raises several exception types for bad valences/aromaticity
        return None
    if out is None or out.GetNumAtoms() == 0 or "." in smiles:
        return None
    return out


def _kekule(mol: Any) -> Any | None:
    Chem = _chem()
    rw = Chem.RWMol(mol)
    try:
        Chem.Kekulize(rw, clearAromaticFlags=True)
    except Exception:
        return None
    return rw


def _join(left: Any, right: Any, pairs: list[tuple[int, int]]) -> Any | None:
    """Combine two fragments with dummy atoms: bond the neighbours of dummies with the same label across the
    two fragments (label = isotope), then remove the dummies."""
    Chem = _chem()
    combo = Chem.RWMol(Chem.CombineMols(left, right))
    n_left = left.GetNumAtoms()
    dummies: dict[tuple[int, int], int] = {}
    for atom in combo.GetAtoms():
        if atom.GetAtomicNum() == 0:
            side = 0 if atom.GetIdx() < n_left else 1
            dummies[(side, atom.GetIsotope())] = atom.GetIdx()
    remove = []
    for la, lb in pairs:
        if (0, la) not in dummies or (1, lb) not in dummies:
            return None
        da, db = dummies[(0, la)], dummies[(1, lb)]
        na = [n.GetIdx() for n in combo.GetAtomWithIdx(da).GetNeighbors()]
        nb = [n.GetIdx() for n in combo.GetAtomWithIdx(db).GetNeighbors()]
        if len(na) != 1 or len(nb) != 1 or combo.GetBondBetweenAtoms(na[0], nb[0]) is not None:
            return None
        combo.AddBond(na[0], nb[0], Chem.BondType.SINGLE)
        remove += [da, db]
    for idx in sorted(remove, reverse=True):
        combo.RemoveAtom(idx)
    return _sanitized(combo)


def _pieces(mol: Any, bonds: list[int], labels: list[tuple[int, int]]) -> list[Any]:
    Chem = _chem()
    frag = Chem.FragmentOnBonds(mol, bonds, addDummies=True, dummyLabels=labels)
    return list(Chem.GetMolFrags(frag, asMols=True, sanitizeFrags=False))


def non_ring_crossover(a: Any, b: Any, rng: np.random.Generator) -> Any | None:
    """Cut each parent at a random acyclic single bond; join a random piece of each."""
    Chem = _chem()
    ka, kb = _kekule(a), _kekule(b)
    if ka is None or kb is None:
        return None
    cut_a = [bd.GetIdx() for bd in ka.GetBonds() if not bd.IsInRing() and bd.GetBondType() == Chem.BondType.SINGLE]
    cut_b = [bd.GetIdx() for bd in kb.GetBonds() if not bd.IsInRing() and bd.GetBondType() == Chem.BondType.SINGLE]
    if not cut_a or not cut_b:
        return None
    for _ in range(_MAX_TRIES):
        pa = _pieces(ka, [int(rng.choice(cut_a))], [(1, 1)])
        pb = _pieces(kb, [int(rng.choice(cut_b))], [(1, 1)])
        if len(pa) != 2 or len(pb) != 2:
            continue
        child = _join(pa[int(rng.integers(2))], pb[int(rng.integers(2))], [(1, 1)])
        if child is not None:
            return child
    return None


def _ring_cuts(mol: Any, rng: np.random.Generator) -> list[int] | None:
    """Two bonds of one ring, separated by at least one ring atom, as bond indices (None if no ring)."""
    rings = [r for r in mol.GetRingInfo().BondRings() if len(r) >= 4]
    if not rings:
        return None
    ring = list(rings[int(rng.integers(len(rings)))])
    i = int(rng.integers(len(ring)))
    j = (i + int(rng.integers(2, len(ring) - 1))) % len(ring)
    return [ring[i], ring[j]]


def ring_crossover(a: Any, b: Any, rng: np.random.Generator) -> Any | None:
    """Cut a ring of each parent at two bonds; join one piece of each across both cuts (a new mixed ring)."""
    ka, kb = _kekule(a), _kekule(b)
    if ka is None or kb is None:
        return None
    for _ in range(_MAX_TRIES):
        ca, cb = _ring_cuts(ka, rng), _ring_cuts(kb, rng)
        if ca is None or cb is None:
            return None
        pa = _pieces(ka, ca, [(1, 2), (3, 4)])
        pb = _pieces(kb, cb, [(1, 2), (3, 4)])
        if len(pa) != 2 or len(pb) != 2:  # the ring was fused: the cut did not split the molecule
            continue
        left, right = pa[int(rng.integers(2))], pb[int(rng.integers(2))]
        labels_l = sorted(at.GetIsotope() for at in left.GetAtoms() if at.GetAtomicNum() == 0)
        labels_r = sorted(at.GetIsotope() for at in right.GetAtoms() if at.GetAtomicNum() == 0)
        if len(labels_l) != 2 or len(labels_r) != 2:
            continue
        child = _join(left, right, list(zip(labels_l, labels_r[::-1] if rng.random() < 0.5 else labels_r)))
        if child is not None:
            return child
    return None


def crossover(a: Any, b: Any, rng: np.random.Generator) -> Any | None:
    """Ring or non-ring crossover with equal probability (the other one if the first fails)."""
    first, second = (ring_crossover, non_ring_crossover) if rng.random() < 0.5 else (non_ring_crossover,
                                                                                      ring_crossover)
    return first(a, b, rng) or second(a, b, rng)


# ------------------------------------------------------------------------------------------ mutation
def _free_valence(atom: Any) -> int:
    from rdkit.Chem import GetPeriodicTable, ValenceType

    allowed = max(GetPeriodicTable().GetValenceList(atom.GetAtomicNum()))
    return allowed - atom.GetValence(ValenceType.EXPLICIT) - atom.GetNumExplicitHs()


def _new_element(rng: np.random.Generator) -> int:
    return int(rng.choice(_ELEMENTS, p=_ELEMENT_WEIGHTS / _ELEMENT_WEIGHTS.sum()))


def _append_atom(rw: Any, rng: np.random.Generator) -> bool:
    Chem = _chem()
    sites = [a.GetIdx() for a in rw.GetAtoms() if _free_valence(a) >= 1]
    if not sites:
        return False
    new = rw.AddAtom(Chem.Atom(_new_element(rng)))
    rw.AddBond(int(rng.choice(sites)), new, Chem.BondType.SINGLE)
    return True


def _insert_atom(rw: Any, rng: np.random.Generator) -> bool:
    Chem = _chem()
    bonds = [b for b in rw.GetBonds() if b.GetBondType() == Chem.BondType.SINGLE]
    if not bonds:
        return False
    bond = bonds[int(rng.integers(len(bonds)))]
    i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
    rw.RemoveBond(i, j)
    new = rw.AddAtom(Chem.Atom(int(rng.choice([6, 7, 8, 16]))))
    rw.AddBond(i, new, Chem.BondType.SINGLE)
    rw.AddBond(new, j, Chem.BondType.SINGLE)
    return True


def _delete_atom(rw: Any, rng: np.random.Generator) -> bool:
    Chem = _chem()
    atoms = [a for a in rw.GetAtoms() if a.GetDegree() == 1 or (a.GetDegree() == 2 and not a.IsInRing())]
    if len(atoms) < 1 or rw.GetNumAtoms() < 3:
        return False
    atom = atoms[int(rng.integers(len(atoms)))]
    nbrs = [n.GetIdx() for n in atom.GetNeighbors()]
    if len(nbrs) == 2 and rw.GetBondBetweenAtoms(nbrs[0], nbrs[1]) is None:
        rw.AddBond(nbrs[0], nbrs[1], Chem.BondType.SINGLE)
    rw.RemoveAtom(atom.GetIdx())
    return True


def _change_atom(rw: Any, rng: np.random.Generator) -> bool:
    atom = rw.GetAtomWithIdx(int(rng.integers(rw.GetNumAtoms())))
    element = _new_element(rng)
    if element == atom.GetAtomicNum():
        return False
    atom.SetAtomicNum(element)
    atom.SetFormalCharge(0)
    atom.SetNoImplicit(False)
    atom.SetNumExplicitHs(0)
    return True


def _change_bond_order(rw: Any, rng: np.random.Generator) -> bool:
    Chem = _chem()
    if rw.GetNumBonds() == 0:
        return False
    bond = rw.GetBondWithIdx(int(rng.integers(rw.GetNumBonds())))
    order = {Chem.BondType.SINGLE: 1, Chem.BondType.DOUBLE: 2, Chem.BondType.TRIPLE: 3}.get(bond.GetBondType())
    if order is None:
        return False
    new = int(np.clip(order + (1 if rng.random() < 0.5 else -1), 1, 3))
    if new == order:
        return False
    bond.SetBondType({1: Chem.BondType.SINGLE, 2: Chem.BondType.DOUBLE, 3: Chem.BondType.TRIPLE}[new])
    return True


def _add_ring_bond(rw: Any, rng: np.random.Generator) -> bool:
    Chem = _chem()
    dist = Chem.GetDistanceMatrix(rw)
    free = np.array([_free_valence(a) >= 1 for a in rw.GetAtoms()])
    i, j = np.nonzero(np.isin(dist, [s - 1 for s in _RING_SIZES]) & free[:, None] & free[None, :])
    pairs = [(a, b) for a, b in zip(i.tolist(), j.tolist()) if a < b]
    if not pairs:
        return False
    a, b = pairs[int(rng.integers(len(pairs)))]
    rw.AddBond(a, b, Chem.BondType.SINGLE)
    return True


def _delete_ring_bond(rw: Any, rng: np.random.Generator) -> bool:
    bonds = [b for b in rw.GetBonds() if b.IsInRing()]
    if not bonds:
        return False
    bond = bonds[int(rng.integers(len(bonds)))]
    rw.RemoveBond(bond.GetBeginAtomIdx(), bond.GetEndAtomIdx())
    return True


_MUTATIONS = (_append_atom, _insert_atom, _delete_atom, _change_atom, _change_bond_order, _add_ring_bond,
              _delete_ring_bond)


def mutate(mol: Any, rng: np.random.Generator) -> Any | None:
    """One of the seven mutations, chosen uniformly (retried a few times); None if none gives a valid molecule."""
    for _ in range(_MAX_TRIES):
        rw = _kekule(mol)
        if rw is None:
            return None
        if not _MUTATIONS[int(rng.integers(len(_MUTATIONS)))](rw, rng):
            continue
        child = _sanitized(rw)
        if child is not None:
            return child
    return None
