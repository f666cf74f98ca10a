"""SequenceDataModule: lazy metadata, seeded split, batch layout, too-long modes, Trainer integration."""

from __future__ import annotations

import lightning as L
import pytest
import selfies as sf
import torch

from seqguide.alphabet import DNA, PROTEIN
from seqguide.data import SequenceDataModule


def _fasta(n: int) -> str:
    """n distinct DNA records of lengths 4-6 (a base-4 counter plus a variable tail)."""
    seqs = ["".join("ACGT"[(i >> (2 * k)) & 3] for k in range(4)) + "T" * (i % 3) for i in range(n)]
    return "".join(f">r{i}\n{s}\n" for i, s in enumerate(seqs))


def test_metadata_is_available_right_after_init(write):
    dm = SequenceDataModule(path=str(write("x.fa", ">a\nACGT\n>b\nAC\n>c\nGGGTT\n")), alphabet="dna")
    assert dm.alphabet == DNA and dm.length == 5 and dm.num_classes == 0 and dm.class_names is None


def test_split_is_deterministic_disjoint_and_complete(write):
    path = str(write("x.fa", _fasta(50)))

    def split(seed):
        dm = SequenceDataModule(path=path, alphabet="dna", val_fraction=0.2, seed=seed)
        dm.setup("fit")
        return dm

    a, b, c = split(0), split(0), split(1)
    assert len(a.val_sequences) == 10 and len(a.train_sequences) == 40
    assert a.train_sequences == b.train_sequences and a.val_sequences == b.val_sequences
    assert torch.equal(a.val_dataset.tokens, b.val_dataset.tokens)
    assert a.val_sequences != c.val_sequences
    assert not set(a.train_sequences) & set(a.val_sequences)
    assert set(a.train_sequences) | set(a.val_sequences) == set(a.records.sequences)
    assert len(set(a.records.sequences)) == 50


def test_train_order_is_seeded(write):
    path = str(write("x.fa", _fasta(30)))
    first = [next(iter(SequenceDataModule(path=path, alphabet="dna", batch_size=8, seed=3)
                       .train_dataloader()))["tokens"] for _ in range(2)]
    assert torch.equal(first[0], first[1])


def test_amp_batches_have_tokens_and_labels():
    dm = SequenceDataModule(preset="amp", limit=100, batch_size=16, seed=0)
    assert dm.alphabet == PROTEIN and dm.num_classes == 2 and dm.class_names == ["non-AMP", "AMP"]
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {"tokens", "labels"}
    assert batch["tokens"].shape == (16, dm.length) and batch["tokens"].dtype == torch.long
    assert batch["labels"].shape == (16,) and batch["labels"].dtype == torch.long
    assert set(batch["labels"].tolist()) <= {0, 1}
    tokens = batch["tokens"]
    assert tokens.max() <= PROTEIN.pad_id and (tokens != PROTEIN.mask_id).all()
    # Padding sits only at the end of each row.
    is_pad = tokens == PROTEIN.pad_id
    assert torch.equal(is_pad, is_pad.int().cummax(dim=1).values.bool())
    val = next(iter(dm.val_dataloader()))
    assert val["tokens"].shape == (10, dm.length)


def test_scores_batch_from_a_table(write):
    text = "sequence,a,b,y\n" + "".join(f"{'ACGT'[i % 4] * (1 + i % 5)},{i},{-i},{i % 3}\n" for i in range(20))
    dm = SequenceDataModule(path=str(write("t.csv", text)), alphabet="dna", score_columns=["a", "b"],
                            label_column="y", batch_size=4, val_fraction=0.25)
    batch = next(iter(dm.val_dataloader()))
    assert batch["scores"].shape == (4, 2) and batch["scores"].dtype == torch.float32
    assert torch.equal(batch["scores"][:, 0], -batch["scores"][:, 1])
    assert dm.num_classes == 3 and batch["labels"].dtype == torch.long


def test_one_score_column_gives_a_1d_batch_and_ars_preset_works():
    dm = SequenceDataModule(preset="ars", limit=30, batch_size=5)
    batch = next(iter(dm.train_dataloader()))
    assert batch["tokens"].shape == (5, 150) and batch["scores"].shape == (5,)


