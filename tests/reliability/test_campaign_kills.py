"""At least 20 random kills of a running campaign (SIGKILL and SIGTERM at random moments: loading, sampling,
fitting the surrogate, scoring, committing), each followed by ``--resume``; then an audit against an
uninterrupted run of the same campaign.

The objective is an external assay run item by item that logs, the moment it receives a design, the process id
of the campaign that sent it: that log is the list of *real* oracle calls (an assay whose campaign was killed
still finishes and logs, like a lab that was paid). The store's ledger must charge each of them, and only them:

* no design lost: every design ever committed stays, unchanged, and the final store equals the uninterrupted one;
* charged calls = real calls, per process (the only allowed difference: a SIGKILL landing in the instant between
  charging a design and writing it to the assay, which charges a call the assay never received; counted);
* a kill re-pays at most the items in flight; a SIGTERM re-pays nothing (it stops at the next item boundary).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import sqlite3
import sys
import textwrap
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow

ASSAY = '''
import json, os, sys, time
log = sys.argv[1]
seqs = [line.strip() for line in sys.stdin if line.strip()]
parent = os.getppid()
if seqs:
    with open(log, "a") as fh:  # received: logged before any work (an orphaned run still finishes)
        fh.write("".join(f"{parent}\\t{s}\\n" for s in seqs))
time.sleep(0.05)
print(json.dumps([(s.count("G") + s.count("C")) / len(s) for s in seqs]))
'''

CAMPAIGN = """
name: kills
seed: 11
run_dir: {run_dir}
model:
  checkpoint: {ckpt}
objective:
  oracles:
    - name: external
      args:
        command: [{python}, "-I", "-S", {assay}, {log}]
        name: assay
        alphabet: dna
        timeout: 60
        batch_size: 1
      label: assay
guidance:
  - method: svdd
    value: surrogate
    particles: 2
sampling:
  steps: 8
loop:
  rounds: {rounds}
  candidates: {candidates}
  score_batch: 4
  budget: 400
surrogate: {{members: 2, channels: 8, epochs: 2, min_labels: 4}}
"""

ROUNDS, CANDIDATES, KILLS = 4, 8, 24


def _files(tmp_path: Path, tag: str, ckpt: Path) -> tuple[Path, Path, Path]:
    assay = tmp_path / "assay.py"
    assay.write_text(ASSAY)
    run_dir, log = tmp_path / f"run_{tag}", tmp_path / f"paid_{tag}.log"
    path = tmp_path / f"{tag}.yaml"
    path.write_text(textwrap.dedent(CAMPAIGN.format(run_dir=run_dir, ckpt=ckpt, python=sys.executable, assay=assay,
                                                    log=log, rounds=ROUNDS, candidates=CANDIDATES)))
    return path, run_dir / "campaign.sqlite", log


def _campaign(path: str) -> None:
    """A forked child: ``seqguide design run PATH --resume`` without the interpreter start-up."""
    from seqguide.design import Campaign
    from seqguide.design.console import make_console
    from seqguide.design.interrupts import Interrupted

    torch.set_num_threads(1)
    with open(os.devnull, "w") as quiet:
        try:
            Campaign.from_yaml(path, console=make_console(quiet)).run(resume=True, progress=False)
        except Interrupted as err:
            os._exit(err.exit_code)
    os._exit(0)


def _start(path: Path) -> mp.Process:
    proc = mp.get_context("fork").Process(target=_campaign, args=(str(path),))
    proc.start()
    return proc


def _count(store: Path, sql: str, args: tuple = ()) -> int:
    if not store.is_file():
        return 0
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10) as db:
            return int(db.execute(sql, args).fetchone()[0])
    except sqlite3.OperationalError:  # tables not created yet
        return 0


def _wait_for(proc: mp.Process, done, timeout: float = 60.0) -> bool:
    """Poll until ``done()`` or the process exits; True if ``done()``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.exitcode is None:
        if done():
            return True
        time.sleep(0.01)
    return False


def _designs(store: Path) -> dict[str, tuple]:
    if not store.is_file():
        return {}
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10) as db:
        try:
            rows = db.execute("SELECT key, round, idx, sequence, objective, valid, charged FROM designs").fetchall()
        except sqlite3.OperationalError:  # tables not created yet
            return {}
    return {r[0]: r[1:] for r in rows}


