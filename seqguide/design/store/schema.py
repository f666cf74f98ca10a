"""The campaign store's SQL schema, its upgrades from older versions, and its one-line errors.

:mod:`seqguide.design.store` holds the :class:`~seqguide.design.store.DesignStore` that uses them. A store
records its ``schema_version`` in the ``meta`` table; :data:`MIGRATIONS` upgrades a store of an older version
in place (one transaction) when it is opened for writing. SQLite's exceptions become :class:`StoreError` lines
that name the file and say what to do (:func:`explain_sqlite_error`).
"""

from __future__ import annotations

import sqlite3
from typing import Any

__all__ = ["MIGRATIONS", "SCHEMA_SQL", "SCHEMA_VERSION", "SQLITE_HEADER", "StoreError", "explain_sqlite_error"]

#: 2 added the ``oracle_calls`` ledger and ``sessions.host``; 3 added ``rounds.guidance_charged`` and
#: ``rounds.value_spearman``; 4 added ``rounds.finetune`` (the round's generator fine-tuning, JSON); 5 added
#: ``rounds.kind`` (``design`` or ``import``), ``rounds.source`` (an imported file's provenance, JSON) and
#: ``designs.provenance`` (where an imported design's value came from, JSON).
SCHEMA_VERSION = 5


class StoreError(RuntimeError):
    """The campaign store cannot be opened or written; ``str()`` is one line naming the file and the problem."""

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    seed INTEGER NOT NULL,
    budget INTEGER NOT NULL,
    alphabet TEXT,
    objective TEXT,
    model TEXT,
    code_version TEXT,
    git_commit TEXT,
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    pid INTEGER,
    host TEXT,
    argv TEXT,
    resumed INTEGER NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE TABLE IF NOT EXISTS rounds (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    round INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,
    value_source TEXT,
    value_state TEXT,
    n_sampled INTEGER NOT NULL DEFAULT 0,
    n_duplicates INTEGER NOT NULL DEFAULT 0,
    n_candidates INTEGER NOT NULL DEFAULT 0,
    n_scored INTEGER NOT NULL DEFAULT 0,
    n_valid INTEGER NOT NULL DEFAULT 0,
    n_charged INTEGER NOT NULL DEFAULT 0,
    draws INTEGER NOT NULL DEFAULT 0,
    guidance_oracle_calls INTEGER NOT NULL DEFAULT 0,
    guidance_charged INTEGER NOT NULL DEFAULT 0,
    value_spearman REAL,
    nfe REAL NOT NULL DEFAULT 0,
    sample_seconds REAL NOT NULL DEFAULT 0,
    score_seconds REAL NOT NULL DEFAULT 0,
    fit_seconds REAL NOT NULL DEFAULT 0,
    wall_seconds REAL NOT NULL DEFAULT 0,
    best REAL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    finetune TEXT,
    kind TEXT NOT NULL DEFAULT 'design',
    source TEXT,
    PRIMARY KEY (run_id, round)
);
CREATE TABLE IF NOT EXISTS designs (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    session INTEGER REFERENCES sessions(id),
    round INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    sequence TEXT NOT NULL,
    key TEXT NOT NULL,
    objective REAL,
    valid INTEGER NOT NULL,
    reason TEXT,
    charged INTEGER NOT NULL,
    transient INTEGER NOT NULL DEFAULT 0,
    components TEXT NOT NULL,
    guidance TEXT,
    model TEXT,
    sample_seed INTEGER,
    draw INTEGER,
    proposed_at TEXT,
    scored_at TEXT NOT NULL,
    provenance TEXT,
    UNIQUE (run_id, key)
);
CREATE INDEX IF NOT EXISTS designs_by_round ON designs (run_id, round, idx);
CREATE TABLE IF NOT EXISTS oracle_calls (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    session INTEGER REFERENCES sessions(id),
    round INTEGER NOT NULL,
    key TEXT NOT NULL,
    sequence TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    design INTEGER REFERENCES designs(id),
    returned_at TEXT
);
CREATE INDEX IF NOT EXISTS calls_by_key ON oracle_calls (run_id, key);
"""

#: Upgrades from a schema version to the next (statements run in one transaction).
MIGRATIONS: dict[int, list[str]] = {
    1: [
        "ALTER TABLE sessions ADD COLUMN host TEXT",
        "INSERT INTO oracle_calls (run_id, session, round, key, sequence, sent_at, design, returned_at) "
        "SELECT run_id, session, round, key, sequence, scored_at, id, scored_at FROM designs WHERE charged = 1 "
        "ORDER BY id",
    ],
    2: ["ALTER TABLE rounds ADD COLUMN guidance_charged INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE rounds ADD COLUMN value_spearman REAL"],
    3: ["ALTER TABLE rounds ADD COLUMN finetune TEXT"],
    4: ["ALTER TABLE rounds ADD COLUMN kind TEXT NOT NULL DEFAULT 'design'",
        "ALTER TABLE rounds ADD COLUMN source TEXT",
        "ALTER TABLE designs ADD COLUMN provenance TEXT"],
}

SQLITE_HEADER = b"SQLite format 3\x00"


def explain_sqlite_error(path: Any, err: sqlite3.Error, doing: str) -> StoreError:
    """One line for an SQLite failure, naming the file and what to do about it."""
    text = str(err)
    low = text.lower()
    if "file is not a database" in low or "file is encrypted" in low:
        why = "not a seqguide campaign store (the file is not an SQLite database)"
    elif "disk is full" in low or "database or disk is full" in low:
        why = (f"cannot {doing}: the disk is full (every design committed before is kept; free space and "
               "continue with --resume)")
    elif "readonly" in low or "read-only" in low:
        why = f"cannot {doing}: the store is read-only (check the file's permissions)"
    elif "locked" in low or "busy" in low:
        why = f"cannot {doing}: another process is writing the store ({text})"
    elif "unable to open" in low:
        why = f"cannot open the store: {text} (check that the directory exists and is writable)"
    elif "malformed" in low or "corrupt" in low:
        why = f"the store file is damaged ({text})"
    else:
        why = f"cannot {doing}: {type(err).__name__}: {text}"
    return StoreError(f"{path or 'in-memory store'}: {why}")
