"""Distributed sampling: blocks seeded from (seed, block index) give the same samples on 1 or 2 processes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from scale_helpers import tiny_model

from oracles import get_oracle
from seqguide import sample
from seqguide.cli import main
from seqguide.guidance import SMC, SVDD
from seqguide.models import MaskedDiffusion
from seqguide.sampling.distributed import SampleRequests, merge_blocks, sample_distributed
from seqguide.sampling.sampler import chunk_seed

_SCRIPT = textwrap.dedent('''
    import json, sys
    import torch
    from oracles import get_oracle
    from seqguide.guidance import SMC, SVDD
    from seqguide.models import MaskedDiffusion
    from seqguide.sampling.distributed import sample_distributed

    ckpt, devices, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    model = MaskedDiffusion.load(ckpt)
    gc = get_oracle("gc")
    runs = {
        "svdd": dict(guidance=[SVDD(gc, particles=3)], cond=[0, 1, 1, 0, 1, 0, 0, 1, 1, 0]),
        "smc_all": dict(guidance=[SMC(gc, particles=3, lam=5.0, output="all")], cond=1),
    }
    result = {}
    for name, kwargs in runs.items():
        s = sample_distributed(model, 10, steps=8, seed=7, batch_size=3, accelerator="cpu", devices=devices,
                               strategy="ddp" if devices > 1 else "auto", progress=False, **kwargs)
        if s is not None:
            result[name] = {"tokens": s.tokens.tolist(), "sequences": s.sequences, "scores": s.scores.tolist(),
                            "weights": None if s.weights is None else s.weights.tolist(),
                            "group": None if s.group is None else s.group.tolist(),
                            "oracle_calls": s.trace["oracle_calls"], "nfe": s.trace["nfe"]}
    if result:
        with open(out, "w") as fh:
            json.dump(result, fh)
''')


def _guidance(name: str) -> tuple[list, object]:
    gc = get_oracle("gc")
    if name == "svdd":
        return [SVDD(gc, particles=3)], [0, 1, 1, 0, 1, 0, 0, 1, 1, 0]
    return [SMC(gc, particles=3, lam=5.0, output="all")], 1


@pytest.mark.slow
def test_chunk_seeds_make_every_chunk_reproducible_on_its_own() -> None:
    model = tiny_model()
    whole = sample(model, 7, steps=8, seed=5, batch_size=3, chunk_seeds=True, progress=False)
    for k, (lo, hi) in enumerate([(0, 3), (3, 6), (6, 7)]):
        part = sample(model, hi - lo, steps=8, seed=chunk_seed(5, k), progress=False)
        assert part.sequences == whole.sequences[lo:hi]
    default = sample(model, 7, steps=8, seed=5, batch_size=3, progress=False)
    assert default.sequences != whole.sequences, "the default (one generator per run) is unchanged"
    assert len({chunk_seed(s, k) for s in range(4) for k in range(4)}) == 16
    assert [SampleRequests(7, 3)[k] for k in range(3)][-1] == {"block": 2, "start": 6, "stop": 7}


def test_merge_refuses_missing_or_repeated_blocks() -> None:
    model = tiny_model()
    a = sample(model, 3, steps=4, seed=0, progress=False)
    with pytest.raises(RuntimeError, match="starts at 3, expected 0"):
        merge_blocks([(1, 3, 6, a)], n=6, seed=0, seconds=0.0)
    with pytest.raises(RuntimeError, match="returned 3 of 6"):
        merge_blocks([(0, 0, 3, a)], n=6, seed=0, seconds=0.0)


@pytest.mark.slow
def test_two_processes_give_exactly_the_samples_of_one(tmp_path: Path, tiny_checkpoint: Path, cpu_env) -> None:
    script = tmp_path / "draw.py"
    script.write_text(_SCRIPT)
    out = tmp_path / "two.json"
    proc = subprocess.run([sys.executable, str(script), str(tiny_checkpoint), "2", str(out)], env=cpu_env,
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "MEMBER: 2/2" in proc.stderr, "Lightning did not start two processes"
    two = json.loads(out.read_text())
    model = MaskedDiffusion.load(tiny_checkpoint)
    for name in ("svdd", "smc_all"):
        guidance, cond = _guidance(name)
        one = sample_distributed(model, 10, steps=8, seed=7, batch_size=3, accelerator="cpu", devices=1,
                                 progress=False, guidance=guidance, cond=cond)
        guidance, cond = _guidance(name)
        plain = sample(model, 10, steps=8, seed=7, batch_size=3, chunk_seeds=True, progress=False,
                       guidance=guidance, cond=cond)
        for ref in (one, plain):
            assert two[name]["tokens"] == ref.tokens.tolist(), name
            assert two[name]["sequences"] == list(ref.sequences), name
            np.testing.assert_array_equal(two[name]["scores"], ref.scores)
            assert two[name]["oracle_calls"] == ref.trace["oracle_calls"]
            assert two[name]["nfe"] == pytest.approx(ref.trace["nfe"])
        if name == "smc_all":  # all 3 particles of each of the 10 requests, with their request index and weight
            assert two[name]["group"] == np.repeat(np.arange(10), 3).tolist() == one.group.tolist()
            np.testing.assert_allclose(two[name]["weights"], one.weights)


@pytest.mark.slow
def test_seqguide_sample_on_two_processes_writes_the_single_process_file(tmp_path: Path, tiny_checkpoint: Path,
                                                                           cpu_env) -> None:
    common = ["sample", "--ckpt", str(tiny_checkpoint), "-n", "9", "--batch-size", "2", "--seed", "3",
              "--cond", "1", "--steps", "8"]
    assert main([*common, "--out", str(tmp_path / "one.fasta"), "--device", "cpu"]) == 0
    proc = subprocess.run([sys.executable, "-m", "seqguide.cli", *common, "--out", str(tmp_path / "two.fasta"),
                           "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp"], env=cpu_env,
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "MEMBER: 2/2" in proc.stderr
    one, two = (tmp_path / "one.fasta").read_text(), (tmp_path / "two.fasta").read_text()
    assert one == two and one.count(">") == 9


def test_several_processes_need_a_batch_size() -> None:
    with pytest.raises(ValueError, match="batch_size is required with 2 processes"):
        sample_distributed(tiny_model(), 4, steps=2, accelerator="cpu", devices=2, strategy="ddp", progress=False)


def test_precision_and_device_options_are_checked(tiny_checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["sample", "--ckpt", str(tiny_checkpoint), "--precision", "fp8"])
    out = tmp_path / "bf16.csv"
    assert main(["sample", "--ckpt", str(tiny_checkpoint), "-n", "3", "--precision", "bf16-mixed", "--out",
                 str(out), "--device", "cpu"]) == 0
    assert out.read_text().count("sample_") == 3
