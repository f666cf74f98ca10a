"""The ``data:`` section of a campaign: labelled designs it starts from (``data.initial``: your own assay data as
round 0, never charged to the budget; :mod:`seqguide.design.initial` reads them)."""

from __future__ import annotations

from typing import Literal

from seqguide.design.schema.base import StrictConfig

__all__ = ["DataSection", "InitialDataConfig"]


class InitialDataConfig(StrictConfig):
    """A labelled file imported as round 0 (see :class:`seqguide.design.initial.InitialData`).

    Attributes:
        path: A CSV/TSV/TXT/parquet table or a FASTA file whose headers carry ``VALUE_COLUMN=value``; relative
            paths are relative to the working directory.
        sequence_column: The table's sequence column.
        value_column: The table's value column (or the FASTA header key), in the units and direction of the
            campaign's combined objective; an empty or NA cell is a failed measurement.
        missing: A row with a missing *sequence* cell: ``error`` or ``drop``.
    """

    path: str
    sequence_column: str = "sequence"
    value_column: str = "value"
    missing: Literal["error", "drop"] = "error"


class DataSection(StrictConfig):
    """``data:``. ``initial``: the labelled file the campaign starts from (None: it starts from nothing)."""

    initial: InitialDataConfig | None = None
