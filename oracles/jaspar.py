"""Transcription-factor motif scores from JASPAR position frequency matrices, scanned with one conv1d.

Profiles come from the JASPAR SQLite releases shipped in ``pyjaspar`` (Rauluseviciute et al. 2024,
"JASPAR 2024", Nucleic Acids Res. 52:D174). Each count matrix becomes a log-odds position-specific
scoring matrix (PSSM) exactly as Biopython builds it
(``motif.counts.normalize(pseudocounts).log_odds(background)``, log base 2), with JASPAR's default
pseudocount ``sqrt(N) * background`` (Nishida et al. 2009) unless another is given.

:class:`PWMScanner` scores a whole batch of sequences against K PSSMs *and* their reverse complements as
a single ``torch.nn.functional.conv1d`` over the one-hot batch (2K output channels), masks the windows
that run past each sequence's end, and keeps the best score over positions and strands. It is
device-agnostic (``.to("cuda")``) and agrees with ``Bio.motifs`` ``pssm.calculate`` to float32 precision
(see ``tests/oracles/test_jaspar.py`` and ``benchmarks/oracle_speed.py``).
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from oracles.base import Oracle, OracleResult
from seqguide.alphabet import DNA

__all__ = [
    "DEFAULT_RELEASE",
    "JasparMotif",
    "PWMScanner",
    "encode_dna",
    "load_motifs",
    "pssm_from_counts",
]

DEFAULT_RELEASE = "JASPAR2024"
_BASES = "ACGT"
_ID_PATTERN = re.compile(r"^[A-Z]{2}\d{4}(\.\d+)?$")

# Byte -> base index (A C G T = 0..3, either case; U read as T); 255 marks anything else.
_LUT = np.full(256, 255, dtype=np.uint8)
for _i, _b in enumerate(_BASES):
    _LUT[ord(_b)] = _LUT[ord(_b.lower())] = _i
_LUT[ord("U")] = _LUT[ord("u")] = 3


def encode_dna(sequences: Sequence[str], *, device: torch.device | str | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode DNA strings to base indices quickly (a byte lookup table, no Python loop over bases).

    Args:
        sequences: N strings over ACGT (any case; U is read as T).
        device: Device of the returned tensors.

    Returns:
        ``ids``: ``(N, L)`` int64, 0..3 for A/C/G/T and 4 for padding past a sequence's end
        (L = longest sequence); ``lengths``: ``(N,)`` int64.

    Raises:
        ValueError: naming the sequence index, the position and the character that is not a base.
    """
    n = len(sequences)
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=n)
    L = int(lengths.max()) if n else 0
    # One bytes buffer for the whole batch: non-ASCII characters become one '?' byte each, so byte
    # offsets equal character offsets and a bad character is reported at its true position.
    codes = _LUT[np.frombuffer("".join(sequences).encode("ascii", errors="replace"), dtype=np.uint8)]
    bad = np.flatnonzero(codes == 255)
    if len(bad):
        ends = np.cumsum(lengths)
        i = int(np.searchsorted(ends, bad[0], side="right"))
        pos = int(bad[0] - (ends[i] - lengths[i]))
        raise ValueError(f"sequence {i}, position {pos}: {sequences[i][pos]!r} is not a DNA base (ACGT)")
    if n and (lengths == L).all():
        ids = codes.reshape(n, L)
    else:
        ids = np.full((n, L), 4, dtype=np.uint8)
        rows = np.repeat(np.arange(n), lengths)
        cols = np.arange(len(codes)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        ids[rows, cols] = codes
    return (torch.from_numpy(ids.astype(np.int64)).to(device),
            torch.from_numpy(lengths).to(device))


@functools.lru_cache(maxsize=8)
def _db(release: str) -> Any:
    from pyjaspar import jaspar_releases, jaspardb

    if release not in jaspar_releases:
        raise ValueError(f"unknown JASPAR release {release!r}; pyjaspar ships {sorted(jaspar_releases)}")
    return jaspardb(release=release)


@functools.lru_cache(maxsize=256)
def _fetch(release: str, spec: str) -> Any:
    """One motif by matrix ID (``MA0139.1``; no version = latest) or by TF name (case-insensitive)."""
    db = _db(release)
    if _ID_PATTERN.match(spec.upper()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            motif = db.fetch_motif_by_id(spec.upper())
        if motif is None:
            raise ValueError(f"JASPAR matrix ID {spec!r} is not in {release}")
        return motif
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyjaspar warns on zero hits; we raise a clearer error below
        found = [m for m in db.fetch_motifs_by_name(spec) if str(m.name).upper() == spec.upper()]
    if not found:
        raise ValueError(f"no JASPAR profile named {spec!r} in {release} (give a TF name such as 'CTCF' "
                         "or a matrix ID such as 'MA0139.1')")

    def rank(m: Any) -> tuple[int, int, str]:
        # CORE before unvalidated, vertebrates first, then the lowest base ID (the oldest, reference profile).
        return (m.collection != "CORE", m.tax_group != "vertebrates", m.base_id)

    return sorted(found, key=rank)[0]


def load_motifs(motifs: str | Sequence[str], release: str = DEFAULT_RELEASE) -> list[Any]:
    """Fetch JASPAR profiles as ``Bio.motifs.jaspar.Motif`` objects.

    Args:
        motifs: Matrix IDs (``"MA0139.1"``; ``"MA0139"`` = latest version) or TF names (``"CTCF"``: the
            CORE, vertebrate profile with the lowest base ID among those named so), as a list or a
            comma-separated string. Names are JASPAR's own and can surprise: JASPAR (CORE) has no bacterial
            matrices, and ``"crp"`` is Drosophila's bHLH factor cropped (MA2303.1), not E. coli CRP; check
            the matrix's species before designing against it.
        release: A release shipped with pyjaspar (``"JASPAR2024"``, ``"JASPAR2022"``, ...).

    Raises:
        ValueError: for an unknown release, ID or name (naming it).
    """
    specs = [m.strip() for m in motifs.split(",")] if isinstance(motifs, str) else [str(m) for m in motifs]
    specs = [s for s in specs if s]
    if not specs:
        raise ValueError("give at least one JASPAR motif (matrix ID or TF name)")
    return [_fetch(release, s) for s in specs]


def pssm_from_counts(motif: Any, *, pseudocount: float | None = None,
                     background: Sequence[float] | None = None) -> np.ndarray:
    """Log-odds PSSM (log2) of a ``Bio.motifs`` motif, rows A, C, G, T: shape ``(4, W)`` float64.

    Args:
        motif: A ``Bio.motifs.Motif`` (e.g. from :func:`load_motifs`).
        pseudocount: Added to each count (per base); None uses JASPAR's ``sqrt(N) * background``
            (``Bio.motifs.jaspar.calculate_pseudocounts``).
        background: Base frequencies A, C, G, T (default uniform).
    """
    bg = dict(zip(_BASES, background)) if background is not None else dict.fromkeys(_BASES, 0.25)
    if background is not None and (len(background) != 4 or abs(sum(background) - 1.0) > 1e-6):
        raise ValueError(f"background must be 4 frequencies (A, C, G, T) summing to 1, got {background!r}")
    pseudo: Any
    if pseudocount is None:
        # JASPAR / Bio.motifs.jaspar.calculate_pseudocounts: sqrt(mean column total) * background.
        counts = np.array([motif.counts[b] for b in _BASES], dtype=np.float64)
        root_n = float(np.sqrt(counts.sum(axis=0).mean()))
        pseudo = {b: bg[b] * root_n for b in _BASES}
    else:
        pseudo = float(pseudocount)
    pssm = motif.counts.normalize(pseudocounts=pseudo).log_odds(bg)
    return np.array([pssm[b] for b in _BASES], dtype=np.float64)


class PWMScanner(torch.nn.Module):
    """Best log-odds score of K PSSMs over all positions and both strands, for a batch, in one conv1d.

    The conv weight has ``2K`` output channels: the K PSSMs and their reverse complements
    (``rc[b, j] = pssm[3 - b, W - 1 - j]`` for rows A, C, G, T), right-padded with zero columns to the
    widest motif. A window at position ``p`` is used for motif ``k`` only if it fits inside the sequence
    (``p <= len - W_k``), so padded batches of unequal lengths give the same scores as one-by-one scans.

    Args:
        pssms: K arrays of shape ``(4, W_k)``, rows A, C, G, T (e.g. from :func:`pssm_from_counts`).
        dtype: Computation dtype (float32 is exact to ~1e-5 for JASPAR-sized motifs).
    """

    def __init__(self, pssms: Sequence[np.ndarray | torch.Tensor], *, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if len(pssms) == 0:
            raise ValueError("PWMScanner needs at least one PSSM")
        mats = [torch.as_tensor(np.asarray(p), dtype=torch.float64) for p in pssms]
        for k, m in enumerate(mats):
            if m.ndim != 2 or m.shape[0] != 4 or m.shape[1] < 1:
                raise ValueError(f"PSSM {k} must have shape (4, W), got {tuple(m.shape)}")
            if not torch.isfinite(m).all():
                raise ValueError(f"PSSM {k} has non-finite entries: build it with a pseudocount > 0")
        widths = torch.tensor([m.shape[1] for m in mats], dtype=torch.long)
        w_max = int(widths.max())
        weight = torch.zeros(2 * len(mats), 4, w_max, dtype=torch.float64)
        for k, m in enumerate(mats):
            weight[k, :, : m.shape[1]] = m
            weight[len(mats) + k, :, : m.shape[1]] = m.flip(0).flip(1)
        self.register_buffer("weight", weight.to(dtype))
        self.register_buffer("widths", torch.cat([widths, widths]))
        self.register_buffer("min_score", torch.stack([m.min(0).values.sum() for m in mats]).to(dtype))
        self.register_buffer("max_score", torch.stack([m.max(0).values.sum() for m in mats]).to(dtype))

    @property
    def num_motifs(self) -> int:
        return self.weight.shape[0] // 2

    def position_scores(self, ids: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Scores of every window: ``(B, 2K, L)``; channels ``k < K`` forward, ``K + k`` reverse strand.

        Windows that do not fit inside a sequence are ``-inf``.

        Args:
            ids: ``(B, L)`` int64 base indices (0..3; 4 or more = padding, scored as no base).
            lengths: ``(B,)`` sequence lengths; default: positions before the first padding index.
        """
        ids = ids.to(self.weight.device)
        B, L = ids.shape
        if lengths is None:
            lengths = (ids < 4).long().cumprod(dim=1).sum(dim=1)
        lengths = lengths.to(self.weight.device)
        w_max = self.weight.shape[-1]
        # One-hot written straight into a (B, 4, L + W - 1) buffer, zero past each end (so every
        # start 0..L-1 has a full window); padding ids scatter a 0 and leave their column empty.
        x = torch.zeros(B, 4, L + w_max - 1, dtype=self.weight.dtype, device=ids.device)
        is_base = (ids < 4).unsqueeze(1).to(self.weight.dtype)
        x[:, :, :L].scatter_(1, ids.clamp(max=3).unsqueeze(1), is_base)
        scores = F.conv1d(x, self.weight)  # (B, 2K, L): ONE call for all motifs, both strands
        # Windows starting after len - W_k run past the end. Starts before min(len) - max(W) + 1 are
        # valid for every sequence and motif, so only the tail needs a mask.
        t0 = max(0, min(int(lengths.min()) if B else 0, L) - w_max + 1)
        if t0 < L:
            pos = torch.arange(t0, L, device=ids.device)
            last_start = lengths.view(B, 1, 1) - self.widths.view(1, -1, 1)  # (B, 2K, 1)
            tail = scores[:, :, t0:]
            tail.masked_fill_(pos.view(1, 1, -1) > last_start, float("-inf"))
        return scores

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor | None = None, *,
                normalize: bool = False) -> torch.Tensor:
        """Best score per sequence and motif over positions and strands: ``(B, K)``.

        ``-inf`` where a sequence is shorter than the motif. With ``normalize=True`` scores are mapped to
        [0, 1] by the PSSM's attainable minimum and maximum (sum of column minima / maxima).
        """
        K = self.num_motifs
        best = self.position_scores(ids, lengths).amax(dim=2)  # (B, 2K)
        best = torch.maximum(best[:, :K], best[:, K:])
        if normalize:
            best = (best - self.min_score) / (self.max_score - self.min_score)
        return best


_AGGREGATES = (None, "max", "mean", "min", "sum")


class JasparMotif(Oracle):
    """Best PSSM match of one or several JASPAR profiles anywhere on either strand.

    Output: with one motif, or with ``aggregate`` set, one value per sequence (shape ``(N,)``); with K > 1
    motifs and ``aggregate=None``, one column per motif (``(N, K)``, ``n_objectives = K``, in the order
    given). Sequences shorter than a motif are invalid with a reason.

    Args:
        motif: A matrix ID or TF name, or a list / comma-separated string of them (see :func:`load_motifs`).
        release: The JASPAR release (a SQLite file shipped in pyjaspar).
        normalize: Map scores to [0, 1] by each PSSM's min/max (then the optimum is 1.0); else log2 odds.
        pseudocount: Per-base pseudocount; None = JASPAR default ``sqrt(N)/4``.
        background: A, C, G, T background frequencies (default uniform).
        aggregate: Combine K motif columns with ``"max"``, ``"mean"``, ``"min"`` or ``"sum"``.
        device: Where the scan runs (``"cpu"``, ``"cuda"``, ...).
        batch_size: Sequences per conv call (bounds memory at ``batch_size * 2K * L`` floats).
    """

    def __init__(self, *, motif: str | Sequence[str] = "MA0139.1", release: str = DEFAULT_RELEASE,
                 normalize: bool = True, pseudocount: float | None = None,
                 background: Sequence[float] | None = None, aggregate: str | None = None,
                 device: str | torch.device = "cpu", batch_size: int = 4096) -> None:
        if aggregate not in _AGGREGATES:
            raise ValueError(f"JasparMotif: aggregate must be one of {_AGGREGATES}, got {aggregate!r}")
        motifs = load_motifs(motif, release)
        self.motif_ids = [str(m.matrix_id) for m in motifs]
        self.motif_names = [str(m.name) for m in motifs]
        self.release = release
        self.normalize = bool(normalize)
        self.aggregate = aggregate
        self.pseudocount = pseudocount
        self.background = None if background is None else [float(b) for b in background]
        self.pssms = [pssm_from_counts(m, pseudocount=pseudocount, background=background) for m in motifs]
        self.scanner = PWMScanner(self.pssms).to(device)
        self.batch_size = int(batch_size)
        self.alphabet = DNA
        self.name = "jaspar"
        self.maximize = True
        self.n_objectives = 1 if (len(motifs) == 1 or aggregate) else len(motifs)
        self.optimal_value = 1.0 if self.normalize and aggregate != "sum" else None

    def _score(self, xs: list[str]) -> OracleResult:
        out = []
        with torch.no_grad():
            for start in range(0, len(xs), self.batch_size):
                ids, lengths = encode_dna(xs[start : start + self.batch_size], device=self.scanner.weight.device)
                out.append(self.scanner(ids, lengths, normalize=self.normalize).double().cpu().numpy())
        best = np.concatenate(out)  # (N, K)
        fits = np.isfinite(best).all(axis=1)
        if self.aggregate is not None:
            best = getattr(np, self.aggregate)(best, axis=1)
        elif best.shape[1] == 1:
            best = best[:, 0]
        widths = [p.shape[1] for p in self.pssms]
        errors = [None if ok else f"sequence of length {len(x)} is shorter than motif width "
                  f"{max(widths)} ({', '.join(self.motif_ids)})" for x, ok in zip(xs, fits)]
        return OracleResult(best, fits, errors)

    def _repr_params(self) -> dict[str, Any]:
        return {"motif": self.motif_ids, "release": self.release, "normalize": self.normalize,
                "pseudocount": self.pseudocount, "background": self.background, "aggregate": self.aggregate}
