"""What a guider's constructor says, read from its class: :class:`GuiderInfo`, :class:`Param`, :class:`GuiderSpec`.

A guider's arguments are validated against **its constructor's own signature and type hints**: a pydantic model
(a :class:`GuiderSpec` subclass) is derived from the signature, so no second copy of any signature exists; then
the constructor itself runs its range checks (a ``ValueError`` it raises is reported at the argument it names).

Two kinds of constructor parameters:

* *resources*: objects that cannot be written in YAML (a value function, a differentiable surrogate, a
  measurement, ...). A guider class lists them in ``resources = {"value": ("oracle", "surrogate",
  "value_model")}``; in YAML each is written as the name of a *source* (``value: surrogate``) that the
  caller resolves to an object. The first source listed is the default.
* *hyperparameters*: every other parameter, written as plain YAML values and validated against its type
  hint (``int``, ``float``, ``Literal[...]``, ...); NaN and infinities are refused.
"""

from __future__ import annotations

import importlib
import inspect
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, PydanticSchemaGenerationError, create_model

from seqguide.guidance.base import HOOKS, Guider
from seqguide.guidance.registry.errors import GuiderSpecError, _first_line, _named_argument

__all__ = ["GuiderInfo", "GuiderSpec", "Param"]

_EMPTY = inspect.Parameter.empty


@dataclass(frozen=True)
class Param:
    """One hyperparameter of a guider's constructor.

    Attributes:
        name: The parameter (and YAML key) name.
        annotation: Its type hint.
        default: Its default (``inspect.Parameter.empty`` when required).
        doc: Its description from the class docstring's ``Args:`` section.
        yaml: Whether it can be written in YAML (its type has a schema); if not, only Python callers can set it.
    """

    name: str
    annotation: Any
    default: Any
    doc: str = ""
    yaml: bool = True

    @property
    def required(self) -> bool:
        return self.default is _EMPTY

    def type_text(self) -> str:
        """The type hint as users read it (``int``, ``'diff' | 'max'``, ``float | None``)."""
        return _type_text(self.annotation)


