"""The guider registry: every guidance method constructible by a short name or a class path.

One table maps short names (``svdd``, ``smc``, ...) to guider classes; third-party packages add theirs
through the ``seqguide.guiders`` entry-point group, and any ``Guider`` subclass can be named by its class
path (``my_pkg.guiders:MyGuider`` or ``my_pkg.guiders.MyGuider``). A guider's arguments are validated
against **its constructor's own signature and type hints** (a pydantic model is derived from the
signature, so no second copy of any signature exists), and then by the constructor itself (range checks
that raise ``ValueError``).

Two kinds of constructor parameters:

* *resources*: objects that cannot be written in YAML (a value function, a differentiable surrogate, a
  measurement, ...). A guider class lists them in ``resources = {"value": ("oracle", "surrogate",
  "value_model")}``; in YAML each is written as the name of a *source* (``value: surrogate``) that the
  caller resolves to an object (a campaign resolves ``oracle`` to the objective's look-ahead,
  ``surrogate`` to the round's fitted surrogate, ``value_model`` to the learned value model). The first
  source listed is the default.
* *hyperparameters*: every other parameter, written as plain YAML values and validated against its type
  hint (``int``, ``float``, ``Literal[...]``, ...); NaN and infinities are refused.

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

import difflib
import importlib
import inspect
import re
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import metadata
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, PydanticSchemaGenerationError, ValidationError, create_model
from pydantic_core import InitErrorDetails, PydanticCustomError

from seqguide.guidance.base import HOOKS, Guider, stack_problems

__all__ = [
    "ENTRY_POINT_GROUP",
    "GuiderInfo",
    "GuiderSpec",
    "GuiderSpecError",
    "Param",
    "build_guider",
    "guider_info",
    "guider_spec",
    "list_guiders",
    "raise_problems",
    "refresh",
    "register_guider",
    "validate_mapping",
    "validate_stack",
]

#: Entry-point group through which other packages register guiders (``name = "pkg.module:Class"``).
ENTRY_POINT_GROUP = "seqguide.guiders"

#: The built-in guiders: short name -> ``module:Class`` (imported on first use).
_BUILTIN: dict[str, str] = {
    "svdd": "seqguide.guidance.value.svdd:SVDD",
    "smc": "seqguide.guidance.value.smc:SMC",
    "best_of_n": "seqguide.guidance.value.best_of_n:BestOfN",
    "beam": "seqguide.guidance.value.beam:BeamSearch",
    # classifier-free guidance family (combine hook)
    "cfg": "seqguide.guidance.cfg.cfg:CFG",
    "guidance_interval": "seqguide.guidance.cfg.guidance_interval:GuidanceInterval",
    "cfg_plus_plus": "seqguide.guidance.cfg.cfg_plus_plus:CFGPlusPlus",
    "apg": "seqguide.guidance.cfg.apg:APG",
    "fdg": "seqguide.guidance.cfg.fdg:FDG",
    "cfg_zero_star": "seqguide.guidance.cfg.cfg_zero_star:CFGZeroStar",
    "adaptive_guidance": "seqguide.guidance.cfg.adaptive_guidance:AdaptiveGuidance",
    "linear_ag": "seqguide.guidance.cfg.linear_ag:LinearAG",
    "raag": "seqguide.guidance.cfg.raag:RAAG",
    "cfg_ctrl": "seqguide.guidance.cfg.cfg_ctrl:CFGCtrl",
    "dynamic_cfg": "seqguide.guidance.cfg.dynamic_cfg:DynamicCFG",
    # gradient guidance on images (adjust hook)
    "classifier": "seqguide.guidance.cfg.classifier_guidance:ClassifierGuidance",
    # simplex flows and gradient guidance for sequences
    "stgflow": "seqguide.guidance.discrete.stgflow:STGFlow",
    "discrete_cfg": "seqguide.guidance.discrete.cfg:DiscreteCFG",
    "classifier_discrete": "seqguide.guidance.discrete.classifier:DiscreteClassifierGuidance",
    # posterior sampling and reward guidance for masked diffusion
    "aps": "seqguide.guidance.posterior.aps:APS",
    "reward_guidance": "seqguide.guidance.posterior.reward_guidance:RewardGuidance",
    "clamp_observed": "seqguide.guidance.posterior.measurement_value:ClampObserved",
}

_EMPTY = inspect.Parameter.empty


class GuiderSpecError(ValueError):
    """A guider specification problem; ``problems`` holds ``(key path, message)`` pairs (the path is relative
    to the guider's mapping, e.g. ``particles``; ``""`` for the mapping as a whole)."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{p}: {m}" if p else m for p, m in self.problems))


# ------------------------------------------------------------------------------------------ the table
@dataclass
class _Entry:
    target: str | type[Guider]  # "module:Class", or the class itself (register_guider)
    origin: str  # "built-in", "entry point (dist x.y)", "registered", "class path"

    def load(self) -> type[Guider]:
        if isinstance(self.target, type):
            return self.target
        return _import(self.target, self.target)


_registered: dict[str, _Entry] = {}  # register_guider() calls, in this process
_plugins: dict[str, _Entry] | None = None  # entry points, discovered once (refresh() re-reads them)
_infos: dict[str, GuiderInfo] = {}


def _discover() -> dict[str, _Entry]:
    global _plugins
    if _plugins is None:
        found: dict[str, _Entry] = {}
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = getattr(ep, "dist", None)
            who = f"{dist.name} {dist.version}" if dist is not None else "unknown distribution"
            found.setdefault(ep.name, _Entry(ep.value, f"entry point ({who})"))
        _plugins = found
    return _plugins


def _table() -> dict[str, _Entry]:
    """Every short name: built-ins first (they cannot be shadowed), then registered, then entry points."""
    table = {name: _Entry(target, "built-in") for name, target in _BUILTIN.items()}
    for source in (_registered, _discover()):
        for name, entry in source.items():
            table.setdefault(name, entry)
    return table


def refresh() -> None:
    """Forget discovered entry points and cached infos (after installing a plugin in a running process)."""
    global _plugins
    _plugins = None
    _infos.clear()
    importlib.invalidate_caches()


def register_guider(name: str, target: str | type[Guider]) -> None:
    """Register a guider under ``name`` in this process (plugins normally use the entry-point group).

    Args:
        name: The short name (letters, digits, ``_``; not a built-in name).
        target: The class or its path ``"module:Class"``.
    """
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        raise ValueError(f"guider name must be letters, digits and '_' starting with a letter, got {name!r}")
    if name in _BUILTIN:
        raise ValueError(f"{name!r} is a built-in guider name")
    if isinstance(target, type):
        _check_class(target, name)
    _registered[name] = _Entry(target, "registered")
    _infos.pop(name, None)


def list_guiders() -> list[str]:
    """Short names of every available guider (built-in, registered and entry-point ones), sorted."""
    return sorted(_table())


# --------------------------------------------------------------------------------------- resolution
def _check_class(obj: Any, shown: str) -> type[Guider]:
    if not (isinstance(obj, type) and issubclass(obj, Guider)):
        raise GuiderSpecError([("method", f"{shown!r} is not a seqguide Guider subclass (got {obj!r})")])
    return obj


def _import(target: str, shown: str) -> type[Guider]:
    module, sep, attr = target.partition(":")
    if not sep:
        module, _, attr = target.rpartition(".")
    if not module or not attr:
        raise GuiderSpecError([("method", f"cannot import {shown!r}: give 'package.module:Class'")])
    try:
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise GuiderSpecError([("method", f"cannot import {shown!r}: {type(err).__name__}: {err}")]) from None
    return _check_class(obj, shown)


def _unknown(name: str, names: Iterable[str]) -> GuiderSpecError:
    names = sorted(names)
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return GuiderSpecError([("method", f"unknown guider {name!r} ({hint}available: {', '.join(names)}; or a class "
                                       "path such as 'my_package.guiders:MyGuider')")])


def guider_info(name: str | type[Guider]) -> GuiderInfo:
    """What the registry knows about a guider: its class, resources, hyperparameters, hooks and paper.

    Args:
        name: A short name, a class path (``pkg.module:Class`` or ``pkg.module.Class``) or a Guider class.

    Raises:
        GuiderSpecError: for an unknown name or a path that does not import to a Guider subclass.
    """
    if isinstance(name, type):
        cls = _check_class(name, getattr(name, "__name__", repr(name)))
        return GuiderInfo(cls.__name__, cls, "class")
    if not isinstance(name, str) or not name:
        raise GuiderSpecError([("method", f"expected a guider name (a string), got {name!r}")])
    if name in _infos:
        return _infos[name]
    table = _table()
    if name in table:
        entry = table[name]
        info = GuiderInfo(name, entry.load(), entry.origin)
    elif "." in name or ":" in name:
        info = GuiderInfo(name, _import(name, name), "class path")
    else:
        raise _unknown(name, table)
    _infos[name] = info
    return info


# ----------------------------------------------------------------------------------------- signature
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


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _named_argument(message: str, kwargs: Mapping[str, Any]) -> str:
    """The argument a constructor's error message starts with (``"particles must be >= 1"``), else ``""``."""
    m = re.match(r"\W*(\w+)", message)
    return m.group(1) if m and m.group(1) in kwargs else ""


# -------------------------------------------------------------------------------------------- parsing
def _error_details(exc: ValidationError, info: GuiderInfo) -> list[InitErrorDetails]:
    """Rewrite a spec model's errors for users: unknown keys name the guider, its keys and the nearest one;
    a Literal error adds the nearest accepted value."""
    out: list[InitErrorDetails] = []
    allowed = info.allowed_keys()
    for err in exc.errors():
        loc, kind = tuple(err["loc"]), err["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            msg = f"unknown argument of {info.name} ({hint}allowed: {', '.join(allowed)})"
            out.append({"type": PydanticCustomError("guider_argument", msg), "loc": loc, "input": err["input"]})
        elif kind == "literal_error" and isinstance(err.get("input"), str):
            expected = re.findall(r"'([^']*)'", str((err.get("ctx") or {}).get("expected", "")))
            close = difflib.get_close_matches(err["input"], expected, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            msg = f"{err['msg']} (got {err['input']!r}{hint})"
            out.append({"type": PydanticCustomError("guider_choice", msg), "loc": loc, "input": err["input"]})
        else:
            detail: InitErrorDetails = {"type": kind, "loc": loc, "input": err.get("input")}
            if err.get("ctx"):
                detail["ctx"] = err["ctx"]
            out.append(detail)
    return out


def raise_problems(problems: Sequence[tuple[tuple[Any, ...], str]], data: Any) -> typing.NoReturn:
    """Raise a ``pydantic.ValidationError`` with one ``(location, message)`` error per problem."""
    raise ValidationError.from_exception_data(
        "guider", [{"type": PydanticCustomError("guider", msg), "loc": loc, "input": data} for loc, msg in problems])


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
        raise ValidationError.from_exception_data("guider", _error_details(exc, info)) from None
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
        raise GuiderSpecError([(_loc_text(e["loc"]), _user_message(e)) for e in exc.errors()]) from None


def _loc_text(loc: Sequence[Any]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(loc))


def _user_message(err: Mapping[str, Any]) -> str:
    msg = str(err["msg"])
    if err["type"] in ("guider", "guider_argument", "guider_choice"):
        return msg
    value = err.get("input")
    return msg if isinstance(value, (dict, list)) else f"{msg} (got {value!r})"


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
        errors = ValidationError.from_exception_data("guider", _error_details(exc, info)).errors()
        raise GuiderSpecError([(_loc_text(e["loc"]), _user_message(e)) for e in errors]) from None
    return spec.build(resources)
