"""The issue-23 speed benchmark's quick mode writes its table (forward, sampling and design-loop rows, their checks)
and its legacy forward reproduces the current logits."""

from __future__ import annotations

import torch

from benchmarks.common import read_table
from benchmarks.speed import _transformer, legacy_transformer, main


def test_quick_mode_writes_the_table_with_every_part(tmp_path) -> None:
    assert main(["--quick", "--out", str(tmp_path / "speed")]) == 0
    rows = read_table(tmp_path / "speed.csv")
    assert [r["part"] for r in rows] == ["forward", "sampling", "sampling", "design loop"]
    assert rows[1]["check"] == rows[2]["check"] == "same samples"
    assert rows[3]["check"] == "same designs as main"
    assert all(float(r["before"]) > 0 and float(r["after"]) > 0 for r in rows)
    md = (tmp_path / "speed.md").read_text()
    assert "No GPU was lent" in md and "Design-loop variants" in md and "torch_threads" in md


def test_the_legacy_forward_is_the_old_code_and_gives_the_same_logits() -> None:
    from seqguide.models import backbones

    model = _transformer(10)
    x = torch.randint(0, 4, (3, 10), generator=torch.Generator().manual_seed(0))
    current = backbones._TransformerBlock.forward
    with torch.no_grad():
        new = model.backbone(x)
        with legacy_transformer():
            assert backbones._TransformerBlock.forward is not current
            old = model.backbone(x)
    assert backbones._TransformerBlock.forward is current
    torch.testing.assert_close(old, new, atol=1e-5, rtol=1e-5)
