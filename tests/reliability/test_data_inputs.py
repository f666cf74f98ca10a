"""Messy data files, generated: FASTA/CSV/TSV/parquet/SMILES text, random bytes, encodings, missing cells, and
alphabets. A reader returns records in which no missing cell became a sequence, or refuses in one line naming the
file; ``seqguide oracles score`` and ``seqguide sample`` answer with an exit status and an ``error:`` line.
"""

from __future__ import annotations

import gzip
import re

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_helpers import MISSING_MARKERS, call_cli, one_or_two_lines

from oracles.cli import main as oracles_main
from seqguide import Alphabet
from seqguide.cli import main as seqguide_main
from seqguide.data import SequenceDataModule, read_fasta, read_smiles, read_table
from seqguide.data.readers import MISSING_CELLS
from seqguide.data.smiles import read_smiles_file

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))

dna = st.text("ACGTacgt", min_size=1, max_size=12)
cells = st.one_of(dna, st.sampled_from(MISSING_MARKERS), st.text(max_size=6))


def _no_missing_sequence(sequences: list[str]) -> bool:
    return all(s.strip() and s.strip() not in MISSING_CELLS for s in sequences)


@pytest.mark.slow
@given(rows=st.lists(st.tuples(cells, st.sampled_from(["0", "1", "", "NA"]), st.sampled_from(["1.5", "", "nan", "x"])),
                     min_size=1, max_size=12),
       sep=st.sampled_from([",", "\t"]), drop=st.booleans(), gz=st.booleans())
@SETTINGS
def test_tables_never_turn_a_missing_cell_into_a_sequence(tmp_path_factory, tally, rows, sep, drop, gz):
    folder = tmp_path_factory.mktemp("table")
    ext = ".csv" if sep == "," else ".tsv"
    rows = [tuple(c.replace(sep, " ").replace("\n", " ").replace("\r", " ").replace('"', "") for c in row)
            for row in rows]
    text = sep.join(["sequence", "label", "score"]) + "\n" + "".join(sep.join(row) + "\n" for row in rows)
    path = folder / f"d{ext}{'.gz' if gz else ''}"
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    tally.inputs("data: CSV/TSV with missing cells (hypothesis)")
    for kwargs in ({}, {"label_column": "label"}):
        try:
            rec = read_table(path, missing="drop" if drop else "error", **kwargs)
        except ValueError as err:
            assert one_or_two_lines(str(err)) and str(path) in str(err), str(err)
            if "missing" in str(err) and "every row" not in str(err):
                assert not drop
                assert re.search(r", line \d+ \(record \d+\): missing (sequence|label) in column", str(err))
            continue
        assert _no_missing_sequence(rec.sequences), rec.sequences
        if drop:
            assert len(rec) + rec.n_dropped == sum(1 for r in rows if any(r))  # only blank lines are skipped


@pytest.mark.slow
@given(values=st.lists(st.one_of(st.none(), dna, st.sampled_from(MISSING_MARKERS)), min_size=1, max_size=10),
       drop=st.booleans())
@SETTINGS
def test_parquet_follows_the_same_rule(tmp_path_factory, tally, values, drop):
    path = tmp_path_factory.mktemp("pq") / "d.parquet"
    pd.DataFrame({"sequence": values, "extra": range(len(values))}).to_parquet(path)
    tally.inputs("data: parquet with missing cells (hypothesis)")
    try:
        rec = read_table(path, missing="drop" if drop else "error")
    except ValueError as err:
        assert one_or_two_lines(str(err)) and str(path) in str(err)
        assert drop or "missing sequence in column 'sequence'" in str(err)
        return
    assert _no_missing_sequence(rec.sequences)
    assert len(rec) == sum(v is not None and v.strip() not in MISSING_CELLS for v in values)


@pytest.mark.slow
@given(text=st.text(alphabet=st.sampled_from([*"ACGT>\n #;x ", "\r", "é"]), max_size=80))
@SETTINGS
def test_fasta_text_is_read_or_refused_with_file_and_line(tmp_path_factory, tally, text):
    path = tmp_path_factory.mktemp("fa") / "x.fa"
    path.write_text(text, encoding="utf-8")
    tally.inputs("data: FASTA text (hypothesis)")
    try:
        rec = read_fasta(path)
    except ValueError as err:
        assert one_or_two_lines(str(err)) and str(err).startswith(str(path)), str(err)
        return
    assert len(rec) >= 1 and all(rec.ids)


