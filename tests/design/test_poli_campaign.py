"""A seqguide campaign from YAML optimises a poli problem (``aloha``) under a tiny budget, and exports its designs."""

from __future__ import annotations

import random
import sqlite3

import pytest

pytest.importorskip("poli", reason='poli is not installed (pip install "seqguide[poli]" or poli-core --no-deps)')

from seqguide.design import Campaign
from seqguide.design.export import export_main

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CAMPAIGN = """
name: poli_aloha
seed: 0
run_dir: {run_dir}
model:
  train:
    data: {{path: {data}, alphabet: [{letters}], val_fraction: 0.0, batch_size: 16}}
    backbone: {{type: conv, dim: 16, depth: 1, kernel_size: 3}}
    steps: 10
    val_check_interval: 10
  length: 5
sampling: {{steps: 5}}
objective:
  oracles:
    - name: poli
      args: {{problem: aloha}}
      label: aloha
loop: {{rounds: 2, candidates: 6, score_batch: 6, budget: 10}}
"""


@pytest.mark.slow
def test_a_campaign_from_yaml_scores_a_poli_problem_within_its_budget(tmp_path, write_yaml):
    rng = random.Random(0)
    data = tmp_path / "aloha.fasta"
    # training data biased towards the target's letters, so the sampler proposes some partial matches
    data.write_text("".join(f">s{i}\n" + "".join(rng.choice("ALOHA" + LETTERS[:5]) for _ in range(5)) + "\n"
                            for i in range(64)))
    path = write_yaml(CAMPAIGN.format(run_dir=tmp_path / "run", data=data, letters=", ".join(LETTERS)))
    result = Campaign.from_yaml(path).run(progress=False)
    db = sqlite3.connect(tmp_path / "run" / "campaign.sqlite")
    rows = db.execute("SELECT sequence, objective, valid, charged, round FROM designs").fetchall()
    assert 0 < len(rows) <= 10 and result.budget_used == sum(r[3] for r in rows) <= 10
    for seq, value, valid, charged, _ in rows:  # poli's value: letters in place of "ALOHA"
        assert valid and charged and value == sum(a == b for a, b in zip(seq, "ALOHA"))
    assert {r[4] for r in rows} == {0, 1}

    from Bio import SeqIO

    assert export_main([str(tmp_path / "run"), "--format", "fasta", "--top", "3"]) == 0
    records = list(SeqIO.parse(tmp_path / "run" / "export" / "designs.fasta", "fasta"))
    best = sorted((r[1] for r in rows), reverse=True)[:3]
    assert [float(dict(kv.split("=", 1) for kv in r.description.split()[1:])["aloha"]) for r in records] == best