def _type_text(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _type_text(typing.get_args(tp)[0])
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin is typing.Union or type(tp).__name__ == "UnionType":
        return " | ".join(_type_text(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "None"
    if origin is not None:
        args = ", ".join(_type_text(a) for a in typing.get_args(tp))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _arg_docs(cls: type) -> dict[str, str]:
    """``{name: text}`` from the Google-style ``Args:`` section of the class docstring."""
    doc = inspect.getdoc(cls) or ""
    out: dict[str, str] = {}
    lines = doc.splitlines()
    inside, current, indent = False, None, None
    for line in lines:
        if not inside:
            inside = line.strip() in ("Args:", "Arguments:", "Parameters:")
            continue
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        if depth == 0:  # the next section
            break
        m = re.match(r"\s*(\*{0,2}\w+)\s*(\([^)]*\))?:\s*(.*)", line)
        if m and (indent is None or depth <= indent):
            indent = depth
            current = m.group(1).lstrip("*")
            out[current] = m.group(3).strip()
        elif current is not None:
            out[current] = (out[current] + " " + line.strip()).strip()
    return out


def _has_schema(tp: Any) -> bool:
    try:
        create_model("_Probe", __config__=ConfigDict(arbitrary_types_allowed=False), x=(tp, ...))
    except (PydanticSchemaGenerationError, TypeError, NameError):
        return False
    return True


_SPEC_CONFIG = ConfigDict(extra="forbid", allow_inf_nan=False, arbitrary_types_allowed=False)


class GuiderSpec(BaseModel):
    """Base of the validated YAML form of one guider (a model derived from its constructor per guider).

    Fields: ``method`` (the name as written), one field per resource (its source) and one per hyperparameter.
    """

    model_config = _SPEC_CONFIG
    _info: ClassVar[GuiderInfo]

    method: str

    @property
    def info(self) -> GuiderInfo:
        return type(self)._info

    def sources(self) -> dict[str, str]:
        """``{resource parameter: source}`` (e.g. ``{"value": "surrogate"}``)."""
        return {r: getattr(self, r) for r in self.info.resources}

    def arguments(self) -> dict[str, Any]:
        """The hyperparameters, defaults filled in (what the constructor receives besides the resources)."""
        return {p.name: getattr(self, p.name) for p in self.info.params if p.yaml}

    def build(self, resources: Mapping[str, Any] | None = None) -> Guider:
        """The guider, with each resource parameter given the object its source resolved to.

        Raises:
            GuiderSpecError: a missing resource, or an argument the constructor refuses (e.g. ``start >= stop``).
        """
        resources = dict(resources or {})
        missing = [r for r in self.info.all_resources if r not in resources]
        if missing:
            raise GuiderSpecError([(r, f"{self.method} needs an object for {r!r} ("
                                       + (f"source {getattr(self, r)!r})" if r in self.info.resources
                                          else "Python only: pass it to build())")) for r in missing])
        return self.info.construct({**resources, **self.arguments()})

    def describe(self) -> str:
        """``svdd(value=oracle, particles=8)``: the method with its sources and non-default arguments."""
        parts = [f"{k}={v}" for k, v in self.sources().items()]
        defaults = {p.name: p.default for p in self.info.params}
        parts += [f"{k}={v!r}" for k, v in self.arguments().items() if defaults.get(k) != v]
        return f"{self.method}({', '.join(parts)})"


@dataclass
class GuiderInfo:
    """A registered guider, read from its class (see :func:`guider_info`).

    Attributes:
        name: The short name (or the class path it was named by).
        cls: The Guider subclass.
        origin: ``built-in``, ``entry point (dist version)``, ``registered``, ``class path`` or ``class``.
    """

    name: str
    cls: type[Guider]
    origin: str
    _spec: type[GuiderSpec] | None = field(default=None, repr=False)

    @property
    def resources(self) -> dict[str, tuple[str, ...]]:
        """``{parameter: accepted sources}`` of the resources YAML can name; the first source is the default."""
        return {k: v for k, v in self.all_resources.items() if v}

    @property
    def all_resources(self) -> dict[str, tuple[str, ...]]:
        """Every resource parameter, including those only Python callers can pass (listed with no source)."""
        return {k: tuple(v) for k, v in dict(getattr(self.cls, "resources", {}) or {}).items()}

    @property
    def python_resources(self) -> list[str]:
        """Resource parameters with no YAML source: the guider can only be built from Python."""
        return [k for k, v in self.all_resources.items() if not v]

    @property
    def paper(self) -> str:
        """The paper the method follows (``cls.paper``; else the first line of its module's docstring)."""
        paper = getattr(self.cls, "paper", "") or ""
        if paper:
            return paper
        module = importlib.import_module(self.cls.__module__)
        return (inspect.getdoc(module) or "").split("\n")[0].strip()

    @property
    def summary(self) -> str:
        """The first line of the class docstring."""
        return (inspect.getdoc(self.cls) or "").split("\n")[0].strip()

    @property
    def hooks(self) -> list[str]:
        """The loop hooks the class implements (``propose``, ``select``, ...)."""
        return [h for h in HOOKS if getattr(self.cls, h) is not getattr(Guider, h)]

    @cached_property
    def params(self) -> list[Param]:
        """The hyperparameters (constructor parameters that are not resources), in signature order."""
        sig = inspect.signature(self.cls.__init__)
        try:
            hints = typing.get_type_hints(self.cls.__init__, include_extras=True)
        except Exception as err:  # unresolvable annotations: say which class
            raise TypeError(f"cannot read the type hints of {self.cls.__name__}.__init__: {err}") from err
        docs = _arg_docs(self.cls)
        resources = self.all_resources
        out = []
        for p in list(sig.parameters.values())[1:]:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            if p.name in resources:
                continue
            if p.name in ("method",):
                raise TypeError(f"{self.cls.__name__}: a constructor parameter may not be named {p.name!r}")
            tp = hints.get(p.name, Any)
            out.append(Param(p.name, tp, p.default, docs.get(p.name, ""), yaml=tp is not Any and _has_schema(tp)))
        missing = [r for r in resources if r not in sig.parameters]
        if missing:
            raise TypeError(f"{self.cls.__name__}.resources names {missing}, which are not constructor parameters")
        return out

    @property
    def resource_docs(self) -> dict[str, str]:
        docs = _arg_docs(self.cls)
        return {r: docs.get(r, "") for r in self.resources}

    def spec_model(self) -> type[GuiderSpec]:
        """The pydantic model of this guider's YAML form (derived from the constructor; cached)."""
        if self._spec is None:
            fields: dict[str, Any] = {}
            for r, sources in self.resources.items():
                fields[r] = (Literal[sources], sources[0])  # type: ignore[valid-type]
            for p in self.params:
                if p.yaml:
                    fields[p.name] = (p.annotation, ... if p.required else p.default)
            model = create_model(f"{self.cls.__name__}Spec", __base__=GuiderSpec, **fields)
            model._info = self
            self._spec = model
        return self._spec

    def allowed_keys(self) -> list[str]:
        return ["method", *self.resources, *(p.name for p in self.params if p.yaml)]

    def construct(self, kwargs: Mapping[str, Any]) -> Guider:
        """Call the constructor; a ``ValueError``/``TypeError`` it raises becomes a :class:`GuiderSpecError`
        at the argument its message names (else at the guider as a whole)."""
        unset = [p.name for p in self.params if p.required and p.name not in kwargs]
        if unset:
            raise GuiderSpecError([(n, f"{self.name} needs {n!r}, which cannot be written in YAML (type "
                                       f"{_type_text(next(p.annotation for p in self.params if p.name == n))}); "
                                       "build this guider in Python") for n in unset])
        try:
            return self.cls(**kwargs)
        except GuiderSpecError:
            raise
        except (ValueError, TypeError) as err:
            raise GuiderSpecError([(_named_argument(str(err), kwargs), _first_line(err))]) from None
