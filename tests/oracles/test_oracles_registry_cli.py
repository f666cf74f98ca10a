"""Registry (built-ins, runtime registration, entry-point plugins) and the `seqguide oracles` CLI."""

from __future__ import annotations

import io
import pickle
from importlib import metadata

import numpy as np
import pandas as pd
import pytest
from oracle_helpers import CountingOracle

import oracles.registry as registry
from oracles import Oracle, describe_oracles, get_oracle, list_oracles, register_oracle
from oracles.cli import main, parse_kwargs

REQUIRED = ["gc", "jaspar", "tm", "protparam", "amp", "qed", "logp", "sa", "similarity", "mpo", "ehrlich",
            "external"]
NEEDS_ARGUMENTS = {"external", "surrogate", "ray", "poli"}


@pytest.mark.slow
def test_required_names_are_registered_and_build_with_defaults():
    names = list_oracles()
    assert set(REQUIRED) <= set(names)
    for name in names:
        if name in NEEDS_ARGUMENTS or name not in registry._BUILTINS:
            continue
        oracle = get_oracle(name)
        assert isinstance(oracle, Oracle), name
        assert isinstance(oracle.name, str) and isinstance(oracle.maximize, bool)
    assert all(describe_oracles()[n] for n in REQUIRED)


def _sample_input(oracle: Oracle) -> str:
    if oracle.name == "ehrlich":
        return oracle.optimal_solution()
    kind = oracle.alphabet.kind if oracle.alphabet is not None else "molecule"
    return {"dna": "ACGTAGGCTAGCTAGGATCGATCGGGATCCAT", "protein": "GIGKFLHSAKKFGEIMNS",
            "molecule": "CC(=O)Oc1ccccc1C(=O)O"}[kind]


def test_builtins_pickle_and_score_the_same_after_a_round_trip():
    for name in registry._BUILTINS:
        if name in NEEDS_ARGUMENTS:
            continue
        oracle = get_oracle(name)
        x = [_sample_input(oracle)]
        clone = pickle.loads(pickle.dumps(oracle))
        before, after = oracle(x), clone(x)
        assert before.valid.all(), (name, before.errors)
        np.testing.assert_array_equal(after.values, before.values, err_msg=name)


def test_unknown_names_and_arguments_are_clear_errors():
    with pytest.raises(KeyError, match="unknown oracle 'qde'; did you mean qed"):
        get_oracle("qde")
    with pytest.raises(TypeError, match=r"does not take \['windw'\]; it accepts \['window'"):
        get_oracle("window_gc", windw=10)


def _fake_entry_points(*eps):
    def entry_points(**kwargs):
        assert kwargs == {"group": "seqguide.oracles"}
        return list(eps)

    return entry_points


def make_counter(**kwargs):
    """A counting GC oracle built by a plugin factory."""
    oracle = CountingOracle()
    oracle.name = kwargs.get("label", "counter")
    return oracle


def not_an_oracle():
    return 42


def test_entry_point_plugins(monkeypatch):
    group = "seqguide.oracles"
    monkeypatch.setattr(metadata, "entry_points", _fake_entry_points(
        metadata.EntryPoint(name="plugin_class", value="oracle_helpers:CountingOracle", group=group),
        metadata.EntryPoint(name="plugin_factory", value=f"{__name__}:make_counter", group=group),
        metadata.EntryPoint(name="plugin_bad", value=f"{__name__}:not_an_oracle", group=group),
        metadata.EntryPoint(name="plugin_broken", value="no_such_module_xyz:thing", group=group),
    ))
    assert {"plugin_class", "plugin_factory", "plugin_bad", "plugin_broken"} <= set(list_oracles())
    cls_oracle = get_oracle("plugin_class")
    assert isinstance(cls_oracle, CountingOracle) and cls_oracle(["GGAA"]).values[0] == 0.5
    assert get_oracle("plugin_factory", label="mine").name == "mine"
    with pytest.raises(TypeError, match="returned a int, not an Oracle"):
        get_oracle("plugin_bad")
    with pytest.raises(ImportError, match="could not load oracle 'plugin_broken'"):
        get_oracle("plugin_broken")
    described = describe_oracles()
    assert described["plugin_factory"] == "A counting GC oracle built by a plugin factory."
    assert described["plugin_broken"].startswith("(failed to load entry point no_such_module_xyz:thing")


def test_entry_point_cannot_shadow_a_builtin(monkeypatch):
    monkeypatch.setattr(metadata, "entry_points", _fake_entry_points(
        metadata.EntryPoint(name="gc", value="oracle_helpers:CountingOracle", group="seqguide.oracles")))
    with pytest.warns(UserWarning, match="shadowed by a built-in"):
        oracle = get_oracle("gc")
    assert type(oracle).__name__ == "GCContent"


