"""A DNA enhancer grammar: JASPAR sites at fixed spacings and orientations, no repressor site, a GC window.

Enhancers work through the arrangement of their transcription-factor sites as well as through which sites they
hold: the spacing and orientation of composite elements matter (the "enhanceosome" / grammar view, e.g.
Panne 2008, Curr. Opin. Struct. Biol. 18:236; the ordered sites of synthetic enhancers, Smith et al. 2013, Nat.
Genet. 45:1021), a repressor's site can silence them, and their GC content is bounded. :class:`EnhancerGrammar`
scores a DNA sequence ``x`` as

``f(x) = G(x) * R(x) * C(x)``, in [0, 1], with optimum 1.0 when every constraint holds:

* ``G``, the grammar: sites ``1..K`` (JASPAR profiles, :mod:`oracles.jaspar`) on given strands, site ``i + 1``
  starting ``gap_{i+1}`` bases after site ``i`` ends; the first site may start anywhere. At an anchor ``p`` site
  ``i`` sits at ``p + o_i`` (``o_1 = 0``, ``o_{i+1} = o_i + W_i + gap_{i+1}``) and its credit is its normalised
  PSSM score ``s`` (0 at the PSSM's attainable minimum, 1 at its maximum) mapped by
  ``h(s) = clip((s - floor) / (threshold - floor), 0, 1)``, rounded down to a multiple of ``1 / quantization``
  (Ehrlich's quantisation, Stanton et al. 2024, arXiv 2407.00236, eq. 2). ``G = max_p prod_i h(s_i(p + o_i))``.
* ``R``, the repressor: 0 when the repressor's profile scores at least ``repressor_threshold`` (normalised)
  anywhere on either strand, else 1.
* ``C``, the GC window: 1 when the GC fraction lies in ``[gc_low, gc_high]``, falling linearly to 0 at
  ``gc_tolerance`` outside it.

The whole batch is scanned by one conv1d (:class:`~oracles.jaspar.PWMScanner`: the K site profiles and the
repressor, both strands). :meth:`EnhancerGrammar.library` draws sequences with every site planted at a random
place and strand (a library of the right sites in random arrangements, the repressor's site in some of them),
the training data of a generative model and the starting population of a GA.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from oracles.base import Oracle, OracleResult
from oracles.jaspar import DEFAULT_RELEASE, PWMScanner, encode_dna, load_motifs, pssm_from_counts
from seqguide.alphabet import DNA

__all__ = ["EnhancerGrammar", "Site", "parse_site"]

_COMPLEMENT = np.array([3, 2, 1, 0])  # A C G T -> T G C A (base indices)
# MOTIF[:STRAND[:GAP]]; MOTIF may itself hold "::" (JASPAR dimers such as FOS::JUN).
_SITE_SPEC = re.compile(r"^(?P<motif>.+?)(?::(?P<strand>[+-]))?(?::(?P<gap>-?\d+))?$")


@dataclass(frozen=True)
class Site:
    """One site of the grammar: a JASPAR profile, its strand and the bases between the previous site's end and
    its start (ignored for the first site)."""

    motif: str
    strand: str = "+"
    gap: int = 0


def parse_site(spec: str | Mapping[str, Any] | Site, index: int) -> Site:
    """A :class:`Site` from ``"MOTIF:STRAND:GAP"`` (``"MA0113.4:+:0"``; strand and gap optional), a mapping with
    keys ``motif``, ``strand``, ``gap``, or a Site. Raises ValueError naming the site index and what is wrong."""
    if isinstance(spec, Site):
        site = spec
    elif isinstance(spec, str):
        m = _SITE_SPEC.match(spec.strip())
        if m is None or re.search(r":[+-](:|$)", m["motif"]) or not m["motif"].strip(":"):
            raise ValueError(f"site {index}: {spec!r} is not 'MOTIF[:STRAND[:GAP]]' (STRAND + or -, GAP an integer)")
        site = Site(m["motif"], m["strand"] or "+", int(m["gap"] or 0))
    elif isinstance(spec, Mapping):
        unknown = sorted(set(spec) - {"motif", "strand", "gap"})
        if unknown or "motif" not in spec:
            raise ValueError(f"site {index}: needs key 'motif' (and optionally 'strand', 'gap'), got keys "
                             f"{sorted(spec)}")
        gap = spec.get("gap", 0)
        if isinstance(gap, bool) or not isinstance(gap, int):
            raise ValueError(f"site {index}: gap {gap!r} is not an integer")
        site = Site(str(spec["motif"]), str(spec.get("strand", "+")), gap)
    else:
        raise ValueError(f"site {index}: expected 'MOTIF:STRAND:GAP' or a mapping, got {type(spec).__name__}")
    if site.strand not in ("+", "-"):
        raise ValueError(f"site {index}: strand must be '+' or '-', got {site.strand!r}")
    if site.gap < 0:
        raise ValueError(f"site {index}: gap must be >= 0, got {site.gap}")
    return site


class EnhancerGrammar(Oracle):
    """Enhancer grammar score in [0, 1] (see the module docstring); 1.0 when every constraint holds.

    Args:
        sites: The sites in order, each ``"MOTIF:STRAND:GAP"`` or ``{"motif", "strand", "gap"}`` (MOTIF: a JASPAR
            matrix ID or TF name).
        repressor: A JASPAR profile whose site silences the enhancer, or None.
        threshold: Normalised PSSM score at which a site gets full credit.
        floor: Normalised score at and below which a site gets none.
        quantization: Credit levels per site (None: unquantised).
        repressor_threshold: Normalised score at which the repressor's site counts as present.
        gc_low, gc_high: The GC window.
        gc_tolerance: How far outside the window the GC factor reaches 0.
        length: If given, the only sequence length that can be scored.
        release: The JASPAR release.
        device: Where the scan runs.
        batch_size: Sequences per conv call.
    """

    def __init__(self, *, sites: Sequence[str | Mapping[str, Any] | Site] = ("MA0113.4:+:0",),
                 repressor: str | None = None, threshold: float = 0.9, floor: float = 0.6,
                 quantization: int | None = 4, repressor_threshold: float = 0.85, gc_low: float = 0.0,
                 gc_high: float = 1.0, gc_tolerance: float = 0.1, length: int | None = None,
                 release: str = DEFAULT_RELEASE, device: str | torch.device = "cpu", batch_size: int = 4096) -> None:
        if isinstance(sites, (str, Mapping)):
            sites = [sites]
        self.sites = [parse_site(s, i) for i, s in enumerate(sites)]
        if not self.sites:
            raise ValueError("EnhancerGrammar: give at least one site")
        if not 0.0 <= floor < threshold <= 1.0:
            raise ValueError(f"EnhancerGrammar: need 0 <= floor < threshold <= 1, got floor={floor}, "
                             f"threshold={threshold}")
        if quantization is not None and (isinstance(quantization, bool) or int(quantization) < 1):
            raise ValueError(f"EnhancerGrammar: quantization must be a positive integer or None, got {quantization!r}")
        if not 0.0 <= gc_low <= gc_high <= 1.0:
            raise ValueError(f"EnhancerGrammar: need 0 <= gc_low <= gc_high <= 1, got {gc_low}, {gc_high}")
        if gc_tolerance <= 0:
            raise ValueError(f"EnhancerGrammar: gc_tolerance must be > 0, got {gc_tolerance}")
        if not 0.0 < repressor_threshold <= 1.0:
            raise ValueError(f"EnhancerGrammar: repressor_threshold must be in (0, 1], got {repressor_threshold}")
        specs = [s.motif for s in self.sites] + ([repressor] if repressor else [])
        motifs = load_motifs(specs, release)
        self.motif_ids = [str(m.matrix_id) for m in motifs]
        self.pssms = [pssm_from_counts(m) for m in motifs]
        self.frequencies = [self._frequencies(m) for m in motifs]
        self.widths = [p.shape[1] for p in self.pssms]
        self.offsets = [0]
        for i in range(1, len(self.sites)):
            self.offsets.append(self.offsets[-1] + self.widths[i - 1] + self.sites[i].gap)
        self.span = self.offsets[-1] + self.widths[len(self.sites) - 1]
        if length is not None and int(length) < self.span:
            raise ValueError(f"EnhancerGrammar: length {length} is shorter than the grammar's span {self.span}")
        self.scanner = PWMScanner(self.pssms).to(device)
        self.repressor = repressor
        self.threshold, self.floor = float(threshold), float(floor)
        self.quantization = None if quantization is None else int(quantization)
        self.repressor_threshold = float(repressor_threshold)
        self.gc_low, self.gc_high, self.gc_tolerance = float(gc_low), float(gc_high), float(gc_tolerance)
        self.length = None if length is None else int(length)
        self.release = release
        self.batch_size = int(batch_size)
        self.alphabet = DNA
        self.name = "enhancer"
        self.maximize = True
        self.optimal_value = 1.0

    @staticmethod
    def _frequencies(motif: Any) -> np.ndarray:
        counts = np.array([motif.counts[b] for b in "ACGT"], dtype=np.float64) + 1e-9
        return counts / counts.sum(axis=0, keepdims=True)

    def validate(self, x: Any) -> str | None:
        err = super().validate(x)
        if err is not None:
            return err
        n = len(x)
        if self.length is not None and n != self.length:
            return f"sequence of length {n}; this enhancer task scores length {self.length} only"
        if n < self.span:
            return f"sequence of length {n} is shorter than the grammar's span {self.span}"
        return None

    # ------------------------------------------------------------------------------------ scoring
    def terms(self, xs: Sequence[str]) -> dict[str, np.ndarray]:
        """The factors of ``f`` per sequence: ``grammar`` (G), ``repressor`` (R), ``gc`` (C), and ``sites``, the
        unquantised normalised score of each site at the best anchor, ``(N, K)``, and ``repressor_score``."""
        parts: dict[str, list[np.ndarray]] = {"grammar": [], "repressor": [], "gc": [], "sites": [],
                                              "repressor_score": []}
        with torch.no_grad():
            for start in range(0, len(xs), self.batch_size):
                for k, v in self._terms(list(xs[start: start + self.batch_size])).items():
                    parts[k].append(v)
        return {k: np.concatenate(v) for k, v in parts.items()}

    def _terms(self, xs: list[str]) -> dict[str, np.ndarray]:
        sc = self.scanner
        ids, lengths = encode_dna(xs, device=sc.weight.device)
        raw = sc.position_scores(ids, lengths)  # (B, 2M, L), -inf where a window runs past the end
        M = sc.num_motifs
        lo, hi = torch.cat([sc.min_score, sc.min_score]), torch.cat([sc.max_score, sc.max_score])
        norm = (raw - lo.view(1, -1, 1)) / (hi - lo).view(1, -1, 1)  # -inf stays -inf
        B, L = ids.shape
        anchors = L - self.span + 1
        credit = torch.ones(B, max(anchors, 0), dtype=norm.dtype, device=norm.device)
        per_site = []
        for i, site in enumerate(self.sites):
            channel = i if site.strand == "+" else M + i
            s = norm[:, channel, self.offsets[i]: self.offsets[i] + anchors]
            per_site.append(s)
            h = ((s - self.floor) / (self.threshold - self.floor)).clamp(0.0, 1.0).nan_to_num(0.0)
            if self.quantization is not None:
                h = torch.floor(h * self.quantization + 1e-6) / self.quantization
            credit = credit * h
        grammar, best = credit.max(dim=1) if anchors > 0 else (torch.zeros(B), torch.zeros(B, dtype=torch.long))
        sites = torch.stack([s.gather(1, best.view(-1, 1))[:, 0] for s in per_site], dim=1)
        if self.repressor:
            r = len(self.sites)
            rep = torch.maximum(norm[:, r].amax(dim=1), norm[:, M + r].amax(dim=1))
            rep_ok = (rep < self.repressor_threshold).to(norm.dtype)
        else:
            rep = torch.full((B,), float("nan"))
            rep_ok = torch.ones(B, dtype=norm.dtype)
        gc_frac = ((ids == 1) | (ids == 2)).sum(dim=1).to(torch.float64) / lengths.to(torch.float64)
        outside = torch.clamp(self.gc_low - gc_frac, min=0.0) + torch.clamp(gc_frac - self.gc_high, min=0.0)
        gc = torch.clamp(1.0 - outside / self.gc_tolerance, min=0.0)
        return {"grammar": grammar.double().cpu().numpy(), "repressor": rep_ok.double().cpu().numpy(),
                "gc": gc.cpu().numpy(), "sites": sites.double().cpu().numpy(),
                "repressor_score": rep.double().cpu().numpy()}

    def _score(self, xs: list[str]) -> OracleResult:
        t = self.terms(xs)
        values = t["grammar"] * t["repressor"] * t["gc"]
        return OracleResult(values, np.ones(len(xs), dtype=bool))

    # ------------------------------------------------------------------------------------ library
    def library(self, n: int, *, length: int | None = None, seed: int = 0, repressor_fraction: float = 0.3,
                gc_range: tuple[float, float] = (0.3, 0.7)) -> list[str]:
        """``n`` sequences of ``length`` (default: the task's) with every site planted once at a random place
        and strand, in random order, and the repressor's site in ``repressor_fraction`` of them.

        Background bases are i.i.d. with a GC fraction drawn per sequence from ``gc_range``; each planted site is
        drawn from its profile's base frequencies (so sites vary as real instances do). Sites may overlap (a later
        one overwrites). Deterministic in ``seed``.
        """
        L = self.length if length is None else int(length)
        if L is None:
            raise ValueError("EnhancerGrammar.library: give a length (the oracle has none)")
        if L < max(self.widths):
            raise ValueError(f"EnhancerGrammar.library: length {L} is shorter than a site ({max(self.widths)})")
        rng = np.random.default_rng(seed)
        gc = rng.uniform(*gc_range, size=(n, 1))
        probs = np.concatenate([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2], axis=1)  # A C G T
        seqs = (rng.random((n, L, 1)) > np.cumsum(probs, axis=1)[:, None, :]).sum(axis=2)
        planted = list(range(len(self.sites)))
        for row in range(n):
            motifs = list(rng.permutation(planted))
            if self.repressor and rng.random() < repressor_fraction:
                motifs.append(len(self.sites))
            for m in motifs:
                freq = self.frequencies[m]
                w = freq.shape[1]
                site = (rng.random((w, 1)) > np.cumsum(freq.T, axis=1)).sum(axis=1).clip(max=3)
                if rng.random() < 0.5:
                    site = _COMPLEMENT[site[::-1]]
                start = int(rng.integers(0, L - w + 1))
                seqs[row, start: start + w] = site
        return ["".join("ACGT"[b] for b in row) for row in seqs]

    def consensus(self, background: str | None = None) -> str:
        """The sites' consensus (each profile's best base per column) at the grammar's spacings and strands, in
        ``background`` (a string of at least the span's length, default ``A``s; the sites overwrite it from
        position 0). A check of the optimum: with a background that keeps GC in the window and no repressor site,
        it scores 1.0."""
        L = self.length or self.span
        bg = list(background if background is not None else "A" * L)
        if len(bg) < self.span:
            raise ValueError(f"background of length {len(bg)} is shorter than the grammar's span {self.span}")
        for i, site in enumerate(self.sites):
            best = self.pssms[i].argmax(axis=0)
            if site.strand == "-":
                best = _COMPLEMENT[best[::-1]]
            bg[self.offsets[i]: self.offsets[i] + len(best)] = ["ACGT"[b] for b in best]
        return "".join(bg)

    def _repr_params(self) -> dict[str, Any]:
        return {"sites": [f"{s.motif}:{s.strand}:{s.gap}" for s in self.sites], "repressor": self.repressor,
                "threshold": self.threshold, "floor": self.floor, "quantization": self.quantization,
                "repressor_threshold": self.repressor_threshold, "gc_low": self.gc_low, "gc_high": self.gc_high,
                "gc_tolerance": self.gc_tolerance, "length": self.length, "release": self.release}
