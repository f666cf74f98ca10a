"""seqguide: design discrete and biological sequences with guided generative models.

The names below are imported on first use, so that ``import seqguide`` (and ``seqguide --version``) does not load
torch.
"""

from typing import TYPE_CHECKING

from seqguide import moved
from seqguide.lazy import lazy_exports

if TYPE_CHECKING:
    from seqguide.alphabet import DNA, PROTEIN, RNA, Alphabet, get_alphabet
    from seqguide.sampling import Samples, sample

_NAMES = {
    "DNA": "seqguide.alphabet",
    "PROTEIN": "seqguide.alphabet",
    "RNA": "seqguide.alphabet",
    "Alphabet": "seqguide.alphabet",
    "get_alphabet": "seqguide.alphabet",
    "Samples": "seqguide.sampling",
    "sample": "seqguide.sampling",
}
__all__ = ["DNA", "PROTEIN", "RNA", "Alphabet", "Samples", "get_alphabet", "sample"]
__version__ = "0.1.0"
__getattr__ = lazy_exports(__name__, _NAMES)

moved.install()  # module paths from before the layout by family keep importing, with a DeprecationWarning
