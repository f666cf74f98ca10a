"""SMILES -> SELFIES: conversion, skipping and reporting invalid molecules, alphabets from data."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
import selfies as sf

from seqguide.data import encode_records, read_smiles, selfies_alphabet

SMI = """# NCI-style file: SMILES, whitespace, name
smiles name
CCO ethanol
C1CC broken-ring
c1ccccc1\tbenzene

XYZ nonsense
[I]1C2=C(C=CC=C2)C3=C1C=CC=C3 iodonium
CC(=O)O acetic
"""


def test_smi_file_skips_and_counts_invalid_with_a_warning(write, caplog):
    path = write("mols.smi", SMI)
    with caplog.at_level(logging.WARNING, logger="seqguide.data"):
        rec, n_bad = read_smiles(path)
    assert n_bad == 3
    assert rec.ids == ["ethanol", "benzene", "acetic"]
    assert rec.lines == [3, 5, 9]
    assert rec.sequences == [sf.encoder("CCO"), sf.encoder("c1ccccc1"), sf.encoder("CC(=O)O")]
    assert sf.decoder(rec.sequences[0]) == "CCO"
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"{path}: skipped 3 of 6 SMILES as invalid" in warning
    # RDKit's own reason, not a generic one
    assert "line 4: 'C1CC' (RDKit: SMILES Parse Error: unclosed ring for input: 'C1CC')" in warning
    assert "line 7: 'XYZ' (RDKit: SMILES Parse Error: syntax error while parsing: XYZ" in warning
    assert "line 8: '[I]1C2=C(C=CC=C2)C3=C1C=CC=C3' (SELFIES encoder error" in warning


def test_smiles_csv_with_labels_keeps_them_aligned(write):
    path = write("mols.csv", "SMILES,active\nCCO,1\nnot_a_smiles,0\nCCN,0\n")
    rec, n_bad = read_smiles(path, label_column="active")
    assert n_bad == 1
    assert rec.sequences == [sf.encoder("CCO"), sf.encoder("CCN")]
    assert rec.labels == [1, 0] and rec.lines == [2, 4]


def test_smiles_parquet_with_explicit_column(tmp_path):
    path = tmp_path / "m.parquet"
    pd.DataFrame({"mol": ["CCO", "c1ccncc1"], "other": ["x", "y"]}).to_parquet(path)
    rec, n_bad = read_smiles(path, column="mol")
    assert n_bad == 0 and len(rec) == 2


def test_smiles_table_needs_a_column_it_can_find(write):
    path = write("m.csv", "a,b\nCCO,1\n")
    with pytest.raises(ValueError, match=r"cannot tell which column holds the SMILES; .* 'a', 'b'"):
        read_smiles(path)


def test_smiles_list_and_limit():
    rec, n_bad = read_smiles(["CCO", "CC", "CCC"], limit=2)
    assert (len(rec), n_bad) == (2, 0)


def test_all_invalid_is_an_error(write):
    with pytest.raises(ValueError, match=r"none of the 2 SMILES could be converted to SELFIES; e\.g\. line 1"):
        read_smiles(write("bad.smi", "XX\nC1CC\n"))


def test_empty_smiles_file_is_an_error(write):
    with pytest.raises(ValueError, match=r"empty\.smi: no SMILES found"):
        read_smiles(write("empty.smi", "# nothing\n\n"))


def test_selfies_alphabet_covers_fragments_and_encodes():
    rec, _ = read_smiles(["CCO", "[Na+].[Cl-]", "C#N"])
    alphabet = selfies_alphabet(rec.sequences)
    assert alphabet.kind == "selfies"
    assert "." in alphabet.tokens and "[#N]" in alphabet.tokens
    enc = encode_records(rec, alphabet)
    assert alphabet.decode(enc.tokens) == rec.sequences
    assert enc.length == max(sf.len_selfies(s) for s in rec.sequences)
