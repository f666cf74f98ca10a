"""Where the MOSES data files come from: the installed ``molsets`` package, or a cache filled from its wheel.

The MOSES splits (Polykovskiy et al. 2020, Front. Pharmacol. 11:565644) ship inside the ``molsets`` wheel
(``moses/dataset/data/{train,test,test_scaffolds}.csv.gz``), but molsets' pinned dependencies no longer install,
and installing it with ``--no-deps`` makes every later ``pip install`` report its missing dependencies as an
error. So seqguide only reads the files: :func:`moses_file` uses an installed ``moses`` package when there is one,
else a cache directory (``$SEQGUIDE_DATA_DIR/moses``, default ``~/.cache/seqguide/moses``), which it fills on first
use by downloading the molsets 0.3.1 wheel with pip (``pip download --no-deps``; about 52 MB, checked against its
SHA-256) and extracting the three files. ``python -m seqguide.data.moses_data`` fetches them ahead of time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

__all__ = ["MOSES_FILES", "moses_cache_dir", "moses_file"]

MOSES_FILES = ("train.csv.gz", "test.csv.gz", "test_scaffolds.csv.gz")
_WHEEL = "molsets==0.3.1"
_WHEEL_SHA256 = "7f4450e3ebecebe79c3a2a55950c93daddee071120daf64a163d03481e811d34"
_MEMBER = "moses/dataset/data/"


def moses_cache_dir() -> Path:
    """``$SEQGUIDE_DATA_DIR/moses``, or ``~/.cache/seqguide/moses``."""
    root = os.environ.get("SEQGUIDE_DATA_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "seqguide") / "moses"


def moses_file(name: str, *, fetch: bool = True) -> Path:
    """The path of a MOSES data file (``train.csv.gz``, ``test.csv.gz``, ``test_scaffolds.csv.gz``).

    Args:
        name: One of :data:`MOSES_FILES`.
        fetch: Download the molsets wheel into the cache when the file is neither installed nor cached.

    Raises:
        ValueError: for an unknown name.
        FileNotFoundError: when the file is missing and ``fetch`` is False or the download failed.
    """
    if name not in MOSES_FILES:
        raise ValueError(f"moses_file: unknown MOSES file {name!r}; known: {', '.join(MOSES_FILES)}")
    installed = _installed(name)
    if installed is not None:
        return installed
    cached = moses_cache_dir() / name
    if cached.is_file():
        return cached
    if not fetch:
        raise FileNotFoundError(f"{cached}: the MOSES data is not cached; run python -m seqguide.data.moses_data")
    _fetch(moses_cache_dir())
    return cached


def _installed(name: str) -> Path | None:
    """The file inside an installed ``moses`` package (found without importing it), or None."""
    spec = importlib.util.find_spec("moses")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations)), "dataset", "data", name)
    return path if path.is_file() else None


def _fetch(dest: Path) -> None:
    print(f"fetching the MOSES data ({_WHEEL} wheel, ~52 MB, via pip download) into {dest}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", tmp, _WHEEL]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheels = list(Path(tmp).glob("molsets-*.whl"))
        if done.returncode != 0 or not wheels:
            lines = (done.stderr or done.stdout or "").strip().splitlines()
            raise FileNotFoundError(f"could not download {_WHEEL} to read the MOSES data: "
                                    f"{lines[-1] if lines else 'pip saved no wheel'}")
        extract_moses(wheels[0], dest, sha256=_WHEEL_SHA256)


def extract_moses(wheel: Path, dest: Path, *, sha256: str | None = _WHEEL_SHA256) -> list[Path]:
    """Copy the MOSES data files out of a molsets wheel into ``dest`` (each written to a temporary name and
    renamed, so a kill leaves no partial file); ``sha256`` (None: unchecked) must match the wheel.

    Raises:
        ValueError: when the wheel's hash differs or a data file is missing from it.
    """
    if sha256 is not None:
        digest = hashlib.sha256(Path(wheel).read_bytes()).hexdigest()
        if digest != sha256:
            raise ValueError(f"{wheel}: SHA-256 {digest} is not the expected {sha256}")
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for name in MOSES_FILES:
            member = _MEMBER + name
            if member not in names:
                raise ValueError(f"{wheel}: {member} missing from the wheel")
            part = dest / f".{name}.part"
            part.write_bytes(zf.read(member))
            os.replace(part, dest / name)
            out.append(dest / name)
    return out


if __name__ == "__main__":
    for f in MOSES_FILES:
        print(moses_file(f))
