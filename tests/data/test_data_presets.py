"""Every preset loads a small slice of its real, package-shipped data and encodes it."""

from __future__ import annotations

import numpy as np
import pytest

from seqguide.alphabet import DNA, GREY17, PROTEIN, RNA
from seqguide.data import PRESETS, encode_records, list_presets, load_preset
from seqguide.data.presets import package_file

EXPECTED = {  # name: (alphabet, fixed length or None)
    "amp": (PROTEIN, None),
    "moses": ("selfies", None),
    "moses_test": ("selfies", None),
    "nci": ("selfies", None),
    "crp": (DNA, 26),
    "ars": (DNA, 150),
    "splice5": (RNA, 9),
    "ww": (PROTEIN, None),
    "digits": (GREY17, 64),
}


def test_registry_lists_every_preset():
    assert set(list_presets()) == set(EXPECTED) == set(PRESETS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_preset_slice_loads_and_encodes(name):
    records, alphabet = load_preset(name, limit=40)
    want, fixed = EXPECTED[name]
    assert 30 <= len(records) <= 40  # molecule sets may lose a few invalid SMILES
    if want == "selfies":
        assert alphabet.kind == "selfies"
    else:
        assert alphabet == want
    enc = encode_records(records, alphabet)
    assert enc.tokens.shape[0] == len(records)
    assert (enc.tokens < alphabet.pad_id).sum(dim=1).min() > 0
    if fixed is not None:
        assert enc.length == fixed and {len(s) for s in records.sequences} == {fixed}
    assert records.source and records.lines is not None


def test_small_preset_slices_are_seeded_subsets():
    a, _ = load_preset("crp", limit=20, seed=1)
    b, _ = load_preset("crp", limit=20, seed=1)
    c, _ = load_preset("crp", limit=20, seed=2)
    assert a.sequences == b.sequences and a.sequences != c.sequences
    full, _ = load_preset("crp")
    assert len(full) == 358
    assert set(a.sequences) <= set(full.sequences)


def test_amp_labels_and_class_names():
    records, _ = load_preset("amp", limit=200, seed=0)
    assert records.class_names == ["non-AMP", "AMP"] and records.num_classes == 2
    assert set(records.labels) == {0, 1}
    full, _ = load_preset("amp")
    assert len(full) == 5200 and sum(full.labels) == 2600
    lengths = [len(s) for s in full.sequences]
    assert (min(lengths), max(lengths)) == (7, 174)


def test_ars_reads_first_rows_with_log_enrichment_score():
    records, _ = load_preset("ars", limit=5)
    assert records.lines == [12, 13, 14, 15, 16]
    # The first data row of the file is "666  0  TCTAAC...": log((0 + 1) / (666 + 1)).
    assert records.scores.shape == (5,)
    assert records.scores[0] == pytest.approx(np.log(1 / 667))
    assert records.sequences[0].startswith("TCTAACAAAATAGCAAATTTCG")


def test_splice5_scores_are_log_counts():
    records, _ = load_preset("splice5")
    assert len(records) == 10227
    first = records.sequences.index("CAGGUGAGU")
    assert records.scores[first] == pytest.approx(np.log(3729))


def test_ww_has_gaps_stripped_and_only_standard_residues():
    records, _ = load_preset("ww")
    assert len(records) == 4024
    assert not any(set(s) & set("-.") or s != s.upper() for s in records.sequences)
    assert records.ids[0] == "B7G9D5/250-280"
    assert records.sequences[0] == "LPPQWTEAVDVDTGKFYFVHVETKETRWERP"


@pytest.mark.slow
def test_nci_counts_its_invalid_smiles(caplog):
    records, alphabet = load_preset("nci")
    assert len(records) == 4981  # 4999 lines, 18 cannot be converted
    assert "skipped 18 of 4999 SMILES as invalid" in caplog.text
    assert "." in alphabet.tokens  # salts keep their fragment separator


def test_unknown_preset_and_bad_limit():
    with pytest.raises(ValueError, match=r"unknown data preset 'zzz'; available: amp, moses"):
        load_preset("zzz")
    with pytest.raises(ValueError, match="limit must be a positive number of records, got 0"):
        load_preset("crp", limit=0)


def test_missing_package_names_what_to_install():
    with pytest.raises(ModuleNotFoundError, match="needs the package 'no_such_pkg_xyz': pip install no_such_pkg_xyz"):
        package_file("no_such_pkg_xyz", "data.csv")
    with pytest.raises(FileNotFoundError, match="not found in the installed 'logomaker' package"):
        package_file("logomaker", "no_such_file.fa")
