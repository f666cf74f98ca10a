"""Named data sets that ship inside installed Python packages (no download at run time).

* ``amp``: antimicrobial peptides (label 1, ``"AMP"``) vs UniProt background (label 0, ``"non-AMP"``),
  modlamp ``data/AMPvsUniProt.csv``; protein, 5200 peptides (2600 per class), 7-174 aa.
* ``moses``: MOSES drug-like molecules, training split (molsets ``dataset/data/train.csv.gz``, 1,584,663
  SMILES) as SELFIES; the first 20,000 rows unless ``limit`` says otherwise.
* ``moses_test``: MOSES test split (``test.csv.gz``, 176,074 SMILES) as SELFIES; first 20,000 rows by default.
* ``nci``: the first 5000 NCI compounds shipped with RDKit (``Data/NCI/first_5K.smi``, 4999 lines) as
  SELFIES; 4981 convert, 18 are skipped as invalid.
* ``crp``: E. coli CRP binding sites from RegulonDB (logomaker ``crp_sites.fa``); DNA, 358 x 26 nt.
* ``ars``: yeast ARS1 mutational library (logomaker ``ars_sequences.txt.gz``, 603,569 rows); DNA, 150 nt;
  score = ``log((selected_ct + 1) / (library_ct + 1))``; the first 100,000 rows by default.
* ``splice5``: human 5' splice sites from hg38/GENCODE (logomaker ``ss_sequences.txt``); RNA, 10,227 x
  9 nt; score = ``log(count)``, the number of occurrences in the genome.
* ``ww``: WW-domain alignment from Pfam PF00397 (logomaker ``ww_sequences.fa``, 4025 records); gap
  characters removed, upper-cased, the one record with a non-standard residue (``X``) dropped:
  protein, 4024 sequences of 18-34 aa.
* ``digits``: scikit-learn's 8x8 handwritten digits (``load_digits``, 1797 images) as 64 tokens over the 17
  grey levels of the ``grey17`` alphabet, row by row; label = the digit (class names ``"0"``-``"9"``).

``limit`` semantics: for the small sets it draws a seeded random subset (so that, e.g., a slice of
``amp`` holds both classes); for the large files (``moses``, ``moses_test``, ``ars``) it reads only the
first ``limit`` rows of the file, which is what keeps them fast, and ``seed`` is not used.
Package files are located with :func:`importlib.util.find_spec`, without importing the package (the
``moses`` package cannot be imported when ``molsets`` is installed without its dependencies).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from seqguide.alphabet import DNA, GREY17, PROTEIN, RNA, Alphabet
from seqguide.data.readers import read_fasta, read_table
from seqguide.data.records import SequenceRecords
from seqguide.data.smiles import read_smiles, read_smiles_file, selfies_alphabet, to_selfies

__all__ = ["PRESETS", "Preset", "list_presets", "load_preset", "package_file"]

log = logging.getLogger(__name__)

#: pip distribution that provides each importable package (for the "not installed" message).
_DISTRIBUTIONS = {"modlamp": "modlamp", "moses": "molsets", "logomaker": "logomaker", "rdkit": "rdkit"}
_LOGOMAKER_DATA = ("examples", "datafiles")
_GAPS = str.maketrans("", "", "-.")


def package_file(package: str, *parts: str) -> Path:
    """Locate a data file inside an installed package without importing it.

    Args:
        package: Top-level import name (``"logomaker"``, ``"moses"``, ...).
        parts: Path components below the package directory.

    Returns:
        The absolute path of the file.

    Raises:
        ModuleNotFoundError: if the package is not installed (the message says what to pip install).
        FileNotFoundError: if the package is installed but the file is missing.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        dist = _DISTRIBUTIONS.get(package, package)
        raise ModuleNotFoundError(f"this data set needs the package {package!r}: pip install {dist}")
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found in the installed {package!r} package")
    return path


