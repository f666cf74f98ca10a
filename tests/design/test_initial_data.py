"""Your own assay data as round 0 and later wet-lab batches: read and validated like any input, stored with its
provenance as uncharged import rounds, used by the guidance's labels and the elite pool, imported between rounds
under the run's lock, resumable, and old stores still open."""

from __future__ import annotations

import sqlite3
import textwrap

import pytest

from oracles import from_function
from seqguide import DNA
from seqguide.design import DesignLoop, DesignStore
from seqguide.design.anchoring import EliteInfill
from seqguide.design.cli import design_main
from seqguide.design.initial import InitialData, file_sha256, read_labelled
from seqguide.design.lock import RunLock
from seqguide.design.loop_types import GuidancePlan

TABLE = """\
sequence,value
ACGTA,1.0
GGGGG,0.9
ACGTA,3.0
CCCCC,NA
TTTTT,
GGGGC,0.5
"""


def _g(xs: list[str]) -> list[float]:
    return [s.count("G") / len(s) for s in xs]


class _Counting:
    """A G-content oracle that records every sequence it receives (what is really paid)."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.oracle = from_function(self._fn, name="g_paid", alphabet=DNA)

    def _fn(self, xs: list[str]) -> list[float]:
        self.received.extend(xs)
        return _g(xs)


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "assay.csv"
    path.write_text(TABLE)
    return path


def test_replicates_are_averaged_failed_measurements_kept_and_every_row_traced(table):
    data = read_labelled(table, alphabet=DNA, length=5)
    assert data.sequences == ["ACGTA", "GGGGG", "CCCCC", "TTTTT", "GGGGC"]
    assert data.values[0] == 2.0 and data.values[1] == 0.9 and data.values[4] == 0.5
    assert data.n_rows == 6 and data.n_duplicates == 1 and data.n_missing == 2
    assert data.rows[0] == [2, 4] and data.replicates[0] == [1.0, 3.0]  # file lines of both replicate rows
    recs = data.records(0)
    assert [r.valid for r in recs] == [True, True, False, False, True]
    assert not any(r.charged for r in recs) and recs[2].transient
    assert recs[2].reason == f"no measured value in {table} (line 5)"
    assert recs[0].provenance == {"file": str(table), "sha256": file_sha256(table), "rows": [2, 4],
                                  "values": [1.0, 3.0]}


@pytest.mark.parametrize(("text", "name", "spec", "expected"), [
    ("sequence,value\nACGTA,1\nACXTA,2\n", "a.csv", {}, ", line 3 (record 1): position 2: illegal character 'X'"),
    ("sequence,value\nACGTA,high\n", "a.csv", {}, ", line 2 (record 0), column 'value': 'high' is not a number"),
    ("sequence,value\nACGTA,inf\n", "a.csv", {}, "column 'value': 'inf' is infinite"),
    ("sequence,value\nACGTA,1\n", "a.csv", {"value_column": "y"}, ": no column 'y'; available columns"),
    ("sequence,value\nACGTAC,1\n", "a.csv", {}, "sequence has 6 tokens, longer than the model's length 5"),
    ("sequence,value\n,1\n", "a.csv", {}, ", line 2 (record 0): missing sequence in column 'sequence'"),
    (">s1 value=1\nACGTA\n>s2\nACGTA\n", "a.fa", {}, ", line 3 (record 1, id 's2'): the header '>s2' has no value="),
])
def test_bad_files_are_one_line_naming_file_row_column_and_character(tmp_path, text, name, spec, expected):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        read_labelled(InitialData(str(path), **spec), alphabet=DNA, length=5)
    assert str(path) in str(err.value) and expected in str(err.value) and "\n" not in str(err.value)


def test_a_labelled_fasta_reads_its_values_from_the_headers(tmp_path):
    path = tmp_path / "batch.fasta"
    path.write_text(">a score=0.25 plate=3\nACGTA\n>b score=NA\nGGGGG\n")
    data = read_labelled(InitialData(str(path), value_column="score"), alphabet=DNA)
    assert data.sequences == ["ACGTA", "GGGGG"] and data.values[0] == 0.25 and data.n_missing == 1
    assert data.rows == [[1], [3]]


def test_round_0_is_never_charged_never_sent_and_feeds_the_guidance_and_the_elites(toy_dna_model, table):
    paid = _Counting()
    seen: dict[int, list[str]] = {}

    def factory(state):
        seen[state.round] = sorted(d.sequence for d in state.labels)
        return GuidancePlan()

    anchor = EliteInfill(elites=2, min_labels=2, edits=(1, 1))
    with DesignLoop(toy_dna_model, paid.oracle, factory, DesignStore(None), budget=12, candidates=4, seed=1,
                    initial=InitialData(str(table)), anchor=anchor) as loop:
        assert loop.round == 1 and loop.budget_used == 0 and loop.rounds_done == 0
        assert loop._parents(1) is not None  # the imported elites are the first parents
        assert sorted(loop._memory.pool.parents()) == ["ACGTA", "GGGGG"]
        loop.run(3)
        rounds = loop.history
        assert [(r.round, r.kind) for r in rounds] == [(0, "import"), (1, "design"), (2, "design"), (3, "design")]
        assert rounds[0].n_scored == 5 and rounds[0].n_charged == 0 and rounds[0].source["sha256"] == \
            file_sha256(table)
        imported = {"ACGTA", "GGGGG", "CCCCC", "TTTTT", "GGGGC"}
        assert seen[1] == ["ACGTA", "GGGGC", "GGGGG"]  # the valid imported designs are round 1's labels
        ledger = loop.store.oracle_calls(loop.run_id)
        assert loop.budget_used == len(ledger) == len(paid.received) == 12  # the paid rounds alone
        assert not imported & {c["sequence"] for c in ledger} and not imported & set(paid.received)
        assert sum(d.charged for d in loop.designs()) == 12 and len(loop.designs()) == 17
        assert rounds[0].best == 2.0


def test_a_batch_imported_between_rounds_is_a_round_resumed_runs_follow_and_reimports_are_noops(toy_dna_model,
                                                                                                 tmp_path, table):
    path = tmp_path / "c.sqlite"
    paid = _Counting()
    with DesignLoop(toy_dna_model, paid.oracle, None, DesignStore(path), budget=8, candidates=4, seed=2) as loop:
        loop.run(1)
        run_id = loop.run_id
    code = design_main(["import", str(path), str(table)])
    assert code == 0
    assert design_main(["import", str(path), str(table)]) == 0  # the same bytes again: nothing happens
    with DesignStore(path) as store:
        assert [(r.round, r.kind) for r in store.rounds(run_id)] == [(0, "design"), (1, "import")]
        with DesignLoop(toy_dna_model, paid.oracle, None, store, budget=8, candidates=4, seed=2,
                        run_id=run_id) as again:
            assert again.round == 2 and again.rounds_done == 1 and again.budget_used == 4
            again.run(2)
            assert again.budget_used == 8 == len(paid.received)
            kinds = [r.kind for r in again.history]
            assert kinds == ["design", "import", "design"]
        imported = [d for d in store.designs(run_id) if d.round == 1]
        assert imported and not any(d.charged for d in imported)
        assert all(d.provenance["file"] == str(table) for d in imported)
        # Designs the run already scored are left out of an import, never stored twice.
        again_file = tmp_path / "again.csv"
        again_file.write_text("sequence,value\n" + "".join(f"{d.sequence},0.1\n" for d in store.designs(run_id)[:2])
                              + "AAAAA,0.2\n")
    assert design_main(["import", str(path), str(again_file)]) == 0
    with DesignStore(path, readonly=True) as store:
        last = store.rounds(run_id)[-1]
        assert last.kind == "import" and last.source["already_stored"] == 2 and last.n_scored == 1


def test_import_is_refused_while_another_process_holds_the_lock_and_resumes_after_a_kill(toy_dna_model, tmp_path,
                                                                                         table, capsys, monkeypatch):
    path = tmp_path / "run" / "campaign.sqlite"
    with DesignLoop(toy_dna_model, _Counting().oracle, None, DesignStore(path), budget=4, candidates=4) as loop:
        loop.run(1)
    with RunLock(tmp_path / "run", store=path):
        code = design_main(["import", str(tmp_path / "run"), str(table)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "error:" in err and "Traceback" not in err
    with DesignStore(path, readonly=True) as store:
        assert len(store.rounds(1)) == 1
    # A kill inside the import's one transaction leaves nothing; running it again imports the file.
    from seqguide.design.store import database

    real = database.DesignStore._insert

    def die(self, *args, **kwargs):
        real(self, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(database.DesignStore, "_insert", die)
    with pytest.raises(KeyboardInterrupt):
        design_main(["import", str(path), str(table)])
    monkeypatch.setattr(database.DesignStore, "_insert", real)
    with DesignStore(path, readonly=True) as store:
        assert [r.kind for r in store.rounds(1)] == ["design"] and store.count(1) == 4
    assert design_main(["import", str(path), str(table)]) == 0
    with DesignStore(path, readonly=True) as store:
        assert [r.kind for r in store.rounds(1)] == ["design", "import"] and store.count(1) == 9
        assert store.budget_used(1) == 4
        assert store.sessions(1)[-1]["status"] == "imported"


def test_a_bad_batch_through_the_cli_is_one_line_exit_2(toy_dna_model, tmp_path, capsys):
    path = tmp_path / "c.sqlite"
    with DesignLoop(toy_dna_model, _Counting().oracle, None, DesignStore(path), budget=4, candidates=4) as loop:
        loop.run(1)
    bad = tmp_path / "bad.csv"
    bad.write_text("sequence,value\nACGTA,1\nACGUA,2\n")
    assert design_main(["import", str(path), str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{bad}, line 3 (record 1): position 3: illegal character 'U'" in err
    assert "(column 'sequence')" in err
    assert design_main(["import", str(tmp_path / "nowhere"), str(bad)]) == 2


V4_ROUNDS = ("CREATE TABLE rounds (run_id INTEGER NOT NULL, round INTEGER NOT NULL, seed INTEGER NOT NULL, "
             "status TEXT NOT NULL, value_source TEXT, value_state TEXT, n_sampled INTEGER NOT NULL DEFAULT 0, "
             "n_duplicates INTEGER NOT NULL DEFAULT 0, n_candidates INTEGER NOT NULL DEFAULT 0, n_scored INTEGER NOT "
             "NULL DEFAULT 0, n_valid INTEGER NOT NULL DEFAULT 0, n_charged INTEGER NOT NULL DEFAULT 0, draws INTEGER "
             "NOT NULL DEFAULT 0, guidance_oracle_calls INTEGER NOT NULL DEFAULT 0, guidance_charged INTEGER NOT NULL "
             "DEFAULT 0, value_spearman REAL, nfe REAL NOT NULL DEFAULT 0, sample_seconds REAL NOT NULL DEFAULT 0, "
             "score_seconds REAL NOT NULL DEFAULT 0, fit_seconds REAL NOT NULL DEFAULT 0, wall_seconds REAL NOT NULL "
             "DEFAULT 0, best REAL, started_at TEXT NOT NULL, ended_at TEXT, finetune TEXT, PRIMARY KEY (run_id, "
             "round))")


def test_a_version_4_store_reads_as_it_is_and_upgrades_to_import_rounds(toy_dna_model, tmp_path, table):
    path = tmp_path / "old.sqlite"
    with DesignLoop(toy_dna_model, _Counting().oracle, None, DesignStore(path), budget=4, candidates=4) as loop:
        loop.run(1)
    with sqlite3.connect(path) as db:  # make it the version-4 layout: no kind/source/provenance columns
        db.executescript(textwrap.dedent(f"""
            ALTER TABLE rounds RENAME TO rounds5;
            {V4_ROUNDS};
            INSERT INTO rounds SELECT run_id, round, seed, status, value_source, value_state, n_sampled, n_duplicates,
                n_candidates, n_scored, n_valid, n_charged, draws, guidance_oracle_calls, guidance_charged,
                value_spearman, nfe, sample_seconds, score_seconds, fit_seconds, wall_seconds, best, started_at,
                ended_at, finetune FROM rounds5;
            DROP TABLE rounds5;
            ALTER TABLE designs DROP COLUMN provenance;
            UPDATE meta SET value = '4' WHERE key = 'schema_version';
        """))
    with DesignStore(path, readonly=True) as old:
        assert [r.kind for r in old.rounds(1)] == ["design"] and old.designs(1)[0].provenance is None
        assert old.budget_used(1) == 4
    assert design_main(["import", str(path), str(table)]) == 0  # upgraded in place when written
    with DesignStore(path, readonly=True) as new:
        assert [r.kind for r in new.rounds(1)] == ["design", "import"] and new.budget_used(1) == 4
        assert new.meta("schema_version") == "5"


CAMPAIGN = """
name: seeded
seed: 1
run_dir: {run_dir}
model: {{checkpoint: {ckpt}, alphabet: dna, length: 26}}
objective:
  oracles: [{{name: gc}}]
