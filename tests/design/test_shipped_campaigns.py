"""Every shipped campaign validates, as written and with --quick (the budgets cover their look-ahead)."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqguide.design import load_campaign

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs" / "campaigns").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
@pytest.mark.parametrize("quick", [False, True])
def test_shipped_campaign_validates(path: Path, quick: bool) -> None:
    cfg = load_campaign(path, quick=quick).config
    assert cfg.name == path.stem
    looks_ahead = any(src == "oracle" for g in cfg.guidance for src in g.sources().values())
    if looks_ahead:  # designs alone would leave nothing for the guidance's paid look-ahead calls
        assert cfg.budget > cfg.loop.rounds * cfg.loop.candidates