@pytest.mark.slow
@given(data=st.binary(min_size=1, max_size=300), ext=st.sampled_from([".fa", ".csv", ".tsv", ".smi", ".parquet",
                                                                        ".fa.gz", ".csv.gz"]))
@SETTINGS
def test_random_bytes_in_any_data_file_are_one_line_refusals(tmp_path_factory, tally, data, ext):
    path = tmp_path_factory.mktemp("bin") / f"data{ext}"
    path.write_bytes(data)
    tally.inputs("data: random bytes in any format (hypothesis)")
    try:
        if ext.startswith(".fa"):
            read_fasta(path)
        elif ext == ".smi":
            read_smiles(path)
        else:
            read_table(path)
    except ValueError as err:
        assert one_or_two_lines(str(err)) and str(path) in str(err), str(err)
    code, _, err = call_cli(oracles_main, ["score", "gc", str(path)])
    assert code in (0, 2) and "Traceback" not in err, err
    if code == 2:
        assert one_or_two_lines(err) and "error:" in err, err


@given(text=st.text(alphabet=st.characters(min_codepoint=0xA0, max_codepoint=0x3FF), min_size=1, max_size=10),
       encoding=st.sampled_from(["utf-16", "latin-1", "cp1252"]))
@SETTINGS
def test_non_utf8_data_files_name_the_encoding_problem(tmp_path_factory, tally, text, encoding):
    raw = f">s1 {text}\nACGT\n".encode(encoding, errors="ignore")
    try:
        raw.decode("utf-8")
        return
    except UnicodeDecodeError:
        pass
    folder = tmp_path_factory.mktemp("enc")
    for name, content in (("x.fa", raw), ("x.csv", f"sequence,name\nACGT,{text}\n".encode(encoding, "ignore"))):
        path = folder / name
        path.write_bytes(content)
        tally.inputs("data: non-UTF-8 FASTA/CSV (hypothesis)")
        with pytest.raises(ValueError) as caught:
            (read_fasta if name.endswith(".fa") else read_table)(path)
        msg = str(caught.value)
        assert one_or_two_lines(msg) and ("not a UTF-8 text file" in msg or "binary file" in msg), msg


SMILES = ["CCO", "c1ccccc1", "C1CC", "C(C)(C)(C)(C)C", "xyz", "CC(=O)O", "N#N", "[Na+].[Cl-]", "C=1CC"]


@pytest.mark.slow
@given(mols=st.lists(st.sampled_from(SMILES + list(MISSING_MARKERS[1:])), min_size=1, max_size=8))
@SETTINGS
def test_smi_files_are_accepted_wherever_smiles_are_and_skips_give_rdkits_reason(tmp_path_factory, tally, mols,
                                                                                 caplog):
    folder = tmp_path_factory.mktemp("smi")
    path = folder / "m.smi"
    path.write_text("".join(f"{m} mol{i}\n" for i, m in enumerate(mols)))
    tally.inputs("data: .smi files (hypothesis)")
    caplog.clear()
    try:
        rec, n_bad = read_smiles(path)
    except ValueError as err:  # none of them converts
        assert one_or_two_lines(str(err)) and "none of the" in str(err)
        return
    assert len(rec) + n_bad == len(mols)
    if n_bad:
        warning = " ".join(r.getMessage() for r in caplog.records)
        assert "RDKit" in warning or "SELFIES encoder" in warning, warning
    code, out, err = call_cli(oracles_main, ["score", "qed", str(path)])  # the same file, through the CLI
    assert code == 0 and out.count("\n") == len(mols) + 1, err


