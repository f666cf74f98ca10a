"""The in-memory form of a data set: sequences plus optional class labels and scores.

Every reader (:mod:`seqguide.data.readers`, :mod:`seqguide.data.smiles`) and every preset
(:mod:`seqguide.data.presets`) returns a :class:`SequenceRecords`. Besides the data it keeps where each
record came from (``source``, ``lines``, ``ids``), so that errors raised much later, while encoding or
length-checking, can still name the file, the line and the record.

Conventions used in messages: line numbers are 1-based (as an editor shows them); record indices are
0-based positions in the collection, like the sequence index in :class:`seqguide.Alphabet` errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["SequenceRecords", "describe_record"]


def describe_record(source: str, index: int, *, line: int | None = None, record_id: str | None = None) -> str:
    """Format where a record lives, for error messages.

    Args:
        source: File path or preset name (empty for in-memory data).
        index: 0-based position of the record.
        line: 1-based line in the source file where the record starts, if known.
        record_id: FASTA id or molecule name, if any.

    Returns:
        e.g. ``"reads.fa, line 5 (record 1, id 's2')"`` or ``"table.parquet (record 3)"``.
    """
    head = source or "<in-memory sequences>"
    if line is not None:
        head += f", line {line}"
    detail = f"record {index}" + (f", id {record_id!r}" if record_id else "")
    return f"{head} ({detail})"


@dataclass
class SequenceRecords:
    """Sequences with optional labels/scores and their provenance.

    Attributes:
        sequences: N sequence strings (DNA/RNA/protein letters, or SELFIES strings for molecules).
        labels: N class ids in ``0..C-1`` for conditional models, or None.
        scores: float array ``(N,)`` or ``(N, K)`` (e.g. measured activity), or None.
        class_names: C names, ``class_names[label]``; set whenever ``labels`` is.
        source: File path or preset name, quoted in errors.
        ids: N record ids (FASTA ids, molecule names), or None.
        lines: N 1-based line numbers where each record starts in ``source``, or None (parquet, lists).
        n_dropped: Rows the reader left out because a required cell was missing (``missing="drop"``).

    Raises:
        ValueError: if the per-record fields do not all have N entries, or labels are out of range.
    """

    sequences: list[str]
    labels: list[int] | None = None
    scores: np.ndarray | None = None
    class_names: list[str] | None = None
    source: str = ""
    ids: list[str] | None = field(default=None, repr=False)
    lines: list[int] | None = field(default=None, repr=False)
    n_dropped: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        n = len(self.sequences)
        for name in ("labels", "ids", "lines"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"{self.source or 'SequenceRecords'}: {len(value)} {name} for {n} sequences")
        if self.scores is not None:
            self.scores = np.asarray(self.scores, dtype=np.float64)
            if self.scores.ndim not in (1, 2) or self.scores.shape[0] != n:
                raise ValueError(
                    f"{self.source or 'SequenceRecords'}: scores must have shape (N,) or (N, K) with N={n}, "
                    f"got {self.scores.shape}"
                )
        if self.labels is not None:
            if self.class_names is None:
                self.class_names = [str(c) for c in range(max(self.labels, default=-1) + 1)]
            bad = [lab for lab in self.labels if not 0 <= lab < len(self.class_names)]
            if bad:
                raise ValueError(
                    f"{self.source or 'SequenceRecords'}: label {bad[0]} outside 0..{len(self.class_names) - 1} "
                    f"(class_names={self.class_names})"
                )

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def num_classes(self) -> int:
        """C, the number of classes; 0 when there are no labels."""
        return len(self.class_names) if self.labels is not None and self.class_names else 0

    def where(self, index: int) -> str:
        """Describe record ``index`` for an error message (file, line, record index, id)."""
        return describe_record(
            self.source,
            index,
            line=self.lines[index] if self.lines is not None else None,
            record_id=self.ids[index] if self.ids is not None else None,
        )

    def subset(self, indices: Sequence[int] | np.ndarray) -> SequenceRecords:
        """The records at ``indices`` (in that order), with labels, scores and provenance kept."""
        idx = [int(i) for i in indices]
        return SequenceRecords(
            sequences=[self.sequences[i] for i in idx],
            labels=[self.labels[i] for i in idx] if self.labels is not None else None,
            scores=self.scores[idx] if self.scores is not None else None,
            class_names=list(self.class_names) if self.class_names is not None else None,
            source=self.source,
            ids=[self.ids[i] for i in idx] if self.ids is not None else None,
            lines=[self.lines[i] for i in idx] if self.lines is not None else None,
            n_dropped=self.n_dropped,
        )

    def with_sequences(self, sequences: list[str]) -> SequenceRecords:
        """A copy with the sequences replaced (same length), e.g. after upper-casing or stripping gaps."""
        if len(sequences) != len(self.sequences):
            raise ValueError(f"with_sequences: got {len(sequences)} sequences for {len(self.sequences)} records")
        return SequenceRecords(
            sequences=list(sequences),
            labels=self.labels,
            scores=self.scores,
            class_names=self.class_names,
            source=self.source,
            ids=self.ids,
            lines=self.lines,
            n_dropped=self.n_dropped,
        )
