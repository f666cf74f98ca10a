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

Every name is imported on first use, so that reading a preset's description (``seqguide design validate``) does
not load Lightning through the data module.
"""

from typing import TYPE_CHECKING

from seqguide.lazy import lazy_exports

if TYPE_CHECKING:
    from seqguide.data.datamodule import SequenceDataModule, TokenDataset
    from seqguide.data.encoding import EncodedSequences, encode_records, validate_records
    from seqguide.data.formats import detect_format
    from seqguide.data.images import IMAGE_PRESETS, ImageDataModule, ImageDataset, load_image_preset
    from seqguide.data.presets import PRESETS, Preset, list_presets, load_preset
    from seqguide.data.readers import read_fasta, read_table
    from seqguide.data.records import SequenceRecords
    from seqguide.data.resumable import ResumableLoader
    from seqguide.data.smiles import read_smiles, selfies_alphabet, to_selfies

_NAMES = {
    "SequenceDataModule": "seqguide.data.datamodule",
    "TokenDataset": "seqguide.data.datamodule",
    "EncodedSequences": "seqguide.data.encoding",
    "encode_records": "seqguide.data.encoding",
    "validate_records": "seqguide.data.encoding",
    "detect_format": "seqguide.data.formats",
    "IMAGE_PRESETS": "seqguide.data.images",
    "ImageDataModule": "seqguide.data.images",
    "ImageDataset": "seqguide.data.images",
    "load_image_preset": "seqguide.data.images",
    "PRESETS": "seqguide.data.presets",
    "Preset": "seqguide.data.presets",
    "list_presets": "seqguide.data.presets",
    "load_preset": "seqguide.data.presets",
    "read_fasta": "seqguide.data.readers",
    "read_table": "seqguide.data.readers",
    "SequenceRecords": "seqguide.data.records",
    "ResumableLoader": "seqguide.data.resumable",
    "read_smiles": "seqguide.data.smiles",
    "selfies_alphabet": "seqguide.data.smiles",
    "to_selfies": "seqguide.data.smiles",
}

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

__getattr__ = lazy_exports(__name__, _NAMES)
