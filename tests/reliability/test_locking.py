"""One writer per run directory: a second writer is refused at once naming the holder; a dead holder's lock is
taken over (also when it left forked children behind); its sessions show as ``interrupted``."""

from __future__ import annotations

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

from seqguide.design import DesignStore, load_run
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
