"""A shuffled DataLoader that a Lightning run can resume in the middle of an epoch, batch for batch.

:class:`ResumableLoader` is a ``torch.utils.data.DataLoader`` with a seeded generator that also implements
``state_dict`` / ``load_state_dict``, which Lightning saves with every checkpoint and restores on resume.
The state is the generator's state when the current epoch's iterator was made (so the resumed epoch
draws the same permutation) and how many of its batches training has consumed (taken from the trainer's
step count, not from what the loader handed out: Lightning pre-fetches a batch ahead). A fresh run draws
exactly what a plain ``DataLoader(shuffle=True, generator=...)`` draws, so adding resumability changes no
result.

Example:
    >>> loader = ResumableLoader(dataset, batch_size=32, generator=torch.Generator().manual_seed(0),
    ...                          consumed=lambda: trainer.global_step)          # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

__all__ = ["ResumableLoader"]


class ResumableLoader(DataLoader):
    """A shuffled, seeded DataLoader with Lightning's ``state_dict`` / ``load_state_dict`` protocol.

    Args:
        dataset: The training set.
        batch_size: Batch size.
        generator: The seeded generator of the shuffle (required).
        consumed: ``() -> int | None``: batches training has consumed so far over all epochs (e.g. the
            trainer's ``global_step`` times its gradient accumulation); None when no trainer is attached,
            then the loader counts what it handed out.
        **kwargs: Further ``DataLoader`` arguments (``num_workers``, ...); ``shuffle`` is always True.
    """

    def __init__(self, dataset: Dataset, *, batch_size: int, generator: torch.Generator,
                 consumed: Callable[[], int | None] | None = None, **kwargs: Any) -> None:
        super().__init__(dataset, batch_size=batch_size, shuffle=True, generator=generator, **kwargs)
        self._consumed = consumed or (lambda: None)
        self._epoch_state: torch.Tensor = generator.get_state()
        self._epoch_start = 0  # batches consumed before the current epoch began
        self._handed = 0  # batches handed out by the current epoch's iterator
        self._resume: dict[str, Any] | None = None

    def _position(self) -> int:
        consumed = self._consumed()
        return self._epoch_start + self._handed if consumed is None else int(consumed)

    def __iter__(self) -> Iterator[Any]:
        skip = 0
        if self._resume is not None:
            state, self._resume = self._resume, None
            skip = int(state["offset"])
            if skip >= len(self):  # the saved epoch was complete: the next one starts from the current state
                self.generator.set_state(state["current"])
                skip = 0
            else:
                self.generator.set_state(state["epoch"])
        self._epoch_state = self.generator.get_state()
        self._epoch_start = self._position() - skip
        self._handed = skip
        it = super().__iter__()
        for _ in range(skip):  # replay the permutation up to where training stopped
            next(it)
        for batch in it:
            self._handed += 1
            yield batch

    def state_dict(self) -> dict[str, Any]:
        """``{"epoch": generator state at epoch start, "current": generator state now, "offset": batches of the
        current epoch already trained}``."""
        return {"epoch": self._epoch_state.clone(), "current": self.generator.get_state(),
                "offset": max(0, self._position() - self._epoch_start)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`state_dict`'s output at the next ``iter()``."""
        self._resume = dict(state)
