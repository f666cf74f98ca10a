"""Shared helpers for the data tests: write small files into ``tmp_path``."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest


@pytest.fixture
def write(tmp_path: Path):
    """Return ``write(name, text)`` that creates ``tmp_path / name`` (gzipped when it ends in .gz)."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        if name.endswith(".gz"):
            with gzip.open(path, "wt", encoding="utf-8") as handle:
                handle.write(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    return _write
