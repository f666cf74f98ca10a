"""The records a campaign store reads and writes (:class:`DesignRecord`, :class:`RoundRecord`), their row form
in SQLite, and the store's timestamps (:func:`utc_now`); :mod:`seqguide.design.store` holds the store itself."""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

__all__ = [
    "DesignRecord",
    "RoundRecord",
    "finite_or_none",
    "record_from_row",
    "run_from_row",
    "to_json",
    "utc_now",
]


R = TypeVar("R", "DesignRecord", "RoundRecord")


def utc_now() -> str:
    """The current UTC time as an ISO-8601 string (seconds resolution)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def finite_or_none(x: float | None) -> float | None:
    """``x`` as a float, or None for None, NaN and +-inf (what a REAL column stores)."""
    return None if x is None or not math.isfinite(float(x)) else float(x)


@dataclass
class DesignRecord:
    """One scored design (a row of ``designs``).

    Attributes:
        sequence: The design.
        round: The round that proposed it.
        key: Its identity for deduplication (default: the sequence; e.g. the canonical SMILES of a molecule).
        idx: Its position in that round's candidate list.
        objective: The combined objective (None if invalid).
        valid: Whether the objective could score it.
        reason: Why not, when invalid.
        charged: Whether it was charged to the budget (reached the objective's oracles).
        transient: Whether the failure may not repeat (timeout, crashed tool).
        components: Each component's value (None where not computed).
        guidance: The guidance stack that proposed it.
        model: Model provenance (checkpoint and hash).
        sample_seed: Seed of the sampler draw that produced it.
        draw: Index of that draw within the round.
        session: The session (process) that scored it.
        proposed_at: When the candidate list was made.
        scored_at: When it was scored (set by the store if empty).
        key: Its identity for deduplication (see above).
        provenance: Where an imported design's value came from (``file``, ``sha256``, ``rows``: the line or record
            of each of its rows in the file, ``values``: their values); None for a design the loop scored.
        id: Row id (set by the store).
    """

    sequence: str
    round: int
    idx: int
    objective: float | None
    valid: bool
    reason: str | None = None
    charged: bool = True
    transient: bool = False
    components: dict[str, float | None] = field(default_factory=dict)
    guidance: str | None = None
    model: str | None = None
    sample_seed: int | None = None
    draw: int | None = None
    session: int | None = None
    proposed_at: str | None = None
    scored_at: str = ""
    key: str = ""
    provenance: dict[str, Any] | None = None
    id: int | None = None

    #: Columns stored as JSON text and as 0/1 integers (see :func:`record_from_row`).
    JSON_COLUMNS = ("components", "provenance")
    BOOL_COLUMNS = ("valid", "charged", "transient")

    def __post_init__(self) -> None:
        if not self.key:
            self.key = self.sequence

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for tables and JSON)."""
        return asdict(self)


@dataclass
class RoundRecord:
    """One row of ``rounds`` (see the module docstring)."""

    round: int
    seed: int
    status: str
    value_source: str | None = None
    value_state: str | None = None
    n_sampled: int = 0
    n_duplicates: int = 0
    n_candidates: int = 0
    n_scored: int = 0
    n_valid: int = 0
    n_charged: int = 0
    draws: int = 0
    guidance_oracle_calls: int = 0
    guidance_charged: int = 0
    value_spearman: float | None = None
    nfe: float = 0.0
    sample_seconds: float = 0.0
    score_seconds: float = 0.0
    fit_seconds: float = 0.0
    wall_seconds: float = 0.0
    best: float | None = None
    started_at: str = ""
    ended_at: str | None = None
    #: The generator's fine-tuning before this round (:mod:`seqguide.design.finetune`): optimizer steps, rows,
    #: seconds, losses and the fine-tuned model's sample validity/uniqueness; None when the loop does not fine-tune.
    finetune: dict[str, Any] | None = None
    #: ``design`` (the loop proposed and paid for its designs) or ``import`` (labelled designs read from a file,
    #: never charged: :mod:`seqguide.design.initial`).
    kind: str = "design"
    #: An import round's file: ``path``, ``sha256``, ``rows`` read, ``imported``, ``duplicates``, ``already_stored``,
    #: ``missing_values``; None for a design round.
    source: dict[str, Any] | None = None

    JSON_COLUMNS = ("finetune", "source")
    BOOL_COLUMNS = ()


def to_json(value: Any) -> str | None:
    """A JSON column's text (sorted keys), or None."""
    return None if value is None else json.dumps(value, sort_keys=True)


def run_from_row(row: sqlite3.Row) -> dict[str, Any]:
    """A ``runs`` row as a dict, its JSON columns decoded."""
    out = dict(row)
    for key in ("config", "alphabet", "objective", "model"):
        if out.get(key) is not None:
            out[key] = json.loads(out[key])
    return out


def record_from_row(cls: type[R], row: sqlite3.Row, *, components: bool = True) -> R:
    """A ``rounds`` or ``designs`` row as a :class:`RoundRecord` or :class:`DesignRecord`: the ``run_id`` column
    dropped, the class's ``JSON_COLUMNS`` decoded and its ``BOOL_COLUMNS`` made booleans. Columns a store of an
    older schema lacks take the record's defaults. ``components=False`` leaves a design's ``components`` empty
    instead of decoding them (the loop's memory reads thousands of designs and never looks at them)."""
    data = dict(row)
    data.pop("run_id", None)
    if not components and "components" in data:
        data["components"] = {}
    for key in cls.JSON_COLUMNS:
        if isinstance(data.get(key), str):
            data[key] = json.loads(data[key])
    for key in cls.BOOL_COLUMNS:
        data[key] = bool(data[key])
    return cls(**data)
