"""Reports from a store alone: diversity metrics, Pareto fronts, molecule grids, the CLI's errors."""

from __future__ import annotations

import numpy as np
import pytest

from seqguide.alphabet import Alphabet
from seqguide.design import DesignRecord, DesignStore, write_report
from seqguide.design.cli import report_main
from seqguide.design.keys import selfies_key
from seqguide.design.report.metrics import hamming_diversity, pareto_mask, tanimoto_diversity

MOLECULES = ["[C][C][O]", "[C][C][C][O]", "[C][=C][C][=C][C][=C][Ring1][=Branch1]", "[C][C][=Branch1][C][=O][O]",
             "[N][C][C][O]", "[C][C][N]"]


def test_hamming_diversity_counts_differences_and_length():
    assert hamming_diversity([list("AAAA"), list("AAAT"), list("TAAT")]) == pytest.approx((1 + 2 + 1) / 3)
    assert hamming_diversity([list("AAAA"), list("AA")]) == 2  # two positions missing
    assert np.isnan(hamming_diversity([list("AAAA")]))


def test_tanimoto_diversity_is_zero_for_one_molecule_spelt_twice():
    assert tanimoto_diversity(["[C][O]", "[O][C]"]) == pytest.approx(0.0)
    assert 0.0 < tanimoto_diversity(["CCO", "c1ccccc1"]) <= 1.0


def test_pareto_mask_respects_directions():
    pts = np.array([[1.0, 1.0], [2.0, 0.5], [0.5, 0.5], [2.0, 2.0]])
    assert pareto_mask(pts, [True, True]).tolist() == [False, False, False, True]
    assert pareto_mask(pts, [True, False]).tolist() == [False, True, False, False]


def _molecule_store(path) -> None:
    alphabet = Alphabet.selfies_from_data(MOLECULES)
    objective = {"maximize": True, "combine": "sum",
                 "components": [{"label": "mpo", "weight": 1.0, "maximize": True},
                                {"label": "qed", "weight": -0.5, "maximize": True},
                                {"label": "sa", "weight": 0.0, "maximize": False}]}
    with DesignStore(path) as store:
        run = store.create_run(name="mols", config={"report": {"top_k": 4}}, seed=0, budget=6,
                               alphabet=alphabet.to_dict(), objective=objective)
        rng = np.random.default_rng(0)
        for r in range(2):
            store.begin_round(run, r, seed=r)
            recs = []
            for i, s in enumerate(MOLECULES[3 * r : 3 * r + 3]):
                qed, sa = float(rng.uniform()), float(rng.uniform(1, 5))
                recs.append(DesignRecord(sequence=s, key=selfies_key(s), round=r, idx=i, objective=qed / sa,
                                         valid=True, components={"mpo": qed / sa, "qed": qed, "sa": sa}))
            store.add_designs(run, recs)
            store.update_round(run, r, status="done")


def test_molecule_report_draws_a_grid_and_a_pareto_front(tmp_path):
    _molecule_store(tmp_path / "campaign.sqlite")
    rep = write_report(tmp_path)
    assert set(rep.files) == {"top_csv", "top_md", "best_so_far", "scores_by_round", "diversity_by_round", "pareto",
                              "molecules", "summary", "html"}
    assert all(p.stat().st_size > 0 for p in rep.files.values())
    lines = (tmp_path / "report" / "top_designs.csv").read_text().splitlines()
    assert lines[0] == "rank,round,objective,mpo,qed,sa,sequence,smiles,id" and len(lines) == 1 + 4
    summary = (tmp_path / "report" / "report.md").read_text()
    assert "![molecules](molecules.png)" in summary
    # Only weighted components are objectives: the recorded one is said to be recorded, never maximised.
    assert "maximize the sum of 1 x mpo, -0.5 x qed; recorded (weight 0, not optimised): sa" in summary
    assert "| sa (recorded) |" in summary and "| mpo |" in summary


def test_pareto_axes_are_the_optimised_components_with_the_campaigns_directions(tmp_path):
    from seqguide.design.report import load_run
    from seqguide.design.report.writer import _pareto_pair

    _molecule_store(tmp_path / "campaign.sqlite")
    data = load_run(tmp_path)
    assert _pareto_pair(data) == ["mpo", "qed"]  # sa (weight 0) is never an axis
    assert [data.pushes_up(p) for p in ("mpo", "qed")] == [True, False]  # a negative weight is minimised


def test_report_cli_errors_and_top_k(tmp_path, capsys):
    assert report_main([str(tmp_path / "nowhere")]) == 1
    assert "no such run directory or store file" in capsys.readouterr().err
    _molecule_store(tmp_path / "campaign.sqlite")
    assert report_main([str(tmp_path / "campaign.sqlite"), "--top-k", "2", "--out", str(tmp_path / "r")]) == 0
    assert len((tmp_path / "r" / "top_designs.csv").read_text().splitlines()) == 3