data:
  initial: {{path: {data}, sequence_column: seq, value_column: measured}}
guidance:
  - {{method: svdd, value: surrogate, particles: 2}}
sampling: {{steps: 6}}
loop: {{rounds: 1, candidates: 4, score_batch: 4}}
surrogate: {{members: 2, channels: 8, epochs: 2, min_labels: 4}}
"""


@pytest.mark.slow
def test_a_yaml_campaign_starts_from_its_data_and_its_surrogate_learns_from_it(tiny_checkpoint, tmp_path, write_yaml):
    from seqguide.design import Campaign, ConfigError

    rows = ["ACGTACGTACGTACGTACGTACGTAC", "GGGGCCCCGGGGCCCCGGGGCCCCGG", "ATATATATATATATATATATATATAT",
            "GCGCATATGCGCATATGCGCATATGC", "CCCCCCCCAAAAAAAAGGGGGGGGTT"]
    data = tmp_path / "lab.csv"
    data.write_text("seq,measured\n" + "".join(f"{s},{(s.count('G') + s.count('C')) / 26}\n" for s in rows))
    path = write_yaml(CAMPAIGN.format(run_dir=tmp_path / "run", ckpt=tiny_checkpoint, data=data))
    result = Campaign.from_yaml(path).run(progress=False)
    assert result.status == "completed" and [r.kind for r in result.rounds] == ["import", "design"]
    assert result.budget == 4 and result.budget_used == 4  # loop.rounds x candidates, the import not charged
    assert result.rounds[1].value_source == "surrogate"  # fitted on the 5 imported labels
    resumed = Campaign.from_yaml(path).run(resume=True, progress=False)  # the import is not made again
    assert [r.kind for r in resumed.rounds] == ["import", "design"] and resumed.budget_used == 4
    data.write_text("seq,measured\nACGU,1\n")
    bad = write_yaml(CAMPAIGN.format(run_dir=tmp_path / "run2", ckpt=tiny_checkpoint, data=data), name="bad.yaml")
    with pytest.raises(ConfigError) as err:
        Campaign.from_yaml(bad).run(progress=False)
    assert "data.initial" in str(err.value) and "illegal character 'U'" in str(err.value)


TRACKED = """
name: tracked
seed: 2
run_dir: {run_dir}
model: {{checkpoint: {ckpt}, alphabet: dna, length: 26}}
objective:
  oracles: [{{name: gc}}]
