"""Graph edits of RDKit molecules for the graph GA: crossover, mutation and the filters their children pass.

The operators of Jensen (2019), "A graph-based genetic algorithm and generative model/Monte Carlo tree search
for the exploration of chemical space", Chem. Sci. 10:3567, section 2.1, with the reaction patterns,
probabilities and filters of the graph GA that PMO ran (Gao et al. 2022, arXiv 2206.12411; mol_opt's
``main/graph_ga``), written as RDKit reactions:

* **crossover** (:func:`crossover`): up to 10 tries, each *non-ring* or *ring* with probability 1/2; a child equal
  to a parent is rejected.

  - non-ring: cut each parent at a random acyclic single bond and join each piece of one parent with each piece
    of the other by a single bond; one of the children that pass :func:`size_ok` is kept.
  - ring: cut a ring of each parent at two bonds, either two bonds of a 4-atom ring path (``[R]@[R]@[R]@[R]``,
    bonds 1-2 and 3-4) or the two ring bonds of a ring-fusion atom (``[R]@[R;!D2]@[R]``); join a piece of each
    parent at one dummy pair with a *double* bond (the single-bond join of Jensen's code is overwritten before
    use, so only the double one ever runs there, and PMO inherits that), then close the other pair with a single
    or a double bond; children must pass :func:`size_ok` and :func:`ring_ok`.

* **mutation** (:func:`mutate`): one of seven edits, drawn with probabilities 0.15 (insert an atom), 0.14 (change
  a bond order), 0.14 (delete a ring bond), 0.14 (add a ring), 0.14 (delete an atom), 0.14 (change an element),
  0.15 (append an atom), each with its own inner choices (:data:`MUTATIONS`); up to 10 tries, children must pass
  :func:`size_ok` and :func:`ring_ok`, None if no try gives one.
* **filters**: :func:`size_ok` (sanitizable, more than 5 heavy atoms and fewer than a size drawn from
  N(39.15, 3.50), Jensen's size control) and :func:`ring_ok` (no ring allene ``[R]=[R]=[R]``, no ring of more
  than 6 atoms, no double bond inside a 3- or 4-membered ring).

Parents are edited in their Kekulé form (copies; the caller's molecules are not changed). All randomness comes
from the NumPy generator passed in.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["MUTATIONS", "crossover", "mutate", "non_ring_crossover", "ring_crossover", "ring_ok", "size_ok"]

_TRIES = 10
SIZE_MEAN, SIZE_SD, _MIN_ATOMS = 39.15, 3.50, 5


def _chem() -> Any:
    from rdkit import Chem

    return Chem


@functools.cache
def _pattern(smarts: str) -> Any:
    return _chem().MolFromSmarts(smarts)


@functools.cache
def _reaction(smarts: str) -> Any:
    from rdkit.Chem import AllChem

    return AllChem.ReactionFromSmarts(smarts)


def _pick(rng: np.random.Generator, items: list[Any]) -> Any:
    return items[int(rng.integers(len(items)))]


def _choice(rng: np.random.Generator, options: tuple[Any, ...], p: tuple[float, ...]) -> Any:
    return options[int(rng.choice(len(options), p=np.asarray(p) / np.sum(p)))]


# -------------------------------------------------------------------------------------------- filters
def size_ok(mol: Any, rng: np.random.Generator, mean: float = SIZE_MEAN, sd: float = SIZE_SD) -> bool:
    """Sanitize ``mol`` in place; True if that works and it has more than 5 heavy atoms and fewer than a size
    drawn from N(mean, sd) (Jensen's size control)."""
    try:
        _chem().SanitizeMol(mol)
    except Exception:  # RDKit's sanitization errors (valence, kekulization) subclass several types
        return False
    n = mol.GetNumAtoms()
    return _MIN_ATOMS < n < mean + sd * rng.standard_normal()


def ring_ok(mol: Any) -> bool:
    """Jensen's ring-sanity filter: False for a ring allene, a ring of more than 6 atoms or a double bond inside
    a 3- or 4-membered ring; True for a molecule without rings."""
    rings = mol.GetRingInfo().AtomRings()
    if not rings:
        return True
    if max(len(r) for r in rings) > 6:
        return False
    return not (mol.HasSubstructMatch(_pattern("[R]=[R]=[R]")) or mol.HasSubstructMatch(_pattern("[r3,r4]=[r3,r4]")))


# ------------------------------------------------------------------------------------------ crossover
def _kekule_copy(mol: Any) -> Any:
    Chem = _chem()
    out = Chem.Mol(mol)
    try:
        Chem.Kekulize(out, clearAromaticFlags=True)
    except Exception:  # a molecule RDKit cannot kekulize is used as it is (as Jensen's code does)
        return Chem.Mol(mol)
    return out


def _fragments(mol: Any, bonds: list[int]) -> tuple[Any, ...] | None:
    Chem = _chem()
    cut = Chem.FragmentOnBonds(mol, bonds, addDummies=True, dummyLabels=[(1, 1)] * len(bonds))
    try:
        return Chem.GetMolFrags(cut, asMols=True, sanitizeFrags=True)
    except Exception:
        return None


def _cut_acyclic(mol: Any, rng: np.random.Generator) -> tuple[Any, ...] | None:
    """Both pieces of ``mol`` cut at a random acyclic single bond (None if it has none)."""
    matches = mol.GetSubstructMatches(_pattern("[*]-;!@[*]"))
    if not matches:
        return None
    i, j = _pick(rng, list(matches))
    return _fragments(mol, [mol.GetBondBetweenAtoms(i, j).GetIdx()])


def _cut_ring(mol: Any, rng: np.random.Generator) -> tuple[Any, ...] | None:
    """Two pieces of ``mol`` cut at two bonds of one ring (a 4-atom ring path, or the two ring bonds of a fusion
    atom, with probability 1/2 each; up to 10 tries); None if the pattern drawn has no match or no try splits."""
    for _ in range(_TRIES):
        if rng.random() < 0.5:
            matches = mol.GetSubstructMatches(_pattern("[R]@[R]@[R]@[R]"))
            if not matches:
                return None
            a, b, c, d = _pick(rng, list(matches))
            pairs = [(a, b), (c, d)]
        else:
            matches = mol.GetSubstructMatches(_pattern("[R]@[R;!D2]@[R]"))
            if not matches:
                return None
            a, b, c = _pick(rng, list(matches))
            pairs = [(a, b), (b, c)]
        frags = _fragments(mol, [mol.GetBondBetweenAtoms(x, y).GetIdx() for x, y in pairs])
        if frags is None:
            return None
        if len(frags) == 2:
            return frags
    return None


_JOIN_ACYCLIC = "[*:1]-[1*].[1*]-[*:2]>>[*:1]-[*:2]"
_JOIN_RING_FIRST = "[*:1]~[1*].[1*]~[*:2]>>[*:1]=[*:2]"
_CLOSE_RING = ("([*:1]~[1*].[1*]~[*:2])>>[*:1]-[*:2]", "([*:1]~[1*].[1*]~[*:2])>>[*:1]=[*:2]")


def non_ring_crossover(a: Any, b: Any, rng: np.random.Generator, *, size: tuple[float, float] = (SIZE_MEAN, SIZE_SD)
                       ) -> Any | None:
    """Cut each parent at an acyclic single bond, join every piece of one with every piece of the other, keep a
    random child that passes :func:`size_ok` (up to 10 tries; None if none does)."""
    rxn = _reaction(_JOIN_ACYCLIC)
    for _ in range(_TRIES):
        fa, fb = _cut_acyclic(a, rng), _cut_acyclic(b, rng)
        if fa is None or fb is None:
            return None
        children = [rxn.RunReactants((x, y))[0][0] for x in fa for y in fb]
        children = [m for m in children if size_ok(m, rng, *size)]
        if children:
            return _pick(rng, children)
    return None


def ring_crossover(a: Any, b: Any, rng: np.random.Generator, *, size: tuple[float, float] = (SIZE_MEAN, SIZE_SD)
                   ) -> Any | None:
    """Cut a ring of each parent at two bonds, join a piece of each at both cuts (a ring made of both parents),
    keep a random child that passes :func:`size_ok` and :func:`ring_ok` (up to 10 tries; None if none does)."""
    ring = _pattern("[R]")
    if not a.HasSubstructMatch(ring) and not b.HasSubstructMatch(ring):
        return None
    first = _reaction(_JOIN_RING_FIRST)
    for _ in range(_TRIES):
        fa, fb = _cut_ring(a, rng), _cut_ring(b, rng)
        if fa is None or fb is None:
            return None
        joined = [first.RunReactants((x, y))[0][0] for x in fa for y in fb]
        closed = [p[0] for m in joined if size_ok(m, rng, *size)
                  for smarts in _CLOSE_RING for p in _reaction(smarts).RunReactants((m,))]
        children = [m for m in closed if size_ok(m, rng, *size) and ring_ok(m)]
        if children:
            return _pick(rng, children)
    return None


def crossover(a: Any, b: Any, rng: np.random.Generator, *, size: tuple[float, float] = (SIZE_MEAN, SIZE_SD),
              ring: bool = True) -> Any | None:
    """A child of two parents: up to 10 tries of non-ring or ring crossover (probability 1/2 each); a child with
    the SMILES of a parent is rejected. ``ring=False`` uses non-ring crossover only (an ablation)."""
    Chem = _chem()
    parents = {Chem.MolToSmiles(a), Chem.MolToSmiles(b)}
    ka, kb = _kekule_copy(a), _kekule_copy(b)
    for _ in range(_TRIES):
        op = non_ring_crossover if (not ring or rng.random() <= 0.5) else ring_crossover
        child = op(ka, kb, rng, size=size)
        if child is not None and Chem.MolToSmiles(child) not in parents:
            return child
    return None


# ------------------------------------------------------------------------------------------- mutation
_ELEMENTS = ("#6", "#7", "#8", "#9", "#16", "#17", "#35")
_ELEMENT_P = (0.15, 0.15, 0.14, 0.14, 0.14, 0.14, 0.14)
_ORDERS = (0.60, 0.35, 0.05)  # single, double, triple bond to the new atom


def _insert_atom(mol: Any, rng: np.random.Generator) -> str:
    order = _choice(rng, (0, 1, 2), _ORDERS)
    if order == 0:
        return f"[*:1]~[*:2]>>[*:1]{_pick(rng, ['C', 'N', 'O', 'S'])}[*:2]"
    if order == 1:
        return f"[*;!H0:1]~[*:2]>>[*:1]={_pick(rng, ['C', 'N'])}-[*:2]"
    return "[*;!R;!H1;!H0:1]~[*:2]>>[*:1]#C-[*:2]"


def _change_bond_order(mol: Any, rng: np.random.Generator) -> str:
    return _choice(rng, ("[*:1]!-[*:2]>>[*:1]-[*:2]", "[*;!H0:1]-[*;!H0:2]>>[*:1]=[*:2]",
                         "[*:1]#[*:2]>>[*:1]=[*:2]", "[*;!R;!H1;!H0:1]~[*:2]>>[*:1]#[*:2]"),
                   (0.45, 0.45, 0.05, 0.05))


def _delete_ring_bond(mol: Any, rng: np.random.Generator) -> str:
    return "[*:1]@[*:2]>>([*:1].[*:2])"


def _add_ring(mol: Any, rng: np.random.Generator) -> str:
    return _choice(rng, (
        "[*;!r;!H0:1]~[*;!r:2]~[*;!r;!H0:3]>>[*:1]1~[*:2]~[*:3]1",
        "[*;!r;!H0:1]~[*!r:2]~[*!r:3]~[*;!r;!H0:4]>>[*:1]1~[*:2]~[*:3]~[*:4]1",
        "[*;!r;!H0:1]~[*!r:2]~[*:3]~[*:4]~[*;!r;!H0:5]>>[*:1]1~[*:2]~[*:3]~[*:4]~[*:5]1",
        "[*;!r;!H0:1]~[*!r:2]~[*:3]~[*:4]~[*!r:5]~[*;!r;!H0:6]>>[*:1]1~[*:2]~[*:3]~[*:4]~[*:5]~[*:6]1"),
        (0.05, 0.05, 0.45, 0.45))


def _delete_atom(mol: Any, rng: np.random.Generator) -> str:
    return _choice(rng, (
        "[*:1]~[D1:2]>>[*:1]", "[*:1]~[D2:2]~[*:3]>>[*:1]-[*:3]",
        "[*:1]~[D3:2](~[*;!H0:3])~[*:4]>>[*:1]-[*:3]-[*:4]",
        "[*:1]~[D4:2](~[*;!H0:3])(~[*;!H0:4])~[*:5]>>[*:1]-[*:3]-[*:4]-[*:5]",
        "[*:1]~[D4:2](~[*;!H0;!H1:3])(~[*:4])~[*:5]>>[*:1]-[*:3](-[*:4])-[*:5]"),
        (0.25, 0.25, 0.25, 0.1875, 0.0625))


def _change_atom(mol: Any, rng: np.random.Generator) -> str:
    present = [i for i, e in enumerate(_ELEMENTS) if mol.HasSubstructMatch(_pattern(f"[{e}]"))]
    if not present:
        return "[#0:1]>>[#0:1]"  # no element of the list: matches nothing
    src = _choice(rng, tuple(present), tuple(_ELEMENT_P[i] for i in present))
    others = tuple(i for i in range(len(_ELEMENTS)) if i != src)
    dst = _choice(rng, others, tuple(_ELEMENT_P[i] for i in others))
    return f"[{_ELEMENTS[src]}:1]>>[{_ELEMENTS[dst]}:1]"


def _append_atom(mol: Any, rng: np.random.Generator) -> str:
    order = _choice(rng, (0, 1, 2), _ORDERS)
    if order == 0:
        return f"[*;!H0:1]>>[*:1]-{_pick(rng, ['C', 'N', 'O', 'F', 'S', 'Cl', 'Br'])}"
    if order == 1:
        return f"[*;!H0;!H1:1]>>[*:1]={_pick(rng, ['C', 'N', 'O'])}"
    return f"[*;H3:1]>>[*:1]#{_pick(rng, ['C', 'N'])}"


#: The seven mutations: (name, probability, ``build(mol, rng) -> reaction SMARTS``).
MUTATIONS: tuple[tuple[str, float, Callable[[Any, np.random.Generator], str]], ...] = (
    ("insert_atom", 0.15, _insert_atom), ("change_bond_order", 0.14, _change_bond_order),
    ("delete_ring_bond", 0.14, _delete_ring_bond), ("add_ring", 0.14, _add_ring),
    ("delete_atom", 0.14, _delete_atom), ("change_atom", 0.14, _change_atom), ("append_atom", 0.15, _append_atom))


def mutate(mol: Any, rng: np.random.Generator, *, size: tuple[float, float] = (SIZE_MEAN, SIZE_SD),
           only: str | None = None) -> Any | None:
    """One mutation of ``mol`` (drawn from :data:`MUTATIONS`, or the one named ``only``): a random product that
    passes :func:`size_ok` and :func:`ring_ok`; up to 10 tries, None if none gives one."""
    ops = [m for m in MUTATIONS if only is None or m[0] == only]
    if not ops:
        raise ValueError(f"mutate: unknown mutation {only!r}; known: {', '.join(m[0] for m in MUTATIONS)}")
    k = _kekule_copy(mol)
    p = tuple(m[1] for m in ops)
    for _ in range(_TRIES):
        _, _, build = _choice(rng, tuple(ops), p)
        products = [t[0] for t in _reaction(build(k, rng)).RunReactants((k,))]
        children = [m for m in products if size_ok(m, rng, *size) and ring_ok(m)]
        if children:
            return _pick(rng, children)
    return None
