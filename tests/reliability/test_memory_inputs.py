"""Batches that cannot fit: a memory estimate refuses them before the first forward (campaign validation and
``seqguide sample``), naming the key to lower and the estimate against the memory available; an allocator error
that still happens is one line."""

from __future__ import annotations

import pytest
import torch
import yaml
from reliability_helpers import call_cli, one_or_two_lines

from seqguide.cli import main
from seqguide.design.cli import design_main
from seqguide.sampling.memory import (
    MemoryEstimateError,
    available_memory,
    check_forward_memory,
    forward_bytes,
    guider_rows,
    is_out_of_memory,
)


def test_the_estimate_is_rows_times_length_times_vocab_times_four_bytes():
    assert forward_bytes(3, 5, 7) == 3 * 5 * 7 * 4
    assert guider_rows({"particles": 8, "lam": 2.0}) == (8, "particles")
    assert guider_rows({"beams": 4, "expand": 8, "n": True}) == (32, "expand")
    assert guider_rows({"scale": 3}) == (1, None)
    assert check_forward_memory(10, 10, 10, "cpu", where="k", available=4000) == 4000  # exactly fits
    with pytest.raises(MemoryEstimateError, match=r"^k: one forward of 11 rows x 10 positions x 10 tokens needs "
                                                  r"about .* available on cpu \(at most ~10 rows fit\)"):
        check_forward_memory(11, 10, 10, "cpu", where="k", available=4000)
    free = available_memory("cpu")
    assert free is None or free > 0


def _campaign(tmp_path, ckpt, particles):
    cfg = {"name": "huge", "run_dir": str(tmp_path / "run"), "model": {"checkpoint": str(ckpt)},
           "objective": {"oracles": [{"name": "gc"}]}, "sampling": {"steps": 4},
           "guidance": [{"method": "svdd", "value": "oracle", "particles": particles}],
           "loop": {"rounds": 1, "candidates": 4}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_a_campaign_with_a_billion_particles_is_refused_before_sampling(tmp_path, tiny_model, tally):
    code, out, err = call_cli(design_main, ["run", str(_campaign(tmp_path, tiny_model, 10**9)), "--no-progress"])
    assert code == 2 and one_or_two_lines(err), err
    assert "guidance[0].particles: one forward of 4,000,000,000 rows x 26 positions x" in err, err
    assert "available on cpu" in err and "--resume" not in err, err
    assert "oracle calls" not in out
    tally.inputs("memory: particles 1e9 in a campaign", 1)


def test_seqguide_sample_refuses_a_batch_that_cannot_fit_and_turns_an_allocator_error_into_one_line(
        tiny_model, tally, monkeypatch):
    code, _, err = call_cli(main, ["sample", "--ckpt", str(tiny_model), "-n", "4", "--steps", "2", "--guidance",
                                   "svdd:particles=1000000000", "--oracle", "gc", "--device", "cpu"])
    assert code == 2 and one_or_two_lines(err) and "--guidance[0].particles: one forward of" in err, err
    code, _, err = call_cli(main, ["sample", "--ckpt", str(tiny_model), "-n", str(10**11), "--steps", "2",
                                   "--device", "cpu"])
    assert code == 2 and one_or_two_lines(err) and err.startswith("seqguide sample: error: -n: one forward"), err

    import seqguide.sampling.distributed as distributed

    for exc in (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 953.67 GiB.\nmore"),
                RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: not enough memory: you "
                             "tried to allocate 1000000000000 bytes."), MemoryError()):
        def fail(*args, exc=exc, **kwargs):
            raise exc
        monkeypatch.setattr(distributed, "launch_sampling", fail)
        code, _, err = call_cli(main, ["sample", "--ckpt", str(tiny_model), "-n", "4", "--steps", "2",
                                       "--device", "cpu"])
        assert code == 2 and one_or_two_lines(err), err
        assert "out of memory on cpu while sampling; lower -n, --batch-size" in err, err
        assert is_out_of_memory(exc)
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    tally.inputs("memory: seqguide sample batches that cannot fit", 5)
