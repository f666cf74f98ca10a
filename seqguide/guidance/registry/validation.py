"""Validating guider mappings against the registry: :func:`guider_spec`, :func:`build_guider`, stacks of guiders.

A mapping (``{"method": "svdd", "value": "oracle", "particles": 8}``) is checked in three steps: the name is
looked up in the table, the keys and values against the pydantic model derived from the guider's constructor,
and then the constructor runs once with placeholder resources, so its own range checks see the YAML values.

Example:
    >>> from seqguide.guidance.registry import build_guider, guider_spec, list_guiders
    >>> "svdd" in list_guiders()
    True
    >>> spec = guider_spec({"method": "svdd", "value": "oracle", "particles": 4})
    >>> spec.arguments(), spec.sources()
    ({'particles': 4, 'alpha': 0.0, 'start': 0.0, 'stop': 1.0}, {'value': 'oracle'})
    >>> guider = spec.build({"value": my_oracle})                                  # doctest: +SKIP
    >>> guider = build_guider("smc", value=my_oracle, particles=8, lam=10.0)       # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from seqguide.guidance.base import Guider, stack_problems
from seqguide.guidance.registry.errors import (
    GuiderSpecError,
    _first_line,
    _named_argument,
    _rewritten,
    _spec_error,
    raise_problems,
)
from seqguide.guidance.registry.specs import GuiderInfo, GuiderSpec
from seqguide.guidance.registry.table import guider_info, list_guiders

__all__ = ["build_guider", "guider_spec", "validate_mapping", "validate_stack"]


class _Pending:
    """Stands in for a resource while a YAML spec is checked (the constructor's own range checks run; type checks
    of the resource itself are the caller's business when it resolves the source)."""

    maximize = True
    oracle = None
    weights = None

    def __init__(self, name: str, source: str) -> None:
        self.name, self.source = name, source

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"resource {self.name!r} (source {self.source!r}) was not resolved")

    def __repr__(self) -> str:
        return f"<{self.source}>"


def _trial(spec: GuiderSpec) -> Guider | None:
    """Construct the guider with placeholder resources, so its own range checks run on the YAML values.

    Returns None when the constructor refused something that is not a named hyperparameter while placeholders
    stood in for its resources (then only the real objects can tell; :meth:`GuiderSpec.build` reports it).
    """
    from seqguide.guidance.value.functions import ValueFunction

    class Placeholder(_Pending, ValueFunction):
        pass

    arguments = spec.arguments()
    sources = spec.sources()
    resources = {r: Placeholder(r, sources.get(r, "python")) for r in spec.info.all_resources}
    try:
        return spec.info.cls(**resources, **arguments)
    except (ValueError, TypeError) as err:
        where = _named_argument(str(err), arguments)
        if not where and resources:
            return None
        raise GuiderSpecError([(where, _first_line(err))]) from None



def validate_mapping(data: Any) -> GuiderSpec:
    """:func:`guider_spec` for use inside pydantic validators: raises ``pydantic.ValidationError`` whose error
    locations are relative to the mapping (so an enclosing model reports ``guidance[0].particles``)."""
    if isinstance(data, GuiderSpec):
        return data
    if not isinstance(data, Mapping):
        raise_problems([((), f"expected a mapping with a 'method' key (e.g. {{method: svdd, particles: 8}}), got "
                     f"{type(data).__name__}")], data)
    method = data.get("method")
    if method is None:
        names = ", ".join(list_guiders())
        raise_problems([(("method",), f"required key is missing (available guiders: {names})")], data)
    try:
        info = guider_info(method)
        model = info.spec_model()
    except GuiderSpecError as err:
        raise_problems([(tuple(p.split(".")) if p else (), m) for p, m in err.problems], data)
    try:
        spec = model.model_validate(dict(data))
    except ValidationError as exc:
        raise _readable(exc, info) from None
    try:
        _trial(spec)
    except GuiderSpecError as err:
        raise_problems([((p,) if p else (), m) for p, m in err.problems], data)
    return spec


def guider_spec(data: Mapping[str, Any]) -> GuiderSpec:
    """Validate one guider's mapping (``{"method": "svdd", "value": "oracle", "particles": 8}``).

    Raises:
        GuiderSpecError: with one ``(key, message)`` per problem (unknown guider with the nearest name, unknown
            argument with the guider's keys, wrong type, NaN/inf, a value the constructor refuses).
    """
    try:
        return validate_mapping(data)
    except ValidationError as exc:
        raise _spec_error(exc) from None



def validate_stack(specs: Sequence[GuiderSpec]) -> list[tuple[str, str]]:
    """Problems of a guidance stack as a whole (two guiders that both select, ...): ``[(path, message)]`` with
    paths like ``""`` for the stack; empty when the stack can run."""
    trials: list[tuple[int, GuiderSpec, Guider]] = []
    for i, spec in enumerate(specs):
        try:
            g = _trial(spec)
        except GuiderSpecError:
            continue
        if g is not None:
            trials.append((i, spec, g))
    names = {id(g): f"{s.method} (guidance[{i}])" for i, s, g in trials}
    return [("", p) for p in stack_problems([g for _, _, g in trials], lambda g: names[id(g)])]


def build_guider(name: str | type[Guider], /, **kwargs: Any) -> Guider:
    """Build a guider from Python by name (or class), validating the hyperparameters against its signature.

    Resources are passed as objects (``value=my_oracle``), hyperparameters as plain values.

    Example:
        >>> guider = build_guider("svdd", value=oracle, particles=4)          # doctest: +SKIP

    Raises:
        GuiderSpecError: an unknown guider or argument, a wrong type, a value the constructor refuses.
    """
    info = guider_info(name)
    resources = {k: kwargs.pop(k) for k in list(kwargs) if k in info.all_resources}
    try:
        spec = info.spec_model().model_validate({"method": info.name, **kwargs})
    except ValidationError as exc:
        raise _spec_error(_readable(exc, info)) from None
    return spec.build(resources)


def _readable(exc: ValidationError, info: GuiderInfo) -> ValidationError:
    return _rewritten(exc, info.name, info.allowed_keys())
