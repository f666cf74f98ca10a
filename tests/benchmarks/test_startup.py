"""The start-up benchmark's probe: a fresh interpreter's CPU seconds and what it loaded."""

from __future__ import annotations

from benchmarks.startup import COMMANDS, REPO, cpu_seconds


def test_probe_reports_cpu_time_and_that_version_loads_no_torch() -> None:
    cpu, wall, probe = cpu_seconds(REPO, COMMANDS["seqguide --version"])
    assert probe == {"rc": 0, "torch": False, "lightning": False}
    assert 0 < cpu < 60 and wall > 0
