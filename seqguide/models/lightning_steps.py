"""The Lightning steps every seqguide model (sequence models and image models) shares: train/val/test through one
``_common_step(batch, stage)`` and AdamW with a linear learning-rate warm-up (``hparams.lr``,
``hparams.weight_decay``, ``hparams.warmup_steps``)."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

__all__ = ["WarmupSteps"]


class WarmupSteps(L.LightningModule):
    """A LightningModule whose subclass defines the learning problem in ``_common_step(batch, stage) -> loss``."""

    def _common_step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        raise NotImplementedError

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._common_step(batch, "train")

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._common_step(batch, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._common_step(batch, "test")

    def configure_optimizers(self) -> Any:
        opt = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        warm = max(1, self.hparams.warmup_steps)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, (step + 1) / warm))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
