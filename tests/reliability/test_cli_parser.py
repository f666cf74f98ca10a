"""The ``seqguide`` command line, fuzzed: random words, flags and values for every subcommand (except ``train``,
which starts a Lightning run) with bad files as arguments. Each command line ends with an exit status and, when it
refuses, an error message; never with a Python traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_helpers import call_cli

from seqguide.cli import main

WORDS = ["sample", "design", "report", "oracles", "train-value", "run", "validate", "list", "score", "bogus",
         "fit-surrogate",
         "--help", "-h", "-V"]
FLAGS = ["--ckpt", "-n", "--steps", "--out", "--seed", "--cond", "--device", "--batch-size", "--quick", "--resume",
         "--no-progress", "--threads", "--top-k", "--kwargs", "--oracle-arg", "--column", "--format", "--missing",
         "--oracle", "--print-config", "--no-cache", "--alphabet", "--value-column"]
VALUES = ["-1", "0", "3", "nan", "1e9", "x=1", "loop.rounds=0", "guidance.0.particles=-2", "gc", "qed", "cpu",
          "cuda:7", "fasta", "drop", "", "junk.ckpt", "junk.yaml", "junk.csv", "nowhere/x.yaml", "binary.fa",
          "out.xlsx", "out.csv", "empty.ckpt", "."]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    (folder / "junk.ckpt").write_bytes(b"\x80\x04junk")
    (folder / "empty.ckpt").write_bytes(b"")
    (folder / "junk.yaml").write_text("name: [unclosed\n")
    (folder / "junk.csv").write_text("sequence,x\nACGT,1\nNA,2\n")
    (folder / "binary.fa").write_bytes(b">a\n\x00\x01\x02ACGT\n")
    (folder / "train_on_binary.yaml").write_text(
        "name: t\nrun_dir: run_t\nmodel:\n  train:\n    data: {path: binary.fa, alphabet: dna}\n    steps: 2\n"
        "objective:\n  oracles: [{name: gc}]\nloop: {rounds: 1, candidates: 2}\n")
    (folder / "evil.ckpt").write_bytes(_malicious_checkpoint(folder / "pwned"))
    return folder


class _Payload:
    """A pickle that would create a file if it were ever unpickled with code execution allowed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _malicious_checkpoint(marker: Path) -> bytes:
    import io

    import torch

    buf = io.BytesIO()
    torch.save({"state_dict": {}, "hyper_parameters": {"alphabet": "dna", "backbone": _Payload(marker)}}, buf)
    return buf.getvalue()


@given(argv=st.lists(st.sampled_from(WORDS + FLAGS + VALUES), min_size=0, max_size=7),
       head=st.sampled_from(["sample", "design", "report", "oracles", "train-value", "bogus", ""]))
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_random_command_lines_exit_with_a_status_and_no_traceback(workdir, monkeypatch, tally, argv, head):
    monkeypatch.chdir(workdir)
    words = ([head] if head else []) + argv
    if words[:1] == ["design"] and "run" in words and not any(w.endswith((".yaml", ".yml")) for w in words):
        words.append("junk.yaml")  # never a campaign that could start: only bad files are given
    tally.inputs("CLI: random command lines (hypothesis)")
    code, _, err = call_cli(main, words)
    assert code in (0, 1, 2, 130, 143), (words, code, err)
    assert "Traceback" not in err, (words, err)


@pytest.mark.parametrize("argv, text", [
    (["design", "validate", "junk.yaml"], "invalid YAML: line"),
    (["design", "run", "junk.yaml", "--resume"], "invalid YAML: line"),
    (["report", "."], "no campaign store"),
    (["oracles", "score", "gc", "binary.fa"], "binary file"),
    (["oracles", "score", "gc", "junk.csv"], "missing sequence in column 'sequence'"),
    (["sample", "--ckpt", "junk.ckpt"], "not a seqguide sequence-model checkpoint"),
    (["sample", "--ckpt", "empty.ckpt"], "the file is empty"),
    (["train-value", "--ckpt", "junk.ckpt", "--oracle", "gc", "--out", "v.ckpt"], "not a seqguide MaskedDiffusion"),
    (["sample", "--ckpt", "evil.ckpt"], "holds Python objects other than tensors and plain data; refused"),
    (["design", "run", "train_on_binary.yaml"], "model.train.data: binary.fa: a binary file"),
])
def test_each_bad_file_is_an_error_of_one_or_two_lines(workdir, monkeypatch, tally, argv, text):
    monkeypatch.chdir(workdir)
    code, _, err = call_cli(main, argv)
    assert code in (1, 2) and text in err and "Traceback" not in err, err
    message = [ln for ln in err.splitlines() if "error" in ln]  # argparse may print its usage block above it
    assert 1 <= len(message) <= 2 and text in "\n".join(message), err
    assert "weights_only=False" not in err and not (workdir / "pwned").exists()  # no code from a file ever runs
    tally.inputs("CLI: bad files, one or two lines each")