def test_datamodule_and_oracles_score_share_the_missing_cell_rule(tmp_path, tally):
    path = tmp_path / "d.csv"
    path.write_text("sequence,label\nACGTACGT,0\nNA,1\nACGTTTGT,1\n,0\nACGTAAAA,0\n")
    with pytest.raises(ValueError, match=r"d\.csv, line 3 \(record 1\): missing sequence in column 'sequence'"):
        SequenceDataModule(path=str(path), alphabet="dna").records  # noqa: B018 - reading is the point
    dm = SequenceDataModule(path=str(path), alphabet="dna", missing="drop", val_fraction=0.0)
    assert dm.records.sequences == ["ACGTACGT", "ACGTTTGT", "ACGTAAAA"] and dm.records.n_dropped == 2
    code, _, err = call_cli(oracles_main, ["score", "gc", str(path)])
    assert code == 2 and one_or_two_lines(err) and "line 3 (record 1): missing sequence" in err, err
    code, out, err = call_cli(oracles_main, ["score", "gc", str(path), "--missing", "drop"])
    assert code == 0 and out.count("\n") == 4, (out, err)
    code, _, err = call_cli(oracles_main, ["score", "gc", str(path), "--oracle-arg", "window=NaN"])
    assert code == 2 and "must be a finite number" in err
    tally.inputs("data: CSV/TSV with missing cells (hypothesis)", 4)


@given(tokens=st.lists(st.text(min_size=0, max_size=3), min_size=0, max_size=6),
       seqs=st.lists(st.text(max_size=8), max_size=4))
@SETTINGS
def test_alphabets_from_random_tokens_build_or_refuse_and_name_bad_characters(tally, tokens, seqs):
    tally.inputs("alphabets: random token lists and sequences (hypothesis)")
    try:
        alphabet = Alphabet(tokens)
    except (ValueError, TypeError) as err:
        assert one_or_two_lines(str(err)), str(err)
        return
    for s in seqs:
        problem = alphabet.validate(s)
        if problem is None:
            tokens_of_s = alphabet.tokenize(s)
            assert "".join(tokens_of_s) == s or not alphabet.case_sensitive
        elif s:
            assert one_or_two_lines(problem), problem
            with pytest.raises(ValueError) as caught:  # encoding names the sequence, position and character
                alphabet.encode(["", s], length=max(1, len(s)))
            assert one_or_two_lines(str(caught.value)) and "sequence 1" in str(caught.value), str(caught.value)


@pytest.mark.parametrize("content", [b"", b"\x00" * 64, b"PK\x03\x04junk", b"hello"])
def test_seqguide_sample_refuses_bad_checkpoints_in_one_line(tmp_path, tally, content):
    path = tmp_path / "model.ckpt"
    path.write_bytes(content)
    code, _, err = call_cli(seqguide_main, ["sample", "--ckpt", str(path), "-n", "2"])
    assert code == 2 and one_or_two_lines(err) and "not a seqguide sequence-model checkpoint" in err, err
    assert "weights_only=False" not in err
    tally.inputs("checkpoints: bad files through seqguide sample")


@pytest.mark.parametrize("gz", [False, True])
def test_a_utf8_byte_order_mark_is_read_in_fasta_csv_and_smi_alike(tmp_path, tally, gz):
    """Editors on Windows start UTF-8 files with a BOM: every reader drops it (FASTA took it for sequence data
    before the first header), also through ``seqguide oracles score``; a BOM later in the file is still data."""
    bom = "\ufeff"
    files = {"a.fasta": f"{bom}>s1\nACGT\n>s2\nGGCC\n", "a.csv": f"{bom}sequence\nACGT\nGGCC\n",
             "a.smi": f"{bom}CCO\nc1ccccc1\n"}
    read = {"a.fasta": read_fasta, "a.csv": read_table, "a.smi": read_smiles_file}
    for name, text in files.items():
        path = tmp_path / (name + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
        records = read[name](path)
        assert list(records.sequences) == (["CCO", "c1ccccc1"] if name == "a.smi" else ["ACGT", "GGCC"]), name
        if name == "a.fasta":
            assert records.ids[0] == "s1"
            code, out, err = call_cli(oracles_main, ["score", "gc", str(path)])
            assert "ACGT" in out or "s1" in out, out
            assert code == 0 and "Traceback" not in err, err
    inner = tmp_path / "inner.fasta"
    inner.write_text(f">s1\nACGT\n{bom}>s2\nGG\n")
    with pytest.raises(ValueError, match="non-ASCII character"):
        read_fasta(inner)
    tally.inputs("data: a UTF-8 BOM in FASTA, CSV, SMILES", 3)
