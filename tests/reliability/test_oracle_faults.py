"""Fault injection for oracles: scorers that raise, hang, spawn children, return NaN/inf or the wrong number of
values, die mid-batch, flood their output; and inputs too long for RDKit. Every fault loses only its own items.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_helpers import one_or_two_lines

from oracles import Budgeted, Parallel, Timeout, from_function, get_oracle
from oracles.base import Oracle, OracleOutputError
from oracles.external import External
from seqguide import DNA

PY = sys.executable
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
seqs = st.lists(st.text("ACGT", min_size=1, max_size=8), min_size=1, max_size=12)


def _gc(xs):
    return [(s.count("G") + s.count("C")) / len(s) for s in xs]


@given(xs=seqs, poison=st.data())
@SETTINGS
def test_a_raising_scorer_loses_only_its_culprits(tally, xs, poison):
    bad = set(poison.draw(st.lists(st.sampled_from(xs), max_size=3)))
    received = []

    def fn(batch):
        received.extend(batch)
        if bad & set(batch):
            raise RuntimeError("the scorer crashed")
        return _gc(batch)

    oracle = Budgeted(from_function(fn, name="crashy", alphabet=DNA), budget=10**6)
    res = oracle(xs)
    culprits = [x in bad for x in xs]
    assert res.valid.tolist() == [not c for c in culprits]
    assert all("crashy failed: RuntimeError: the scorer crashed" in e for e, c in zip(res.errors, culprits) if c)
    assert oracle.used == len(received)  # every item the scorer received is charged, retries included
    lost = sum(not ok for ok, c in zip(res.valid, culprits) if not c)
    tally.faults("oracles: scorer raises for some items (hypothesis)", len(bad & set(xs)), lost=lost)
    tally.inputs("oracles: scorer raises for some items (hypothesis)")


@given(xs=seqs, which=st.data(), value=st.sampled_from([np.nan, np.inf, -np.inf]))
@SETTINGS
def test_non_finite_values_invalidate_only_their_items(tally, xs, which, value):
    bad = set(which.draw(st.lists(st.integers(0, len(xs) - 1), max_size=len(xs))))
    oracle = from_function(lambda b: [value if i in bad else 0.5 for i in range(len(b))], name="nanny")
    res = oracle(xs)
    assert res.valid.tolist() == [i not in bad for i in range(len(xs))]
    assert all(res.errors[i] == "nanny returned a non-finite value" for i in bad)
    tally.faults("oracles: NaN/inf values (hypothesis)", len(bad))
    tally.inputs("oracles: NaN/inf values (hypothesis)")


@given(n=st.integers(1, 9), delta=st.integers(-3, 3).filter(lambda d: d != 0), k=st.sampled_from([1, 2]))
@SETTINGS
def test_the_wrong_number_of_values_is_an_error_with_the_counts_not_a_recall(tally, n, delta, k):
    calls = []
    got = max(0, n + delta)

    def fn(batch):
        calls.append(len(batch))
        return np.ones((got, k)) if k > 1 else [0.5] * got

    oracle = from_function(fn, name="miscounted", n_objectives=k)
    with pytest.raises(OracleOutputError) as caught:
        oracle(["A" * (i + 1) for i in range(n)])
    assert calls == [n]  # called once: no item-by-item re-call that would pay every item again
    msg = str(caught.value)
    assert one_or_two_lines(msg) and f"for {n} input" in msg and f"returned {got}" in msg, msg
    tally.faults("oracles: wrong number of values (hypothesis)")


def test_wrong_shapes_are_errors_naming_the_shape(tally):
    cases = [(lambda b: np.ones((len(b), 3)), 1, "shape (4, 3)"), (lambda b: np.ones(len(b)), 2, "shape (4,)"),
             (lambda b: [[1.0, 2.0]] * len(b), 3, "expected (4, 3)"), (lambda b: "nope", 1, "not an array of numbers"),
             (lambda b: 0.5, 1, "returned 1 value for 4")]
    for fn, k, text in cases:
        with pytest.raises(OracleOutputError, match=text.replace("(", r"\(").replace(")", r"\)")):
            from_function(fn, name="shapes", n_objectives=k)(["A", "C", "G", "T"])
        tally.faults("oracles: wrong shapes")


class _Dies(Oracle):
    """Kills its own (worker) process on a poison item: a segfault in a native library."""

    name = "dies"
    alphabet = DNA

    def _score(self, xs):
        if any("TTT" in x for x in xs):
            os._exit(13)
        return np.array(_gc(xs))


class _DiesWhileOthersRun(Oracle):
    """Dies on a poison item soon after it starts, while the other workers are still scoring theirs."""

    name = "dies_late"
    alphabet = DNA

    def _score(self, xs):
        if any("TTT" in x for x in xs):
            time.sleep(0.05)
            os._exit(13)
        time.sleep(0.5)
        return np.array(_gc(xs))


def test_a_dying_worker_does_not_take_the_other_chunks_in_flight_with_it(tally):
    """Two chunks are in flight when one kills its worker: the pool is rebuilt, both are run again alone, and only
    the poison chunk is lost; every item is charged once (the poison one as paid, the others by their real run)."""
    xs = ["ACGT", "ATTTA", "GGCC", "CCCC", "GCGC"]
    oracle = Budgeted(Parallel(_DiesWhileOthersRun(), workers=2, chunk_size=1), budget=100)
    try:
        res = oracle(xs)
    finally:
        oracle.inner.close()
    assert res.valid.tolist() == [True, False, True, True, True]
    assert res.transient[1] and "worker process died" in res.errors[1]
    assert np.allclose(np.asarray(res.values).reshape(len(xs), -1)[[0, 2, 3, 4], 0], _gc([xs[i] for i in (0, 2, 3, 4)]))
    assert oracle.used == len(xs)
    tally.faults("oracles: worker dies while another chunk is in flight", 1, lost=0)


def test_a_worker_that_dies_mid_batch_costs_only_its_chunk(tally):
    xs = ["ACGT", "GGCC", "ATTTA", "CCCC", "GCGC", "AATT"]
    with Parallel(_Dies(), workers=2, chunk_size=1) as pool:
        res = pool(xs)
        again = pool(["ACGT", "GGGG"])  # the pool was rebuilt
    assert res.valid.tolist() == ["TTT" not in x for x in xs]
    assert res.transient[2] and "worker process died" in res.errors[2]
    assert again.valid.all()
    tally.faults("oracles: worker process dies mid-batch", 1, lost=int((~res.valid).sum()) - 1)


@pytest.mark.slow
def test_a_hanging_scorer_is_cut_off_per_item(tally):
    def slow(xs):
        if any(x.startswith("GGGG") for x in xs):
            time.sleep(30)
        return _gc(xs)

    oracle = Timeout(from_function(slow, name="slow", alphabet=DNA), seconds=1.0, per_item=True)
    start = time.monotonic()
    res = oracle(["ACGT", "GGGGA", "CCAA"])
    assert time.monotonic() - start < 10
    assert res.valid.tolist() == [True, False, True] and res.transient[1]
    tally.faults("oracles: scorer hangs (Timeout per item)")


TOOLS = {
    # name: (script, expect valid, expect reason fragment)
    "child holds the pipes after a good answer": (
        "import subprocess, sys, json; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        "print(json.dumps([len(l.strip()) for l in sys.stdin]))", True, None),
    "grandchild in a new session holds the pipes": (
        "import subprocess, sys, json; subprocess.Popen([sys.executable, '-c', "
        "'import subprocess, sys; subprocess.Popen([sys.executable, \"-c\", \"import time; time.sleep(60)\"], "
        "start_new_session=True)']); print(json.dumps([len(l.strip()) for l in sys.stdin]))", True, None),
    "hangs with a child": ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
                           "'import time; time.sleep(60)']); time.sleep(60)", False, "timed out after 1.5 s"),
    "hangs without reading stdin": ("import time; time.sleep(60)", False, "timed out after 1.5 s"),
    "floods stdout": ("import sys\nwhile True: sys.stdout.write('9' * 65536)", False, "max_output"),
    "dies mid-batch": ("import os, sys; sys.stdin.readline(); os.kill(os.getpid(), 9)", False,
                       "command exited with status -9"),
    "wrong row count": ("import json; print(json.dumps([1.0]))", False, "expected 3 scores, got 1"),
    "NaN scores": ("import sys; [sys.stdin.readline() for _ in range(3)]; print('[NaN, 1.0, Infinity]')", False,
                   "no score"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(TOOLS))
def test_external_tools_that_misbehave(case, tally):
    script, ok, why = TOOLS[case]
    tool = External(command=[PY, "-c", script], timeout=1.5, max_output=1 << 20, name="tool")
    start = time.monotonic()
    res = tool(["ACG", "GGCCA", "T"])
    assert time.monotonic() - start < 8  # the time limit holds whatever the tool leaves running
    if ok:
        assert res.valid.all() and res.values.tolist() == [3, 5, 1]
    else:
        assert not res.valid[0] and why in res.errors[0], res.errors
        assert one_or_two_lines(res.errors[0])
    tally.faults("oracles: external tools that hang/spawn/flood/die/lie", 1)


def test_external_streams_item_by_item_and_stops_when_told(tally):
    tool = External(command=[PY, "-c", "import sys, json; print(json.dumps([len(l.strip()) for l in sys.stdin]))"],
                    batch_size=1, name="per_item")
    sent: list[list[int]] = []

    def gate(idx):
        sent.append(idx)
        return len(sent) < 3  # stop after two items have gone out

    parts = list(tool.stream(["A", "CC", "GGG", "TTTT"], on_send=gate))
    assert sent == [[0], [1], [2]]  # the third was announced and refused: nothing more was sent
    assert [p[0] for p in parts] == [[0], [1]] and [p[1].values.tolist() for p in parts] == [[1.0], [2.0]]
    assert tool.items_received == 2
    tally.faults("oracles: stop requested in the middle of a streamed batch", 1)


def test_rdkit_oracles_bound_the_length_of_their_input(tally):
    qed = get_oracle("qed")
    huge = "C" * 100_000
    start = time.monotonic()
    res = qed(["CCO", huge])
    assert time.monotonic() - start < 5
    assert res.valid.tolist() == [True, False] and "longer than max_length=2000" in res.errors[1]
    assert get_oracle("qed", max_length=None).validate(huge) is None
    tally.faults("oracles: RDKit input too long", 1)


@pytest.mark.slow
def test_interrupting_the_external_tool_group_does_not_leave_processes(tally):
    script = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
              "'import time; time.sleep(61.5)']); time.sleep(60)")
    External(command=[PY, "-c", script], timeout=1.0)(["A"])
    time.sleep(0.3)
    leftovers = [p for p in os.listdir("/proc") if p.isdigit() and _cmdline(p).endswith("time.sleep(61.5)")]
    for pid in leftovers:  # pragma: no cover - only when the test fails
        os.kill(int(pid), signal.SIGKILL)
    assert not leftovers
    tally.faults("oracles: external tools that hang/spawn/flood/die/lie", 1)


def _cmdline(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""
