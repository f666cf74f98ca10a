"""Data: read sequence files and packaged data sets, and feed them to models.

* :mod:`~seqguide.data.records`: :class:`SequenceRecords`, sequences + labels/scores + provenance.
* :mod:`~seqguide.data.readers`: :func:`read_fasta`, :func:`read_table` (CSV/TSV/TXT/parquet).
* :mod:`~seqguide.data.smiles`: :func:`read_smiles` (SMILES -> SELFIES, invalid ones counted and skipped).
* :mod:`~seqguide.data.presets`: :func:`load_preset` for data sets shipped in installed packages
  (``amp``, ``moses``, ``moses_test``, ``nci``, ``crp``, ``ars``, ``splice5``, ``ww``, ``digits``).
* :mod:`~seqguide.data.encoding`: :func:`encode_records`, padding and the too-long policy.
* :mod:`~seqguide.data.datamodule`: :class:`SequenceDataModule`, the LightningDataModule.
* :mod:`~seqguide.data.images`: :class:`ImageDataModule` for packaged image sets (``digits``, ``photo_patches``).
* :mod:`~seqguide.data.resumable`: :class:`ResumableLoader`, a shuffled loader a killed run resumes exactly.

Example:
    >>> from seqguide.data import SequenceDataModule
    >>> dm = SequenceDataModule(preset="crp", batch_size=32)
    >>> dm.alphabet.name, dm.length
    ('dna', 26)
    >>> batch = next(iter(dm.train_dataloader()))
    >>> batch["tokens"].shape
    torch.Size([32, 26])
"""

from seqguide.data.datamodule import SequenceDataModule, TokenDataset
from seqguide.data.encoding import EncodedSequences, encode_records, validate_records
from seqguide.data.formats import detect_format
from seqguide.data.images import IMAGE_PRESETS, ImageDataModule, ImageDataset, load_image_preset
from seqguide.data.presets import PRESETS, Preset, list_presets, load_preset
from seqguide.data.readers import read_fasta, read_table
from seqguide.data.records import SequenceRecords
from seqguide.data.resumable import ResumableLoader
from seqguide.data.smiles import read_smiles, selfies_alphabet, to_selfies

__all__ = [
    "IMAGE_PRESETS",
    "PRESETS",
    "EncodedSequences",
    "ImageDataModule",
    "ImageDataset",
    "Preset",
    "ResumableLoader",
    "SequenceDataModule",
    "SequenceRecords",
    "TokenDataset",
    "detect_format",
    "encode_records",
    "list_presets",
    "load_image_preset",
    "load_preset",
    "read_fasta",
    "read_smiles",
    "read_table",
    "selfies_alphabet",
    "to_selfies",
    "validate_records",
]
