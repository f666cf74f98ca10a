"""`seqguide oracles`: `--oracle-arg` (the name `seqguide sample` uses), its deprecated alias `--kwargs`, and
`fit-surrogate`, which makes the file `seqguide sample --surrogate` reads."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from oracles.cli import main


def _run(argv, capsys):
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture
def fasta(tmp_path):
    path = tmp_path / "x.fa"
    path.write_text(">a\nGGGG\n>b\nGGAA\n>c\nAAAA\n")
    return path


def test_oracle_arg_reaches_the_oracle_and_is_repeatable(fasta, capsys):
    rc, out, err = _run(["score", "gc", str(fasta), "--oracle-arg", "target=0.5"], capsys)
    assert rc == 0 and "deprecated" not in err
    values = pd.read_csv(io.StringIO(out))["value"].tolist()
    assert values == pytest.approx([-0.5, 0.0, -0.5])  # distance to the target GC of 0.5, negated


def test_kwargs_still_works_but_says_it_is_deprecated(fasta, capsys):
    rc, out, err = _run(["score", "gc", str(fasta), "--kwargs", "target=0.5"], capsys)
    assert rc == 0
    assert pd.read_csv(io.StringIO(out))["value"].tolist() == pytest.approx([-0.5, 0.0, -0.5])
    assert "--kwargs is deprecated" in err and "--oracle-arg" in err


@pytest.mark.slow
def test_fit_surrogate_fits_the_finite_rows_and_saves_a_loadable_file(tmp_path, capsys):
    from oracles.surrogate import Surrogate

    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), 12)) for _ in range(64)]
    gc = [(s.count("G") + s.count("C")) / len(s) for s in seqs]
    table = pd.DataFrame({"sequence": [*seqs, "ACGX"], "value": [*gc, np.nan]})
    table.to_csv(tmp_path / "scores.csv", index=False)
    out = tmp_path / "gc.safetensors"
    rc, text, err = _run(["fit-surrogate", str(tmp_path / "scores.csv"), "--alphabet", "dna", "--out", str(out),
                          "--epochs", "40", "--members", "2", "--channels", "16"], capsys)
    assert rc == 0, err
    assert "on 64 scored sequences (1 without a finite 'value' left out)" in text
    loaded = Surrogate.load(out)
    assert loaded.history["n_train"] == 64
    mean, _ = loaded.predict(seqs)
    assert np.corrcoef(mean, gc)[0, 1] > 0.8  # it learned the scores it was given


@pytest.mark.parametrize(("argv", "message"), [
    (["fit-surrogate", "{csv}", "--alphabet", "dna", "--out", "s.pt"], "--out must end in .safetensors"),
    (["fit-surrogate", "{csv}", "--alphabet", "dnx", "--out", "s.safetensors"], "--alphabet: unknown alphabet"),
    (["fit-surrogate", "{missing}", "--alphabet", "dna", "--out", "s.safetensors"], "no such file"),
    (["fit-surrogate", "{csv}", "--alphabet", "dna", "--out", "s.safetensors", "--value-column", "y"],
     "'y'"),
    (["fit-surrogate", "{csv}", "--alphabet", "protein", "--out", "s.safetensors"], "need at least 2"),
    (["fit-surrogate", "{bad}", "--alphabet", "dna", "--out", "s.safetensors"], "row 2 of the scored rows"),
])
def test_fit_surrogate_errors_are_one_line(tmp_path, capsys, argv, message):
    (tmp_path / "one.csv").write_text("sequence,value\nACGT,0.5\nACGA,\n")
    (tmp_path / "bad.csv").write_text("sequence,value\nACGT,0.5\nACGZ,0.1\n")
    argv = [a.format(csv=tmp_path / "one.csv", missing=tmp_path / "nope.csv", bad=tmp_path / "bad.csv")
            for a in argv]
    rc, _, err = _run(argv, capsys)
    assert rc == 2 and message in err and err.startswith("seqguide oracles: error:"), err
    assert len(err.strip().splitlines()) == 1
