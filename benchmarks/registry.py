"""The benchmarks ``python -m benchmarks`` knows: one line per benchmark, name -> module.

A module is either a *cell benchmark* (it defines ``BENCHMARK``, a :class:`benchmarks.runner.CellBenchmark`:
the runner plans its cells, resumes them and writes the tables) or a *script benchmark* (it defines
``main(argv) -> int`` accepting ``--quick``; the runner passes ``--quick``, ``--seeds`` and any extra
arguments through). Registering a new benchmark is adding its line here.
"""

from __future__ import annotations

__all__ = ["BENCHMARKS"]

BENCHMARKS: dict[str, str] = {
    "campaigns": "benchmarks.campaigns",
    "design_bio": "benchmarks.design_bio",
    "design_ehrlich": "benchmarks.design_ehrlich",
    "design_pmo": "benchmarks.design_pmo",
    "gradient_guidance": "benchmarks.gradient_guidance",
    "holo_fidelity": "benchmarks.holo_fidelity",
    "image_guidance": "benchmarks.image_guidance",
    "initial_data": "benchmarks.initial_data",
    "moses_metrics": "benchmarks.moses_metrics",
    "oracle_speed": "benchmarks.oracle_speed",
    "posterior_sampling": "benchmarks.posterior_sampling",
    "sampler_speed": "benchmarks.sampler_speed",
    "speed": "benchmarks.speed",
    "startup": "benchmarks.startup",
    "surrogate_ranking": "benchmarks.surrogate_ranking",
    "throughput": "benchmarks.throughput",
    "value_guidance": "benchmarks.value_guidance",
}
