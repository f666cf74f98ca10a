"""Benchmark: start-up cost of the ``seqguide`` command, before and after its imports were made lazy.

Each command runs in a fresh Python process (``python -c "from seqguide.cli import main; ..."``, what the console
script does) and is charged its **CPU seconds** (user + system, read by the child at exit: its own work, less
sensitive than wall time to other work on a shared machine); the table keeps the median of ``--repeats`` runs and
which heavy packages (torch, Lightning) the process had loaded when it ended.

*before* is the code at git commit ``67c259c`` (eager imports), checked out into a temporary ``git worktree``;
*after* is this checkout. Both run the same command line on the same campaign file, one after the other, in one
invocation of this benchmark.

    python -m benchmarks run startup            # 3 repeats -> benchmarks/results/startup.{md,csv}
    python -m benchmarks run startup --quick    # 1 repeat  -> runs/benchmarks/startup_quick.{md,csv}
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import environment, output_stem, write_table

__all__ = ["BEFORE_COMMIT", "COMMANDS", "cpu_seconds", "main"]

BEFORE_COMMIT = "67c259c"
REPO = Path(__file__).resolve().parents[1]
#: name -> argv of ``seqguide`` (the campaign file is the shipped one, identical at both commits).
COMMANDS: dict[str, list[str]] = {
    "seqguide --version": ["--version"],
    "seqguide --help": ["--help"],
    "seqguide design validate configs/campaigns/dna_motif.yaml": ["design", "validate",
                                                                   "configs/campaigns/dna_motif.yaml"],
}
# The probe reads its own CPU time at exit (getrusage(RUSAGE_SELF) covers the whole process, interpreter start-up
# included), so the reading does not depend on how the parent waits for it.
_PROBE = """
import contextlib, io, json, resource, sys
from seqguide.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    rc = main(json.loads(sys.argv[1]))
u = resource.getrusage(resource.RUSAGE_SELF)
heavy = {m.split(".")[0] for m in sys.modules}
print(json.dumps({"cpu": u.ru_utime + u.ru_stime, "rc": rc, "torch": "torch" in heavy,
                  "lightning": bool(heavy & {"lightning", "pytorch_lightning"})}))
"""


def cpu_seconds(checkout: Path, argv: Sequence[str]) -> tuple[float, float, dict[str, Any]]:
    """Run ``seqguide ARGV`` from ``checkout`` in a fresh interpreter: (CPU seconds, wall seconds, probe result)."""
    env = {**os.environ, "PYTHONPATH": str(checkout), "PYTHONDONTWRITEBYTECODE": "1"}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _PROBE, json.dumps(list(argv))], cwd=checkout, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"seqguide {' '.join(argv)} in {checkout} failed: {err.strip().splitlines()[-1:]}")
    probe = json.loads(out.strip().splitlines()[-1])
    return probe.pop("cpu"), wall, probe


def _measure(checkout: Path, repeats: int) -> dict[str, dict[str, Any]]:
    out = {}
    for name, argv in COMMANDS.items():
        runs = [cpu_seconds(checkout, argv) for _ in range(repeats)]
        out[name] = {"cpu_s": statistics.median(r[0] for r in runs), "wall_s": statistics.median(r[1] for r in runs),
                     **runs[-1][2]}
    return out


def main(argv: list[str] | None = None) -> int:
    """Measure every command at :data:`BEFORE_COMMIT` and in this checkout; write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat, tables under runs/benchmarks/")
    parser.add_argument("--repeats", type=int, default=None, help="runs per command and side (default 3, quick 1)")
    parser.add_argument("--seeds", nargs="*", help="ignored (the benchmark is deterministic)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    with tempfile.TemporaryDirectory(prefix="seqguide-before-") as tmp:
        before_dir = Path(tmp) / "seqguide"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(before_dir), BEFORE_COMMIT],
                       check=True, capture_output=True)
        try:
            before = _measure(before_dir, repeats)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(before_dir)],
                           capture_output=True)
    after = _measure(REPO, repeats)
    rows = []
    for name in COMMANDS:
        b, a = before[name], after[name]
        rows.append({"command": name, "before_cpu_s": b["cpu_s"], "after_cpu_s": a["cpu_s"],
                     "speedup": b["cpu_s"] / a["cpu_s"], "before_wall_s": b["wall_s"], "after_wall_s": a["wall_s"],
                     "before_loads": _loads(b), "after_loads": _loads(a)})
    env = environment(device="cpu", before_commit=BEFORE_COMMIT, repeats=repeats)
    notes = (f"CPU seconds (user + system) of a fresh interpreter running the command, median of {repeats} runs; "
             f"*before*: git commit `{BEFORE_COMMIT}` in a temporary worktree, *after*: this checkout. "
             "`loads`: the heavy packages the process had imported when it ended. Generated by "
             "`python -m benchmarks run startup`.")
    csv_path, md_path = write_table(rows, output_stem("startup", args.quick),
                                    title="seqguide start-up: CPU seconds before and after lazy imports",
                                    env=env, notes=notes, digits=3)
    print(md_path.read_text())
    print(f"wrote {csv_path} and {md_path}", file=sys.stderr)
    return 0


def _loads(res: dict[str, Any]) -> str:
    names = [n for n in ("torch", "lightning") if res.get(n)]
    return "+".join(names) or "neither"


if __name__ == "__main__":
    raise SystemExit(main())
