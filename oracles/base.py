"""The Oracle protocol: a batched, possibly non-differentiable scoring function.

An oracle maps a batch of designs (strings over an :class:`~seqguide.alphabet.Alphabet`, or tensors for
images) to an :class:`OracleResult`. Bad input never raises out of a batch: an item that cannot be
scored (illegal character, unparsable molecule, a crash in an external tool) gets NaN and a reason,
and the rest of the batch is scored.

Subclasses of :class:`Oracle` follow botorch's test-function pattern: they implement only
:meth:`Oracle._score` on inputs that already passed validation; the base ``__call__`` does the
validation, the NaN-with-reason bookkeeping and the isolation of items that make a batch crash.

Two pieces of bookkeeping let callers account for every real evaluation:

* :attr:`Oracle.items_received` counts the items handed to ``_score``, the item-by-item retries of a
  crashed batch included (what a paid scorer would bill); wrappers that run the oracle in other processes
  add the children's counts to it.
* :meth:`Oracle.stream` yields results part by part as they are scored (an external tool's chunks, a
  process pool's tasks) and announces each part just before it is sent, so a design loop can persist
  every result as soon as it exists and charge every item the moment it leaves.

A scorer that returns the wrong number of values is a bug, not a bad input: it raises
:class:`OracleOutputError` naming the counts instead of being retried item by item.

Example:
    >>> from oracles import from_function
    >>> gc = from_function(lambda xs: [s.count("G") / len(s) for s in xs], name="g_frac")
    >>> gc(["GGAA", "AXA"]).values   # doctest: +SKIP
    array([0.5, nan])
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from seqguide.alphabet import Alphabet

__all__ = [
    "BudgetExhausted",
    "FunctionOracle",
    "Oracle",
    "OracleLike",
    "OracleOutputError",
    "OracleResult",
    "SendGate",
    "from_function",
]

#: ``on_send(indices) -> bool | None`` of :meth:`Oracle.stream`: called just before the items at ``indices``
#: (positions in the streamed batch) are sent to the scorer; returning False stops sending (nothing more
#: is sent; parts already sent are still yielded).
SendGate = Callable[[list[int]], "bool | None"]

#: Strings whose validation an oracle remembers before it starts over (bounds the memory of a long run).
_VALIDATION_MEMO_SIZE = 50_000
_UNSEEN = object()


class BudgetExhausted(RuntimeError):
    """Raised *before* spending when an oracle call would exceed its evaluation budget."""


class OracleOutputError(ValueError):
    """A scorer returned something that cannot be N results for N inputs (wrong count or shape).

    Not retried item by item (that would pay every item again for a bug that repeats): it propagates.
    """


@dataclass
class OracleResult:
    """Scores of one batch.

    Attributes:
        values: float array, shape ``(N,)`` or ``(N, K)`` for K objectives; NaN where invalid.
        valid: bool array ``(N,)``.
        errors: per item, None if valid else the reason it was not scored.
        transient: bool array ``(N,)``, True where an item is invalid for a reason that may not repeat
            (a timeout, a crashed external tool, an exhausted budget). Caches never store those rows.
            Defaults to all False; always False on valid rows.
    """

    values: np.ndarray
    valid: np.ndarray
    errors: list[str | None] = field(default_factory=list)
    transient: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float64)
        self.valid = np.asarray(self.valid, dtype=bool)
        n = self.values.shape[0] if self.values.ndim else 0
        if self.values.ndim not in (1, 2):
            raise ValueError(f"OracleResult.values must be (N,) or (N, K), got shape {self.values.shape}")
        if self.valid.shape != (n,):
            raise ValueError(f"OracleResult.valid must have shape ({n},), got {self.valid.shape}")
        if not self.errors:
            self.errors = [None] * n
        if len(self.errors) != n:
            raise ValueError(f"OracleResult.errors must have {n} entries, got {len(self.errors)}")
        # Invariants: invalid rows are NaN and carry a reason; valid rows carry none.
        if (~self.valid).any():
            self.values[~self.valid] = np.nan
        self.errors = [
            (e or "invalid (no reason given)") if not v else None for v, e in zip(self.valid, self.errors)
        ]
        transient = np.zeros(n, dtype=bool) if self.transient is None else np.asarray(self.transient, bool)
        if transient.shape != (n,):
            raise ValueError(f"OracleResult.transient must have shape ({n},), got {transient.shape}")
        self.transient = transient & ~self.valid

    def __len__(self) -> int:
        return int(self.valid.shape[0])

    @property
    def n_objectives(self) -> int:
        return 1 if self.values.ndim == 1 else int(self.values.shape[1])

    @classmethod
    def empty(cls, n_objectives: int = 1) -> OracleResult:
        shape = (0,) if n_objectives == 1 else (0, n_objectives)
        return cls(np.zeros(shape), np.zeros(0, dtype=bool), [])

    @classmethod
    def invalid(
        cls,
        n: int,
        reason: str | Sequence[str],
        n_objectives: int = 1,
        *,
        transient: bool = False,
    ) -> OracleResult:
        """A result in which all ``n`` items are invalid with ``reason``.

        Args:
            n: Number of items.
            reason: One reason for all items, or one per item.
            n_objectives: K; the values get shape ``(n,)`` for 1, else ``(n, K)``.
            transient: Mark the failure as one that may not repeat (caches will not store it).
        """
        shape = (n,) if n_objectives == 1 else (n, n_objectives)
        reasons = [reason] * n if isinstance(reason, str) else list(reason)
        return cls(np.full(shape, np.nan), np.zeros(n, dtype=bool), reasons, np.full(n, bool(transient)))

    def take(self, index: Sequence[int] | np.ndarray) -> OracleResult:
        """Rows ``index`` as a new result."""
        idx = np.asarray(index, dtype=np.int64)
        return OracleResult(self.values[idx].copy(), self.valid[idx].copy(), [self.errors[i] for i in idx],
                            self.transient[idx].copy())

    @staticmethod
    def concat(results: Sequence[OracleResult]) -> OracleResult:
        """Stack results row-wise (all with the same number of objectives)."""
        nonempty = [r for r in results if len(r)]
        if not nonempty:
            return OracleResult.empty(results[0].n_objectives if results else 1)
        return OracleResult(
            np.concatenate([r.values for r in nonempty]),
            np.concatenate([r.valid for r in nonempty]),
            [e for r in nonempty for e in r.errors],
            np.concatenate([r.transient for r in nonempty]),
        )

    def scalar(self, weights: Sequence[float] | None = None) -> np.ndarray:
        """One value per item: the values themselves, or a weighted sum over objectives (NaN if invalid)."""
        if self.values.ndim == 1:
            return self.values.copy()
        w = np.ones(self.values.shape[1]) if weights is None else np.asarray(weights, dtype=np.float64)
        return self.values @ w


@runtime_checkable
class OracleLike(Protocol):
    """Anything the guidance code can call: the structural form of :class:`Oracle` (docs/architecture.md)."""

    name: str
    alphabet: Alphabet | None
    maximize: bool

    def __call__(self, xs: Sequence[str] | torch.Tensor) -> OracleResult: ...


class Oracle:
    """Base class of all oracles.

    Subclasses set the class attributes and implement :meth:`_score`. ``__call__``:

    1. decodes a token-id tensor to strings when the oracle has an alphabet;
    2. marks items that fail :meth:`validate` (by default: the alphabet's tokenisation and non-empty)
       invalid with the reason;
    3. calls :meth:`_score` once on all valid items;
    4. if that call raises, scores the items one by one so only the culprit is lost.

    Attributes:
        name: Registry / display name.
        alphabet: The alphabet inputs must be written in, or None for free-form strings and images.
        maximize: True if larger is better.
        optimal_value: The known optimum, if any.
        n_objectives: K, the number of columns of ``values`` (1 means shape ``(N,)``).
    """

    name: str = "oracle"
    alphabet: Alphabet | None = None
    maximize: bool = True
    optimal_value: float | None = None
    n_objectives: int = 1
    #: Items handed to :meth:`_score` so far, retries of a crashed batch included (see the module docstring).
    items_received: int = 0
    #: Remember :meth:`validate`'s answer per input string (it must then depend on the string only); an oracle
    #: whose validity can change over time sets this False.
    validation_cache: bool = True

    def __call__(self, xs: Sequence[str] | torch.Tensor) -> OracleResult:
        items = self._as_items(xs)
        n = len(items)
        if n == 0:
            return OracleResult.empty(self.n_objectives)
        errors: list[str | None] = self._validate_items(items)
        ok = [i for i, e in enumerate(errors) if e is None]
        shape = (n,) if self.n_objectives == 1 else (n, self.n_objectives)
        values = np.full(shape, np.nan)
        valid = np.zeros(n, dtype=bool)
        transient = np.zeros(n, dtype=bool)
        if ok:
            sub = self._score_isolated([items[i] for i in ok])
            for j, i in enumerate(ok):
                valid[i] = sub.valid[j]
                errors[i] = sub.errors[j]
                transient[i] = sub.transient[j]
                if sub.valid[j]:
                    values[i] = sub.values[j]
        return OracleResult(values, valid, errors, transient)

    def stream(self, xs: Sequence[Any] | torch.Tensor, *,
               on_send: SendGate | None = None) -> Iterator[tuple[list[int], OracleResult]]:
        """Score ``xs`` part by part: yield ``(indices, result)`` as each part is scored.

        Items that fail validation come first (they cost nothing and are never announced). Every other
        item is announced with ``on_send(indices)`` right before it is sent to the scorer; if ``on_send``
        returns False nothing more is sent (what was already sent is still yielded, the rest is not). The
        default sends every valid item as one part; oracles that score items independently (an external
        tool in chunks, a process pool) override :meth:`_stream_valid` to yield smaller parts as they finish.

        Args:
            xs: N designs.
            on_send: The send gate (e.g. charge a budget, write "sent" rows); None sends everything.

        Yields:
            ``(indices, result)``: positions in ``xs`` and their :class:`OracleResult` (same order). Every
            position appears at most once; all of them, unless ``on_send`` stopped the stream.
        """
        items = self._as_items(xs)
        if type(self).__call__ is not Oracle.__call__:  # a custom __call__: one part through it, as is
            everything = list(range(len(items)))
            if items and (on_send is None or on_send(everything) is not False):
                yield everything, self(items)
            return
        errors = self._validate_items(items)
        bad = [i for i, e in enumerate(errors) if e is not None]
        if bad:
            yield bad, OracleResult.invalid(len(bad), [errors[i] for i in bad], self.n_objectives)
        ok = [i for i, e in enumerate(errors) if e is None]
        if not ok:
            return

        def gate(local: list[int]) -> bool:
            return on_send is None or on_send([ok[j] for j in local]) is not False

        for local, res in self._stream_valid([items[i] for i in ok], gate):
            yield [ok[j] for j in local], res

    def _stream_valid(self, xs: list[Any], gate: Callable[[list[int]], bool]
                      ) -> Iterator[tuple[list[int], OracleResult]]:
        """Yield ``(local indices, result)`` parts for validated items; call ``gate(indices)`` before sending
        each part and send nothing more once it returns False. Default: one part, via :meth:`_score`."""
        everything = list(range(len(xs)))
        if gate(everything):
            yield everything, self._score_isolated(xs)

    # -- to override -----------------------------------------------------------------
    def _score(self, xs: list[Any]) -> np.ndarray | Sequence[float] | OracleResult:
        """Score a batch of validated items.

        Return an array of shape ``(N,)``/``(N, K)`` (non-finite entries become invalid with a reason),
        or an :class:`OracleResult` to mark some items invalid with a reason of your own.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement _score(xs)")

    def validate(self, x: Any) -> str | None:
        """Return None if ``x`` can be scored, else why not. Default: alphabet check and non-empty."""
        if isinstance(x, str):
            if not x:
                return "empty sequence"
            if self.alphabet is not None:
                return self.alphabet.validate(x)
        return None

    # -- caching support -------------------------------------------------------------
    def key(self, x: Any) -> str:
        """The identity of an input for caches and budgets: equal keys are scored once.

        Strings are their own key (upper-cased for a case-insensitive alphabet, so ``"acgt"`` and
        ``"ACGT"`` are one design); tensors and arrays are keyed by a SHA-256 of dtype, shape and bytes.

        Raises:
            TypeError: for an input that is neither a string nor an array.
        """
        if isinstance(x, str):
            if self.alphabet is not None and not self.alphabet.case_sensitive:
                return x.upper()
            return x
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().numpy()
        if isinstance(x, np.ndarray):
            digest = hashlib.sha256(f"{x.dtype}|{x.shape}|".encode() + np.ascontiguousarray(x).tobytes())
            return "array:" + digest.hexdigest()
        raise TypeError(f"{self.name}: cannot build a cache key for a {type(x).__name__}")

    def is_cached(self, key: str) -> bool:
        """True if scoring the input with this ``key`` would cost nothing (a cache hit). Default: False.

        Wrappers forward this to the oracle they wrap, so a budget can skip cache hits wherever the
        cache sits in the stack.
        """
        return False

    def _repr_params(self) -> dict[str, Any]:
        """The configuration shown by ``repr`` (and used as a persistent cache namespace)."""
        return {"name": self.name, "maximize": self.maximize}

    # -- machinery -------------------------------------------------------------------
    def _as_items(self, xs: Sequence[str] | torch.Tensor) -> list[Any]:
        if isinstance(xs, torch.Tensor):
            if self.alphabet is not None and not torch.is_floating_point(xs):
                return self.alphabet.decode(xs)
            return list(xs)
        if isinstance(xs, str):
            raise TypeError(f"{self.name}: pass a list of sequences, not a single string")
        return list(xs)

    def _validate_items(self, items: Sequence[Any]) -> list[str | None]:
        """:meth:`_validate_item` of each item: remembered strings are looked up in one pass and the rest are checked
        together (:meth:`_validate_fresh`: a wrapper hands them to the oracle it wraps as one batch)."""
        memo = None
        if self.validation_cache:
            memo = self.__dict__.get("_validation_memo")
            if memo is None:
                memo = self._validation_memo = {}
        if memo is None:
            return self._validate_fresh(list(items))
        out = [memo.get(x, _UNSEEN) if type(x) is str else _UNSEEN for x in items]
        todo = [i for i, e in enumerate(out) if e is _UNSEEN]
        if not todo:
            return out
        fresh: list[Any] = []  # each new string once
        first: dict[str, int] = {}
        slot = []
        for i in todo:
            x = items[i]
            j = first.setdefault(x, len(fresh)) if type(x) is str else len(fresh)
            if j == len(fresh):
                fresh.append(x)
            slot.append(j)
        reasons = self._validate_fresh(fresh)
        for i, j in zip(todo, slot):
            out[i] = reasons[j]
        for x, reason in zip(fresh, reasons):
            if type(x) is str:
                if len(memo) >= _VALIDATION_MEMO_SIZE:
                    memo.clear()
                memo[x] = reason
        return out

    def _validate_fresh(self, items: list[Any]) -> list[str | None]:
        """The guarded :meth:`validate` of items not remembered (one by one; wrappers override it to pass the batch
        on)."""
        return [self._validate_guarded(x) for x in items]

    def _validate_guarded(self, x: Any) -> str | None:
        """:meth:`validate`, with None and a crashing validator turned into a reason."""
        if x is None:
            return "missing input (None)"
        try:
            return self.validate(x)
        except Exception as err:  # a validator bug must not sink the batch either
            return f"validation failed: {type(err).__name__}: {err}"

    def _validate_item(self, x: Any) -> str | None:
        """:meth:`validate` guarded (None and a crashing validator give a reason), remembered by string: a design
        passes the objective's pre-check, its stream and every wrapper's, and is validated once."""
        return self._validate_items([x])[0]

    def _score_isolated(self, xs: list[Any]) -> OracleResult:
        self.items_received += len(xs)
        try:
            return self._coerce(self._score(xs), len(xs))
        except (BudgetExhausted, OracleOutputError):
            raise
        except Exception as err:
            if len(xs) == 1:
                return OracleResult.invalid(1, f"{self.name} failed: {type(err).__name__}: {err}",
                                            self.n_objectives)
        # The batch crashed: score item by item so only the culprits are lost.
        return OracleResult.concat([self._score_isolated([x]) for x in xs])

    def _coerce(self, out: Any, n: int) -> OracleResult:
        k = self.n_objectives
        if isinstance(out, OracleResult):
            if len(out) != n:
                raise OracleOutputError(f"oracle {self.name!r} returned {len(out)} results for {n} inputs")
            if out.n_objectives != k:
                raise OracleOutputError(f"oracle {self.name!r} returned {out.n_objectives} values per input, "
                                        f"expected {k}")
            return out
        try:
            values = np.asarray(out, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise OracleOutputError(f"oracle {self.name!r} returned {type(out).__name__} that is not an array of "
                                    f"numbers for {n} inputs ({err})") from None
        got = 1 if values.ndim == 0 else values.shape[0]
        if got != n:
            raise OracleOutputError(f"oracle {self.name!r} returned {got} value{'s' * (got != 1)} for {n} inputs "
                                    "(a scoring function must return one value per input, in order)")
        if values.ndim == 0:
            values = values.reshape(1)
        if k == 1 and values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim > 2 or (k == 1 and values.ndim != 1) or (k > 1 and values.shape[1:] != (k,)):
            raise OracleOutputError(f"oracle {self.name!r} returned values of shape {values.shape} for {n} inputs; "
                                    + (f"expected ({n},) or ({n}, 1)" if k == 1 else f"expected ({n}, {k})"))
        finite = np.isfinite(values) if values.ndim == 1 else np.isfinite(values).all(axis=1)
        errors = [None if f else f"{self.name} returned a non-finite value" for f in finite]
        return OracleResult(values, finite, errors)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self._repr_params().items())
        return f"{type(self).__name__}({params})"


class FunctionOracle(Oracle):
    """An oracle around a plain function ``fn(list[str]) -> sequence of floats``."""

    def __init__(
        self,
        fn: Callable[[list[Any]], Any],
        *,
        name: str,
        alphabet: Alphabet | None = None,
        maximize: bool = True,
        n_objectives: int = 1,
    ) -> None:
        self.fn = fn
        self.name = name
        self.alphabet = alphabet
        self.maximize = maximize
        self.n_objectives = n_objectives

    def _score(self, xs: list[Any]) -> Any:
        return self.fn(xs)

    def _repr_params(self) -> dict[str, Any]:
        fn = f"{getattr(self.fn, '__module__', '?')}.{getattr(self.fn, '__qualname__', type(self.fn).__name__)}"
        return {"name": self.name, "fn": fn, "maximize": self.maximize, "n_objectives": self.n_objectives}


def from_function(
    fn: Callable[[list[Any]], Any],
    *,
    name: str,
    alphabet: Alphabet | None = None,
    maximize: bool = True,
    n_objectives: int = 1,
) -> Oracle:
    """Wrap ``fn: list[str] -> sequence of floats`` as an :class:`Oracle` (docs/architecture.md signature).

    ``n_objectives=K > 1`` declares that ``fn`` returns K values per item (shape ``(N, K)``).
    """
    return FunctionOracle(fn, name=name, alphabet=alphabet, maximize=maximize, n_objectives=n_objectives)
