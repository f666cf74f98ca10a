"""seqguide: design discrete and biological sequences with guided generative models."""

from seqguide import moved
from seqguide.alphabet import DNA, PROTEIN, RNA, Alphabet, get_alphabet
from seqguide.sampling import Samples, sample

__all__ = ["DNA", "PROTEIN", "RNA", "Alphabet", "Samples", "get_alphabet", "sample"]
__version__ = "0.1.0"

moved.install()  # module paths from before the layout by family keep importing, with a DeprecationWarning
