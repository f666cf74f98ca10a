"""Building blocks of the GuacaMol goal-directed scores, on RDKit molecules.

Brown, Fiscato, Segler & Vaucher (2019), "GuacaMol: Benchmarking Models for de Novo Molecular Design",
J. Chem. Inf. Model. 59:1096, section 2.2 and its supplementary tables. Every score maps an RDKit ``Mol``
to [0, 1] and is a small picklable object (fingerprint generators are rebuilt lazily in each process):

* :class:`TanimotoScore`: Tanimoto similarity of two fingerprints, through a modifier. Fingerprints as in
  GuacaMol: ``ECFP4`` / ``ECFP6`` (Morgan radius 2 / 3, unfolded counts), ``FCFP4`` (Morgan radius 2 with
  feature invariants, counts), ``AP`` (atom pairs up to distance 10, counts), ``PHCO`` (Gobbi 2D
  pharmacophores, bits; computed by :mod:`oracles.pharmacophore`, ten times faster than RDKit's Python code).
* :class:`DescriptorScore`: an RDKit descriptor (logP, TPSA, Bertz, weight, rings, atom counts) through a
  modifier.
* :class:`IsomerScore`: closeness to a molecular formula: a Gaussian (sigma 1) on the count of each element
  and one (sigma 2) on the total atom count with hydrogens, combined by a geometric (or arithmetic) mean.
* :class:`SmartsScore`: 1 if a SMARTS pattern matches (0 with ``inverse``).
* :class:`MeanScore`: the (weighted) arithmetic or the geometric mean of several scores.

Modifiers (:class:`Clipped` and the desirabilities :class:`~oracles.molecule.Gaussian`,
:class:`~oracles.molecule.MinGaussian`, :class:`~oracles.molecule.MaxGaussian`) map a raw value into [0, 1].
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from oracles.molecule import Gaussian, MaxGaussian, MinGaussian

__all__ = [
    "FINGERPRINTS",
    "Clipped",
    "DescriptorScore",
    "Gaussian",
    "IsomerScore",
    "MaxGaussian",
    "MeanScore",
    "MinGaussian",
    "Score",
    "SmartsScore",
    "TanimotoScore",
    "descriptor",
    "fingerprint",
    "parse_formula",
]

FINGERPRINTS = ("ECFP4", "ECFP6", "FCFP4", "AP", "PHCO")
_PHCO_CACHE = 20_000


class Clipped:
    """Linear from ``(lower_x, 0)`` to ``(upper_x, 1)``, clipped to [0, 1] (GuacaMol's ClippedScoreModifier)."""

    def __init__(self, upper_x: float, lower_x: float = 0.0) -> None:
        if upper_x == lower_x:
            raise ValueError(f"Clipped: upper_x and lower_x must differ, got {upper_x!r}")
        self.upper_x, self.lower_x = float(upper_x), float(lower_x)

    def __call__(self, x: Any) -> Any:
        slope = 1.0 / (self.upper_x - self.lower_x)
        return np.clip(slope * (np.asarray(x, dtype=np.float64) - self.lower_x), 0.0, 1.0)

    def __repr__(self) -> str:
        return f"Clipped(upper_x={self.upper_x!r}, lower_x={self.lower_x!r})"


_GENERATORS: dict[str, Any] = {}


def _generator(kind: str) -> Any:
    gen = _GENERATORS.get(kind)
    if gen is None:
        from rdkit.Chem import rdFingerprintGenerator as g

        if kind in ("ECFP4", "ECFP6"):
            gen = g.GetMorganGenerator(radius=2 if kind == "ECFP4" else 3)
        elif kind == "FCFP4":
            gen = g.GetMorganGenerator(radius=2, atomInvariantsGenerator=g.GetMorganFeatureAtomInvGen())
        elif kind == "AP":
            gen = g.GetAtomPairGenerator(minDistance=1, maxDistance=10)
        else:  # pragma: no cover - guarded by fingerprint()
            raise ValueError(kind)
        _GENERATORS[kind] = gen
    return gen


@functools.lru_cache(maxsize=_PHCO_CACHE)
def _phco(smiles: str) -> Any:
    """Gobbi 2D pharmacophore fingerprint of a canonical SMILES (:func:`oracles.pharmacophore.gobbi_fingerprint`,
    RDKit's bits; memoised, so the two hop tasks scoring the same molecules compute it once)."""
    from rdkit import Chem

    from oracles.pharmacophore import gobbi_fingerprint

    return gobbi_fingerprint(Chem.MolFromSmiles(smiles))


def fingerprint(mol: Any, kind: str) -> Any:
    """GuacaMol's fingerprint ``kind`` (one of :data:`FINGERPRINTS`) of an RDKit molecule."""
    if kind not in FINGERPRINTS:
        raise ValueError(f"fingerprint: kind must be one of {FINGERPRINTS}, got {kind!r}")
    if kind == "PHCO":
        from rdkit import Chem

        return _phco(Chem.MolToSmiles(mol))
    return _generator(kind).GetSparseCountFingerprint(mol)


def _with_hs(mol: Any) -> Any:
    from rdkit import Chem

    return Chem.AddHs(mol)


def _count(element: str) -> Callable[[Any], float]:
    def count(mol: Any) -> float:
        m = _with_hs(mol) if element == "H" else mol
        return float(sum(1 for a in m.GetAtoms() if a.GetSymbol() == element))

    count.__name__ = f"count_{element}"
    return count


def descriptor(name: str) -> Callable[[Any], float]:
    """An RDKit descriptor by GuacaMol's name: ``logp``, ``tpsa``, ``bertz``, ``mol_weight``, ``h_donors``,
    ``rotatable_bonds``, ``rings``, ``aromatic_rings``, ``atoms`` (with hydrogens) or ``count_<Element>``."""
    from rdkit.Chem import Descriptors, rdMolDescriptors

    table: dict[str, Callable[[Any], float]] = {
        "logp": Descriptors.MolLogP, "tpsa": Descriptors.TPSA, "bertz": Descriptors.BertzCT,
        "mol_weight": Descriptors.MolWt, "h_donors": Descriptors.NumHDonors,
        "rotatable_bonds": Descriptors.NumRotatableBonds, "rings": rdMolDescriptors.CalcNumRings,
        "aromatic_rings": rdMolDescriptors.CalcNumAromaticRings, "atoms": lambda m: _with_hs(m).GetNumAtoms(),
    }
    if name.startswith("count_"):
        return _count(name[len("count_"):])
    if name not in table:
        raise ValueError(f"descriptor: unknown {name!r}; known: {sorted(table)} and count_<Element>")
    return table[name]


def parse_formula(formula: str) -> list[tuple[str, int]]:
    """``"C9H10N2O2PF2Cl"`` -> ``[("C", 9), ("H", 10), ("N", 2), ("O", 2), ("P", 1), ("F", 2), ("Cl", 1)]``."""
    parts = re.findall(r"([A-Z][a-z]*)(\d*)", formula)
    if not parts or "".join(e + n for e, n in parts) != formula:
        raise ValueError(f"parse_formula: cannot read the molecular formula {formula!r}")
    return [(e, int(n) if n else 1) for e, n in parts]


class Score:
    """A score of an RDKit molecule in [0, 1]; subclasses implement ``__call__(mol) -> float``."""

    def __call__(self, mol: Any) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


class TanimotoScore(Score):
    """``modifier(Tanimoto(fp(mol), fp(target)))`` for GuacaMol fingerprint ``fp_type``."""

    def __init__(self, target: str, fp_type: str, modifier: Callable[[Any], Any] | None = None) -> None:
        from rdkit import Chem

        if fp_type not in FINGERPRINTS:
            raise ValueError(f"TanimotoScore: fp_type must be one of {FINGERPRINTS}, got {fp_type!r}")
        self.target, self.fp_type, self.modifier = target, fp_type, modifier
        mol = Chem.MolFromSmiles(target)
        if mol is None:
            raise ValueError(f"TanimotoScore: target {target!r} is not a valid SMILES")
        self._target_fp = None

    def _target(self) -> Any:
        if self._target_fp is None:
            from rdkit import Chem

            self._target_fp = fingerprint(Chem.MolFromSmiles(self.target), self.fp_type)
        return self._target_fp

    def __call__(self, mol: Any) -> float:
        from rdkit import DataStructs

        sim = DataStructs.TanimotoSimilarity(fingerprint(mol, self.fp_type), self._target())
        return float(self.modifier(sim)) if self.modifier is not None else float(sim)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_target_fp": None}

    def __repr__(self) -> str:
        return f"TanimotoScore({self.target!r}, {self.fp_type!r}, {self.modifier!r})"


class DescriptorScore(Score):
    """``modifier(descriptor(mol))`` for a descriptor named as in :func:`descriptor`."""

    def __init__(self, name: str, modifier: Callable[[Any], Any] | None = None) -> None:
        descriptor(name)  # validates the name
        self.name, self.modifier = name, modifier

    def __call__(self, mol: Any) -> float:
        raw = float(descriptor(self.name)(mol))
        return float(self.modifier(raw)) if self.modifier is not None else raw

    def __repr__(self) -> str:
        return f"DescriptorScore({self.name!r}, {self.modifier!r})"


class MeanScore(Score):
    """The weighted arithmetic mean or the geometric mean of several scores."""

    def __init__(self, parts: Sequence[Score], *, kind: str = "geometric", weights: Sequence[float] | None = None):
        if kind not in ("arithmetic", "geometric"):
            raise ValueError(f"MeanScore: kind must be 'arithmetic' or 'geometric', got {kind!r}")
        if not parts:
            raise ValueError("MeanScore: needs at least one part")
        if weights is not None and (kind == "geometric" or len(weights) != len(parts)):
            raise ValueError("MeanScore: weights need kind='arithmetic' and one weight per part")
        self.parts, self.kind = list(parts), kind
        self.weights = None if weights is None else [float(w) for w in weights]

    def __call__(self, mol: Any) -> float:
        values = np.array([p(mol) for p in self.parts], dtype=np.float64)
        if self.kind == "geometric":
            return float(values.prod() ** (1.0 / len(values)))
        w = np.ones(len(values)) if self.weights is None else np.asarray(self.weights)
        return float((w * values).sum() / w.sum())

    def __repr__(self) -> str:
        return f"MeanScore({self.parts!r}, kind={self.kind!r})"


class IsomerScore(MeanScore):
    """Closeness to a molecular formula (GuacaMol's isomer score)."""

    def __init__(self, formula: str, *, kind: str = "geometric") -> None:
        counts = parse_formula(formula)
        total = sum(n for _, n in counts)
        parts: list[Score] = [DescriptorScore(f"count_{e}", Gaussian(n, 1.0)) for e, n in counts]
        parts.append(DescriptorScore("atoms", Gaussian(total, 2.0)))
        super().__init__(parts, kind=kind)
        self.formula = formula

    def __repr__(self) -> str:
        return f"IsomerScore({self.formula!r}, kind={self.kind!r})"


class SmartsScore(Score):
    """1.0 if the SMARTS matches the molecule, else 0.0 (reversed with ``inverse=True``)."""

    def __init__(self, smarts: str, *, inverse: bool = False) -> None:
        from rdkit import Chem

        if Chem.MolFromSmarts(smarts) is None:
            raise ValueError(f"SmartsScore: {smarts!r} is not a valid SMARTS")
        self.smarts, self.inverse = smarts, bool(inverse)
        self._pattern = None

    def __call__(self, mol: Any) -> float:
        if self._pattern is None:
            from rdkit import Chem

            self._pattern = Chem.MolFromSmarts(self.smarts)
        hit = mol.HasSubstructMatch(self._pattern)
        return float(hit != self.inverse)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_pattern": None}

    def __repr__(self) -> str:
        return f"SmartsScore({self.smarts!r}, inverse={self.inverse})"
