"""The host-sync counter counts device reads and data-dependent shapes, and nothing computed on the host."""

from __future__ import annotations

import torch

from seqguide.sampling.host_syncs import HostSyncCounter


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
