"""FASTA and table readers: contents, provenance, and the exact text of their errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seqguide.data import SequenceRecords, detect_format, read_fasta, read_table

FASTA = """# a comment line, as in the logomaker files
#
>s1 first record
ACGT
acg

>s2
TTTT
"""


# --------------------------------------------------------------------------------------------- FASTA
def test_fasta_reads_multiline_records_with_ids_and_header_lines(write):
    rec = read_fasta(write("x.fa", FASTA), alphabet="dna")
    assert rec.sequences == ["ACGTacg", "TTTT"]
    assert rec.ids == ["s1", "s2"]
    assert rec.lines == [3, 7]
    assert rec.labels is None and rec.scores is None


def test_fasta_gz_and_limit(write):
    rec = read_fasta(write("x.fasta.gz", FASTA), limit=1)
    assert rec.sequences == ["ACGTacg"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ACGT\n>s1\nAC\n", "bad.fa, line 1: sequence data 'ACGT' before the first '>' header"),
        ("# c\n>s1\nAC\n>s2\n>s3\nGG\n", "bad.fa, line 4: FASTA record '>s2' has no sequence"),
        (">s1\nAC\n>s2\n", "bad.fa, line 3: FASTA record '>s2' has no sequence"),
        (">s1\nAC\n>\nGG\n", "bad.fa, line 3: empty FASTA header '>'"),
        ("", "bad.fa: no FASTA records found"),
        ("# only\n# comments\n", "bad.fa: no FASTA records found"),
    ],
)
def test_malformed_fasta_names_file_and_line(write, text, expected):
    with pytest.raises(ValueError) as err:
        read_fasta(write("bad.fa", text))
    assert expected in str(err.value)


def test_fasta_illegal_character_names_file_line_record_id_position_and_char(write):
    path = write("reads.fa", ">s1\nACGT\n>s2 second\nACGT\nACXT\n")
    with pytest.raises(ValueError) as err:
        read_fasta(path, alphabet="dna")
    msg = str(err.value)
    assert msg.startswith(f"{path}, line 3 (record 1, id 's2'): position 6: illegal character 'X'")
    assert "alphabet 'dna'" in msg


def test_fasta_missing_file():
    with pytest.raises(FileNotFoundError, match=r"nope\.fa: no such file"):
        read_fasta("nope.fa")


# -------------------------------------------------------------------------------------------- tables
def test_csv_with_labels_and_scores(write):
    path = write("d.csv", "sequence,cls,a,b\nACGT,pos,1.5,2\nGG,neg,NA,3\nTTA,pos,-1,4\n")
    rec = read_table(path, label_column="cls", score_columns=["a", "b"], alphabet="dna")
    assert rec.sequences == ["ACGT", "GG", "TTA"]
    assert rec.class_names == ["neg", "pos"] and rec.labels == [1, 0, 1]
    assert rec.scores.shape == (3, 2)
    np.testing.assert_array_equal(rec.scores[:, 1], [2, 3, 4])
    assert np.isnan(rec.scores[1, 0])
    assert rec.lines == [2, 3, 4]


def test_integer_labels_keep_their_values_and_one_score_column_is_1d(write):
    rec = read_table(write("d.tsv", "sequence\ty\ts\nAC\t1\t0.5\nGT\t0\t2\n"), label_column="y",
                     score_columns="s")
    assert rec.labels == [1, 0] and rec.class_names == ["0", "1"]
    assert rec.scores.shape == (2,)
    assert rec.num_classes == 2


def test_txt_with_comments_and_sniffed_tab_separator(write):
    text = "# header comments\n# more\nsequence\tcount\nCAGGUGAGU\t3729\nCAGGUGAGG\t3653\n"
    rec = read_table(write("ss.txt", text), score_columns=["count"])
    assert rec.sequences == ["CAGGUGAGU", "CAGGUGAGG"]
    assert rec.lines == [4, 5]
    np.testing.assert_array_equal(rec.scores, [3729, 3653])


def test_hash_inside_a_data_row_is_data_and_na_is_a_missing_cell(write):
    path = write("s.csv", "sequence\n[C][#C]\nNA\n")
    with pytest.raises(ValueError, match=r"s\.csv, line 3 \(record 1\): missing sequence in column 'sequence'"):
        read_table(path)
    rec = read_table(path, missing="drop")
    assert rec.sequences == ["[C][#C]"] and rec.n_dropped == 1 and rec.lines == [2]


def test_blank_lines_are_skipped_and_line_numbers_stay_exact(write):
    path = write("d.csv", "sequence\nACGT\n\nACGU\n")
    with pytest.raises(ValueError) as err:
        read_table(path, alphabet="dna")
    assert str(err.value).startswith(f"{path}, line 4 (record 1): position 3: illegal character 'U'")


def test_parquet_and_limit(tmp_path):
    path = tmp_path / "d.parquet"
    pd.DataFrame({"seq": ["MKV", "AAA", "WWW"], "label": [0, 1, 1]}).to_parquet(path)
    rec = read_table(path, column="seq", label_column="label", limit=2)
    assert rec.sequences == ["MKV", "AAA"] and rec.labels == [0, 1] and rec.lines is None
    assert rec.where(1) == f"{path} (record 1)"


def test_csv_limit_reads_only_first_rows(write):
    rec = read_table(write("d.csv.gz", "sequence\n" + "ACGT\n" * 50), limit=7)
    assert len(rec) == 7


def test_missing_column_lists_available_columns(write):
    path = write("d.csv", "seq,y\nACGT,1\n")
    with pytest.raises(ValueError) as err:
        read_table(path, label_column="y")
    assert str(err.value) == f"{path}: no column 'sequence'; available columns: 'seq', 'y'"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "d.csv: empty file (no header line)"),
        ("# only a comment\n", "d.csv: empty file (no header line)"),
        ("sequence,y\n", "d.csv: no data rows (only a header line)"),
        ("sequence,y\nACGT,1\n,0\n", "d.csv, line 3 (record 1): missing sequence in column 'sequence'"),
        ("sequence,y\nACGT,1\nACGT,\n", "d.csv, line 3 (record 1): missing label"),
    ],
)
def test_table_errors(write, text, expected):
    with pytest.raises(ValueError) as err:
        read_table(write("d.csv", text), label_column="y")
    assert expected in str(err.value)


def test_non_numeric_score_is_named(write):
    with pytest.raises(ValueError, match=r"d\.csv, line 3 \(record 1\): score column 's' holds 'high'"):
        read_table(write("d.csv", "sequence,s\nAC,1\nAC,high\n"), score_columns=["s"])


def test_csv_illegal_character_names_row_line_and_char(write):
    path = write("pep.csv", "sequence,label\nMKVL,1\nMKBL,0\n")
    with pytest.raises(ValueError) as err:
        read_table(path, alphabet="protein")
    msg = str(err.value)
    assert msg.startswith(f"{path}, line 3 (record 1): position 2: illegal character 'B'")


@pytest.mark.parametrize(
    ("name", "kind"),
    [("a.fa", "fasta"), ("a.FASTA.gz", "fasta"), ("a.faa", "fasta"), ("a.csv.gz", "table"),
     ("a.parquet", "table"), ("a.txt", "table"), ("a.smi", "smiles"), ("a.smiles.gz", "smiles")],
)
def test_detect_format(name, kind):
    assert detect_format(name) == kind


def test_detect_format_rejects_unknown_extension():
    with pytest.raises(ValueError, match=r"a\.xlsx: cannot tell the file format from the extension '\.xlsx'"):
        detect_format("a.xlsx")


def test_records_check_their_fields():
    with pytest.raises(ValueError, match="2 labels for 1 sequences"):
        SequenceRecords(["AC"], labels=[0, 1])
    with pytest.raises(ValueError, match=r"label 2 outside 0\.\.1"):
        SequenceRecords(["AC", "GT"], labels=[0, 2], class_names=["a", "b"])
    rec = SequenceRecords(["AC", "GT", "TT"], labels=[0, 1, 1], scores=[1.0, 2.0, 3.0], source="f.csv",
                          lines=[2, 3, 4])
    sub = rec.subset([2, 0])
    assert sub.sequences == ["TT", "AC"] and sub.labels == [1, 0] and sub.lines == [4, 2]
    np.testing.assert_array_equal(sub.scores, [3.0, 1.0])
    assert sub.class_names == ["0", "1"]
