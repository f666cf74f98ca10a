"""Fast exact de-duplication of integer rows (states of discrete models).

``torch.unique(x, dim=0)`` sorts rows lexicographically and is slow on CPU for large batches. Here rows
are hashed to one int64 key with two independent random linear hashes modulo two primes (every
intermediate sum stays below 2**62, so no overflow), de-duplicated with the fast 1-D ``torch.unique``,
and then *verified*: if two different rows ever share a key, the exact ``unique(dim=0)`` is used instead.
"""

from __future__ import annotations

import torch

__all__ = ["unique_rows"]

_P1, _P2 = 2_147_483_629, 2_147_483_587  # primes below 2**31
_MAX_VALUE = 1 << 16  # token ids and labels must stay below this for the exact-sum bound
_weights: dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor]] = {}


def _hash_weights(width: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    key = (width, str(device))
    if key not in _weights:
        g = torch.Generator().manual_seed(0x5EC9 + width)
        w1 = torch.randint(1, 1 << 30, (width,), generator=g, dtype=torch.long)
        w2 = torch.randint(1, 1 << 30, (width,), generator=g, dtype=torch.long)
        _weights[key] = (w1.to(device), w2.to(device))
    return _weights[key]


def unique_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """De-duplicate the rows of an integer matrix.

    Args:
        x: ``(N, D)`` integer tensor with values in ``[-1, 2**16)`` (token ids, labels).

    Returns:
        ``(inverse, first)``: ``inverse (N,)`` maps every row to its distinct-row id in ``[0, U)``, and
        ``first (U,)`` gives one row index of each distinct row (so ``x[first][inverse] == x``).
    """
    if x.dim() != 2:
        raise ValueError(f"unique_rows expects (N, D), got shape {tuple(x.shape)}")
    N, D = x.shape
    if N == 0:
        return torch.zeros(0, dtype=torch.long, device=x.device), torch.zeros(0, dtype=torch.long, device=x.device)
    xl = x.long() + 1
    if D >= (1 << 15) or int(xl.max()) >= _MAX_VALUE or int(xl.min()) < 0:
        return _exact(x)
    w1, w2 = _hash_weights(D, x.device)
    # Each sum is below D * 2**16 * 2**30 < 2**61 for D < 2**15: exact in int64, no overflow.
    key = ((xl * w1).sum(dim=1) % _P1) * _P2 + (xl * w2).sum(dim=1) % _P2
    _, inverse = torch.unique(key, return_inverse=True)
    first = torch.empty(int(inverse.max()) + 1, dtype=torch.long, device=x.device)
    first.scatter_(0, inverse, torch.arange(N, device=x.device))
    if not torch.equal(x[first][inverse], x):  # a hash collision: fall back to the exact method
        return _exact(x)
    return inverse, first


def _exact(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    _, inverse = torch.unique(x, dim=0, return_inverse=True)
    first = torch.empty(int(inverse.max()) + 1, dtype=torch.long, device=x.device)
    first.scatter_(0, inverse, torch.arange(x.shape[0], device=x.device))
    return inverse, first