data:
  initial: {{path: {data}}}
sampling: {{steps: 6}}
loop: {{rounds: 2, candidates: 4, score_batch: 4}}
loggers: [csv, {{name: tensorboard}}]
"""


@pytest.mark.slow
def test_round_metrics_read_back_from_the_csv_and_tensorboard_logs(tiny_checkpoint, tmp_path, write_yaml):
    import csv

    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from seqguide.design import Campaign

    data = tmp_path / "lab.csv"
    data.write_text("sequence,value\nACGTACGTACGTACGTACGTACGTAC,0.5\nGGGGCCCCGGGGCCCCGGGGCCCCGG,1.0\n"
                    "ATATATATATATATATATATATATAT,\n")
    path = write_yaml(TRACKED.format(run_dir=tmp_path / "run", ckpt=tiny_checkpoint, data=data))
    result = Campaign.from_yaml(path).run(progress=False)
    logs = tmp_path / "run" / "logs"
    with open(logs / "csv" / "session_1" / "metrics.csv") as fh:
        rows = [row for row in csv.DictReader(fh) if row.get("best")]
    by_step = {int(r["step"]): r for r in rows}
    assert sorted(by_step) == [0, 1, 2]  # the import round and the two design rounds
    assert float(by_step[0]["imported"]) == 1.0 and float(by_step[0]["best"]) == 1.0
    assert float(by_step[0]["calls"]) == 0.0 and float(by_step[0]["validity"]) == pytest.approx(2 / 3)
    for r in result.rounds:
        got = by_step[r.round]
        assert float(got["best"]) == pytest.approx(r.best) and float(got["round_calls"]) == r.n_charged
    assert float(by_step[2]["calls"]) == result.budget_used == 8
    assert float(by_step[1]["validity"]) == pytest.approx(result.rounds[1].n_valid / result.rounds[1].n_scored)
    assert float(by_step[1]["diversity"]) > 0
    (events,) = list((logs / "tensorboard" / "session_1").glob("events.out.tfevents.*"))
    acc = EventAccumulator(str(events))
    acc.Reload()
    best = acc.Scalars("best")
    assert [e.step for e in best] == [0, 1, 2]
    assert [e.value for e in best] == pytest.approx([float(by_step[s]["best"]) for s in (0, 1, 2)])
    assert [e.value for e in acc.Scalars("calls")] == [0.0, 4.0, 8.0]


def test_loggers_are_validated_and_the_trackers_module_stays_light(monkeypatch):
    import subprocess
    import sys

    from seqguide.design import logger_names
    from seqguide.design.schema import CampaignConfig

    base = {"name": "x", "model": {"checkpoint": "m.ckpt"}, "objective": {"oracles": [{"name": "gc"}]}}
    assert [s.name for s in CampaignConfig.model_validate(base).loggers] == ["csv"]
    assert CampaignConfig.model_validate({**base, "loggers": ["csv", {"name": "csv", "args": {"prefix": "p"}}]}
                                         ).loggers[1].args == {"prefix": "p"}
    with pytest.raises(ValueError, match=r"loggers\.0\.name"):
        CampaignConfig.model_validate({**base, "loggers": ["neptune"]})
    monkeypatch.setattr(logger_names.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ValueError, match="needs the mlflow package, which is not installed"):
        CampaignConfig.model_validate({**base, "loggers": ["mlflow"]})
    script = ("import sys\nimport seqguide.design.trackers, seqguide.design.schema\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('lightning', 'pytorch_lightning')))")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "[]", run.stderr


def test_the_store_writes_an_import_of_the_same_bytes_once_and_refuses_charged_rows(table):
    data = read_labelled(table, alphabet=DNA)
    with DesignStore(None) as store:
        run = store.create_run(name="r", config={}, seed=0, budget=4)
        source = {"path": str(table), "sha256": data.sha256}
        assert store.import_round(run, 0, 0, data.records(0), source).kind == "import"
        assert store.import_round(run, 1, 0, data.records(1, skip=set(data.keys)), source) is None  # a second writer
        assert len(store.rounds(run)) == 1 and store.count(run) == 5 and store.budget_used(run) == 0
        charged = data.records(1)
        charged[0].charged = True
        with pytest.raises(ValueError, match="never charged"):
            store.import_round(run, 1, 0, charged, {"sha256": "other"})