def test_smiles_file_becomes_selfies(write):
    path = str(write("m.smi", "CCO\nc1ccccc1\nC1CC\nCC(=O)O\nCCN\n"))
    dm = SequenceDataModule(path=path, val_fraction=0.2, batch_size=2)
    assert dm.alphabet.kind == "selfies" and dm.n_invalid == 1
    expected = [sf.encoder(s) for s in ["CCO", "c1ccccc1", "CC(=O)O", "CCN"]]
    assert sorted(dm.train_sequences + dm.val_sequences) == sorted(expected)
    assert dm.length == max(sf.len_selfies(s) for s in expected)


def test_smiles_csv_via_alphabet_selfies(write):
    path = str(write("m.csv", "SMILES,active\nCCO,1\nCCC,0\nCCN,1\nCCCl,0\n"))
    dm = SequenceDataModule(path=path, alphabet="selfies", label_column="active", val_fraction=0.25)
    assert dm.alphabet.kind == "selfies" and dm.num_classes == 2
    assert next(iter(dm.train_dataloader()))["labels"].shape == (3,)


@pytest.mark.parametrize(("mode", "kept"), [("drop", ["ACG", "AC"]), ("truncate", ["ACG", "ACGT", "AC"])])
def test_too_long_modes(write, mode, kept):
    path = str(write("x.fa", ">a\nACG\n>b\nACGTACGT\n>c\nAC\n"))
    dm = SequenceDataModule(path=path, alphabet="dna", length=4, too_long=mode, val_fraction=0.0)
    assert dm.length == 4 and dm.train_dataset.tokens.shape == (len(kept), 4)
    assert dm.train_sequences == kept
    assert dm.val_dataloader() == []


def test_too_long_error_names_the_file(write):
    path = str(write("x.fa", ">a\nACG\n>b\nACGTACGT\n"))
    with pytest.raises(ValueError, match=r"x\.fa, line 3 \(record 1, id 'b'\): sequence has 8 tokens, longer than"):
        SequenceDataModule(path=path, alphabet="dna", length=4).setup("fit")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give exactly one of path= and preset="),
        ({"path": "a.fa", "preset": "crp"}, "give exactly one of path= and preset="),
        ({"preset": "nope"}, "unknown preset='nope'"),
        ({"path": "a.fa"}, "alphabet is required for fasta file a.fa"),
        ({"preset": "crp", "too_long": "cut"}, "too_long must be one of"),
        ({"preset": "crp", "val_fraction": 1.0}, r"val_fraction must be in \[0, 1\), got val_fraction=1.0"),
        ({"preset": "crp", "batch_size": 0}, "batch_size must be positive, got batch_size=0"),
        ({"path": "a.xyz", "alphabet": "dna"}, "cannot tell the file format"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SequenceDataModule(**kwargs)


def test_illegal_character_surfaces_through_the_datamodule(write):
    path = str(write("p.csv", "sequence\nMKV\nMKJ\n"))
    with pytest.raises(ValueError, match=r"p\.csv, line 3 \(record 1\): position 2: illegal character 'J'"):
        _ = SequenceDataModule(path=path, alphabet="protein").alphabet


class _TinyModel(L.LightningModule):
    """Predicts each token from an embedding; enough to drive the Trainer through both loaders."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, vocab)

    def _loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = self.emb(batch["tokens"])
        return torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch["tokens"].flatten())

    def training_step(self, batch, batch_idx):
        return self._loss(batch)

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", self._loss(batch))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


@pytest.mark.filterwarnings("ignore:.*LeafSpec.*:FutureWarning")  # torch 2.13 vs lightning 2.6 internals
def test_trainer_runs_on_the_datamodule():
    dm = SequenceDataModule(preset="crp", batch_size=32)
    trainer = L.Trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=1, accelerator="cpu", logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(_TinyModel(dm.alphabet.vocab_size), datamodule=dm)
    assert trainer.global_step == 3 and "val_loss" in trainer.callback_metrics


def test_dropping_everything_is_a_clear_error(write):
    path = str(write("x.fa", ">a\nACGTA\n>b\nACGTACGT\n"))
    with pytest.raises(ValueError, match=r"x\.fa: 0 of 2 sequences left after dropping those longer than length=4"):
        SequenceDataModule(path=path, alphabet="dna", length=4, too_long="drop").setup("fit")
