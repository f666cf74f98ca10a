"""The store's ledger plumbing: chunked ``IN (...)`` queries and linking stored designs to their ``oracle_calls`` rows
(used inside :class:`~seqguide.design.store.database.DesignStore`'s transactions)."""

from __future__ import annotations

import sqlite3
from typing import Any

from seqguide.design.store.records import DesignRecord

__all__ = ["IN_CHUNK", "link_calls", "select_in"]

#: Values per ``IN (...)`` query (below SQLite's smallest variable limit, 999).
IN_CHUNK = 500


def select_in(c: sqlite3.Connection, sql: str, args: list[Any], values: list[Any]) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (one ``IN ({})`` placeholder) for ``values``, queried in chunks (SQLite's variable limit)."""
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(values), IN_CHUNK):
        part = values[start : start + IN_CHUNK]
        rows.extend(c.execute(sql.format(", ".join("?" * len(part))), [*args, *part]).fetchall())
    return rows


def link_calls(c: sqlite3.Connection, run_id: int, recs: list[DesignRecord], now: str) -> None:
    """Attach charged designs to their ledger rows (per design, the newest unanswered call of its session for its
    key), or record the call now for a design never announced (written without ``DesignStore.record_sent``); a few
    statements for the whole batch."""
    if not recs:
        return
    open_calls: dict[tuple[str, int | None], int] = {}
    for session in {r.session for r in recs}:
        keys = sorted({r.key for r in recs if r.session == session})
        for key, call in select_in(
                c, "SELECT key, id FROM oracle_calls WHERE run_id = ? AND session IS ? AND design IS NULL "
                   "AND key IN ({}) ORDER BY id", [run_id, session], keys):
            open_calls[(key, session)] = call  # ascending ids: the newest wins
    linked, unannounced = [], []
    for r in recs:
        call = open_calls.pop((r.key, r.session), None)
        if call is not None:
            linked.append((r.id, now, call))
        else:
            unannounced.append((run_id, r.session, r.round, r.key, r.sequence, r.scored_at or now, r.id, now))
    c.executemany("UPDATE oracle_calls SET design = ?, returned_at = ? WHERE id = ?", linked)
    c.executemany("INSERT INTO oracle_calls (run_id, session, round, key, sequence, sent_at, design, returned_at) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", unannounced)
