"""seqguide: design discrete and biological sequences with guided generative models."""

from seqguide.alphabet import DNA, PROTEIN, RNA, Alphabet, get_alphabet

__all__ = ["DNA", "PROTEIN", "RNA", "Alphabet", "get_alphabet"]
__version__ = "0.1.0"
