"""One writer per run directory: a second writer is refused at once naming the holder; a dead holder's lock is
taken over (also when it left forked children behind); its sessions show as ``interrupted``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from reliability_helpers import call_cli, one_or_two_lines

from seqguide.design import Campaign, DesignStore, load_run
from seqguide.design.cli import design_main
from seqguide.design.lock import LockError, RunLock, lock_holder

HOLDER = textwrap.dedent('''
    import os, sys, time
    from seqguide.design.lock import RunLock
    lock = RunLock(sys.argv[1], argv=["holder", "test"]).acquire()
    child = os.fork() if sys.argv[2] == "fork" else -1
    if child == 0:  # a child (like a process-pool worker) that outlives the holder
        time.sleep(60)
        os._exit(0)
    print("locked", child, flush=True)
    time.sleep(60)
''')


def _hold(run_dir: Path, mode: str = "plain") -> tuple[subprocess.Popen, int]:
    """A process holding the run's lock, and the pid of its forked child (-1 without one)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir), mode], stdout=subprocess.PIPE, text=True)
    word, child = proc.stdout.readline().split()
    assert word == "locked"
    return proc, int(child)


def _campaign(tmp_path: Path, run_dir: Path) -> Path:
    (tmp_path / "model.ckpt").write_bytes(b"unused")
    cfg = {"name": "locked", "run_dir": str(run_dir), "model": {"checkpoint": str(tmp_path / "model.ckpt")},
           "objective": {"oracles": [{"name": "gc"}]}, "loop": {"rounds": 1, "candidates": 2}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.slow
def test_a_second_writer_is_refused_at_once_and_a_dead_holders_lock_is_taken_over(tmp_path, tally):
    run_dir = tmp_path / "run"
    holder, _ = _hold(run_dir)
    try:
        start = time.monotonic()
        code, _, err = call_cli(design_main, ["run", str(_campaign(tmp_path, run_dir)), "--resume", "--no-progress"])
        assert time.monotonic() - start < 5  # refused at once, not after a wait
        assert code == 2 and one_or_two_lines(err), err
        assert f"is being written by pid {holder.pid} on host {socket.gethostname()} since " in err, err
        assert "(holder test)" in err
        who = lock_holder(run_dir)
        assert who is not None and who.pid == holder.pid
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert lock_holder(run_dir) is None  # the kernel released the dead holder's lock
    with RunLock(run_dir) as lock:
        assert lock.previous is not None and lock.previous.pid == holder.pid
        with pytest.raises(LockError, match=f"pid {os.getpid()}"):
            RunLock(run_dir).acquire()  # one writer, also within one process
    tally.faults("locks: second writer; holder killed", 2)


@pytest.mark.slow
def test_forked_children_of_a_dead_holder_do_not_keep_the_run_locked(tmp_path, tally):
    run_dir = tmp_path / "run"
    holder, child = _hold(run_dir, mode="fork")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    try:
        assert os.path.exists(f"/proc/{child}")  # the child lives on ...
        assert lock_holder(run_dir) is None  # ... without keeping the lock
        RunLock(run_dir).acquire().release()
    finally:
        os.kill(child, signal.SIGKILL)
    tally.faults("locks: holder killed, its forked child alive", 1)


def test_sessions_of_a_dead_process_are_shown_interrupted(tmp_path, tally):
    store_path = tmp_path / "campaign.sqlite"
    with DesignStore(store_path) as store:  # a run whose process died without closing its session
        run = store.create_run(name="r", config={"run_dir": str(tmp_path)}, seed=0, budget=4)
        store.start_session(run)
    data = load_run(tmp_path)
    assert data.status == "interrupted" and [s["status"] for s in data.sessions] == ["interrupted"]
    with RunLock(tmp_path):  # while a live process holds the lock the run really is running
        data = load_run(tmp_path)
        assert data.status == "running" and data.sessions[0]["status"] == "running"
        with DesignStore(store_path) as store:
            assert store.mark_interrupted(run) == 1  # what the next writer does once it holds the lock
    assert load_run(tmp_path).run["status"] == "interrupted"
    tally.faults("locks: a session left 'running' by a dead process", 1)


WRITER = textwrap.dedent('''
    import json, os, sys, time
    from seqguide.design.lock import RunLock
    from seqguide.design.store import DesignStore
    run_dir, store_path, take_lock, config = sys.argv[1], sys.argv[2], sys.argv[3] == "lock", sys.argv[4]
    lock = RunLock(run_dir, argv=["first", "writer"], store=store_path).acquire() if take_lock else None
    store = DesignStore(store_path)  # what Campaign.run does before its loop starts
    run = store.create_run(name="locked", config=json.loads(config), seed=0, budget=4)
    session = store.start_session(run, argv=["first", "writer"])
    print("writing", session, flush=True)
    time.sleep(60)
''')


def _first_writer(cwd: Path, store: Path, config: Path, *, lock: bool = True) -> tuple[subprocess.Popen, int]:
    """A process in ``cwd`` writing ``store`` for the campaign ``config`` with ``run_dir: run`` (relative):
    holding the locks (or not, like a writer that bypassed them) and with a live session; returns it and its
    session id."""
    resolved = json.dumps(Campaign.from_yaml(config).resolved())
    proc = subprocess.Popen([sys.executable, "-c", WRITER, "run", str(store), "lock" if lock else "nolock",
                             resolved],
                            cwd=cwd, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    word, session = proc.stdout.readline().split()
    assert word == "writing"
    return proc, int(session)


def _store_campaign(tmp_path: Path, store: Path) -> Path:
    (tmp_path / "model.ckpt").write_bytes(b"unused")
    cfg = {"name": "locked", "run_dir": "run", "store": str(store),
           "model": {"checkpoint": str(tmp_path / "model.ckpt")},
           "objective": {"oracles": [{"name": "gc"}]}, "loop": {"rounds": 1, "candidates": 2}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _session_status(store: Path, session: int) -> str:
    with DesignStore(store, readonly=True) as db:
        run = db.latest_run()
        return next(s["status"] for s in db.sessions(run["id"]) if s["id"] == session)


@pytest.mark.slow
@pytest.mark.parametrize("first_locks", [True, False], ids=["locked", "lock-bypassed"])
def test_two_writers_from_different_directories_on_one_store_the_second_is_refused(tmp_path, monkeypatch, tally,
                                                                                   first_locks):
    """``run_dir: run`` from two working directories names two run directories; one absolute ``store:``: the
    store's lock (keyed by its resolved path) refuses the second writer, and a live session of a writer that
    bypassed the locks is never marked interrupted."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    store = tmp_path / "shared" / "campaign.sqlite"
    config = _store_campaign(tmp_path, store)
    first, session = _first_writer(a, store, config, lock=first_locks)
    try:
        monkeypatch.chdir(b)
        code, out, err = call_cli(design_main, ["run", str(config), "--resume", "--no-progress"])
        assert code == 2 and one_or_two_lines(err), err
        if first_locks:
            assert f"the store {store} is being written by pid {first.pid}" in err, err
        else:
            assert f"is being written by pid {first.pid} on host {socket.gethostname()} (session {session}" in err
        assert "oracle calls" not in out and "designs over" not in out, out  # no figures the ledger lacks
        assert _session_status(store, session) == "running"  # the live first writer's session stays live
        assert not (b / "run" / "model").exists()
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    tally.faults("locks: second writer from another directory on one store", 1)


@pytest.mark.slow
def test_a_store_outside_its_run_directory_is_not_resumed_from_another_run_directory(tmp_path, monkeypatch,
                                                                                       tiny_model, tally):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    store = tmp_path / "shared" / "campaign.sqlite"
    cfg = {"name": "moved", "run_dir": "run", "store": str(store), "model": {"checkpoint": str(tiny_model)},
           "objective": {"oracles": [{"name": "gc"}]}, "sampling": {"steps": 4},
           "loop": {"rounds": 1, "candidates": 2}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    monkeypatch.chdir(a)
    assert call_cli(design_main, ["run", str(path), "--no-progress"])[0] == 0
    monkeypatch.chdir(b)
    code, _, err = call_cli(design_main, ["run", str(path), "--resume", "--no-progress", "loop.rounds=2"])
    assert code == 2 and one_or_two_lines(err), err
    assert f"it was written from run directory {(a / 'run').resolve()}" in err and str(b / "run") in err, err
    with DesignStore(store, readonly=True) as db:
        assert db.latest_run()["status"] == "completed" and db.count(db.latest_run()["id"]) == 2
    monkeypatch.chdir(a)  # from the directory that wrote it, the resume goes on
    assert call_cli(design_main, ["run", str(path), "--resume", "--no-progress", "loop.rounds=2"])[0] == 0
    tally.faults("locks: resume of a store from another run directory", 1)
