"""The MOSES files: from an installed molsets, else from a cache filled out of the molsets wheel (hash-checked)."""

from __future__ import annotations

import zipfile

import pytest

from seqguide.data import moses_data as md


def _fake_wheel(path, names=md.MOSES_FILES):
    with zipfile.ZipFile(path, "w") as zf:
        for n in names:
            zf.writestr(md._MEMBER + n, f"SMILES\nC{n}\n")
    return path


def test_extract_copies_the_three_files_and_checks_the_hash(tmp_path):
    wheel = _fake_wheel(tmp_path / "molsets-0.3.1-py3-none-any.whl")
    out = md.extract_moses(wheel, tmp_path / "cache", sha256=None)
    assert [p.name for p in out] == list(md.MOSES_FILES)
    assert (tmp_path / "cache" / "train.csv.gz").read_text() == "SMILES\nCtrain.csv.gz\n"
    assert not list((tmp_path / "cache").glob(".*part"))
    with pytest.raises(ValueError, match=r"SHA-256 .* is not the expected"):
        md.extract_moses(wheel, tmp_path / "other")
    with pytest.raises(ValueError, match=r"test_scaffolds\.csv\.gz missing from the wheel"):
        md.extract_moses(_fake_wheel(tmp_path / "short.whl", md.MOSES_FILES[:2]), tmp_path / "x", sha256=None)


def test_moses_file_prefers_installed_then_cache_then_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQGUIDE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(md, "_installed", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"not cached; run python -m seqguide\.data\.moses_data"):
        md.moses_file("train.csv.gz", fetch=False)
    fetched = []
    monkeypatch.setattr(md, "_fetch", lambda dest: fetched.append(dest) or md.extract_moses(
        _fake_wheel(tmp_path / "w.whl"), dest, sha256=None))
    assert md.moses_file("test.csv.gz") == tmp_path / "moses" / "test.csv.gz" and fetched == [tmp_path / "moses"]
    assert md.moses_file("train.csv.gz") == tmp_path / "moses" / "train.csv.gz" and len(fetched) == 1  # cached
    monkeypatch.setattr(md, "_installed", lambda name: tmp_path / "moses" / "test.csv.gz")
    assert md.moses_file("train.csv.gz") == tmp_path / "moses" / "test.csv.gz"
    with pytest.raises(ValueError, match=r"unknown MOSES file .nope\.csv."):
        md.moses_file("nope.csv")
