"""Alphabets: the map between sequence strings and integer token ids.

Every model, data set and oracle in seqguide agrees on one :class:`Alphabet`. Token ids are laid out as

    0 .. K-1   the K regular tokens (e.g. ``A C G T``)
    K          the pad token (ends variable-length sequences; a model may generate it)
    K+1        the mask token (the absorbing state of masked diffusion)

so ``alphabet.vocab_size == K + 2`` is the size a network's embedding and output layer use.

Presets: :data:`DNA`, :data:`RNA`, :data:`PROTEIN` (the 20 standard amino acids), :data:`GREY17` (17 grey
levels of a quantised image, ``0-9A-G`` for levels 0-16, e.g. scikit-learn's 8x8 digits); SELFIES alphabets are
built from data with :meth:`Alphabet.selfies_from_data` (``selfies`` package); anything else is a custom
token list, ``Alphabet(["Ala", "Gly", ...], name="my_tokens")``.

Example:
    >>> from seqguide import DNA
    >>> ids = DNA.encode(["ACGT", "GG"])          # (2, 4) int64, "GG" padded
    >>> DNA.decode(ids)
    ['ACGT', 'GG']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["DNA", "GREY17", "PROTEIN", "RNA", "Alphabet", "get_alphabet"]

MASK_TOKEN = "<mask>"
_DECODE_CODE_POINTS = 1 << 22  # code points decoded per chunk (16 MiB of uint32): bounds decode's memory
PAD_TOKEN = "<pad>"


class Alphabet:
    """An ordered token vocabulary with pad and mask tokens.

    Args:
        tokens: The regular tokens, in id order. Single characters (``"ACGT"``) or multi-character
            tokens (SELFIES ``"[C]"``); a string is split into characters.
        name: A short name stored in checkpoints and shown in errors (``"dna"``, ``"selfies"``, ...).
        case_sensitive: If False, input strings are upper-cased before tokenising (bio presets).
        kind: What the tokens are: ``"dna"``, ``"rna"``, ``"protein"``, ``"selfies"`` or ``"custom"``.

    Raises:
        ValueError: if tokens are empty, repeated, or collide with the special tokens.
    """

    def __init__(
        self,
        tokens: Sequence[str] | str,
        *,
        name: str | None = None,
        case_sensitive: bool = True,
        kind: str = "custom",
    ) -> None:
        tokens = list(tokens)
        if not tokens:
            raise ValueError("Alphabet needs at least one token, got an empty token list")
        bad = [t for t in tokens if not isinstance(t, str) or not t]
        if bad:
            raise ValueError(f"Alphabet tokens must be non-empty strings, got {bad[:5]!r}")
        seen: set[str] = set()
        dupes = [t for t in tokens if t in seen or seen.add(t)]  # type: ignore[func-returns-value]
        if dupes:
            raise ValueError(f"Alphabet tokens must be unique, repeated: {sorted(set(dupes))!r}")
        if MASK_TOKEN in tokens or PAD_TOKEN in tokens:
            raise ValueError(f"{MASK_TOKEN!r} and {PAD_TOKEN!r} are reserved and added automatically")
        if not case_sensitive and len({t.upper() for t in tokens}) != len(tokens):
            raise ValueError("case_sensitive=False needs tokens that differ after upper-casing")
        self.tokens: list[str] = [t if case_sensitive else t.upper() for t in tokens]
        self.name = name or "custom"
        self.kind = kind
        self.case_sensitive = case_sensitive
        self._index = {t: i for i, t in enumerate(self.tokens)}
        self._single_char = all(len(t) == 1 for t in self.tokens)
        self._luts: dict[str, np.ndarray] = {}  # decode lookup tables, per mask character
        if not self._single_char:
            # Longest match first, so "[Branch1]" wins over "[B" style prefixes.
            alts = sorted(self.tokens, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(t) for t in alts))

    # ------------------------------------------------------------------ ids
    @property
    def size(self) -> int:
        """Number of regular tokens K (pad and mask excluded)."""
        return len(self.tokens)

    @property
    def pad_id(self) -> int:
        return len(self.tokens)

    @property
    def mask_id(self) -> int:
        return len(self.tokens) + 1

    @property
    def vocab_size(self) -> int:
        """K + 2: regular tokens, pad and mask. The width of a network's embedding/output."""
        return len(self.tokens) + 2

    @property
    def all_tokens(self) -> list[str]:
        """Tokens in id order, specials included."""
        return [*self.tokens, PAD_TOKEN, MASK_TOKEN]

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Alphabet) and other.tokens == self.tokens and other.kind == self.kind

    def __hash__(self) -> int:
        return hash((tuple(self.tokens), self.kind))

    def __repr__(self) -> str:
        shown = "".join(self.tokens) if self._single_char else " ".join(self.tokens[:8])
        more = "" if self._single_char or len(self.tokens) <= 8 else f" ... ({len(self.tokens)} tokens)"
        return f"Alphabet(name={self.name!r}, tokens={shown!r}{more})"

    # ------------------------------------------------------------ tokenise
    def tokenize(self, sequence: str, *, index: int | None = None) -> list[str]:
        """Split one string into tokens.

        Args:
            sequence: The string to split.
            index: Position of the string in its batch, quoted in the error message.

        Raises:
            ValueError: naming the sequence index, the character position and the offending character.
        """
        if not isinstance(sequence, str):
            raise ValueError(f"{self._where(index)}expected a string, got {type(sequence).__name__}")
        seq = sequence if self.case_sensitive else sequence.upper()
        if self._single_char:
            for pos, ch in enumerate(seq):
                if ch not in self._index:
                    raise ValueError(self._illegal(sequence, index, pos, sequence[pos]))
            return list(seq)
        out: list[str] = []
        pos = 0
        for m in self._pattern.finditer(seq):
            if m.start() != pos:
                raise ValueError(self._illegal(sequence, index, pos, sequence[pos]))
            out.append(m.group())
            pos = m.end()
        if pos != len(seq):
            raise ValueError(self._illegal(sequence, index, pos, sequence[pos]))
        return out

    def _where(self, index: int | None) -> str:
        return f"sequence {index}: " if index is not None else ""

    def _illegal(self, sequence: str, index: int | None, pos: int, char: str) -> str:
        where = f"sequence {index}" if index is not None else "sequence"
        snippet = sequence if len(sequence) <= 40 else sequence[max(0, pos - 15) : pos + 15]
        allowed = "".join(self.tokens) if self._single_char else f"{len(self.tokens)} {self.name} tokens"
        return (
            f"{where}, position {pos}: illegal character {char!r} for alphabet {self.name!r} "
            f"(allowed: {allowed}); near {snippet!r}"
        )

    def validate(self, sequence: str) -> str | None:
        """Return None if ``sequence`` tokenises, else the reason it does not (for oracles)."""
        if isinstance(sequence, str) and not sequence:
            return "empty sequence"
        try:
            self.tokenize(sequence)
        except ValueError as err:
            return str(err)
        return None

    # ------------------------------------------------------- encode/decode
    def encode(
        self,
        sequences: Iterable[str],
        *,
        length: int | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Encode strings to a padded id tensor.

        Args:
            sequences: N strings over this alphabet.
            length: Output length L. Shorter sequences are right-padded with the pad id; a longer one
                raises. Defaults to the longest sequence.
            device: Device of the returned tensor.

        Returns:
            ``(N, L)`` int64 tensor of token ids.

        Raises:
            ValueError: on an illegal character (sequence index, position, character) or a sequence
                longer than ``length``.
        """
        if isinstance(sequences, str):
            raise ValueError("encode() takes a list of strings, not a single string; wrap it in a list")
        toks = [self.tokenize(s, index=i) for i, s in enumerate(sequences)]
        L = length if length is not None else max((len(t) for t in toks), default=0)
        out = torch.full((len(toks), L), self.pad_id, dtype=torch.long)
        for i, t in enumerate(toks):
            if len(t) > L:
                raise ValueError(f"sequence {i}: {len(t)} tokens is longer than length={L}")
            if t:
                out[i, : len(t)] = torch.tensor([self._index[x] for x in t], dtype=torch.long)
        return out.to(device) if device is not None else out

    def decode(self, ids: torch.Tensor, *, mask_char: str = "?") -> list[str]:
        """Decode ids to strings.

        Pad tokens are dropped (a pad in the middle of a sequence is dropped too); mask tokens are
        rendered as ``mask_char`` so that a partly masked state stays readable.

        Args:
            ids: ``(N, L)`` or ``(L,)`` integer tensor.
            mask_char: Text shown for masked positions.
        """
        if ids.dim() == 1:
            ids = ids.unsqueeze(0)
        if ids.dim() != 2:
            raise ValueError(f"decode() expects ids of shape (N, L), got {tuple(ids.shape)}")
        arr = ids.detach().cpu().numpy().astype(np.int64, copy=False)  # the one transfer to the host
        n_ids = self.vocab_size
        bad = (arr < 0) | (arr >= n_ids)
        if bad.any():
            i, j = (int(v) for v in np.argwhere(bad)[0])
            raise ValueError(f"sequence {i}, position {j}: id {int(arr[i, j])} is outside this alphabet "
                             f"(0..{n_ids - 1})")
        N, L = arr.shape
        if N == 0 or L == 0:
            return [""] * N
        lut = self._lookup_table(mask_char)
        if lut.dtype == object:
            # Multi-character tokens (SELFIES): ids -> token strings through one lookup over the whole batch, then
            # one C-level join per row (no Python loop over tokens).
            return ["".join(row) for row in lut[arr].tolist()]
        # Single characters: ids -> code points through one lookup, each row read as one fixed-width string.
        out: list[str] = []
        interior_pad = ((arr[:, :-1] == self.pad_id) & (arr[:, 1:] != self.pad_id)).any()
        rows_per_chunk = max(1, _DECODE_CODE_POINTS // L)
        for lo in range(0, N, rows_per_chunk):
            codes = np.ascontiguousarray(lut[arr[lo : lo + rows_per_chunk]])
            strings = codes.view(f"<U{L}").ravel().tolist()  # NumPy drops trailing NULs (pad)
            out.extend([s.replace("\0", "") for s in strings] if interior_pad else strings)
        return out

    def _lookup_table(self, mask_char: str) -> np.ndarray:
        """Per id (pad empty, mask ``mask_char``): its code point (uint32) when every entry is one character,
        else its string (an object array)."""
        if mask_char not in self._luts:
            table = [*self.tokens, "", mask_char]
            if self._single_char and len(mask_char) == 1:
                lut = np.array([0 if t == "" else ord(t) for t in table], dtype="<u4")
            else:
                lut = np.array(table, dtype=object)
            self._luts[mask_char] = lut
        return self._luts[mask_char]

    # ------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for checkpoints and YAML (round-trips with :meth:`from_dict`)."""
        return {"tokens": list(self.tokens), "name": self.name, "kind": self.kind,
                "case_sensitive": self.case_sensitive}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alphabet:
        return cls(data["tokens"], name=data.get("name"), kind=data.get("kind", "custom"),
                   case_sensitive=data.get("case_sensitive", True))

    @classmethod
    def selfies_from_data(cls, selfies_strings: Iterable[str], *, name: str = "selfies") -> Alphabet:
        """Build a SELFIES alphabet from the tokens used in ``selfies_strings`` (sorted, stable).

        Uses ``selfies.get_alphabet_from_selfies``; ``[nop]`` is left out (pad plays its role) and the
        fragment separator ``.`` is added when the data use it (salts, mixtures).
        """
        import selfies as sf

        strings = list(selfies_strings)
        toks = set(sf.get_alphabet_from_selfies(strings)) - {"[nop]"}
        if any("." in s for s in strings):
            toks.add(".")
        toks = sorted(toks)
        if not toks:
            raise ValueError("no SELFIES tokens found: the input was empty")
        return cls(toks, name=name, kind="selfies")


DNA = Alphabet("ACGT", name="dna", kind="dna", case_sensitive=False)
RNA = Alphabet("ACGU", name="rna", kind="rna", case_sensitive=False)
PROTEIN = Alphabet("ACDEFGHIKLMNPQRSTVWY", name="protein", kind="protein", case_sensitive=False)

#: Grey levels 0..16 of a quantised image as tokens ``0-9`` then ``A-G`` (token id = grey level).
GREY17 = Alphabet("0123456789ABCDEFG", name="grey17", kind="custom")

_PRESETS = {"dna": DNA, "rna": RNA, "protein": PROTEIN, "grey17": GREY17}


def get_alphabet(spec: str | Alphabet | dict[str, Any] | Sequence[str]) -> Alphabet:
    """Resolve an alphabet from a preset name (``"dna"``, ``"rna"``, ``"protein"``), a dict from
    :meth:`Alphabet.to_dict`, a token list, or an :class:`Alphabet` (returned as is)."""
    if isinstance(spec, Alphabet):
        return spec
    if isinstance(spec, dict):
        return Alphabet.from_dict(spec)
    if isinstance(spec, str):
        key = spec.lower()
        if key in _PRESETS:
            return _PRESETS[key]
        raise ValueError(
            f"unknown alphabet {spec!r}: use one of {sorted(_PRESETS)}, a token list, or build a SELFIES "
            "alphabet from data with Alphabet.selfies_from_data"
        )
    return Alphabet(list(spec))
