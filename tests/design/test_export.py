"""``seqguide export``: FASTA re-read by Biopython, SDF by RDKit, CSV/parquet by pandas, all matching the store."""

from __future__ import annotations

import json

import pytest

from seqguide.alphabet import DNA, Alphabet
from seqguide.design.export import campaign_digest, export_main, export_run
from seqguide.design.store import DesignRecord, DesignStore

MOLECULES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "OCC(O)CO"]
CONFIG = {"name": "mols", "seed": 3, "objective": {"oracles": [{"name": "qed"}]}}


def _store(tmp_path, designs, *, alphabet=None, name="mols", config=CONFIG, maximize=True):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with DesignStore(run_dir / "campaign.sqlite") as store:
        run = store.create_run(name=name, config=config, seed=3, budget=100,
                               alphabet=alphabet.to_dict() if alphabet is not None else None,
                               objective={"maximize": maximize, "components": [{"label": "qed", "weight": 1.0},
                                                                               {"label": "sa", "weight": 0.0}]},
                               model={"id": "m.ckpt@abc"}, code_version="0.1.0", git_commit="deadbeef")
        store.add_designs(run, designs)
    return run_dir


def _designs(seqs, values, rounds, valid=None):
    valid = valid or [True] * len(seqs)
    return [DesignRecord(sequence=s, round=r, idx=i, objective=v if ok else None, valid=ok,
                         reason=None if ok else "unparsable", components={"qed": v if ok else None, "sa": 2.0 + i},
                         model="m.ckpt@abc", guidance="unguided", sample_seed=7 + i, draw=i)
            for i, (s, v, r, ok) in enumerate(zip(seqs, values, rounds, valid))]


@pytest.fixture
def molecule_run(tmp_path):
    values = [0.41, 0.55, 0.60, 0.33, 0.52]
    rounds = [0, 0, 1, 1, 2]
    return _store(tmp_path, _designs(MOLECULES, values, rounds)), dict(zip(MOLECULES, zip(values, rounds)))


def test_sdf_reread_by_rdkit_has_the_store_scores_and_rounds(molecule_run, tmp_path, capsys):
    from rdkit import Chem

    run_dir, truth = molecule_run
    out = tmp_path / "top.sdf"
    assert export_main([str(run_dir), "--format", "sdf", "--top", "3", "--out", str(out)]) == 0
    mols = [m for m in Chem.SDMolSupplier(str(out))]
    assert len(mols) == 3 and all(m is not None for m in mols)
    digest = campaign_digest(CONFIG)
    got = [(m.GetProp("sequence"), float(m.GetProp("objective")), int(m.GetProp("round"))) for m in mols]
    best3 = sorted(truth.items(), key=lambda kv: -kv[1][0])[:3]
    assert got == [(s, v, r) for s, (v, r) in best3]
    for m in mols:
        assert Chem.MolToSmiles(m) == Chem.MolToSmiles(Chem.MolFromSmiles(m.GetProp("sequence")))
        assert m.GetProp("campaign_digest") == digest and m.GetProp("model") == "m.ckpt@abc"
        assert float(m.GetProp("sa")) >= 2.0 and m.GetProp("campaign") == "mols"
    assert digest in capsys.readouterr().out


def test_sdf_decodes_selfies_designs(tmp_path):
    import selfies as sf
    from rdkit import Chem

    selfies = [sf.encoder(s) for s in MOLECULES[:3]]
    alphabet = Alphabet.selfies_from_data(selfies)
    run_dir = _store(tmp_path, _designs(selfies, [0.2, 0.9, 0.5], [0, 1, 1]), alphabet=alphabet)
    out = tmp_path / "s.sdf"
    assert export_main([str(run_dir), "--format", "sdf", "--out", str(out)]) == 0
    mols = list(Chem.SDMolSupplier(str(out)))
    assert [m.GetProp("sequence") for m in mols] == [selfies[1], selfies[2], selfies[0]]
    canonical = [Chem.MolToSmiles(Chem.MolFromSmiles(MOLECULES[i])) for i in (1, 2, 0)]
    assert [Chem.MolToSmiles(m) for m in mols] == canonical


