"""External-program oracle: no shell, timeouts, garbage output, crashes."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

from oracles import Cached, get_oracle
from oracles.external import External, parse_scores

PY = sys.executable
# A scorer that reads one sequence per line and prints the GC fraction of each as JSON.
GC_JSON = ("import sys, json; seqs = [l.strip() for l in sys.stdin];"
           "print(json.dumps([(s.count('G') + s.count('C')) / len(s) for s in seqs]))")


def test_scores_via_stdin_json():
    oracle = get_oracle("external", command=[PY, "-c", GC_JSON], alphabet="dna", name="gc_tool")
    res = oracle(["GGCC", "ATAT", "", "ACGN", "GCAT"])
    assert res.valid.tolist() == [True, True, False, False, True]
    assert res.values[[0, 1, 4]].tolist() == [1.0, 0.0, 0.5]
    assert res.errors[2] == "empty sequence" and "illegal character 'N'" in res.errors[3]


def test_scores_via_temp_file_and_csv_with_errors_and_two_objectives():
    script = ("import sys\n"
              "print('value_len,value_gc,error')\n"
              "for s in open(sys.argv[1]).read().split():\n"
              "    print(f'{len(s)},{s.count(\"G\") / len(s)},' if 'T' not in s else ',,has a T')\n")
    oracle = External(command=[PY, "-c", script, "{input}"], input="file", output="csv", n_objectives=2)
    res = oracle(["GGA", "GTA", "GGGG"])
    assert res.values.shape == (3, 2)
    assert res.valid.tolist() == [True, False, True]
    assert res.values[0].tolist() == [3.0, pytest.approx(2 / 3)]
    assert res.errors[1] == "has a T"


def test_per_item_nulls_and_objects_in_json():
    script = ("import sys, json; seqs = [l.strip() for l in sys.stdin];"
              "print(json.dumps([{'value': None, 'error': 'too short'} if len(s) < 3 else {'value': len(s)}"
              " for s in seqs]))")
    res = External(command=[PY, "-c", script])(["AC", "ACGT"])
    assert res.valid.tolist() == [False, True] and res.errors[0] == "too short" and res.values[1] == 4.0


def test_crashing_tool_invalidates_the_batch_with_its_stderr():
    script = "import sys; sys.stderr.write('license check failed\\n'); sys.exit(3)"
    res = External(command=[PY, "-c", script], name="crashy")(["ACGT", "GG"])
    assert not res.valid.any() and res.transient.all()
    assert res.errors[0] == "crashy: command exited with status 3; stderr: license check failed"


def test_hanging_tool_is_killed_with_its_children_at_the_timeout():
    script = ("import subprocess, sys, time;"
              "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
              "sys.stderr.write('working...'); sys.stderr.flush(); time.sleep(60)")
    start = time.monotonic()
    res = External(command=[PY, "-c", script], timeout=0.5)(["A", "C"])
    assert time.monotonic() - start < 10
    assert not res.valid.any() and res.transient.all()
    assert res.errors[0].startswith("external: timed out after 0.5 s") and "working..." in res.errors[0]


@pytest.mark.parametrize(("stdout", "reason"), [
    ("hello", "output is not JSON"),
    ("[1, 2, 3]", "expected 2 scores, got 3"),
    ('["a", 1]', "expected a number, got 'a'"),
    ('{"scores": [1, 2]}', "needs a 'values' list"),
])
def test_garbage_output_invalidates_the_batch(stdout, reason):
    res = External(command=[PY, "-c", f"print({stdout!r})"])(["AC", "GT"])
    assert not res.valid.any()
    assert reason in res.errors[0]


def test_missing_program_never_raises():
    res = External(command=["/nonexistent/scorer", "--fast"])(["ACGT"])
    assert not res.valid[0] and "could not start '/nonexistent/scorer'" in res.errors[0]


def test_no_shell_metacharacters_are_interpreted(tmp_path):
    marker = tmp_path / "pwned"
    # With a shell this would create the marker file; without one it is just an argument.
    script = "import sys, json; n = sum(1 for _ in sys.stdin); print(json.dumps([len(sys.argv)] * n))"
    res = External(command=[PY, "-c", script, f"; touch {marker}"])(["A"])
    assert res.values[0] == 2.0 and not marker.exists()  # argv = ["-c", "; touch ..."]


def test_transient_failures_are_retried_through_a_cache(tmp_path):
    flag = tmp_path / "ready"
    script = ("import sys, json, os; seqs = [l.strip() for l in sys.stdin];"
              f"sys.exit(1) if not os.path.exists({str(flag)!r}) else print(json.dumps([len(s) for s in seqs]))")
    oracle = Cached(External(command=[PY, "-c", script]))
    assert not oracle(["ACG"]).valid[0]
    flag.touch()
    assert oracle(["ACG"]).values[0] == 3.0


def test_batch_size_splits_runs_and_parse_scores_directly():
    script = "import sys, json; seqs = [l.strip() for l in sys.stdin]; print(json.dumps([len(seqs)] * len(seqs)))"
    res = External(command=[PY, "-c", script], batch_size=2)(["A", "C", "G", "T", "A"])
    assert res.values.tolist() == [2.0, 2.0, 2.0, 2.0, 1.0]  # runs of 2, 2 and 1 sequences
    parsed = parse_scores("1.5\n\nnan\n", "csv", 2)
    assert parsed.valid.tolist() == [True, False] and np.isnan(parsed.values[1])


def test_constructor_rejects_bad_settings():
    with pytest.raises(ValueError, match="command is empty"):
        External(command=[])
    with pytest.raises(ValueError, match="timeout must be > 0"):
        External(command=["x"], timeout=0)
    with pytest.raises(ValueError, match="output must be 'json' or 'csv'"):
        External(command=["x"], output="xml")
