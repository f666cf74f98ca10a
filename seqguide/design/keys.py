"""Design identity: when are two sampled strings the same design (deduplicated, and paid for once)?

For sequences, the string itself. For molecules written in SELFIES, many strings spell one molecule, so the
key is the canonical SMILES (RDKit) of the decoded molecule; a string that does not decode keeps its own
text as key (prefixed ``selfies:``), so it is still scored once and stored with its reason.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from seqguide.alphabet import Alphabet

__all__ = ["design_key", "selfies_key"]


@lru_cache(maxsize=65536)
def selfies_key(text: str) -> str:
    """The canonical SMILES of a SELFIES string, or ``"selfies:<text>"`` if it does not decode to a molecule.

    Example:
        >>> selfies_key("[C][O]") == selfies_key("[O][C]") == "CO"
        True
    """
    import selfies as sf
    from rdkit import Chem, rdBase

    try:
        smiles = sf.decoder(text)
    except Exception:  # selfies raises its own DecoderError (and others) for malformed input
        return f"selfies:{text}"
    if not smiles:
        return f"selfies:{text}"
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(smiles)
    return Chem.MolToSmiles(mol) if mol is not None else f"selfies:{text}"


def design_key(alphabet: Alphabet | None) -> Callable[[str], str] | None:
    """The key function for designs over ``alphabet``: :func:`selfies_key` for SELFIES, None (identity) else."""
    if alphabet is not None and alphabet.kind == "selfies":
        return selfies_key
    return None