def test_random_kills_lose_nothing_and_charge_exactly_the_real_calls(tiny_model, tmp_path, tally):
    ref_path, ref_store, _ = _files(tmp_path, "reference", tiny_model)
    ref = _start(ref_path)
    ref.join(300)
    assert ref.exitcode == 0
    reference = _designs(ref_store)
    assert len(reference) == ROUNDS * CANDIDATES

    path, store, log = _files(tmp_path, "killed", tiny_model)
    rng = random.Random(20240611)
    kills: Counter[str] = Counter()
    graceful: list[int] = []  # pids of campaigns that stopped on SIGTERM by themselves
    seen: dict[str, tuple] = {}
    moments: Counter[str] = Counter()
    for _ in range(KILLS):
        calls_before = _count(store, "SELECT COUNT(*) FROM oracle_calls")
        proc = _start(path)
        moment = rng.choices(["start-up", "planning or sampling", "scoring"], weights=[2, 3, 5])[0]
        if moment == "start-up":  # loading the model, opening the store, taking the lock
            proc.join(timeout=rng.uniform(0.0, 1.0))
        elif moment == "planning or sampling":  # a random moment after the session began
            _wait_for(proc, lambda p=proc: _count(store, "SELECT COUNT(*) FROM sessions WHERE pid = ?", (p.pid,)))
            proc.join(timeout=rng.uniform(0.0, 0.3))
        else:  # a random moment after a design was charged: in flight, being committed, or the next one
            _wait_for(proc, lambda n=calls_before: _count(store, "SELECT COUNT(*) FROM oracle_calls") > n)
            proc.join(timeout=rng.uniform(0.0, 0.08))
        if proc.exitcode is not None:  # it finished before the kill
            assert proc.exitcode == 0  # then it is the last, completed session
            break
        moments[moment] += 1
        sig = signal.SIGKILL if rng.random() < 0.65 else signal.SIGTERM
        os.kill(proc.pid, sig)
        proc.join(timeout=60)
        assert proc.exitcode is not None, "a SIGTERM did not stop the campaign"
        kills[sig.name] += 1
        if sig == signal.SIGTERM and proc.exitcode == 128 + signal.SIGTERM:
            graceful.append(proc.pid)
        now = _designs(store)
        assert all(now.get(k) == v for k, v in seen.items())  # nothing committed was lost or changed
        seen = now
    else:  # every kill landed: the last resume runs to the end
        final = _start(path)
        final.join(300)
        assert final.exitcode == 0
    time.sleep(0.3)  # an assay orphaned by the last kill finishes writing its log line

    # The same final store as the uninterrupted run.
    designs = _designs(store)
    assert {k: v[:5] for k, v in designs.items()} == {k: v[:5] for k, v in reference.items()}
    assert sum(kills.values()) >= 20

    with sqlite3.connect(store) as db:
        sessions = db.execute("SELECT id, pid, status FROM sessions ORDER BY id").fetchall()
        calls = db.execute("SELECT session, sequence, design FROM oracle_calls ORDER BY id").fetchall()
        rounds = db.execute("SELECT round, status, n_scored FROM rounds ORDER BY round").fetchall()
    assert rounds == [(r, "done", CANDIDATES) for r in range(ROUNDS)]
    statuses = [status for _, _, status in sessions]
    assert statuses == ["interrupted"] * (len(sessions) - 1) + ["completed"], sessions

    # Charged calls against the assay's log of real calls, per campaign process.
    pid_of = {sid: pid for sid, pid, _ in sessions}
    real: dict[int, Counter[str]] = defaultdict(Counter)
    for line in log.read_text().splitlines():
        pid, seq = line.split("\t")
        real[int(pid)][seq] += 1
    charged: dict[int, Counter[str]] = defaultdict(Counter)
    for sid, seq, _ in calls:
        charged[pid_of[sid]][seq] += 1
    assert set(real) <= set(charged)  # every process that paid is a recorded session
    never_sent = 0
    for pid in charged:
        assert not real[pid] - charged[pid], pid  # never a real call that is not charged
        never_sent += sum((charged[pid] - real[pid]).values())
    assert never_sent <= kills["SIGKILL"]  # at most one per SIGKILL, in the instant between charge and send
    assert sum(sum(c.values()) for c in real.values()) == len(calls) - never_sent

    # What a kill costs: only items in flight are paid again; a SIGTERM pays nothing again.
    lost = [c for c in calls if c[2] is None]
    per_session = Counter(pid_of[c[0]] for c in lost)
    assert all(n <= 1 for n in per_session.values())  # one item in flight at a time (batch_size 1)
    assert not any(per_session[pid] for pid in graceful)
    assert len(calls) == len(designs) + len(lost)

    tally.faults("campaign: SIGKILL at random moments", kills["SIGKILL"], lost=len(set(reference) - set(designs)))
    tally.faults("campaign: SIGTERM at random moments", kills["SIGTERM"])
    n_real = sum(sum(c.values()) for c in real.values())
    tally.inputs("campaign: real oracle calls (assay log), every one charged", n_real)
    tally.inputs("campaign: calls re-paid (in flight at a SIGKILL)", len(lost))
    tally.inputs("campaign: calls charged but never sent", never_sent)
    for moment, n in moments.items():
        tally.inputs(f"campaign: kills during {moment}", n)
