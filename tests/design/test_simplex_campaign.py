"""A campaign that trains a Gumbel-Softmax simplex flow and steers it with STGFlow through the round's surrogate."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from seqguide.design import Campaign
from seqguide.design.config_io import ConfigError, load_campaign

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "campaigns"

CAMPAIGN = """
name: tiny_simplex
seed: 1
run_dir: {run_dir}
model:
  train:
    kind: simplex
    data: {{preset: crp, val_fraction: 0.1, batch_size: 32}}
    backbone: {{type: conv, dim: 16, depth: 1}}
    steps: 20
    val_check_interval: 10
    flow: {{eta: 0.5}}
  alphabet: dna
  length: 26
objective:
  oracles:
    - name: gc
guidance:
  - method: stgflow
    value: surrogate
    scale: 5.0
    particles: 2
sampling:
  steps: 6
loop:
  rounds: 2
  candidates: 6
  score_batch: 6
surrogate: {{members: 2, channels: 8, epochs: 2, min_labels: 4}}
"""


def test_shipped_simplex_campaign_validates() -> None:
    cfg = load_campaign(CONFIGS / "amp_simplex.yaml").config
    assert cfg.model.train.kind == "simplex" and cfg.guidance[0].method == "stgflow"
    assert cfg.guidance[0].value == "surrogate"
    quick = load_campaign(CONFIGS / "amp_simplex.yaml", quick=True).config
    assert quick.loop.budget == 64


@pytest.mark.slow
def test_simplex_campaign_trains_the_flow_and_guides_with_stgflow(tmp_path: Path, write_yaml) -> None:
    path = write_yaml(CAMPAIGN.format(run_dir=tmp_path / "run"))
    result = Campaign.from_yaml(path).run(progress=False)
    db = sqlite3.connect(tmp_path / "run" / "campaign.sqlite")
    (model,), = db.execute("SELECT model FROM runs").fetchall()
    assert json.loads(model)["model"] == "GumbelSoftmaxFlow"
    rounds = db.execute("SELECT round, status, n_scored, value_source, guidance_oracle_calls FROM rounds "
                        "ORDER BY round").fetchall()
    assert [r[:3] for r in rounds] == [(0, "done", 6), (1, "done", 6)]
    assert rounds[1][3] == "surrogate" and rounds[1][4] == 0  # the gradient comes from the surrogate: no assay calls
    guided = db.execute("SELECT sequence, guidance FROM designs WHERE round = 1").fetchall()
    assert all(len(s) == 26 and set(s) <= set("ACGT") for s, _ in guided)
    assert all(g.startswith("STGFlow(") for _, g in guided)
    assert result.budget_used == 12
    # A resumed run loads the cached flow instead of training it again.
    again = Campaign.from_yaml(path).run(resume=True, progress=False)
    assert [d.sequence for d in again.best] == [d.sequence for d in result.best]


def test_flow_settings_only_for_the_simplex_kind(write_yaml) -> None:
    text = CAMPAIGN.format(run_dir="x").replace("    kind: simplex\n", "")
    with pytest.raises(ConfigError, match="kind: simplex only"):
        load_campaign(write_yaml(text))
    bad = CAMPAIGN.format(run_dir="x").replace("value: surrogate", "value: oracle")
    with pytest.raises(ConfigError, match="surrogate"):
        load_campaign(write_yaml(bad))
