"""The host-sync counter counts device reads and data-dependent shapes, and nothing computed on the host."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from seqguide.sampling import host_syncs
from seqguide.sampling.host_syncs import HostSyncCounter, _short


def test_counts_reads_of_device_tensors_only() -> None:
    weight = torch.nn.Linear(3, 3)
    with HostSyncCounter(weight) as syncs:
        x = weight(torch.ones(2, 3))  # derived from parameters: on the device
        host = torch.as_tensor([0.25, 0.5], dtype=torch.float64)  # host bookkeeping: never counted
        float(host.sum())
        host.tolist()
        if (x > 0).any():  # bool() of a device tensor: 1
            pass
        x.sum().item()  # 2
        x[x > 0]  # boolean mask: 3
        torch.nonzero(x > 0)  # 4
        dev = torch.zeros(4, device="cpu")  # explicit device=: on the device
        int(dev.sum())  # 5
        dev.cpu().tolist()  # one transfer, not two: 6
        x[torch.tensor([0, 1])]  # integer index of known size: no sync
        torch.where(x > 0, x, 0.0)  # three-argument where: no sync
    assert syncs.total == 6, syncs.by_site()
    sites = syncs.by_site()
    assert all(site.startswith("tests/scale/test_host_syncs.py:") for site in sites)
    assert not hasattr(weight.weight, "_seqguide_on_device"), "tags are removed on exit"


def test_sites_are_named_relative_to_the_checkout_even_inside_a_folder_named_seqguide(tmp_path: Path) -> None:
    # git clones into a folder named after the repository: <somewhere>/seqguide/seqguide/sampling/...
    clone = tmp_path / "work" / "seqguide"
    assert _short(str(clone / "seqguide" / "sampling" / "sampler.py"), clone) == "seqguide/sampling/sampler.py"
    assert _short(str(clone / "tests" / "scale" / "test_x.py"), clone) == "tests/scale/test_x.py"
    assert _short(str(clone / "oracles" / "seqguide" / "a.py"), clone) == "oracles/seqguide/a.py"
    assert _short(str(tmp_path / "elsewhere" / "seqguide" / "b.py"), clone) == "b.py"  # outside: the file name
    assert _short(host_syncs.__file__) == "seqguide/sampling/host_syncs.py"  # the checkout from __file__


@pytest.mark.slow
def test_a_clone_in_a_folder_named_seqguide_names_its_test_file(tmp_path: Path) -> None:
    clone = tmp_path / "seqguide"
    shutil.copytree(Path(host_syncs.__file__).resolve().parents[1], clone / "seqguide",
                    ignore=shutil.ignore_patterns("__pycache__"))
    script = clone / "tests" / "probe.py"
    script.parent.mkdir()
    script.write_text("import torch\nfrom seqguide.sampling.host_syncs import HostSyncCounter\n"
                      "w = torch.nn.Linear(2, 2)\nwith HostSyncCounter(w) as s:\n    w(torch.ones(1, 2)).sum().item()\n"
                      "print(*s.by_site())\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(clone)}, cwd=clone)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["tests/probe.py:5", "item"]
