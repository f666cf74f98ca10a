"""report.html, opened in a real (headless) browser, and what the report's figures count: the best-so-far axis
ends at the calls the run paid, the unguided baseline, rounds numbered from 1 everywhere."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from seqguide.alphabet import DNA
from seqguide.design import DesignRecord, DesignStore, write_report
from seqguide.design.report import load_run
from seqguide.design.report.plots import best_so_far_curve

LOOKAHEAD = (0, 40, 30)  # paid look-ahead calls of the guidance per round: round 0 samples unguided


def _guided_store(path: Path) -> list[float]:
    """Three rounds of four DNA designs; rounds 1 and 2 guided (with paid look-ahead), one invalid design."""
    objective = {"maximize": True, "combine": "sum", "components": [{"label": "gc", "weight": 1.0}]}
    rng = np.random.default_rng(1)
    values = []
    with DesignStore(path) as store:
        run = store.create_run(name="guided <dna>", config={"report": {"top_k": 5}, "loop": {"rounds": 3}}, seed=0,
                               budget=500, alphabet=DNA.to_dict(), objective=objective)
        for r in range(3):
            store.begin_round(run, r, seed=r)
            recs = []
            for i in range(4):
                seq = "".join(rng.choice(list("ACGT"), 8))
                valid = (r, i) != (2, 3)
                v = float(r + rng.uniform()) if valid else None
                values.append(v)
                recs.append(DesignRecord(sequence=seq, round=r, idx=i, objective=v, valid=valid,
                                         components={"gc": v}, guidance="unguided" if r == 0 else "svdd(value=oracle)"))
            store.add_designs(run, recs)
            store.update_round(run, r, status="done", guidance_charged=LOOKAHEAD[r], best=max(
                x for x in values if x is not None))
    return values


def test_best_so_far_axis_ends_at_the_calls_the_run_paid(tmp_path: Path) -> None:
    values = _guided_store(tmp_path / "campaign.sqlite")
    curve = best_so_far_curve(load_run(tmp_path))
    paid = 12 + sum(LOOKAHEAD)  # 12 scored designs and the guidance's look-ahead
    assert curve.total == paid and curve.calls[-1] == paid
    # A round's look-ahead is paid while proposing it, before its designs are scored: the second round starts at 45.
    assert curve.calls[:5] == [1, 2, 3, 4, 4 + 40 + 1]
    assert curve.round_ends == {1: 4, 2: 48, 3: 82}  # rounds numbered from 1
    assert curve.best[-1] == pytest.approx(max(v for v in values if v is not None))
    assert curve.best == sorted(curve.best)  # maximised: never goes down
    assert curve.baseline == pytest.approx(max(values[:4])) and curve.baseline_n == 4


def test_no_baseline_without_guided_designs_and_rounds_from_one_in_the_tables(tmp_path: Path) -> None:
    objective = {"maximize": False, "combine": "sum", "components": [{"label": "e", "weight": 1.0}]}
    with DesignStore(tmp_path / "campaign.sqlite") as store:
        run = store.create_run(name="plain", config={}, seed=0, budget=10, alphabet=DNA.to_dict(), objective=objective)
        store.begin_round(run, 0, seed=0)
        store.add_designs(run, [DesignRecord(sequence=s, round=0, idx=i, objective=v, valid=True,
                                             components={"e": v}, guidance="unguided")
                                for i, (s, v) in enumerate([("AC", 2.0), ("GT", 1.0)])])
        store.update_round(run, 0, status="done")
    curve = best_so_far_curve(load_run(tmp_path))
    assert curve.baseline is None and curve.best == [2.0, 1.0] and curve.calls == [1, 2]  # minimised
    write_report(tmp_path)
    rows = (tmp_path / "report" / "top_designs.csv").read_text().splitlines()
    assert rows[0].startswith("rank,round,") and rows[1].startswith("1,1,")  # the first round is round 1
    assert "| 1 | done |" in (tmp_path / "report" / "report.md").read_text()


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="no chromium on PATH (.ci/run installs Debian's chromium package)")
def test_report_html_renders_offline_in_headless_chromium(tmp_path: Path) -> None:
    from PIL import Image

    _guided_store(tmp_path / "campaign.sqlite")
    rep = write_report(tmp_path)
    page = rep.files["html"]
    text = page.read_text()
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", text), "report.html must not fetch anything"
    assert "guided &lt;dna&gt;" in text  # names are escaped
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             f"--user-data-dir={tmp_path / 'profile'}"]
    url = page.resolve().as_uri()
    shot = tmp_path / "shot.png"
    run = subprocess.run([_chromium(), *flags, f"--screenshot={shot}", "--window-size=1280,2400", url],
                         capture_output=True, text=True, timeout=180)
    assert shot.is_file(), run.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert pixels.shape == (2400, 1280)
    assert pixels.std() > 10, "the page rendered blank"
    dom = subprocess.run([_chromium(), *flags, "--dump-dom", url], capture_output=True, text=True, timeout=180).stdout
    assert dom.count("<table") == 3  # run and cost, rounds, top designs
    assert dom.count("<img") == len([p for p in rep.files.values() if p.suffix == ".png"]) >= 4
    assert dom.count('src="data:image/png;base64,') == dom.count("<img")
    assert "Top designs (5)" in dom and "unguided baseline" in dom and "82 of the budget of 500" in dom
