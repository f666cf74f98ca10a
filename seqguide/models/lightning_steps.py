"""The Lightning steps every seqguide model (sequence models and image models) shares: train/val/test through one
``_common_step(batch, stage)``, class labels with dropout to the null class (``num_classes``,
``hparams.cond_dropout``) and AdamW with a linear learning-rate warm-up (``hparams.lr``, ``hparams.weight_decay``,
``hparams.warmup_steps``)."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

__all__ = ["WarmupSteps"]


class WarmupSteps(L.LightningModule):
    """A LightningModule whose subclass defines the learning problem in ``_common_step(batch, stage) -> loss``.

    Subclasses set ``num_classes`` (0: unconditional) and the hyperparameters named in the module docstring.
    """

    num_classes: int  # set by the subclass

    def _labels(self, batch: dict[str, torch.Tensor], train: bool) -> torch.Tensor | None:
        """The batch's class labels (None for an unconditional model), replaced by the null class ``num_classes``
        with probability ``cond_dropout`` during training (classifier-free training; Ho & Salimans 2022)."""
        if self.num_classes == 0:
            return None
        y = batch.get("labels")
        if y is None:
            raise ValueError("this model is class-conditional (num_classes > 0) but the batch has no 'labels'")
        if train and self.hparams.cond_dropout > 0:
            drop = torch.rand(y.shape, device=y.device) < self.hparams.cond_dropout
            y = torch.where(drop, torch.full_like(y, self.num_classes), y)
        return y

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