def test_fasta_reread_by_biopython_matches_the_store(tmp_path):
    from Bio import SeqIO

    seqs = ["ACGTAC", "GGGCCC", "ATATAT", "CCGGAA"]
    run_dir = _store(tmp_path, _designs(seqs, [0.1, 0.9, 0.5, 0.7], [0, 1, 1, 2], valid=[True, True, False, True]),
                     alphabet=DNA, name="dna")
    assert export_main([str(run_dir), "--format", "fasta"]) == 0
    records = list(SeqIO.parse(run_dir / "export" / "designs.fasta", "fasta"))
    assert [str(r.seq) for r in records] == ["GGGCCC", "CCGGAA", "ACGTAC"]  # valid ones only, best first
    fields = [dict(kv.split("=", 1) for kv in r.description.split()[1:]) for r in records]
    assert [(float(f["objective"]), int(f["round"])) for f in fields] == [(0.9, 1), (0.7, 2), (0.1, 0)]
    assert records[0].id == "dna_r1_1" and fields[0]["campaign_digest"] == campaign_digest(CONFIG)
    # --all adds the invalid design after the valid ones, with its reason (CSV keeps it)
    import pandas as pd

    out = tmp_path / "all.csv"
    assert export_main([str(run_dir), "--format", "csv", "--all", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert table["sequence"].tolist() == ["GGGCCC", "CCGGAA", "ACGTAC", "ATATAT"]
    assert table["reason"].fillna("").tolist() == ["", "", "", "unparsable"]
    assert table["rank"].tolist()[:3] == [1, 2, 3]


def test_minimised_runs_export_the_lowest_first(tmp_path):
    run_dir = _store(tmp_path, _designs(["AAAA", "CCCC", "GGGG"], [3.0, 1.0, 2.0], [0, 0, 1]), alphabet=DNA,
                     maximize=False)
    assert [r["sequence"] for r in export_run(run_dir).rows] == ["CCCC", "GGGG", "AAAA"]


def test_parquet_round_trips_with_the_digest(molecule_run, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet", reason="parquet export needs pyarrow")
    run_dir, truth = molecule_run
    out = tmp_path / "d.parquet"
    assert export_main([str(run_dir), "--format", "parquet", "--out", str(out)]) == 0
    table = pq.read_table(out)
    rows = table.to_pylist()
    assert {r["sequence"]: (r["objective"], r["round"]) for r in rows} == truth
    assert table.schema.metadata[b"seqguide.campaign_digest"].decode() == campaign_digest(CONFIG)


def test_the_digest_follows_the_config():
    assert campaign_digest(CONFIG) == campaign_digest(json.loads(json.dumps(CONFIG)))
    assert campaign_digest(CONFIG) != campaign_digest({**CONFIG, "seed": 4})


@pytest.mark.parametrize(("argv", "message"), [
    (["{missing}", "--format", "csv"], "no such run directory"),
    (["{run}", "--format", "xls"], "unknown --format 'xls'"),
    (["{run}", "--format", "csv", "--top", "0"], "--top must be a positive integer"),
    (["{run}", "--format", "csv", "--top", "two"], "--top must be a positive integer"),
    (["{run}"], "required: --format"),
])
def test_bad_arguments_are_one_line_errors_with_exit_2(molecule_run, tmp_path, capsys, argv, message):
    run_dir, _ = molecule_run
    argv = [a.format(run=run_dir, missing=tmp_path / "nope") for a in argv]
    rc = export_main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_sdf_of_sequences_that_are_no_molecules_is_refused(tmp_path, capsys):
    run_dir = _store(tmp_path, _designs(["ACGT", "GGCC"], [0.1, 0.2], [0, 0]), alphabet=DNA)
    assert export_main([str(run_dir), "--format", "sdf"]) == 2
    err = capsys.readouterr().err
    assert "alphabet is 'dna'" in err and len(err.strip().splitlines()) == 1
