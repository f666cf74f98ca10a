"""Store faults: foreign, corrupt, newer and old stores; a full disk and a read-only store in the middle of a run.
Refusals are one line naming the file; nothing committed is lost; a resume after the fault pays only what was in
flight, and every real oracle call is in the ledger.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_helpers import call_cli, one_or_two_lines

from oracles import from_function
from seqguide import DNA
from seqguide.design import DesignLoop, DesignRecord, DesignStore, write_report
from seqguide.design.cli import design_main, report_main
from seqguide.design.store import StoreError

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.slow
@given(data=st.binary(min_size=1, max_size=2000))
@SETTINGS
def test_random_bytes_as_a_store_are_refused_in_one_line(tmp_path_factory, tally, data):
    folder = tmp_path_factory.mktemp("bytes")
    path = folder / "campaign.sqlite"
    path.write_bytes(data)
    tally.inputs("store: random bytes as a store (hypothesis)")
    for readonly in (False, True):
        with pytest.raises(StoreError) as caught:
            DesignStore(path, readonly=readonly)
        assert one_or_two_lines(str(caught.value)) and str(path) in str(caught.value)
    code, _, err = call_cli(report_main, [str(folder)])
    assert code == 1 and one_or_two_lines(err) and "not a seqguide campaign store" in err, err
    assert path.read_bytes() == data  # never written to


def _sqlite(path: Path, statements: list[str]) -> None:
    with sqlite3.connect(path) as db:
        for s in statements:
            db.execute(s)


def test_foreign_newer_and_empty_stores_are_refused(tmp_path, tally):
    cases = {
        "foreign.sqlite": (["CREATE TABLE experiments (id INTEGER)"], r"not a seqguide campaign store \(tables: "),
        "newer.sqlite": (["CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)",
                          "INSERT INTO meta VALUES ('schema_version', '99')"], "newer than this seqguide reads"),
        "nometa.sqlite": (["CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)"], "not a seqguide campaign store"),
    }
    for name, (statements, text) in cases.items():
        path = tmp_path / name
        _sqlite(path, statements)
        before = path.read_bytes()
        for readonly in (False, True):
            with pytest.raises(StoreError, match=text) as caught:
                DesignStore(path, readonly=readonly)
            assert one_or_two_lines(str(caught.value))
        assert path.read_bytes() == before  # a foreign database is left untouched
        tally.inputs("store: foreign / newer / empty SQLite files")
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    with pytest.raises(StoreError, match="an empty SQLite database"):
        DesignStore(empty, readonly=True)
    tally.inputs("store: foreign / newer / empty SQLite files")


def test_a_corrupt_store_through_design_run_is_one_line(tmp_path, tally):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "campaign.sqlite").write_bytes(b"SQLite format 3\x00" + b"\xff" * 500)
    (tmp_path / "model.ckpt").write_bytes(b"unused: the store is opened first")
    cfg = {"name": "c", "run_dir": str(tmp_path / "run"), "model": {"checkpoint": str(tmp_path / "model.ckpt")},
           "objective": {"oracles": [{"name": "gc"}]}, "loop": {"rounds": 1, "candidates": 2}}
    file = tmp_path / "c.yaml"
    file.write_text(yaml.safe_dump(cfg))
    code, _, err = call_cli(design_main, ["run", str(file), "--resume", "--no-progress"])
    assert code == 1 and one_or_two_lines(err) and "campaign.sqlite" in err and "Traceback" not in err, err
    assert not (tmp_path / "run" / "campaign.lock").read_text()  # the lock was released
    tally.inputs("store: a corrupt store through `design run`")


V1_SCHEMA = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "INSERT INTO meta VALUES ('schema_version', '1')",
    "CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT NOT NULL, config TEXT NOT NULL, seed INTEGER NOT NULL, "
    "budget INTEGER NOT NULL, alphabet TEXT, objective TEXT, model TEXT, code_version TEXT, git_commit TEXT, "
    "status TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT)",
    "CREATE TABLE sessions (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, pid INTEGER, argv TEXT, "
    "resumed INTEGER NOT NULL, status TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT)",
    "CREATE TABLE rounds (run_id INTEGER NOT NULL, round INTEGER NOT NULL, seed INTEGER NOT NULL, status TEXT NOT NULL,"
    " value_source TEXT, value_state TEXT, n_sampled INTEGER NOT NULL DEFAULT 0, n_duplicates INTEGER NOT NULL "
    "DEFAULT 0, n_candidates INTEGER NOT NULL DEFAULT 0, n_scored INTEGER NOT NULL DEFAULT 0, n_valid INTEGER NOT "
    "NULL DEFAULT 0, n_charged INTEGER NOT NULL DEFAULT 0, draws INTEGER NOT NULL DEFAULT 0, guidance_oracle_calls "
    "INTEGER NOT NULL DEFAULT 0, nfe REAL NOT NULL DEFAULT 0, sample_seconds REAL NOT NULL DEFAULT 0, score_seconds "
    "REAL NOT NULL DEFAULT 0, fit_seconds REAL NOT NULL DEFAULT 0, wall_seconds REAL NOT NULL DEFAULT 0, best REAL, "
    "started_at TEXT NOT NULL, ended_at TEXT, PRIMARY KEY (run_id, round))",
    "CREATE TABLE designs (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, session INTEGER, round INTEGER NOT NULL, "
    "idx INTEGER NOT NULL, sequence TEXT NOT NULL, key TEXT NOT NULL, objective REAL, valid INTEGER NOT NULL, reason "
    "TEXT, charged INTEGER NOT NULL, transient INTEGER NOT NULL DEFAULT 0, components TEXT NOT NULL, guidance TEXT, "
    "model TEXT, sample_seed INTEGER, draw INTEGER, proposed_at TEXT, scored_at TEXT NOT NULL, UNIQUE (run_id, key))",
    "INSERT INTO runs VALUES (1, 'old', '{}', 0, 10, NULL, '{\"components\": [{\"label\": \"gc\", \"weight\": 1.0}]}', "
    "NULL, NULL, NULL, 'running', '2024-01-01', NULL)",
    "INSERT INTO sessions VALUES (1, 1, 123, '[]', 0, 'running', '2024-01-01', NULL)",
    "INSERT INTO rounds (run_id, round, seed, status, n_scored, n_charged, started_at) VALUES (1, 0, 0, 'done', 3, 2, "
    "'2024-01-01')",
    "INSERT INTO designs VALUES (1, 1, 1, 0, 0, 'ACGT', 'ACGT', 0.5, 1, NULL, 1, 0, '{\"gc\": 0.5}', NULL, NULL, NULL, "
    "NULL, NULL, '2024-01-01')",
    "INSERT INTO designs VALUES (2, 1, 1, 0, 1, 'GGCC', 'GGCC', 1.0, 1, NULL, 1, 0, '{\"gc\": 1.0}', NULL, NULL, NULL, "
    "NULL, NULL, '2024-01-01')",
    "INSERT INTO designs VALUES (3, 1, 1, 0, 2, 'AXGT', 'AXGT', NULL, 0, 'bad', 0, 0, '{\"gc\": null}', NULL, NULL, "
    "NULL, NULL, NULL, '2024-01-01')",
]


@pytest.mark.slow
def test_a_version_1_store_still_opens_and_is_upgraded_when_written(tmp_path, tally):
    path = tmp_path / "campaign.sqlite"
    _sqlite(path, V1_SCHEMA)
    with DesignStore(path, readonly=True) as old:  # read as it is
        assert old.budget_used(1) == 2 and len(old.designs(1)) == 3 and old.lost_calls(1) == 0
    rep = write_report(tmp_path)
    assert "oracle calls: 2 of the budget of 10" in rep.files["summary"].read_text()
    assert "status: interrupted" in rep.files["summary"].read_text()  # 'running', but nobody holds the lock
    with DesignStore(path) as store:  # upgraded in place
        assert store.budget_used(1) == 2 and [c["design"] for c in store.oracle_calls(1)] == [1, 2]
        assert store.sessions(1)[0]["host"] is None
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "5"
    tally.inputs("store: a version-1 store (read, then upgraded)")


def _gc(xs: list[str]) -> list[float]:
    return [(s.count("G") + s.count("C")) / len(s) for s in xs]


class _Counting:
    def __init__(self) -> None:
        self.received: list[str] = []
        self.oracle = from_function(self._fn, name="gc_paid", alphabet=DNA)

    def _fn(self, xs: list[str]) -> list[float]:
        self.received.extend(xs)
        return _gc(xs)


def _loop(model, oracle, store, **kw) -> DesignLoop:
    return DesignLoop(model, oracle, None, store, **{"budget": 40, "candidates": 6, "seed": 3, "score_batch": 2,
                                                     **kw})


def _rows(loop: DesignLoop) -> list[tuple]:
    return [(d.round, d.idx, d.sequence, d.objective, d.valid) for d in loop.designs()]


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["full disk", "read-only store"])
def test_a_full_disk_or_read_only_store_mid_run_loses_nothing_and_resumes(tmp_path, tally, toy_model, fault):
    reference = _loop(toy_model, _Counting().oracle, DesignStore(None))
    reference.run(rounds=6)

    path = tmp_path / "campaign.sqlite"
    paid = _Counting()
    store = DesignStore(path)
    loop = _loop(toy_model, paid.oracle, store)
    loop.step()  # round 0 is committed
    conn = store._conn  # inject the fault into the loop's own connection
    if fault == "full disk":
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLITE_FULL on the next page the store needs
    else:
        conn.execute("PRAGMA query_only = ON")  # SQLITE_READONLY on the next write
    with pytest.raises(StoreError) as caught:
        loop.run(rounds=6)  # the pages left fill up somewhere in the next rounds
    msg = str(caught.value)
    kept = _rows(loop)
    assert len(kept) >= 6 and one_or_two_lines(msg) and str(path) in msg
    assert ("disk is full" in msg) if fault == "full disk" else ("read-only" in msg), msg
    conn.close()

    resumed = _loop(toy_model, paid.oracle, DesignStore(path), run_id=loop.run_id)
    assert _rows(resumed)[: len(kept)] == kept  # nothing committed was lost
    resumed.run(rounds=6)
    assert _rows(resumed) == _rows(reference)
    calls = resumed.store.oracle_calls(resumed.run_id)
    assert len(calls) == len(paid.received) == resumed.budget_used  # every real call is in the ledger
    assert len(paid.received) - len(resumed.designs()) == resumed.store.lost_calls(resumed.run_id) <= 2
    tally.faults(f"store: {fault} in the middle of a run", 1, lost=len(kept) - len(_rows(resumed)[: len(kept)]))


@pytest.fixture
def toy_model():
    import itertools

    import torch

    from seqguide.models import ExactMaskedModel

    seqs = ["".join(p) for p in itertools.product("ACGT", repeat=5)]
    g = torch.Generator().manual_seed(0)
    p = torch.rand(len(seqs), generator=g, dtype=torch.float64) ** 2 + 1e-3
    return ExactMaskedModel(DNA, dict(zip(seqs, (p / p.sum()).tolist())))


def test_a_read_only_handle_refuses_writes_in_one_line(tmp_path, tally):
    path = tmp_path / "s.sqlite"
    with DesignStore(path) as store:
        run = store.create_run(name="r", config={}, seed=0, budget=3)
    with DesignStore(path, readonly=True) as ro, pytest.raises(PermissionError, match="store opened read-only"):
        ro.add_designs(run, [DesignRecord(sequence="ACGT", round=0, idx=0, objective=0.5, valid=True)])
    tally.faults("store: writes through a read-only handle", 1)


@pytest.mark.parametrize("exists", [False, True], ids=["new run_dir in a read-only parent", "read-only run_dir"])
def test_a_read_only_run_directory_is_refused_in_one_line_naming_it(tmp_path, monkeypatch, tally, exists):
    """Where the user may not write (simulated: the tests may run as root, who may write anywhere), nothing is
    created and nothing is advised about a store that does not exist."""
    import errno
    import os

    locked = tmp_path / "ro"
    locked.mkdir()
    run_dir = locked / "run"
    if exists:
        run_dir.mkdir()
    (tmp_path / "model.ckpt").write_bytes(b"unused")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"name": "ro", "run_dir": str(run_dir),
                                    "model": {"checkpoint": str(tmp_path / "model.ckpt")},
                                    "objective": {"oracles": [{"name": "gc"}]}, "loop": {"rounds": 1}}))

    def denied(where: object) -> None:
        if str(where).startswith(str(locked)):
            raise PermissionError(errno.EACCES, "Permission denied", str(where))

    real_mkdir, real_open = Path.mkdir, os.open
    monkeypatch.setattr(Path, "mkdir", lambda self, *a, **k: (self.is_dir() or denied(self),
                                                             real_mkdir(self, *a, **k))[1])
    monkeypatch.setattr(os, "open", lambda p, *a, **k: (denied(p), real_open(p, *a, **k))[1])
    code, _, err = call_cli(design_main, ["run", str(path), "--no-progress"])
    assert code == 2 and one_or_two_lines(err), err
    assert f"{run_dir if not exists else run_dir / 'campaign.lock'}: permission denied" in err, err
    assert "--resume" not in err
    assert sorted(p.name for p in locked.iterdir()) == (["run"] if exists else [])
    tally.inputs("store: a read-only run directory", 1)
