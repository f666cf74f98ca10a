"""Peptide / protein oracles: ProtParam properties and the helical hydrophobic moment.

* :class:`ProtParam` wraps Biopython's :class:`Bio.SeqUtils.ProtParam.ProteinAnalysis`: net charge at a
  pH, isoelectric point, GRAVY (Kyte & Doolittle 1982), instability index (Guruprasad et al. 1990),
  aromaticity (Lobry & Gautier 1994), molecular weight.
* :class:`HydrophobicMoment` is the mean hydrophobic moment of Eisenberg, Weiss & Terwilliger (1982,
  Nature 299:371), ``|sum_n h_n exp(i n delta)| / N`` with ``delta = 100`` degrees for an alpha helix and
  the normalised consensus hydrophobicity scale of Eisenberg et al. (1984, J. Mol. Biol. 179:125).

Inputs are strings over the 20 standard amino acids (:data:`seqguide.alphabet.PROTEIN`, any case).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from oracles.base import Oracle
from seqguide.alphabet import PROTEIN

__all__ = ["EISENBERG_CONSENSUS", "PROTPARAM_PROPERTIES", "HydrophobicMoment", "ProtParam", "hydrophobic_moment"]

#: Normalised consensus hydrophobicity (Eisenberg, Schwarz, Komaromy & Wall 1984, Table 3).
EISENBERG_CONSENSUS: dict[str, float] = {
    "A": 0.62, "R": -2.53, "N": -0.78, "D": -0.90, "C": 0.29, "Q": -0.85, "E": -0.74, "G": 0.48,
    "H": -0.40, "I": 1.38, "L": 1.06, "K": -1.50, "M": 0.64, "F": 1.19, "P": 0.12, "S": -0.18,
    "T": -0.05, "W": 0.81, "Y": 0.26, "V": 1.08,
}

#: Property name -> (description, maximize by default).
PROTPARAM_PROPERTIES: dict[str, tuple[str, bool]] = {
    "charge": ("net charge at the given pH", True),
    "pi": ("isoelectric point", True),
    "gravy": ("grand average of hydropathy (Kyte-Doolittle)", True),
    "instability": ("instability index (> 40: probably unstable)", False),
    "aromaticity": ("relative frequency of F + W + Y", True),
    "molecular_weight": ("molecular weight in Da", True),
}


def _analysis(seq: str) -> Any:
    from Bio.SeqUtils.ProtParam import ProteinAnalysis

    return ProteinAnalysis(seq.upper())


def protparam_value(seq: str, prop: str, ph: float = 7.0) -> float:
    """One ProtParam property of one sequence (see :data:`PROTPARAM_PROPERTIES`)."""
    pa = _analysis(seq)
    if prop == "charge":
        return float(pa.charge_at_pH(ph))
    if prop == "pi":
        return float(pa.isoelectric_point())
    if prop == "gravy":
        return float(pa.gravy())
    if prop == "instability":
        return float(pa.instability_index())
    if prop == "aromaticity":
        return float(pa.aromaticity())
    if prop == "molecular_weight":
        return float(pa.molecular_weight())
    raise ValueError(f"unknown ProtParam property {prop!r}; use one of {sorted(PROTPARAM_PROPERTIES)}")


class ProtParam(Oracle):
    """Biopython ProtParam properties of peptides.

    Args:
        properties: One property name (values ``(N,)``) or a list (values ``(N, K)``, in that order):
            ``"charge"``, ``"pi"``, ``"gravy"``, ``"instability"``, ``"aromaticity"``,
            ``"molecular_weight"``.
        ph: pH for ``"charge"``.
        maximize: Direction; default from the (first) property (all but instability: larger is better).
    """

    def __init__(self, *, properties: str | Sequence[str] = "charge", ph: float = 7.0,
                 maximize: bool | None = None) -> None:
        props = [p.strip() for p in properties.split(",")] if isinstance(properties, str) else list(properties)
        unknown = [p for p in props if p not in PROTPARAM_PROPERTIES]
        if not props or unknown:
            raise ValueError(f"ProtParam: unknown properties {unknown or props!r}; use some of "
                             f"{sorted(PROTPARAM_PROPERTIES)}")
        self.properties = props
        self.ph = float(ph)
        self.alphabet = PROTEIN
        self.name = "protparam"
        self.maximize = PROTPARAM_PROPERTIES[props[0]][1] if maximize is None else bool(maximize)
        self.n_objectives = len(props)

    def _score(self, xs: list[str]) -> np.ndarray:
        vals = np.array([[protparam_value(s, p, self.ph) for p in self.properties] for s in xs])
        return vals[:, 0] if self.n_objectives == 1 else vals

    def _repr_params(self) -> dict[str, Any]:
        return {"properties": self.properties, "ph": self.ph}


def hydrophobic_moment(seq: str, *, angle: float = 100.0, window: int | None = None,
                       scale: Mapping[str, float] = EISENBERG_CONSENSUS) -> float:
    """Mean hydrophobic moment ``|sum_n h_n e^{i n angle}| / N`` of ``seq``.

    With ``window``, the maximum over all windows of that length (the whole sequence if shorter).
    """
    h = np.array([scale[c] for c in seq.upper()], dtype=np.float64)
    w = len(h) if window is None else min(int(window), len(h))
    phase = np.exp(1j * np.deg2rad(angle) * np.arange(len(h)))
    terms = h * phase
    csum = np.concatenate([[0.0], np.cumsum(terms)])
    # The phase offset of a window start does not change |sum|, so window sums come from one cumsum.
    moments = np.abs(csum[w:] - csum[:-w]) / w
    return float(moments.max())


class HydrophobicMoment(Oracle):
    """Amphipathicity of a peptide as an ideal helix: the Eisenberg mean hydrophobic moment.

    Args:
        angle: Rotation per residue in degrees (100 for an alpha helix, 160-180 for a beta strand).
        window: If given, the maximum moment over windows of this length (e.g. 11); else whole sequence.
        scale: Hydrophobicity per amino acid (default :data:`EISENBERG_CONSENSUS`).
    """

    def __init__(self, *, angle: float = 100.0, window: int | None = None,
                 scale: Mapping[str, float] | None = None) -> None:
        self.angle = float(angle)
        if window is not None and window < 1:
            raise ValueError(f"HydrophobicMoment: window must be >= 1, got {window!r}")
        self.window = window
        self.scale = dict(EISENBERG_CONSENSUS if scale is None else scale)
        missing = [a for a in PROTEIN.tokens if a not in self.scale]
        if missing:
            raise ValueError(f"HydrophobicMoment: scale lacks amino acids {missing}")
        self.alphabet = PROTEIN
        self.name = "hydrophobic_moment"
        self.maximize = True

    def _score(self, xs: list[str]) -> np.ndarray:
        return np.array([hydrophobic_moment(s, angle=self.angle, window=self.window, scale=self.scale)
                         for s in xs])

    def _repr_params(self) -> dict[str, Any]:
        return {"angle": self.angle, "window": self.window}
