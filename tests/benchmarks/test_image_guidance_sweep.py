"""The image benchmark's FDG sweep follows FDG's convention (``scales[0]`` the high-frequency level): the larger
scale on the high frequencies, as the paper and diffusers' default ``[10, 5]`` do."""

from __future__ import annotations

from benchmarks.image_guidance import _methods
from seqguide.guidance import FDG


def test_the_fdg_sweep_puts_the_larger_scale_on_the_high_frequencies():
    configs = _methods("diffusion", guide=None)["FDG"]
    assert len(configs) >= 2
    for label, make in configs:
        (guider,) = make()
        assert isinstance(guider, FDG)
        high, low = guider.scales[0], guider.scales[-1]
        assert high > low and label == f"high={high},low={low}", label
    assert FDG().scales[0] > FDG().scales[-1]  # the default (10, 5) says the same
