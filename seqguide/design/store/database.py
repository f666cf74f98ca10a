"""The SQLite store of a design campaign (stdlib ``sqlite3``, WAL mode).

The records it reads and writes (:class:`DesignRecord`, :class:`RoundRecord`) are in :mod:`.records`, its SQL
schema, upgrades and error lines in :mod:`.schema`.

Tables:

* ``runs``: one row per campaign run: name, resolved config (JSON), seed, budget, alphabet and objective
  descriptions, model provenance, code version (``seqguide.__version__`` and the git commit when
  available), status, start and end times.
* ``sessions``: one row per process that worked on a run (the first start and every ``--resume``): pid,
  host, command line, status (``running``, ``completed``, ``interrupted``, ``failed: ...``). A session left
  ``running`` by a process that died is marked ``interrupted`` by the next writer.
* ``rounds``: per round: seed, status, counts (sampled, duplicates, candidates, scored, valid, charged),
  guidance oracle calls, network evaluations (NFE), value model used, timings; its ``kind``: ``design`` (proposed
  and paid by the loop) or ``import`` (labelled designs read from a file, with the file's provenance in
  ``source``: :meth:`DesignStore.import_round`).
* ``designs``: one row per design: round, position in the round's candidate list, sequence and its *key*
  (unique per run: the sequence itself, or e.g. the canonical SMILES of a SELFIES molecule), combined
  objective, every component's value (JSON), validity and reason, whether it was charged to the budget,
  guidance and model provenance, the sampling seed, the session that scored it, timestamps; an imported design's
  ``provenance`` (file, sha256, rows, values); imported designs are never charged and have no ledger row.
* ``oracle_calls``: the ledger of real objective calls, one row per design sent to the objective's oracles:
  written (committed) by :meth:`DesignStore.record_sent` just before the design is sent, and linked to its
  ``designs`` row when the result is stored. A row with no design is a call whose result was lost (the
  process died while the oracle was working); its design is scored again after ``--resume`` and so appears
  twice in the ledger: it was *re-paid*.

Results are written with :meth:`DesignStore.add_designs` as soon as the oracle returns them (item by
item for oracles that score items independently), each write one transaction together with the round's
counters and the ledger, so a crash loses at most the items in flight and the counters always agree with
the rows. The budget used is *derived* from the ledger (every real call, re-paid ones included), never kept
apart.

Errors are :class:`StoreError` lines naming the file: a file that is not an SQLite database, an SQLite file
that is not a campaign store, a store of a newer schema, a full disk, a read-only file. Stores of schema
version 1 (no ledger) are upgraded in place when opened for writing (one ledger row per charged design) and
read as they are otherwise.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from seqguide.design.store.ledger import link_calls, select_in
from seqguide.design.store.records import (
    DesignRecord,
    RoundRecord,
    finite_or_none,
    record_from_row,
    run_from_row,
    to_json,
    utc_now,
)
from seqguide.design.store.schema import (
    MIGRATIONS,
    SCHEMA_SQL,
    SCHEMA_VERSION,
    SQLITE_HEADER,
    StoreError,
    explain_sqlite_error,
)

__all__ = ["DesignStore"]

_ROUND_FIELDS = [f for f in RoundRecord.__dataclass_fields__ if f not in ("round", "seed", "status", "started_at")]


class DesignStore:
    """A campaign store in one SQLite file (WAL journal), or in memory.

    Args:
        path: The SQLite file (created with its parent directory); None keeps the store in memory.
        readonly: Open an existing file without writing (reports).

    Raises:
        FileNotFoundError: if ``readonly`` and the file does not exist.
        StoreError: (one line) if the file is not an SQLite database, is an SQLite database that is not a
            campaign store, holds a store of a newer schema version, or cannot be opened or written.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, readonly: bool = False) -> None:
        self.path = None if path is None else Path(path)
        self.readonly = readonly
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        try:
            self._open()
        except sqlite3.Error as err:
            self._close_quietly()
            raise explain_sqlite_error(self.path, err, "open the store") from None
        except BaseException:
            self._close_quietly()
            raise

    def _open(self) -> None:
        if self.path is not None and self.path.is_file() and self.path.stat().st_size > 0:
            with open(self.path, "rb") as fh:
                if fh.read(len(SQLITE_HEADER)) != SQLITE_HEADER:  # never let SQLite write over someone's file
                    raise StoreError(f"{self.path}: not a seqguide campaign store (the file is not an SQLite "
                                     "database)")
        if self.path is None:
            self._conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        elif self.readonly:
            if not self.path.is_file():
                raise FileNotFoundError(f"no campaign store at {self.path}")
            uri = f"file:{self.path.resolve()}?mode=ro"
            self._conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=30)
        else:
            if self.path.exists() and not self.path.is_file():
                raise StoreError(f"{self.path}: not a campaign store (it is a directory, not a file)")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.row_factory = sqlite3.Row
        tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = self._version(tables)
        if not self.readonly and self.path is not None:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
        if not self.readonly:
            with self._tx() as c:  # statement by statement: executescript would commit on its own
                for old in range(version or SCHEMA_VERSION, SCHEMA_VERSION):
                    for stmt in filter(None, (st.strip() for st in SCHEMA_SQL.split(";"))):
                        c.execute(stmt)
                    for stmt in MIGRATIONS[old]:
                        c.execute(stmt)
                for stmt in filter(None, (st.strip() for st in SCHEMA_SQL.split(";"))):
                    c.execute(stmt)
                c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                          [str(SCHEMA_VERSION)])
            tables |= {"oracle_calls"}
        self._has_calls = "oracle_calls" in tables

    def _version(self, tables: set[str]) -> int | None:
        """The store's schema version; None for a new, empty file. Refuses foreign and newer files."""
        if not tables:
            if self.readonly:
                raise StoreError(f"{self.path}: not a seqguide campaign store (an empty SQLite database)")
            return None
        row = None
        if "meta" in tables:
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None or not str(row[0]).isdigit():
            shown = ", ".join(sorted(tables)[:6]) + (", ..." if len(tables) > 6 else "")
            raise StoreError(f"{self.path}: an SQLite database that is not a seqguide campaign store "
                             f"(tables: {shown}); choose another run_dir/store")
        version = int(row[0])
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: a campaign store of schema version {version}, newer than this "
                             f"seqguide reads ({SCHEMA_VERSION}); upgrade seqguide to open it")
        return version

    def _close_quietly(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:  # pragma: no cover - closing a broken connection
                pass

    # ------------------------------------------------------------------------------- plumbing
    @contextmanager
    def _tx(self, doing: str = "write to the store") -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE ... COMMIT``; rolled back on any error, an interrupt
        included). SQLite failures (full disk, read-only file) become :class:`StoreError`; a duplicate design
        key stays an ``sqlite3.IntegrityError``."""
        if self.readonly:
            raise PermissionError(f"{self.path}: store opened read-only")
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException as err:
                if self._conn.in_transaction:
                    try:
                        self._conn.execute("ROLLBACK")
                    except sqlite3.Error:  # pragma: no cover - SQLite rolled back already
                        pass
                if isinstance(err, sqlite3.Error) and not isinstance(err, sqlite3.IntegrityError):
                    raise explain_sqlite_error(self.path, err, doing) from None
                raise

    def close(self) -> None:
        """Close the connection."""
        self._close_quietly()

    def __enter__(self) -> DesignStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _q(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        """A read query; an SQLite failure (a damaged file) becomes a :class:`StoreError`."""
        try:
            return self._conn.execute(sql, args)
        except sqlite3.Error as err:
            raise explain_sqlite_error(self.path, err, "read the store") from None

    # ------------------------------------------------------------------------------------ runs
    def create_run(self, *, name: str, config: dict[str, Any], seed: int, budget: int,
                   alphabet: dict[str, Any] | None = None, objective: dict[str, Any] | None = None,
                   model: dict[str, Any] | None = None, code_version: str | None = None,
                   git_commit: str | None = None) -> int:
        """Record a new run (status ``running``) and return its id."""
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO runs (name, config, seed, budget, alphabet, objective, model, code_version, git_commit, "
                "status, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)",
                [name, json.dumps(config, sort_keys=True), seed, budget, to_json(alphabet), to_json(objective),
                 to_json(model), code_version, git_commit, utc_now()])
            return int(cur.lastrowid)

    def latest_run(self) -> dict[str, Any] | None:
        """The most recent run as a dict (JSON columns decoded), or None if the store has none."""
        row = self._q("SELECT * FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else run_from_row(row)

    def get_run(self, run_id: int) -> dict[str, Any]:
        """One run as a dict (JSON columns decoded)."""
        row = self._q("SELECT * FROM runs WHERE id = ?", [run_id]).fetchone()
        if row is None:
            raise KeyError(f"no run {run_id} in {self.path or 'the in-memory store'}")
        return run_from_row(row)

    def update_run(self, run_id: int, **fields: Any) -> None:
        """Set columns of a run (``status``, ``ended_at``, ``model``, ``budget``, ``config``, ...)."""
        encoded = {k: (json.dumps(v, sort_keys=True) if k in ("config", "alphabet", "objective", "model") else v)
                   for k, v in fields.items()}
        sets = ", ".join(f"{k} = ?" for k in encoded)
        with self._tx() as c:
            c.execute(f"UPDATE runs SET {sets} WHERE id = ?", [*encoded.values(), run_id])

    def start_session(self, run_id: int, *, argv: Sequence[str] = (), resumed: bool = False) -> int:
        """Record that this process starts (or resumes) work on a run."""
        with self._tx() as c:
            cur = c.execute("INSERT INTO sessions (run_id, pid, host, argv, resumed, status, started_at) "
                            "VALUES (?, ?, ?, ?, ?, 'running', ?)",
                            [run_id, os.getpid(), socket.gethostname(), json.dumps(list(argv)), int(resumed),
                             utc_now()])
            return int(cur.lastrowid)

    def mark_interrupted(self, run_id: int) -> int:
        """Mark the run's sessions still ``running`` as ``interrupted`` (their process died: call this only while
        holding the run's lock, before starting a session) and the run too if it says ``running``.

        Returns:
            The number of sessions marked.
        """
        now = utc_now()
        with self._tx() as c:
            n = c.execute("UPDATE sessions SET status = 'interrupted', ended_at = ? WHERE run_id = ? "
                          "AND status = 'running'", [now, run_id]).rowcount
            c.execute("UPDATE runs SET status = 'interrupted' WHERE id = ? AND status = 'running'", [run_id])
        return int(n)

    def meta(self, key: str) -> str | None:
        """A value of the store's ``meta`` table (e.g. ``run_dir.<run id>``), None if unset."""
        row = self._q("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Set a value of the ``meta`` table."""
        with self._tx() as c:
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, str(value)])

    def end_session(self, session_id: int, status: str) -> None:
        """Close a session with its final status (``completed``, ``failed: ...``, ``interrupted``)."""
        with self._tx() as c:
            c.execute("UPDATE sessions SET status = ?, ended_at = ? WHERE id = ?", [status, utc_now(), session_id])

    def sessions(self, run_id: int) -> list[dict[str, Any]]:
        """Every session of a run, oldest first."""
        rows = self._q("SELECT * FROM sessions WHERE run_id = ? ORDER BY id", [run_id]).fetchall()
        return [dict(r) for r in rows]

    # ---------------------------------------------------------------------------------- rounds
    def begin_round(self, run_id: int, round: int, seed: int) -> RoundRecord:
        """Create the round row if it is new (status ``proposing``) and return it."""
        with self._tx() as c:
            c.execute("INSERT OR IGNORE INTO rounds (run_id, round, seed, status, started_at) "
                      "VALUES (?, ?, ?, 'proposing', ?)", [run_id, round, seed, utc_now()])
        return self.round(run_id, round)

    def update_round(self, run_id: int, round: int, **fields: Any) -> None:
        """Set columns of a round row."""
        unknown = set(fields) - set(_ROUND_FIELDS) - {"status"}
        if unknown:
            raise ValueError(f"unknown round fields {sorted(unknown)}")
        for key in RoundRecord.JSON_COLUMNS:
            if key in fields:
                fields[key] = to_json(fields[key])
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._tx() as c:
            c.execute(f"UPDATE rounds SET {sets} WHERE run_id = ? AND round = ?", [*fields.values(), run_id, round])

    def round(self, run_id: int, round: int) -> RoundRecord:
        """One round row."""
        row = self._q("SELECT * FROM rounds WHERE run_id = ? AND round = ?", [run_id, round]).fetchone()
        if row is None:
            raise KeyError(f"run {run_id} has no round {round}")
        return record_from_row(RoundRecord, row)

    def rounds(self, run_id: int) -> list[RoundRecord]:
        """Every round row of a run, in order."""
        rows = self._q("SELECT * FROM rounds WHERE run_id = ? ORDER BY round", [run_id]).fetchall()
        return [record_from_row(RoundRecord, r) for r in rows]

    # --------------------------------------------------------------------------------- designs
    def add_designs(self, run_id: int, records: Iterable[DesignRecord], *, score_seconds: float = 0.0) -> int:
        """Insert scored designs and bump their rounds' counters, in one transaction.

        Args:
            run_id: The run.
            records: The designs (a key already in the run is an error: it would be paid twice).
            score_seconds: Scoring time to add to the round's ``score_seconds``.

        Returns:
            The number of rows inserted.

        Raises:
            sqlite3.IntegrityError: if a key is already stored for this run (nothing is written).
        """
        recs = list(records)
        if not recs:
            return 0
        now = utc_now()
        with self._tx("store scored designs") as c:
            self._insert(c, run_id, recs, now, score_seconds)
        return len(recs)

    def import_round(self, run_id: int, round: int, seed: int, records: Sequence[DesignRecord],
                     source: dict[str, Any], *, maximize: bool = True) -> RoundRecord | None:
        """Store labelled designs read from a file as one ``import`` round, never charged, in one transaction (a
        kill leaves the round whole or absent, so running the import again finishes it).

        Args:
            run_id: The run.
            round: The new round's number (after every round of the run).
            seed: Its seed (recorded only).
            records: The designs (``charged`` False; keys not stored yet).
            source: The file's provenance (``path``, ``sha256``, counts), stored as the round's ``source``.
            maximize: Direction of the objective (the round's ``best``).

        Returns:
            The new round, or None when a round of the run already imported a file with ``source["sha256"]``
            (nothing is written: importing a file twice is a no-op).
        """
        if any(r.charged for r in records):
            raise ValueError("import_round: imported designs are never charged to the budget")
        now = utc_now()
        with self._tx("import designs") as c:
            for (text,) in c.execute("SELECT source FROM rounds WHERE run_id = ? AND kind = 'import'", [run_id]):
                if text is not None and json.loads(text).get("sha256") == source.get("sha256"):
                    return None
            c.execute("INSERT INTO rounds (run_id, round, seed, status, started_at, ended_at, kind, source) "
                      "VALUES (?, ?, ?, 'done', ?, ?, 'import', ?)", [run_id, round, seed, now, now, to_json(source)])
            self._insert(c, run_id, list(records), now, 0.0)
            best = c.execute(f"SELECT {'MAX' if maximize else 'MIN'}(objective) FROM designs WHERE run_id = ? "
                             "AND valid = 1", [run_id]).fetchone()[0]
            c.execute("UPDATE rounds SET best = ? WHERE run_id = ? AND round = ?", [best, run_id, round])
        return self.round(run_id, round)

    def imported_files(self, run_id: int) -> list[dict[str, Any]]:
        """The ``source`` of each import round of a run, oldest first, with its ``round``."""
        return [{**r.source, "round": r.round} for r in self.rounds(run_id) if r.kind == "import" and r.source]

    def _insert(self, c: sqlite3.Connection, run_id: int, recs: list[DesignRecord], now: str,
                score_seconds: float) -> None:
        """Insert designs, link the charged ones to the ledger, bump their rounds' counters (inside a transaction)."""
        for r in recs:
            r.scored_at = r.scored_at or now
        c.executemany(
            "INSERT INTO designs (run_id, session, round, idx, sequence, key, objective, valid, reason, "
            "charged, transient, components, guidance, model, sample_seed, draw, proposed_at, scored_at, "
            "provenance) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(run_id, r.session, r.round, r.idx, r.sequence, r.key, finite_or_none(r.objective), int(r.valid),
              r.reason, int(r.charged), int(r.transient),
              json.dumps({k: finite_or_none(v) for k, v in r.components.items()}), r.guidance, r.model,
              r.sample_seed, r.draw, r.proposed_at, r.scored_at, to_json(r.provenance)) for r in recs])
        ids = dict(select_in(c, "SELECT key, id FROM designs WHERE run_id = ? AND key IN ({})", [run_id],
                                   [r.key for r in recs]))
        for r in recs:
            r.id = int(ids[r.key])
        link_calls(c, run_id, [r for r in recs if r.charged], now)
        by_round: dict[int, list[DesignRecord]] = {}
        for r in recs:
            by_round.setdefault(r.round, []).append(r)
        for rnd, group in by_round.items():
            c.execute(
                "UPDATE rounds SET n_scored = n_scored + ?, n_valid = n_valid + ?, n_charged = n_charged + ?, "
                "score_seconds = score_seconds + ? WHERE run_id = ? AND round = ?",
                [len(group), sum(r.valid for r in group), sum(r.charged for r in group),
                 score_seconds * len(group) / len(recs), run_id, rnd])

    def record_sent(self, run_id: int, round: int, session: int | None, items: Sequence[tuple[str, str]]) -> None:
        """Ledger rows for designs about to be sent to the objective's oracles, committed before they are sent.

        Args:
            run_id: The run.
            round: The round they belong to.
            session: The session sending them.
            items: ``(key, sequence)`` of each design.
        """
        if not items:
            return
        now = utc_now()
        with self._tx("record oracle calls") as c:
            c.executemany("INSERT INTO oracle_calls (run_id, session, round, key, sequence, sent_at) "
                          "VALUES (?, ?, ?, ?, ?, ?)", [(run_id, session, round, k, s, now) for k, s in items])

    def oracle_calls(self, run_id: int) -> list[dict[str, Any]]:
        """The ledger of a run, oldest first (``design`` is None for a call whose result was lost)."""
        if not self._has_calls:
            return [{"round": d.round, "key": d.key, "sequence": d.sequence, "session": d.session,
                     "design": d.id, "sent_at": d.scored_at, "returned_at": d.scored_at}
                    for d in self.designs(run_id) if d.charged]
        rows = self._q("SELECT * FROM oracle_calls WHERE run_id = ? ORDER BY id", [run_id]).fetchall()
        return [dict(r) for r in rows]

    def designs(self, run_id: int, *, round: int | None = None, before_round: int | None = None,
                valid_only: bool = False, components: bool = True) -> list[DesignRecord]:
        """Stored designs in scoring order (optionally one round, rounds before one, valid ones; ``components=False``
        leaves each record's ``components`` empty instead of decoding them)."""
        sql, args = "SELECT * FROM designs WHERE run_id = ?", [run_id]
        if round is not None:
            sql, args = sql + " AND round = ?", [*args, round]
        if before_round is not None:
            sql, args = sql + " AND round < ?", [*args, before_round]
        if valid_only:
            sql += " AND valid = 1"
        rows = self._q(sql + " ORDER BY round, idx", args).fetchall()
        return [record_from_row(DesignRecord, r, components=components) for r in rows]

    def sequences(self, run_id: int, *, before_round: int | None = None) -> set[str]:
        """The set of stored sequences (optionally only those of rounds before ``before_round``)."""
        return self.keys(run_id, before_round=before_round, column="sequence")

    def keys(self, run_id: int, *, before_round: int | None = None, column: str = "key",
             round: int | None = None, from_round: int | None = None) -> set[str]:
        """The set of stored design keys (optionally only those of rounds before ``before_round``, of one
        ``round``, or of rounds from ``from_round`` on)."""
        if column not in ("key", "sequence"):
            raise ValueError(f"column must be 'key' or 'sequence', got {column!r}")
        sql, args = f"SELECT {column} FROM designs WHERE run_id = ?", [run_id]
        for clause, value in ((" AND round < ?", before_round), (" AND round = ?", round),
                              (" AND round >= ?", from_round)):
            if value is not None:
                sql, args = sql + clause, [*args, value]
        return {r[0] for r in self._q(sql, args)}

    def best(self, run_id: int, k: int, *, maximize: bool = True) -> list[DesignRecord]:
        """The ``k`` best valid designs (ties: the earlier round and index first), sorted in SQLite."""
        order = "DESC" if maximize else "ASC"
        rows = self._q(f"SELECT * FROM designs WHERE run_id = ? AND valid = 1 ORDER BY objective {order}, round, "
                       "idx LIMIT ?", [run_id, int(k)]).fetchall()
        return [record_from_row(DesignRecord, r) for r in rows]

    def budget_used(self, run_id: int) -> int:
        """Real objective calls so far: the ledger's rows (each charged design once, plus every call whose result
        was lost when its process died; those designs were paid again after the resume)."""
        if not self._has_calls:
            row = self._q("SELECT COUNT(*) FROM designs WHERE run_id = ? AND charged = 1",
                                     [run_id]).fetchone()
        else:
            row = self._q("SELECT COUNT(*) FROM oracle_calls WHERE run_id = ?", [run_id]).fetchone()
        return int(row[0])

    def lost_calls(self, run_id: int, *, session: int | None = None) -> int:
        """Calls whose result never reached the store (re-paid or still to re-pay), excluding ``session``'s
        own calls in flight."""
        if not self._has_calls:
            return 0
        row = self._q("SELECT COUNT(*) FROM oracle_calls WHERE run_id = ? AND design IS NULL "
                                 "AND session IS NOT ?", [run_id, session]).fetchone()
        return int(row[0])

    def count(self, run_id: int) -> int:
        """Stored designs of a run."""
        return int(self._q("SELECT COUNT(*) FROM designs WHERE run_id = ?", [run_id]).fetchone()[0])

