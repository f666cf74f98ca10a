"""DNA/RNA oracles: GC content, windowed GC, melting temperature, restriction sites and homopolymers.

* Melting temperature uses Biopython's :mod:`Bio.SeqUtils.MeltingTemp` (nearest-neighbour
  thermodynamics, SantaLucia & Hicks 2004 table ``DNA_NN3`` by default; Wallace rule; GC formula).
* Restriction sites are found with :mod:`Bio.Restriction` (REBASE enzyme definitions): recognition
  sequences on both strands.
* :class:`RestrictionSites` and :class:`Homopolymer` are meant as hard constraints: they declare
  ``default_bounds`` so ``Composite(..., constraints=[RestrictionSites(), Homopolymer(max_run=6)])``
  rejects a design with a forbidden site or a long run, with a reason that names it.

Every oracle here takes ``alphabet="dna"`` (default) or ``"rna"``; input is case-insensitive.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import numpy as np

from oracles.base import Oracle
from seqguide.alphabet import DNA, RNA, Alphabet, get_alphabet

__all__ = ["GCContent", "Homopolymer", "MeltingTemp", "RestrictionSites", "WindowGC"]


def _nucleic(alphabet: str | Alphabet) -> Alphabet:
    alpha = get_alphabet(alphabet)
    if alpha not in (DNA, RNA):
        raise ValueError(f"expected the 'dna' or 'rna' alphabet, got {alpha!r}")
    return alpha


def _gc_mask(xs: list[str]) -> list[np.ndarray]:
    """Per sequence, a bool array marking G/C positions (input already validated)."""
    out = []
    for s in xs:
        b = np.frombuffer(s.upper().encode("ascii"), dtype=np.uint8)
        out.append((b == ord("G")) | (b == ord("C")))
    return out


class GCContent(Oracle):
    """Fraction of G and C in the sequence, in [0, 1].

    Args:
        alphabet: ``"dna"`` or ``"rna"``.
        target: If given, score ``-|GC - target|`` instead (closer to the target is better; optimum 0).
    """

    def __init__(self, *, alphabet: str | Alphabet = "dna", target: float | None = None) -> None:
        self.alphabet = _nucleic(alphabet)
        if target is not None and not 0.0 <= target <= 1.0:
            raise ValueError(f"GCContent: target must be in [0, 1], got {target!r}")
        self.target = target
        self.name = "gc"
        self.maximize = True
        self.optimal_value = 1.0 if target is None else 0.0

    def _score(self, xs: list[str]) -> np.ndarray:
        gc = np.array([m.mean() for m in _gc_mask(xs)])
        return gc if self.target is None else -np.abs(gc - self.target)

    def _repr_params(self) -> dict[str, Any]:
        return {"alphabet": self.alphabet.name, "target": self.target}


_WINDOW_REDUCE = ("min", "max", "range", "std", "max_deviation")


class WindowGC(Oracle):
    """A statistic of the GC content in sliding windows (local GC balance).

    GC fractions are computed for every window of ``window`` bases (step 1; the whole sequence if it is
    shorter), then reduced with ``reduce``:

    * ``"min"`` / ``"max"``: the lowest / highest window GC (use as constraints, e.g. min >= 0.3);
    * ``"range"``: max - min (default; lower is more uniform);
    * ``"std"``: standard deviation over windows;
    * ``"max_deviation"``: the largest ``|GC - target|`` over windows.

    Args:
        window: Window length in bases (>= 1).
        reduce: The statistic above.
        target: Reference GC for ``"max_deviation"``.
        alphabet: ``"dna"`` or ``"rna"``.
    """

    def __init__(self, *, window: int = 50, reduce: str = "range", target: float = 0.5,
                 alphabet: str | Alphabet = "dna") -> None:
        if window < 1:
            raise ValueError(f"WindowGC: window must be >= 1, got {window!r}")
        if reduce not in _WINDOW_REDUCE:
            raise ValueError(f"WindowGC: reduce must be one of {_WINDOW_REDUCE}, got {reduce!r}")
        self.window = int(window)
        self.reduce = reduce
        self.target = float(target)
        self.alphabet = _nucleic(alphabet)
        self.name = "window_gc"
        self.maximize = reduce == "min"
        self.optimal_value = 0.0 if reduce in ("range", "std", "max_deviation") else None

    def window_gc(self, sequence: str) -> np.ndarray:
        """GC fraction of every window of ``sequence``, shape ``(max(1, len - window + 1),)``."""
        mask = _gc_mask([sequence])[0].astype(np.float64)
        w = min(self.window, len(mask))
        csum = np.concatenate([[0.0], np.cumsum(mask)])
        return (csum[w:] - csum[:-w]) / w

    def _score(self, xs: list[str]) -> np.ndarray:
        out = np.empty(len(xs))
        for i, s in enumerate(xs):
            g = self.window_gc(s)
            if self.reduce == "min":
                out[i] = g.min()
            elif self.reduce == "max":
                out[i] = g.max()
            elif self.reduce == "range":
                out[i] = g.max() - g.min()
            elif self.reduce == "std":
                out[i] = g.std()
            else:
                out[i] = np.abs(g - self.target).max()
        return out

    def _repr_params(self) -> dict[str, Any]:
        return {"window": self.window, "reduce": self.reduce, "target": self.target,
                "alphabet": self.alphabet.name}


_TM_METHODS = ("nn", "gc", "wallace")


class MeltingTemp(Oracle):
    """Melting temperature (degrees C) of the duplex formed by the sequence and its complement.

    Args:
        method: ``"nn"`` (nearest-neighbour, :func:`Bio.SeqUtils.MeltingTemp.Tm_NN`), ``"gc"``
            (:func:`~Bio.SeqUtils.MeltingTemp.Tm_GC`) or ``"wallace"`` (2(A+T) + 4(G+C)).
        na: Na+ concentration in mM.
        mg: Mg2+ concentration in mM.
        dnac1: Concentration of the strand in nM (``"nn"`` only).
        dnac2: Concentration of the complementary strand in nM (``"nn"`` only).
        alphabet: ``"dna"`` (DNA/DNA table ``DNA_NN3``) or ``"rna"`` (RNA/RNA table ``RNA_NN3``).
        target: If given, score ``-|Tm - target|`` instead.
    """

    def __init__(self, *, method: str = "nn", na: float = 50.0, mg: float = 0.0, dnac1: float = 25.0,
                 dnac2: float = 25.0, alphabet: str | Alphabet = "dna", target: float | None = None) -> None:
        if method not in _TM_METHODS:
            raise ValueError(f"MeltingTemp: method must be one of {_TM_METHODS}, got {method!r}")
        self.method = method
        self.na, self.mg, self.dnac1, self.dnac2 = float(na), float(mg), float(dnac1), float(dnac2)
        self.alphabet = _nucleic(alphabet)
        self.target = target
        self.name = "tm"
        self.maximize = True
        self.optimal_value = 0.0 if target is not None else None

    def validate(self, x: Any) -> str | None:
        err = super().validate(x)
        if err is None and self.method == "nn" and len(x) < 2:
            return "nearest-neighbour Tm needs at least 2 bases"
        return err

    def tm(self, sequence: str) -> float:
        """Melting temperature of one sequence in degrees C."""
        from Bio.SeqUtils import MeltingTemp as mt

        seq = sequence.upper()
        if self.method == "wallace":
            return float(mt.Tm_Wallace(seq))
        if self.method == "gc":
            return float(mt.Tm_GC(seq, Na=self.na, Mg=self.mg, mismatch=False))
        table = mt.RNA_NN3 if self.alphabet == RNA else mt.DNA_NN3
        return float(mt.Tm_NN(seq, nn_table=table, Na=self.na, Mg=self.mg, dnac1=self.dnac1, dnac2=self.dnac2))

    def _score(self, xs: list[str]) -> np.ndarray:
        tms = np.array([self.tm(s) for s in xs])
        return tms if self.target is None else -np.abs(tms - self.target)

    def _repr_params(self) -> dict[str, Any]:
        return {"method": self.method, "na": self.na, "mg": self.mg, "dnac1": self.dnac1,
                "dnac2": self.dnac2, "alphabet": self.alphabet.name, "target": self.target}


def _enzymes(names: Sequence[str]) -> list[Any]:
    from Bio import Restriction
    from Bio.Restriction.Restriction_Dictionary import rest_dict

    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not names:
        raise ValueError("RestrictionSites: give at least one enzyme name (e.g. 'EcoRI')")
    out = []
    for n in names:
        if n not in rest_dict:
            close = difflib.get_close_matches(n, list(rest_dict), n=3)
            hint = f"; did you mean {close}?" if close else ""
            raise ValueError(f"RestrictionSites: unknown enzyme {n!r} (not in REBASE via Bio.Restriction){hint}")
        out.append(getattr(Restriction, n))
    return out


class RestrictionSites(Oracle):
    """Number of recognition sites of the given enzymes, on both strands (0 = clean).

    A constraint oracle: ``default_bounds = (None, 0)``, so as a :class:`~oracles.wrappers.Constraint`
    it rejects any design with a site, naming the enzyme and position (:meth:`describe`).

    Args:
        enzymes: Enzyme names from REBASE as known to :mod:`Bio.Restriction` (e.g. ``["EcoRI", "BamHI",
            "BsaI"]``; a comma-separated string works too).
        alphabet: ``"dna"`` or ``"rna"`` (U is read as T).
    """

    default_bounds = (None, 0.0)

    def __init__(self, *, enzymes: Sequence[str] = ("EcoRI", "BamHI"),
                 alphabet: str | Alphabet = "dna") -> None:
        self._enzyme_objs = _enzymes(enzymes)
        self.enzymes = [str(e) for e in self._enzyme_objs]
        self.alphabet = _nucleic(alphabet)
        self.name = "restriction_sites"
        self.maximize = False
        self.optimal_value = 0.0

    def sites(self, sequence: str) -> dict[str, list[tuple[int, str]]]:
        """Recognition sites per enzyme: ``{enzyme: [(0-based start, "+" or "-"), ...]}``.

        Sites are matched on the recognition sequence itself (IUPAC codes expanded by Bio.Restriction's
        ``compsite`` pattern, both orientations), not on cut positions, so a site whose cut would fall
        outside the sequence still counts. A palindromic site is reported once, on ``"+"``.
        """
        seq = sequence.upper().replace("U", "T")
        found: dict[str, list[tuple[int, str]]] = {}
        for enzyme in self._enzyme_objs:
            hits = []
            for m in enzyme.compsite.finditer(seq):
                strand = "-" if any(k.endswith("_as") and v is not None for k, v in m.groupdict().items()) else "+"
                hits.append((m.start(), strand))
            if hits:
                found[str(enzyme)] = hits
        return found

    def describe(self, sequence: str) -> str:
        """Which sites a sequence contains, e.g. ``"EcoRI at 40(+); BsaI at 3(-)"``."""
        found = self.sites(sequence)
        if not found:
            return "no sites"
        return "; ".join(f"{e} at {', '.join(f'{p}({s})' for p, s in hits)}" for e, hits in found.items())

    def _score(self, xs: list[str]) -> np.ndarray:
        return np.array([sum(len(p) for p in self.sites(s).values()) for s in xs], dtype=np.float64)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_enzyme_objs")
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._enzyme_objs = _enzymes(self.enzymes)

    def _repr_params(self) -> dict[str, Any]:
        return {"enzymes": self.enzymes, "alphabet": self.alphabet.name}


def _longest_run(sequence: str) -> tuple[int, int, str]:
    """Length, start and base of the longest single-base run (first one on ties)."""
    b = np.frombuffer(sequence.upper().encode("ascii"), dtype=np.uint8)
    change = np.flatnonzero(np.diff(b) != 0) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [len(b)]]))
    k = int(np.argmax(lengths))
    return int(lengths[k]), int(starts[k]), chr(b[starts[k]])


class Homopolymer(Oracle):
    """Length of the longest homopolymer run (e.g. 6 for ``"...AAAAAA..."``).

    A constraint oracle: ``default_bounds = (None, max_run)``; :meth:`describe` names the run.

    Args:
        max_run: The longest run allowed when used as a constraint.
        alphabet: ``"dna"`` or ``"rna"``.
    """

    def __init__(self, *, max_run: int = 5, alphabet: str | Alphabet = "dna") -> None:
        if max_run < 1:
            raise ValueError(f"Homopolymer: max_run must be >= 1, got {max_run!r}")
        self.max_run = int(max_run)
        self.default_bounds = (None, float(self.max_run))
        self.alphabet = _nucleic(alphabet)
        self.name = "homopolymer"
        self.maximize = False
        self.optimal_value = 1.0

    def describe(self, sequence: str) -> str:
        n, start, base = _longest_run(sequence)
        return f"run of {n} x {base} at position {start}"

    def _score(self, xs: list[str]) -> np.ndarray:
        return np.array([_longest_run(s)[0] for s in xs], dtype=np.float64)

    def _repr_params(self) -> dict[str, Any]:
        return {"max_run": self.max_run, "alphabet": self.alphabet.name}
