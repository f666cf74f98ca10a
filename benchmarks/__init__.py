"""Reproducible benchmark runs that write tables (CSV + Markdown) and plots to benchmarks/results/."""
