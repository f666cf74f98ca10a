"""Crash safety: SIGKILL a running campaign mid-round several times, resume it, and audit every paid evaluation.

The objective is an ``external`` program that logs, for every design it scores, the process id of the
campaign that asked (``os.getppid()`` when it starts), then sleeps, then answers: a lab assay with a delay.
So the log is the list of *paid* evaluations, and the store's ``sessions`` table maps each campaign process
to the designs it committed. An evaluation in flight when its campaign is killed has no result to store; it
is paid again after the resume (and only it). Everything committed is never paid again.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ASSAY = '''
import json, os, sys, time
log, delay = sys.argv[1], float(sys.argv[2])
parent = os.getppid()
seqs = [line.strip() for line in sys.stdin if line.strip()]
time.sleep(delay)
with open(log, "a") as fh:
    fh.write("".join(f"{parent}\\t{s}\\n" for s in seqs))
print(json.dumps([(s.count("G") + s.count("C")) / len(s) for s in seqs]))
'''

CAMPAIGN = """
name: killme
seed: 11
run_dir: {run_dir}
model:
  checkpoint: {ckpt}
objective:
  oracles:
    - name: external
      args:
        command: [{python}, {assay}, {log}, "0.3"]
        name: assay
        alphabet: dna
        timeout: 60
      label: assay
guidance:
  - method: svdd
    value: surrogate
    particles: 2
sampling:
  steps: 8
loop:
  rounds: 3
  candidates: 6
  score_batch: 2
surrogate: {{members: 2, channels: 8, epochs: 2, min_labels: 4}}
"""

ROUNDS, CANDIDATES, BATCH = 3, 6, 2
KILL_AFTER = (2, 8, 14)  # stored designs: the first batch of rounds 0, 1 and 2 is in, two batches to go
TIMEOUT = 240.0


def _campaign_file(tmp_path: Path, tag: str, ckpt: Path) -> tuple[Path, Path, Path]:
    assay = tmp_path / "assay.py"
    assay.write_text(ASSAY)
    run_dir, log = tmp_path / f"run_{tag}", tmp_path / f"paid_{tag}.log"
    text = CAMPAIGN.format(run_dir=run_dir, ckpt=ckpt, python=sys.executable, assay=assay, log=log)
    path = tmp_path / f"{tag}.yaml"
    path.write_text(textwrap.dedent(text))
    return path, run_dir, log


def _launch(cfg: Path, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "seqguide.cli", "design", "run", str(cfg), "--resume",
                             "--no-progress"], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _stored(store: Path) -> int:
    if not store.is_file():
        return 0
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5) as db:
            return int(db.execute("SELECT COUNT(*) FROM designs").fetchone()[0])
    except sqlite3.OperationalError:  # the table is not created yet
        return 0


def _finish(proc: subprocess.Popen) -> None:
    try:
        _, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the campaign did not finish in time")
    assert proc.returncode == 0, err.decode(errors="replace")[-3000:]


def _designs(store: Path) -> list[tuple]:
    with sqlite3.connect(store) as db:
        return db.execute("SELECT round, idx, sequence, objective, valid, charged, session FROM designs "
                          "ORDER BY round, idx").fetchall()


def test_sigkill_mid_round_then_resume_loses_nothing_and_pays_nothing_twice(tiny_checkpoint, tmp_path):
    # An uninterrupted run with the same seed: the reference result.
    ref_cfg, ref_dir, _ = _campaign_file(tmp_path, "reference", tiny_checkpoint)
    _finish(_launch(ref_cfg, tmp_path))
    reference = _designs(ref_dir / "campaign.sqlite")

    cfg, run_dir, log = _campaign_file(tmp_path, "killed", tiny_checkpoint)
    store = run_dir / "campaign.sqlite"
    rng = random.Random(20240611)  # reproducible kill delays
    kills = 0
    for target in KILL_AFTER:
        proc = _launch(cfg, tmp_path)
        deadline = time.monotonic() + TIMEOUT
        while _stored(store) < target and proc.poll() is None:
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"no progress to {target} stored designs")
            time.sleep(0.02)
        if proc.poll() is not None:  # it finished (or failed) before the kill: nothing to kill
            _finish(proc)
            continue
        time.sleep(rng.uniform(0.0, 0.25))  # inside the next 0.3 s assay call, give or take
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
    _finish(_launch(cfg, tmp_path))  # the last resume runs to the end
    time.sleep(0.5)  # let an orphaned assay call of the last kill finish writing its log line

    designs = _designs(store)
    with sqlite3.connect(store) as db:
        sessions = db.execute("SELECT id, pid, resumed, status FROM sessions ORDER BY id").fetchall()
        rounds = db.execute("SELECT round, status, n_scored, n_charged FROM rounds ORDER BY round").fetchall()
        run_status = db.execute("SELECT status FROM runs").fetchone()[0]

    # Same final result as the uninterrupted run.
    assert [d[:5] for d in designs] == [d[:5] for d in reference]
    assert kills >= 2 and len(sessions) == kills + 1 and sessions[-1][3] == run_status == "completed"
    assert rounds == [(r, "done", CANDIDATES, CANDIDATES) for r in range(ROUNDS)]

    # Every scored design is stored once; the persisted budget counter equals the unique designs scored.
    seqs = [d[2] for d in designs]
    assert len(seqs) == len(set(seqs)) == ROUNDS * CANDIDATES == sum(d[5] for d in designs)

    # The kills landed mid-round: some round was scored partly before and partly after a kill.
    sessions_per_round = defaultdict(set)
    for d in designs:
        sessions_per_round[d[0]].add(d[6])
    assert any(len(s) > 1 for s in sessions_per_round.values())

    # Audit the paid evaluations against the store.
    pid_of = {sid: pid for sid, pid, _, _ in sessions}
    order = {sid: i for i, (sid, *_) in enumerate(sessions)}
    paid = [tuple(line.split("\t")) for line in log.read_text().splitlines()]
    paid_by = defaultdict(list)
    for pid, seq in paid:
        paid_by[int(pid)].append(seq)
    assert set(paid_by) <= set(pid_of.values())
    committed_by = defaultdict(set)
    for d in designs:
        committed_by[d[6]].add(d[2])
    for sid, pid in pid_of.items():
        mine = Counter(paid_by[pid])
        assert all(n == 1 for n in mine.values())  # a process never pays for one design twice
        assert committed_by[sid] <= set(mine)  # what it stored, it paid for
        in_flight = set(mine) - committed_by[sid]
        if sid == sessions[-1][0]:
            assert not in_flight  # the completed session stored everything it paid for
        else:
            assert len(in_flight) <= BATCH  # a killed one lost at most the call that was running
            later = {s for other, got in committed_by.items() if order[other] > order[sid] for s in got}
            assert in_flight <= later  # ... and that design was scored again after the resume
    for d in designs:  # once stored, a design was never sent to the assay again
        later_pids = {pid_of[s] for s in pid_of if order[s] > order[d[6]]}
        assert not any(seq == d[2] and int(pid) in later_pids for pid, seq in paid)
    assert len(paid) - len(designs) <= kills * BATCH