def test_runtime_registration(monkeypatch):
    monkeypatch.setattr(registry, "_RUNTIME", {})
    register_oracle("my_counter", CountingOracle, description="counts calls")
    assert "my_counter" in list_oracles() and describe_oracles()["my_counter"] == "counts calls"
    assert isinstance(get_oracle("my_counter"), CountingOracle)
    with pytest.raises(ValueError, match="already registered"):
        register_oracle("gc", CountingOracle)
    register_oracle("my_counter", make_counter, overwrite=True)
    assert get_oracle("my_counter", label="x").name == "x"


# ------------------------------------------------------------------------------------ CLI


def _run(argv, capsys):
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_list(capsys):
    rc, out, _ = _run(["list"], capsys)
    assert rc == 0
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert set(REQUIRED) <= set(lines)
    assert "GC fraction" in lines["gc"]


def test_cli_score_fasta_to_stdout(tmp_path, capsys):
    fasta = tmp_path / "designs.fasta"
    fasta.write_text(">a\nGGCCAATT\n>b\nACGX\n>c\nGGGG\n")
    rc, out, _ = _run(["score", "gc", str(fasta)], capsys)
    assert rc == 0
    df = pd.read_csv(io.StringIO(out), keep_default_na=False)
    assert df.columns.tolist() == ["id", "sequence", "value", "valid", "error"]
    assert df["id"].tolist() == ["a", "b", "c"]
    assert df["valid"].tolist() == [True, False, True]
    assert float(df.loc[0, "value"]) == 0.5 and float(df.loc[2, "value"]) == 1.0 and df.loc[1, "value"] == ""
    assert "illegal character 'X'" in df.loc[1, "error"]


def test_cli_score_csv_with_kwargs_and_out(tmp_path, capsys):
    table = tmp_path / "peptides.csv"
    pd.DataFrame({"name": ["mag", "bad"], "seq": ["GIGKFLHSAKKFGEIMNS", "GIGZ"]}).to_csv(table, index=False)
    out_csv = tmp_path / "out" / "scores.csv"
    rc, out, _ = _run(["score", "protparam", str(table), "--column", "seq", "--out", str(out_csv),
                       "--oracle-arg", 'properties=["charge","pi"]', "--oracle-arg", "ph=7.4"], capsys)
    assert rc == 0 and "1 valid" in out
    df = pd.read_csv(out_csv)
    assert df.columns.tolist() == ["id", "sequence", "value_charge", "value_pi", "valid", "error"]
    assert df.loc[0, "value_charge"] > 0 and np.isnan(df.loc[1, "value_pi"])


def test_cli_jaspar_columns_named_by_motif(tmp_path, capsys):
    fasta = tmp_path / "x.fa"
    fasta.write_text(">s\n" + "ACGT" * 20 + "\n")
    rc, out, _ = _run(["score", "jaspar", str(fasta), "--oracle-arg", "motif=MA0139.1,MA0079.5",
                       "--oracle-arg", "normalize=false"], capsys)
    assert rc == 0
    header = out.splitlines()[0]
    assert header == "id,sequence,value_MA0139.1,value_MA0079.5,valid,error"


@pytest.mark.parametrize(("argv", "message"), [
    (["score", "nope", "{fasta}"], "unknown oracle 'nope'"),
    (["score", "gc", "{missing}"], "no such file"),
    (["score", "gc", "{csv}"], "no column 'sequence'; columns are ['seq']"),
    (["score", "gc", "{fasta}", "--oracle-arg", "target"], "--oracle-arg expects key=value"),
    (["score", "gc", "{fasta}", "--oracle-arg", "target=7"], "target must be in [0, 1]"),
    (["score", "gc", "{fasta}", "--oracle-arg", "windw=3"], "does not take ['windw']"),
    (["score", "gc", "{fasta}", "--oracle-arg", "target=0.5", "--kwargs", "target=0.4"],
     "--oracle-arg target: given more than once"),
])
def test_cli_errors_exit_2_with_a_message(tmp_path, capsys, argv, message):
    fasta = tmp_path / "x.fa"
    fasta.write_text(">s\nACGT\n")
    csv = tmp_path / "x.csv"
    csv.write_text("seq\nACGT\n")
    argv = [a.format(fasta=fasta, missing=tmp_path / "missing.fa", csv=csv) for a in argv]
    rc, _, err = _run(argv, capsys)
    assert rc == 2
    assert message in err and err.startswith("seqguide oracles: error:")


def test_cli_usage_errors_return_argparse_status(capsys):
    assert main(["score", "gc"]) == 2
    assert "usage: seqguide oracles" in capsys.readouterr().err
    assert main(["--help"]) == 0


def test_parse_kwargs_reads_json_or_text():
    assert parse_kwargs(["a=1", "b=x", "c=[1,2]", "d=false", "e=MA0139.1", "f="]) == {
        "a": 1, "b": "x", "c": [1, 2], "d": False, "e": "MA0139.1", "f": ""}
