"""Maps of the values: :class:`Transform` applies a function to the scores of valid items; :class:`Negate` flips
their sign and the direction."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from oracles.base import Oracle, OracleResult
from oracles.wrappers.common import Wrapper


class Transform(Wrapper):
    """Apply ``fn`` to the values of valid items (e.g. a log, a desirability curve, a scale).

    Args:
        oracle: The oracle to transform.
        fn: Vectorised map from a float array of shape ``(M,)``/``(M, K)`` to one of the same shape
            (must be picklable to run under :class:`Parallel`). Non-finite outputs make the item invalid.
        name: Display name (default: the inner oracle's).
        maximize: Direction after the transform (default: unchanged).
        optimal_value: Optimum after the transform (default: ``fn`` of the inner optimum, if known).
    """

    # The inner oracle's constraint bounds do not hold for transformed values.
    default_bounds: tuple[float | None, float | None] = (None, None)

    def __init__(self, oracle: Oracle, fn: Callable[[np.ndarray], np.ndarray], *, name: str | None = None,
                 maximize: bool | None = None, optimal_value: float | None = None) -> None:
        super().__init__(oracle, name=name)
        if not callable(fn):
            raise TypeError(f"Transform: fn must be callable, got {type(fn).__name__}")
        self.fn = fn
        self._maximize = maximize
        self._optimal = optimal_value

    @property  # type: ignore[override]
    def maximize(self) -> bool:
        return self.inner.maximize if self._maximize is None else self._maximize

    @property  # type: ignore[override]
    def optimal_value(self) -> float | None:
        if self._optimal is not None:
            return self._optimal
        inner = self.inner.optimal_value
        if inner is None:
            return None
        return float(np.asarray(self.fn(np.array([inner], dtype=np.float64)))[0])

    def _score(self, xs: list[Any]) -> OracleResult:
        return self._apply(self.inner(xs))

    def _stream_valid(self, xs: list[Any], gate: Callable[[list[int]], bool]
                      ) -> Iterator[tuple[list[int], OracleResult]]:
        for idx, res in self.inner.stream(xs, on_send=gate):
            yield idx, self._apply(res)

    def _apply(self, res: OracleResult) -> OracleResult:
        values = res.values.copy()
        ok = res.valid.copy()
        errors = list(res.errors)
        if ok.any():
            with np.errstate(all="ignore"):  # non-finite results are reported per item below
                out = np.asarray(self.fn(values[ok]), dtype=np.float64)
            if out.shape != values[ok].shape:
                raise ValueError(f"Transform {self.name}: fn changed the shape {values[ok].shape} -> {out.shape}")
            values[ok] = out
            finite = np.isfinite(values) if values.ndim == 1 else np.isfinite(values).all(axis=1)
            for i in np.flatnonzero(ok & ~finite):
                ok[i] = False
                errors[i] = f"{self.name}: transform gave a non-finite value"
        return OracleResult(values, ok, errors, res.transient)

    def _repr_params(self) -> dict[str, Any]:
        return {"oracle": self.inner, "fn": getattr(self.fn, "__name__", repr(self.fn))}


class Negate(Transform):
    """Flip the sign of the scores and the direction (``maximize``) of an oracle."""

    def __init__(self, oracle: Oracle, *, name: str | None = None) -> None:
        super().__init__(oracle, np.negative, name=name, maximize=not oracle.maximize)

    def _repr_params(self) -> dict[str, Any]:
        return {"oracle": self.inner}