def _rdkit_file(*parts: str) -> Path:
    """A file under RDKit's data directory (``RDConfig.RDDataDir``, else the package's ``Data``)."""
    try:
        from rdkit import RDConfig

        path = Path(RDConfig.RDDataDir, *parts)
        if path.is_file():
            return path
    except ImportError:
        pass
    return package_file("rdkit", "Data", *parts)


def _sample(records: SequenceRecords, limit: int | None, seed: int) -> SequenceRecords:
    """A seeded random subset of ``limit`` records, in file order (all records if limit is None)."""
    if limit is None or limit >= len(records):
        return records
    rng = np.random.default_rng(seed)
    return records.subset(np.sort(rng.choice(len(records), size=limit, replace=False)))


def _keep_in_alphabet(records: SequenceRecords, alphabet: Alphabet) -> SequenceRecords:
    """Drop (and log) records with characters outside ``alphabet`` (e.g. ``X`` in a protein set)."""
    keep = [i for i, s in enumerate(records.sequences) if s and alphabet.validate(s) is None]
    if len(keep) < len(records):
        log.info("%s: dropped %d records with characters outside the %s alphabet",
                 records.source, len(records) - len(keep), alphabet.name)
        return records.subset(keep)
    return records


# ------------------------------------------------------------------------------------------ loaders
def _load_amp(limit: int | None, seed: int) -> SequenceRecords:
    path = package_file("modlamp", "data", "AMPvsUniProt.csv")
    # Line 1 ("5200,1,UniProt,AMP") is a summary, not a header; rows are "SEQUENCE, label".
    frame = pd.read_csv(path, header=None, skiprows=1, names=["sequence", "label"], dtype=str,
                        skipinitialspace=True, keep_default_na=False)
    labels = [int(v) for v in frame["label"]]
    records = SequenceRecords(
        sequences=[s.strip().upper() for s in frame["sequence"]],
        labels=labels,
        class_names=["non-AMP", "AMP"],
        source=str(path),
        lines=list(range(2, len(frame) + 2)),
    )
    return _sample(records, limit, seed)


def _load_moses(split: str) -> Callable[[int | None, int], SequenceRecords]:
    def load(limit: int | None, seed: int) -> SequenceRecords:
        from seqguide.data.moses_data import moses_file

        path = moses_file(f"{split}.csv.gz")
        return read_smiles(path, column="SMILES", limit=limit)[0]

    return load


def _load_nci(limit: int | None, seed: int) -> SequenceRecords:
    raw = read_smiles_file(_rdkit_file("NCI", "first_5K.smi"))
    return to_selfies(_sample(raw, limit, seed))[0]


def _load_crp(limit: int | None, seed: int) -> SequenceRecords:
    records = read_fasta(package_file("logomaker", *_LOGOMAKER_DATA, "crp_sites.fa"))
    return _sample(records.with_sequences([s.upper() for s in records.sequences]), limit, seed)


def _load_ars(limit: int | None, seed: int) -> SequenceRecords:
    path = package_file("logomaker", *_LOGOMAKER_DATA, "ars_sequences.txt.gz")
    records = read_table(path, column="sequence", score_columns=["library_ct", "selected_ct"], limit=limit)
    library, selected = records.scores[:, 0], records.scores[:, 1]
    records.scores = np.log((selected + 1.0) / (library + 1.0))
    return records.with_sequences([s.upper() for s in records.sequences])


def _load_splice5(limit: int | None, seed: int) -> SequenceRecords:
    path = package_file("logomaker", *_LOGOMAKER_DATA, "ss_sequences.txt")
    records = read_table(path, column="sequence", score_columns="count")
    records.scores = np.log(records.scores)
    return _sample(records.with_sequences([s.upper() for s in records.sequences]), limit, seed)


def _load_ww(limit: int | None, seed: int) -> SequenceRecords:
    records = read_fasta(package_file("logomaker", *_LOGOMAKER_DATA, "ww_sequences.fa"))
    records = records.with_sequences([s.translate(_GAPS).upper() for s in records.sequences])
    return _sample(_keep_in_alphabet(records, PROTEIN), limit, seed)


