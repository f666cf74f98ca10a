"""The LightningDataModule that feeds sequence models.

:class:`SequenceDataModule` reads a file or a named preset, encodes it with an :class:`Alphabet`,
pads it to a fixed length and splits it (seeded) into train and validation sets. Batches are dicts::

    {"tokens": LongTensor (B, L),            # padded with alphabet.pad_id
     "labels": LongTensor (B,),              # only when the data have class labels
     "scores": FloatTensor (B,) or (B, K)}   # only when the data have score columns

``alphabet``, ``length`` and ``num_classes`` can be read right after construction (the data are then
read on first access), because LightningCLI links them into the model's constructor arguments.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from seqguide.alphabet import Alphabet, get_alphabet
from seqguide.data.encoding import TOO_LONG_POLICIES, encode_records
from seqguide.data.formats import check_file, detect_format
from seqguide.data.presets import PRESETS, load_preset
from seqguide.data.readers import MISSING_POLICIES, read_fasta, read_table
from seqguide.data.records import SequenceRecords
from seqguide.data.resumable import ResumableLoader
from seqguide.data.smiles import read_smiles, selfies_alphabet

__all__ = ["SequenceDataModule", "TokenDataset"]

log = logging.getLogger(__name__)


class TokenDataset(Dataset):
    """Encoded sequences with optional labels and scores; items are dicts of tensors.

    Args:
        tokens: ``(N, L)`` integer ids (any integer dtype; items are returned as int64).
        labels: ``(N,)`` int64 class ids, or None.
        scores: ``(N,)`` or ``(N, K)`` float32, or None.
    """

    def __init__(
        self, tokens: torch.Tensor, labels: torch.Tensor | None = None, scores: torch.Tensor | None = None
    ) -> None:
        for name, t in (("labels", labels), ("scores", scores)):
            if t is not None and len(t) != len(tokens):
                raise ValueError(f"TokenDataset: {len(t)} {name} for {len(tokens)} sequences")
        self.tokens, self.labels, self.scores = tokens, labels, scores

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = {"tokens": self.tokens[index].long()}
        if self.labels is not None:
            item["labels"] = self.labels[index]
        if self.scores is not None:
            item["scores"] = self.scores[index]
        return item


class SequenceDataModule(L.LightningDataModule):
    """Sequences from a file or preset, encoded, padded and split into train/val.

    Args:
        path: Data file: FASTA (``.fa .fasta .fna .faa``), table (``.csv .tsv .txt .parquet``) or SMILES
            (``.smi .smiles``); text files may be gzipped. Exactly one of ``path``/``preset``.
        preset: A name from :func:`seqguide.data.list_presets` (``amp``, ``moses``, ``crp``, ...).
        alphabet: ``"dna"``, ``"rna"``, ``"protein"``, ``"selfies"`` or a token list. Required for
            FASTA/table files; None for a preset means the preset's own. ``"selfies"`` converts SMILES to
            SELFIES and builds the alphabet from the data (``.smi`` files always convert; a token list
            then fixes the SELFIES vocabulary, e.g. to match a trained model).
        length: Padded length L in tokens; None means the longest sequence.
        column: Sequence (or SMILES) column of a table.
        label_column: Class-label column of a table, for conditional models.
        score_columns: Numeric columns of a table, returned as ``batch["scores"]``.
        val_fraction: Fraction of records held out for validation (seeded split); 0 disables validation.
        batch_size: Batch size of both loaders.
        limit: Read at most this many records (first records of a file; see
            :func:`~seqguide.data.load_preset` for presets).
        too_long: For sequences longer than ``length``: ``"error"``, ``"drop"`` or ``"truncate"``.
        missing: For a table row whose sequence or label cell is missing (empty, NA, NaN, None): ``"error"``
            (naming file, line and column) or ``"drop"`` (left out and counted).
        seed: Seed of the split, the training-set shuffle and preset subsets.
        num_workers: DataLoader worker processes.

    Raises:
        ValueError: for an invalid combination of arguments, naming the argument and value.
    """

    def __init__(
        self,
        path: str | None = None,
        preset: str | None = None,
        alphabet: str | list[str] | None = None,
        length: int | None = None,
        column: str = "sequence",
        label_column: str | None = None,
        score_columns: list[str] | None = None,
        val_fraction: float = 0.1,
        batch_size: int = 64,
        limit: int | None = None,
        too_long: str = "error",
        seed: int = 0,
        num_workers: int = 0,
        missing: str = "error",
    ) -> None:
        super().__init__()
        if (path is None) == (preset is None):
            raise ValueError(f"give exactly one of path= and preset=, got path={path!r}, preset={preset!r}")
        if preset is not None and preset.lower() not in PRESETS:
            raise ValueError(f"unknown preset={preset!r}; available: {', '.join(PRESETS)}")
        if path is not None:
            fmt = detect_format(path)
            if alphabet is None and fmt != "smiles":
                raise ValueError(
                    f"alphabet is required for {fmt} file {path}: pass 'dna', 'rna', 'protein', 'selfies' "
                    "(SMILES converted to SELFIES) or a token list"
                )
        if missing not in MISSING_POLICIES:
            raise ValueError(f"missing must be one of {MISSING_POLICIES}, got missing={missing!r}")
        if too_long not in TOO_LONG_POLICIES:
            raise ValueError(f"too_long must be one of {TOO_LONG_POLICIES}, got too_long={too_long!r}")
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got val_fraction={val_fraction}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got batch_size={batch_size}")
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be positive or None, got limit={limit}")
        if length is not None and length < 1:
            raise ValueError(f"length must be positive or None, got length={length}")
        # alphabet and length are resolved from the data and live in the model's hparams; saving the raw
        # arguments here too would make Lightning's hparam merge fail (e.g. length=None vs 26).
        self.save_hyperparameters(ignore=["alphabet", "length"])
        self._path, self._preset, self._alphabet_spec = path, preset, alphabet
        self._length_arg, self._column, self._label_column = length, column, label_column
        self._score_columns = score_columns
        self.val_fraction, self.batch_size, self.limit = val_fraction, batch_size, limit
        self.too_long, self.seed, self.num_workers = too_long, seed, num_workers
        self.missing = missing
        self._records: SequenceRecords | None = None
        self._alphabet: Alphabet | None = None
        self._train: TokenDataset | None = None
        self._val: TokenDataset | None = None
        self._length: int = 0
        self._sequences: dict[str, list[str]] = {}
        self.n_invalid = 0  #: SMILES skipped as invalid (molecule files only)

    # ------------------------------------------------------------------------------- reading
    def _wants_selfies(self) -> bool:
        """True when SMILES must be converted: a .smi file, alphabet='selfies', or a SELFIES Alphabet."""
        spec = self._alphabet_spec
        if isinstance(spec, str) and spec.lower() == "selfies":
            return True
        if self._path is not None and detect_format(self._path) == "smiles":
            return True
        if isinstance(spec, dict):
            return spec.get("kind") == "selfies"
        return isinstance(spec, Alphabet) and spec.kind == "selfies"

    def _read(self) -> tuple[SequenceRecords, Alphabet]:
        """Read the data and resolve the alphabet."""
        if self._preset is not None:
            records, own = load_preset(self._preset, limit=self.limit, seed=self.seed)
            if self._alphabet_spec is None:
                return records, own
            if self._wants_selfies():
                if own.kind != "selfies":
                    raise ValueError(f"alphabet='selfies' needs a molecule preset; {self._preset!r} is {own.kind}")
                return records, own
            return records, get_alphabet(self._alphabet_spec)
        path = str(check_file(self._path))
        if self._wants_selfies():
            column = None if self._column == "sequence" else self._column
            records, self.n_invalid = read_smiles(path, column=column, label_column=self._label_column,
                                                  score_columns=self._score_columns, limit=self.limit,
                                                  missing=self.missing)
            spec = self._alphabet_spec
            if spec is None or (isinstance(spec, str) and spec.lower() == "selfies"):
                return records, selfies_alphabet(records.sequences)
            return records, get_alphabet(spec)
        if detect_format(path) == "fasta":
            if self._label_column or self._score_columns:
                raise ValueError(f"{path}: a FASTA file has no columns; label_column/score_columns need a table")
            records = read_fasta(path, limit=self.limit)
        else:
            records = read_table(path, column=self._column, label_column=self._label_column,
                                 score_columns=self._score_columns, limit=self.limit, missing=self.missing)
        return records, get_alphabet(self._alphabet_spec)

    def _load(self) -> None:
        """Read, encode and split once; later calls return at once."""
        if self._train is not None:
            return
        records, alphabet = self._read()
        dtype = torch.int16 if alphabet.vocab_size <= torch.iinfo(torch.int16).max else torch.int32
        encoded = encode_records(records, alphabet, length=self._length_arg, too_long=self.too_long, dtype=dtype)
        needed = 2 if self.val_fraction > 0 else 1
        if len(encoded.keep) < needed:
            raise ValueError(
                f"{records.source}: {len(encoded.keep)} of {len(records)} sequences left after dropping those "
                f"longer than length={encoded.length}; need at least {needed} (val_fraction={self.val_fraction})"
            )
        kept = records.subset(encoded.keep)
        labels = torch.tensor(kept.labels, dtype=torch.long) if kept.labels is not None else None
        scores = torch.from_numpy(kept.scores.astype(np.float32)) if kept.scores is not None else None

        n = len(kept)
        n_val = 0 if self.val_fraction == 0 else min(n - 1, max(1, round(self.val_fraction * n)))
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed))
        val_idx, train_idx = perm[:n_val].sort().values, perm[n_val:].sort().values

        def part(idx: torch.Tensor) -> TokenDataset:
            return TokenDataset(encoded.tokens[idx], None if labels is None else labels[idx],
                                None if scores is None else scores[idx])

        self._records, self._alphabet, self._length = kept, alphabet, encoded.length
        self._train, self._val = part(train_idx), part(val_idx)
        log.info("%s: %d train / %d val sequences, length %d, alphabet %s", records.source, len(train_idx),
                 n_val, encoded.length, alphabet.name)

    # ---------------------------------------------------------------------------- properties
    @property
    def alphabet(self) -> Alphabet:
        """The alphabet the tokens are written in (reads the data on first access)."""
        self._load()
        return self._alphabet

    @property
    def length(self) -> int:
        """L, the padded sequence length in tokens."""
        self._load()
        return self._length

    @property
    def fixed_length(self) -> bool:
        """True if every sequence fills all ``length`` positions (no padding): a model can then forbid pad."""
        self._load()
        pad = self._alphabet.pad_id
        return not any(bool((part.tokens == pad).any()) for part in (self._train, self._val))

    @property
    def num_classes(self) -> int:
        """Number of label classes C; 0 for unlabeled data."""
        self._load()
        return self._records.num_classes

    @property
    def class_names(self) -> list[str] | None:
        """Names of the label classes, ``class_names[label]``; None for unlabeled data."""
        self._load()
        return self._records.class_names if self._records.labels is not None else None

    @property
    def records(self) -> SequenceRecords:
        """All kept records (train + val), before the split."""
        self._load()
        return self._records

    @property
    def train_dataset(self) -> TokenDataset:
        self._load()
        return self._train

    @property
    def val_dataset(self) -> TokenDataset:
        self._load()
        return self._val

    def _decoded(self, split: str) -> list[str]:
        if split not in self._sequences:
            data = self.train_dataset if split == "train" else self.val_dataset
            self._sequences[split] = self._alphabet.decode(data.tokens.long()) if len(data) else []
        return self._sequences[split]

    @property
    def train_sequences(self) -> list[str]:
        """Training sequences as strings, as the alphabet decodes them (upper case, truncated)."""
        return self._decoded("train")

    @property
    def val_sequences(self) -> list[str]:
        """Validation sequences as strings."""
        return self._decoded("val")

    # ------------------------------------------------------------------------------ Lightning
    def prepare_data(self) -> None:
        """Nothing is downloaded; check that the file exists (the presets ship inside packages)."""
        if self._path is not None:
            check_file(Path(self._path))

    def setup(self, stage: str | None = None) -> None:
        """Read, encode and split the data (once; later calls reuse it)."""
        self._load()

    def _loader(self, data: TokenDataset, shuffle: bool) -> DataLoader:
        kwargs = {"batch_size": self.batch_size, "num_workers": self.num_workers,
                  "persistent_workers": self.num_workers > 0}
        generator = torch.Generator().manual_seed(self.seed)
        trainer = self.trainer
        if shuffle and (trainer is None or int(getattr(trainer, "world_size", 1)) == 1):
            # resumable mid-epoch (Lightning saves its state with each checkpoint); same order as before
            return ResumableLoader(data, generator=generator, consumed=self._batches_trained, **kwargs)
        # Several processes: Lightning swaps in a DistributedSampler (seeded, reshuffled per epoch), which a
        # resumed run restarts at the epoch boundary rather than mid-epoch.
        return DataLoader(data, shuffle=shuffle, generator=generator if shuffle else None, **kwargs)

    def _batches_trained(self) -> int | None:
        trainer = self.trainer
        if trainer is None:
            return None
        return int(trainer.global_step) * int(getattr(trainer, "accumulate_grad_batches", 1) or 1)

    def train_dataloader(self) -> DataLoader:
        """Shuffled (seeded) training batches, resumable in the middle of an epoch."""
        return self._loader(self.train_dataset, shuffle=True)

    def val_dataloader(self) -> DataLoader | list:
        """Validation batches in a fixed order; an empty list when ``val_fraction=0``."""
        return self._loader(self.val_dataset, shuffle=False) if len(self.val_dataset) else []
