"""Turn :class:`SequenceRecords` into padded token-id tensors, with file-aware errors.

:meth:`seqguide.Alphabet.encode` is the reference tokeniser; this module adds what a data set needs on
top of it:

* errors that name the file, line, record and id as well as the character and position;
* a policy for sequences longer than the model length (``"error"``, ``"drop"``, ``"truncate"``);
* a vectorised path for single-character alphabets (DNA/RNA/protein), so that 10^5 sequences of
  length 150 encode in well under a second. Multi-character alphabets (SELFIES) go through
  :meth:`Alphabet.tokenize`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import torch

from seqguide.alphabet import Alphabet
from seqguide.data.records import SequenceRecords

__all__ = ["TOO_LONG_POLICIES", "EncodedSequences", "encode_records", "validate_records"]

log = logging.getLogger(__name__)

TOO_LONG_POLICIES = ("error", "drop", "truncate")
_ALPHABET_PREFIX = re.compile(r"^sequence(?: \d+)?, ")


@dataclass
class EncodedSequences:
    """The result of :func:`encode_records`.

    Attributes:
        tokens: ``(M, L)`` integer tensor of token ids, right-padded with ``alphabet.pad_id``.
        keep: ``(M,)`` int64 array: row ``m`` of ``tokens`` encodes record ``keep[m]`` (M < N after drops).
        length: L, the padded length.
        n_dropped: Records dropped for being longer than L (``too_long="drop"``).
        n_truncated: Records cut to L tokens (``too_long="truncate"``).
    """

    tokens: torch.Tensor
    keep: np.ndarray
    length: int
    n_dropped: int = 0
    n_truncated: int = 0


def _illegal(records: SequenceRecords, index: int, err: ValueError) -> ValueError:
    """Re-word an Alphabet error so that it names the file and record instead of a batch index."""
    return ValueError(f"{records.where(index)}: {_ALPHABET_PREFIX.sub('', str(err))}")


def _char_table(alphabet: Alphabet) -> np.ndarray:
    """Byte -> token id lookup (``-1`` for bytes that are not tokens) for a single-char alphabet."""
    table = np.full(256, -1, dtype=np.int64)
    for i, tok in enumerate(alphabet.tokens):
        for ch in {tok} if alphabet.case_sensitive else {tok, tok.lower(), tok.upper()}:
            if ord(ch) < 256:
                table[ord(ch)] = i
    return table


def _tokenize_all(records: SequenceRecords, alphabet: Alphabet) -> list[list[str]]:
    """Tokenise every record, raising the first illegal character with its file/record."""
    out = []
    for i, seq in enumerate(records.sequences):
        try:
            out.append(alphabet.tokenize(seq))
        except ValueError as err:
            raise _illegal(records, i, err) from None
    return out


def _fast_codes(records: SequenceRecords, alphabet: Alphabet) -> np.ndarray | None:
    """Ids of all characters of all records concatenated, or None if the fast path does not apply.

    Raises:
        ValueError: on the first illegal character (file, line, record, position, character).
    """
    if not alphabet.tokens or any(len(t) != 1 for t in alphabet.tokens):
        return None
    try:
        raw = "".join(records.sequences).encode("latin-1")
    except UnicodeEncodeError:
        return None
    codes = _char_table(alphabet)[np.frombuffer(raw, dtype=np.uint8)]
    bad = np.flatnonzero(codes < 0)
    if bad.size:
        ends = np.cumsum([len(s) for s in records.sequences])
        index = int(np.searchsorted(ends, bad[0], side="right"))
        try:
            alphabet.tokenize(records.sequences[index])
        except ValueError as err:
            raise _illegal(records, index, err) from None
        return None  # the alphabet accepts what the byte table did not (exotic case folding): go slow
    return codes


def _measure(
    records: SequenceRecords, alphabet: Alphabet
) -> tuple[np.ndarray, np.ndarray | None, list[list[str]] | None]:
    """Validate and measure every record.

    Returns:
        ``(lengths, codes, tokens)``: token counts ``(N,)``, and either the concatenated ids of the fast
        path or the per-record token lists of the slow one (the other is None).
    """
    codes = _fast_codes(records, alphabet)
    tokens = None if codes is not None else _tokenize_all(records, alphabet)
    if codes is not None:
        lengths = np.array([len(s) for s in records.sequences], dtype=np.int64)
    else:
        lengths = np.array([len(t) for t in tokens], dtype=np.int64)
    empty = np.flatnonzero(lengths == 0)
    if empty.size:
        raise ValueError(f"{records.where(int(empty[0]))}: empty sequence")
    return lengths, codes, tokens


def validate_records(records: SequenceRecords, alphabet: Alphabet) -> np.ndarray:
    """Check every sequence against ``alphabet``.

    Args:
        records: The sequences to check.
        alphabet: The alphabet they must be written in.

    Returns:
        ``(N,)`` int64 array of token counts per record.

    Raises:
        ValueError: naming the file, line, record index/id, position and illegal character; or an
            empty sequence.
    """
    return _measure(records, alphabet)[0]


def _apply_policy(
    records: SequenceRecords, lengths: np.ndarray, length: int | None, too_long: str
) -> tuple[int, np.ndarray, int, int]:
    """Decide L and which records to keep; return ``(L, keep, n_dropped, n_truncated)``."""
    if too_long not in TOO_LONG_POLICIES:
        raise ValueError(f"too_long must be one of {TOO_LONG_POLICIES}, got {too_long!r}")
    if length is not None and length < 1:
        raise ValueError(f"length must be a positive number of tokens, got {length}")
    L = int(length) if length is not None else int(lengths.max(initial=0))
    over = np.flatnonzero(lengths > L)
    keep = np.arange(len(lengths))
    if over.size and too_long == "error":
        i = int(over[0])
        raise ValueError(
            f"{records.where(i)}: sequence has {lengths[i]} tokens, longer than length={L} "
            f"({over.size} of {len(lengths)} records are too long); raise length, or pass "
            "too_long='drop' or too_long='truncate'"
        )
    if over.size and too_long == "drop":
        keep = np.flatnonzero(lengths <= L)
        log.warning("%s: dropped %d of %d sequences longer than length=%d", records.source or "sequences",
                    over.size, len(lengths), L)
        return L, keep, int(over.size), 0
    if over.size:
        log.warning("%s: truncated %d of %d sequences to length=%d", records.source or "sequences", over.size,
                    len(lengths), L)
    return L, keep, 0, int(over.size)


def encode_records(
    records: SequenceRecords,
    alphabet: Alphabet,
    *,
    length: int | None = None,
    too_long: str = "error",
    dtype: torch.dtype = torch.long,
) -> EncodedSequences:
    """Encode records to a padded id tensor.

    Args:
        records: N sequences.
        alphabet: Alphabet to encode with.
        length: Padded length L in tokens; None means the longest sequence.
        too_long: What to do with a sequence longer than L: ``"error"`` (raise, naming the file and
            record), ``"drop"`` (leave it out, logging a count) or ``"truncate"`` (keep its first L tokens).
        dtype: Integer dtype of the returned tensor (a small one saves memory for big data sets).

    Returns:
        :class:`EncodedSequences` with ``tokens`` of shape ``(M, L)``, M = N minus dropped records.

    Raises:
        ValueError: on an illegal character, an empty sequence or (``too_long="error"``) a long sequence.
    """
    if len(records) == 0:
        raise ValueError(f"{records.source or 'records'}: no sequences to encode")
    lengths, codes, tokens = _measure(records, alphabet)
    L, keep, n_dropped, n_truncated = _apply_policy(records, lengths, length, too_long)

    out = np.full((len(keep), L), alphabet.pad_id, dtype=np.int64)
    if codes is not None:
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])[keep]
        kept_len = np.minimum(lengths[keep], L)
        rows = np.repeat(np.arange(len(keep)), kept_len)
        offsets = np.arange(int(kept_len.sum())) - np.repeat(np.cumsum(kept_len) - kept_len, kept_len)
        out[rows, offsets] = codes[np.repeat(starts, kept_len) + offsets]
    else:
        index = {t: i for i, t in enumerate(alphabet.tokens)}
        for row, i in enumerate(keep):
            ids = [index[t] for t in tokens[i][:L]]
            out[row, : len(ids)] = ids
    return EncodedSequences(torch.from_numpy(out).to(dtype), keep.astype(np.int64), L, n_dropped, n_truncated)
