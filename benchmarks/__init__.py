"""Reproducible benchmark runs that write tables (CSV + Markdown) and plots to benchmarks/results/.

``python -m benchmarks list`` lists them (:data:`benchmarks.registry.BENCHMARKS`); ``python -m benchmarks run
NAME [--quick] [--seeds ...]`` runs one (:mod:`benchmarks.runner`): cell benchmarks resume cell by cell from
``benchmarks/results/NAME.cells.jsonl``.
"""
