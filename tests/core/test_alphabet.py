"""Alphabet: encoding, decoding, errors that name the sequence, position and character."""

from __future__ import annotations

import pytest
import selfies as sf
import torch

from seqguide import DNA, PROTEIN, RNA, Alphabet, get_alphabet


def test_dna_roundtrip_pads_and_is_case_insensitive() -> None:
    ids = DNA.encode(["ACGT", "gg"])
    assert ids.dtype == torch.long and ids.shape == (2, 4)
    assert ids[1, 2:].tolist() == [DNA.pad_id, DNA.pad_id]
    assert DNA.decode(ids) == ["ACGT", "GG"]
    assert (DNA.pad_id, DNA.mask_id, DNA.vocab_size) == (4, 5, 6)


def test_illegal_character_error_names_index_position_and_character() -> None:
    with pytest.raises(ValueError, match=r"sequence 2, position 3: illegal character 'X' for alphabet 'dna'"):
        DNA.encode(["ACGT", "AAAA", "ACGXT"])
    with pytest.raises(ValueError, match=r"sequence 0, position 1: illegal character 'U'"):
        DNA.encode(["AU"])
    with pytest.raises(ValueError, match=r"position 0: illegal character 'T' for alphabet 'rna'"):
        RNA.encode(["TT"])


def test_too_long_sequence_is_an_error_with_its_index() -> None:
    with pytest.raises(ValueError, match=r"sequence 1: 5 tokens is longer than length=4"):
        DNA.encode(["ACG", "ACGTA"], length=4)


def test_decode_shows_masks_and_drops_pad() -> None:
    ids = torch.tensor([[0, DNA.mask_id, 2, DNA.pad_id]])
    assert DNA.decode(ids) == ["A?G"]
    with pytest.raises(ValueError, match="id 9 is outside this alphabet"):
        DNA.decode(torch.tensor([[0, 9]]))


def test_multi_character_tokens_use_longest_match() -> None:
    alpha = Alphabet(["Ala", "Gly", "A", "G"], name="res")
    ids = alpha.encode(["AlaGAGly"])
    assert [alpha.tokens[i] for i in ids[0].tolist()] == ["Ala", "G", "A", "Gly"]
    with pytest.raises(ValueError, match=r"position 3: illegal character 'x'"):
        alpha.encode(["Alax"])


def test_selfies_alphabet_from_data_roundtrips_molecules() -> None:
    smiles = ["CCO", "c1ccccc1Br", "CC(=O)Oc1ccccc1C(=O)O", "[Na+].[Cl-]"]
    strings = [sf.encoder(s) for s in smiles]
    alpha = Alphabet.selfies_from_data(strings)
    assert alpha.kind == "selfies" and "." in alpha.tokens and "[nop]" not in alpha.tokens
    decoded = alpha.decode(alpha.encode(strings))
    assert decoded == strings


def test_serialisation_and_presets() -> None:
    for alpha in (DNA, RNA, PROTEIN, Alphabet(["x", "yy"], name="c")):
        assert Alphabet.from_dict(alpha.to_dict()) == alpha
    assert get_alphabet("protein") is PROTEIN and len(PROTEIN) == 20
    with pytest.raises(ValueError, match="unknown alphabet 'klingon'"):
        get_alphabet("klingon")
    with pytest.raises(ValueError, match="unique"):
        Alphabet("AAB")
    with pytest.raises(ValueError, match="reserved"):
        Alphabet(["A", "<mask>"])
