"""encode_records: agreement with Alphabet.encode, the too-long policies, and file-aware errors."""

from __future__ import annotations

import logging

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqguide.alphabet import DNA, PROTEIN, Alphabet
from seqguide.data import SequenceRecords, encode_records, validate_records


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="ACGTacgt", min_size=1, max_size=12), min_size=1, max_size=8))
def test_fast_path_matches_alphabet_encode(seqs):
    enc = encode_records(SequenceRecords(seqs), DNA)
    assert torch.equal(enc.tokens, DNA.encode(seqs))
    assert enc.tokens.dtype == torch.long
    assert enc.length == max(len(s) for s in seqs)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["[C]", "[=C]", "[Ring1]", "[N]"]), min_size=1, max_size=6),
                min_size=1, max_size=6))
def test_multichar_path_matches_alphabet_encode(token_lists):
    alphabet = Alphabet(["[C]", "[=C]", "[Ring1]", "[N]"], kind="selfies")
    seqs = ["".join(t) for t in token_lists]
    enc = encode_records(SequenceRecords(seqs), alphabet, length=8)
    assert torch.equal(enc.tokens, alphabet.encode(seqs, length=8))


def test_padding_uses_pad_id_and_dtype():
    enc = encode_records(SequenceRecords(["ACGT", "GG"]), DNA, length=6, dtype=torch.int16)
    assert enc.tokens.dtype == torch.int16
    assert enc.tokens[1].tolist() == [2, 2, DNA.pad_id, DNA.pad_id, DNA.pad_id, DNA.pad_id]


def _records():
    return SequenceRecords(["ACG", "ACGTACGT", "AC", "GGGGGG"], source="r.fa", ids=["a", "b", "c", "d"],
                           lines=[1, 3, 5, 7])


def test_too_long_error_names_file_line_record_and_length():
    with pytest.raises(ValueError) as err:
        encode_records(_records(), DNA, length=4)
    assert str(err.value).startswith(
        "r.fa, line 3 (record 1, id 'b'): sequence has 8 tokens, longer than length=4 (2 of 4 records"
    )


def test_too_long_drop_logs_a_count(caplog):
    with caplog.at_level(logging.WARNING, logger="seqguide.data"):
        enc = encode_records(_records(), DNA, length=4, too_long="drop")
    assert enc.keep.tolist() == [0, 2] and enc.n_dropped == 2
    assert DNA.decode(enc.tokens) == ["ACG", "AC"]
    assert "r.fa: dropped 2 of 4 sequences longer than length=4" in caplog.text


def test_too_long_truncate_keeps_prefixes():
    enc = encode_records(_records(), DNA, length=4, too_long="truncate")
    assert enc.n_truncated == 2 and enc.keep.tolist() == [0, 1, 2, 3]
    assert DNA.decode(enc.tokens) == ["ACG", "ACGT", "AC", "GGGG"]


def test_unknown_policy_and_empty_sequence():
    with pytest.raises(ValueError, match=r"too_long must be one of \('error', 'drop', 'truncate'\), got 'cut'"):
        encode_records(_records(), DNA, too_long="cut")
    with pytest.raises(ValueError, match=r"r\.fa, line 3 \(record 1\): empty sequence"):
        validate_records(SequenceRecords(["A", ""], source="r.fa", lines=[1, 3]), DNA)


def test_illegal_character_outside_latin1_goes_through_the_alphabet():
    rec = SequenceRecords(["MKV", "MK\u03b2V"], source="p.csv", lines=[2, 3])
    with pytest.raises(ValueError) as err:
        encode_records(rec, PROTEIN)
    assert str(err.value).startswith("p.csv, line 3 (record 1): position 2: illegal character '\u03b2'")