def _load_digits(limit: int | None, seed: int) -> SequenceRecords:
    from seqguide.data.digit_tokens import load_digit_records

    return _sample(load_digit_records(), limit, seed)


# ------------------------------------------------------------------------------------------ registry
@dataclass(frozen=True)
class Preset:
    """A named data set.

    Attributes:
        name: Registry key.
        description: One line: what the data are, where they come from, what labels/scores mean.
        alphabet: The preset's alphabet, or None for SELFIES (built from the loaded molecules).
        loader: ``(limit, seed) -> SequenceRecords``.
        default_limit: Rows read when ``limit`` is None (large files only; None means all).
    """

    name: str
    description: str
    alphabet: Alphabet | None
    loader: Callable[[int | None, int], SequenceRecords]
    default_limit: int | None = None


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset("amp", "antimicrobial peptides (label 1, 'AMP') vs UniProt background (label 0, 'non-AMP'); "
               "modlamp AMPvsUniProt.csv, 5200 peptides of 7-174 aa", PROTEIN, _load_amp),
        Preset("moses", "MOSES drug-like molecules (molsets dataset/data/train.csv.gz, 1.58M SMILES) as "
               "SELFIES", None, _load_moses("train"), default_limit=20_000),
        Preset("moses_test", "MOSES test split (molsets dataset/data/test.csv.gz, 176k SMILES) as SELFIES",
               None, _load_moses("test"), default_limit=20_000),
        Preset("nci", "first 5000 NCI compounds shipped with RDKit (Data/NCI/first_5K.smi) as SELFIES",
               None, _load_nci),
        Preset("crp", "E. coli CRP binding sites from RegulonDB (logomaker crp_sites.fa), 358 x 26 nt",
               DNA, _load_crp),
        Preset("ars", "yeast ARS1 mutational library (logomaker ars_sequences.txt.gz), 150 nt; score = "
               "log((selected_ct + 1) / (library_ct + 1))", DNA, _load_ars, default_limit=100_000),
        Preset("splice5", "human 5' splice sites from hg38/GENCODE (logomaker ss_sequences.txt), 9 nt RNA; "
               "score = log(genomic count)", RNA, _load_splice5),
        Preset("ww", "WW-domain alignment from Pfam PF00397 (logomaker ww_sequences.fa), gaps removed, "
               "records with non-standard residues dropped", PROTEIN, _load_ww),
        Preset("digits", "scikit-learn 8x8 handwritten digits (load_digits, 1797 images) as 64 tokens over 17 "
               "grey levels (grey17 alphabet, row-major); label = digit", GREY17, _load_digits),
    ]
}


def list_presets() -> list[str]:
    """Names of the available presets."""
    return list(PRESETS)


def load_preset(name: str, *, limit: int | None = None, seed: int = 0) -> tuple[SequenceRecords, Alphabet]:
    """Load a named data set.

    Args:
        name: One of :func:`list_presets` (case-insensitive).
        limit: At most this many records: a seeded random subset for the small sets, the first rows of
            the file for ``moses``, ``moses_test`` and ``ars`` (default: 20k, 20k, 100k rows). Molecule
            sets may return fewer (invalid SMILES are skipped).
        seed: Seed of the random subset.

    Returns:
        ``(records, alphabet)``: the records (``source`` is the package file) and the preset's alphabet
        (for molecule sets, a SELFIES alphabet built from the records).

    Raises:
        ValueError: for an unknown name or a non-positive limit.
        ModuleNotFoundError: if the package that ships the data is not installed.
    """
    key = name.lower()
    if key not in PRESETS:
        raise ValueError(f"unknown data preset {name!r}; available: {', '.join(PRESETS)}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of records, got {limit}")
    preset = PRESETS[key]
    records = preset.loader(limit if limit is not None else preset.default_limit, seed)
    alphabet = preset.alphabet or selfies_alphabet(records.sequences)
    return records, alphabet
