"""The one epsilon convention of seqguide: ``EPS`` guards a division by a norm, a squared norm or a standard
deviation that may be 0 (``x / y.clamp_min(EPS)``, or ``x / (y + EPS)`` where a paper writes it so).

1e-8 is CFG-Zero*'s published guard on ``||u||^2`` and is far above float32's smallest normal number, so a guarded
quantity never underflows to inf. Gumbel-max sampling keeps its own clamps on the uniform draw (they bound the
noise's range, not a division) and probability floors (``clamp_min`` before a log) are chosen per use.
"""

from __future__ import annotations

__all__ = ["EPS"]

#: Guard on a denominator that may be 0 (norms, squared norms, standard deviations).
EPS = 1e-8
