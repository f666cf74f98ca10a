"""Fast exact de-duplication of integer rows (states of discrete models), with at most one host sync.

``torch.unique(x, dim=0)`` sorts rows lexicographically and is slow on CPU for large batches. Here rows
are hashed to one int64 key with two independent random linear hashes modulo two primes, sorted by key
(one stable ``argsort``), and grouped; the grouping is *verified* on the device (two different rows that
share a key are detected), and only then, on such a collision, the exact ``unique(dim=0)`` is used instead.

:func:`group_rows` does all of this without reading anything back to the host (it returns the number of
groups and the collision flag as device tensors), so a caller can fold them into the one sync it needs
anyway; :func:`unique_rows` is the convenient form with one sync.
"""

from __future__ import annotations

import torch

__all__ = ["first_index", "group_rows", "unique_rows"]

_P1, _P2 = 2_147_483_629, 2_147_483_587  # primes below 2**31
_MAX_WIDTH = 1 << 15  # beyond this many columns the hash sums could overflow: use the exact method
_weights: dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor]] = {}


def _hash_weights(width: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    key = (width, str(device))
    if key not in _weights:
        g = torch.Generator().manual_seed(0x5EC9 + width)
        w1 = torch.randint(1, 1 << 30, (width,), generator=g, dtype=torch.long)
        w2 = torch.randint(1, 1 << 30, (width,), generator=g, dtype=torch.long)
        _weights[key] = (w1.to(device), w2.to(device))
    return _weights[key]


def group_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Group equal rows of an integer matrix without a host sync.

    Args:
        x: ``(N, D)`` integer tensor, ``N >= 1`` (token ids, labels).

    Returns:
        ``(inverse, count, collision)``: ``inverse (N,)`` int64 group ids in ``[0, count)``, numbered in the order
        of the rows' hash keys (equal rows share an id); ``count`` the number of groups and ``collision`` True
        if two different rows shared a hash key (then ``inverse`` may merge different rows: use
        ``torch.unique(x, dim=0)`` instead), both 0-dim tensors on ``x.device``.
    """
    N, D = x.shape
    if D >= _MAX_WIDTH:
        _, inverse = torch.unique(x, dim=0, return_inverse=True)
        return inverse, inverse.max() + 1, torch.zeros((), dtype=torch.bool, device=x.device)
    xl = x.long() + 1
    w1, w2 = _hash_weights(D, x.device)
    # Each sum is below D * 2**16 * 2**30 < 2**61 for ids below 2**16; larger ids may wrap around, which can only
    # cause collisions, and those are detected below.
    key = ((xl * w1).sum(dim=1) % _P1) * _P2 + (xl * w2).sum(dim=1) % _P2
    order = torch.argsort(key, stable=True)
    sorted_key = key[order]
    new = torch.ones(N, dtype=torch.bool, device=x.device)
    new[1:] = sorted_key[1:] != sorted_key[:-1]
    gid = torch.cumsum(new, dim=0) - 1
    inverse = torch.empty_like(gid).scatter_(0, order, gid)
    rows = x[order]
    collision = ((rows[1:] != rows[:-1]).any(dim=1) & ~new[1:]).any()
    return inverse, gid[-1] + 1, collision


def unique_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """De-duplicate the rows of an integer matrix (one host sync).

    Args:
        x: ``(N, D)`` integer tensor (token ids, labels).

    Returns:
        ``(inverse, first)``: ``inverse (N,)`` maps every row to its distinct-row id in ``[0, U)``, and
        ``first (U,)`` gives the first row index of each distinct row (so ``x[first][inverse] == x``).
    """
    if x.dim() != 2:
        raise ValueError(f"unique_rows expects (N, D), got shape {tuple(x.shape)}")
    N = x.shape[0]
    if N == 0:
        return torch.zeros(0, dtype=torch.long, device=x.device), torch.zeros(0, dtype=torch.long, device=x.device)
    inverse, count, collision = group_rows(x)
    U, bad = torch.stack([count, collision.long()]).tolist()  # the one sync
    if bad:  # a hash collision: fall back to the exact method
        _, inverse = torch.unique(x, dim=0, return_inverse=True)
        U = int(inverse.max()) + 1
    return inverse, first_index(inverse, U)


def first_index(inverse: torch.Tensor, count: int) -> torch.Tensor:
    """``(count,)`` the smallest row index of each group id in ``inverse (N,)`` (no host sync)."""
    N = inverse.shape[0]
    first = torch.full((count,), N, dtype=torch.long, device=inverse.device)
    return first.scatter_reduce_(0, inverse, torch.arange(N, device=inverse.device), reduce="amin")
