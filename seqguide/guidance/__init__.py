"""The guider core: every guidance method is a ``Guider`` acting on the hooks of the sampling loop."""

from seqguide.guidance.base import Candidates, Final, Guider

__all__ = ["Candidates", "Final", "Guider"]
