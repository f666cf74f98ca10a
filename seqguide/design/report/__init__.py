"""Reports of a campaign run: ranked tables and plots, from the SQLite store alone (``seqguide report RUN``).

- :mod:`.writer`: :func:`write_report`, what goes into a report, and ``report.md`` (the files are listed there);
- :mod:`.run_data`: a run read back from its store (:class:`RunData`, :func:`load_run`, :func:`find_store`);
- :mod:`.metrics`: diversity (Hamming, Tanimoto) and the Pareto front; :mod:`.tables`: the ranked tables;
  :mod:`.plots`: the figures (matplotlib ``Figure`` objects, no global pyplot state).
"""

from seqguide.design.report.metrics import hamming_diversity, pareto_mask, tanimoto_diversity
from seqguide.design.report.run_data import RunData, find_store, load_run
from seqguide.design.report.writer import Report, write_report

__all__ = [
    "Report",
    "RunData",
    "find_store",
    "hamming_diversity",
    "load_run",
    "pareto_mask",
    "tanimoto_diversity",
    "write_report",
]
