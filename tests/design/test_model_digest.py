"""The model digest covers the tensors only (weights and optimiser state: names, dtypes, shapes, bytes), so two
checkpoints that differ only in timestamps, paths or loop counters share it; a resumed campaign checks it against
the stored run's, and a store written with the old file digest is migrated when the file still matches."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
import torch

from seqguide.design import Campaign, CampaignError
from seqguide.design.model_source import DIGEST_KIND, file_digest, model_digest, resumed_model


def _ckpt(path, *, weight=None, extra=None, order=("a", "b"), moment=None):
    weights = {"a": torch.arange(6, dtype=torch.float32).reshape(2, 3) if weight is None else weight,
               "b": torch.tensor([1, 2], dtype=torch.int64)}
    state = {"state_dict": {k: weights[k] for k in order},
             "optimizer_states": [{"state": {0: {"exp_avg": torch.ones(3) if moment is None else moment,
                                                 "step": torch.tensor(5.0)}}, "param_groups": [{"lr": 0.1}]}],
             **(extra or {})}
    torch.save(state, path)
    return path


def test_the_digest_depends_on_tensor_contents_names_and_dtypes_only(tmp_path):
    base = model_digest(_ckpt(tmp_path / "base.ckpt"))
    same = _ckpt(tmp_path / "same.ckpt", order=("b", "a"),
                 extra={"timestamp": "2026-12-07T16:00", "loops": {"fit": {"batches": 3}}, "hparams": {"p": "/x"}})
    assert model_digest(same) == base and file_digest(same) != file_digest(tmp_path / "base.ckpt")
    weight = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    weight[1, 2] = 5.5
    assert model_digest(_ckpt(tmp_path / "w.ckpt", weight=weight)) != base
    assert model_digest(_ckpt(tmp_path / "d.ckpt", weight=torch.arange(6, dtype=torch.float64).reshape(2, 3))) != base
    assert model_digest(_ckpt(tmp_path / "s.ckpt", weight=torch.arange(6, dtype=torch.float32).reshape(3, 2))) != base
    assert model_digest(_ckpt(tmp_path / "m.ckpt", moment=torch.full((3,), 2.0))) != base  # optimiser state counts
    bf16 = _ckpt(tmp_path / "bf.ckpt", weight=torch.ones(2, 3, dtype=torch.bfloat16))
    assert model_digest(bf16) != base and len(model_digest(bf16)) == 12


def test_resumed_model_compares_digests_and_migrates_an_old_record(tmp_path):
    path = _ckpt(tmp_path / "m.ckpt")
    info = {"sha256": model_digest(path), "digest_kind": DIGEST_KIND, "checkpoint": str(path), "id": "m@x"}
    assert resumed_model(dict(info), info) is None and resumed_model(None, info) is None
    with pytest.raises(ValueError, match="a different model"):
        resumed_model({**info, "sha256": "0" * 12}, info)
    old = {"sha256": file_digest(path), "id": f"m.ckpt@{file_digest(path)}"}
    assert "now holds its tensor digest" in resumed_model(old, info)
    with pytest.raises(ValueError, match="a different model file"):
        resumed_model({"sha256": "f" * 12}, info)


CAMPAIGN = """
name: digest
seed: 1
run_dir: {run_dir}
model: {{checkpoint: {ckpt}}}
objective: {{oracles: [{{name: gc}}]}}
sampling: {{steps: 4}}
loop: {{rounds: 1, candidates: 2, score_batch: 2, budget: 100}}
"""


def test_a_resume_checks_the_model_digest_and_migrates_an_old_store(tiny_checkpoint, tmp_path, write_yaml, capsys):
    ckpt = shutil.copyfile(tiny_checkpoint, tmp_path / "model.ckpt")
    path = write_yaml(CAMPAIGN.format(run_dir=tmp_path / "run", ckpt=ckpt))
    Campaign.from_yaml(path).run(progress=False)
    store = tmp_path / "run" / "campaign.sqlite"
    db = sqlite3.connect(store)
    record = json.loads(db.execute("SELECT model FROM runs").fetchone()[0])
    assert record["sha256"] == model_digest(ckpt) and record["digest_kind"] == DIGEST_KIND
    # A store written before tensor digests: its record holds the file digest, and resumes once migrated.
    old = {k: v for k, v in record.items() if k != "digest_kind"} | {"sha256": file_digest(ckpt)}
    with db:
        db.execute("UPDATE runs SET model = ?", [json.dumps(old)])
    capsys.readouterr()
    Campaign.from_yaml(path, ["loop.rounds=2"]).run(resume=True, progress=False)
    assert f"the store recorded the model by its file digest {file_digest(ckpt)}" in capsys.readouterr().out
    assert json.loads(db.execute("SELECT model FROM runs").fetchone()[0])["digest_kind"] == DIGEST_KIND
    # The same path with other weights cannot continue the run.
    state = torch.load(ckpt, weights_only=True)
    name = next(iter(state["state_dict"]))
    state["state_dict"][name] = state["state_dict"][name] + 1
    torch.save(state, ckpt)
    with pytest.raises(CampaignError, match=f"tensor digest is {model_digest(ckpt)}, not the stored run's "
                                            f"{record['sha256']}: a different model"):
        Campaign.from_yaml(path, ["loop.rounds=3"]).run(resume=True, progress=False)
    db.close()
