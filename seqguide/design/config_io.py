"""Read a campaign file: YAML, ``quick:`` overrides, command-line ``key=value`` overrides, interpolation,
validation, and error messages that name the file, the key path and what was expected.

The pipeline of :func:`load_campaign`::

    read_yaml(file)                       plain data, no Python objects (see below)
    -> pop the ``quick:`` section          applied only with quick=True
    -> OmegaConf: name default, quick, overrides, ``${...}`` interpolation
    -> pydantic (CampaignConfig)           typed and strict (unknown keys are errors)
    -> file checks                         checkpoint / data files must exist

Every problem raises :class:`ConfigError`, whose text is one line per problem::

    campaign.yaml: guidance[0].particles: Input should be greater than 0 (got -3)
    campaign.yaml: objective.oracles[0].name: unknown oracle 'foo' (available: amp, brenk, ...)
    campaign.yaml: model.chekpoint: unknown key (did you mean 'checkpoint'? allowed: checkpoint, train, ...)
    campaign.yaml: loop.rounds: Input should be greater than 0 (got 0) [from a command-line override]

Every YAML the project reads from a user goes through :func:`seqguide.io.safe_yaml.read_yaml` /
:func:`~seqguide.io.safe_yaml.parse_yaml` (campaigns, ``key=value`` overrides, training configs): refused with a
one-line :class:`ConfigError` are files that are not UTF-8 text, duplicate keys (both lines named), and
anchors/aliases that expand without bound (see :mod:`seqguide.io.safe_yaml`).

Numbers are finite wherever a number is meant: NaN and +-inf are refused for every float key of the schema
(pydantic ``allow_inf_nan=False``) and inside the free-form oracle ``args``, with the full key path.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from seqguide.design.schema import CampaignConfig
from seqguide.io.safe_yaml import ConfigError, parse_yaml, read_yaml

__all__ = [
    "ConfigError",
    "LoadedCampaign",
    "format_path",
    "load_campaign",
    "parse_overrides",
    "parse_yaml",
    "read_yaml",
]


@dataclass
class LoadedCampaign:
    """A validated campaign and where it came from.

    Attributes:
        config: The validated configuration.
        source: The campaign file.
        quick: Whether the ``quick:`` overrides were applied.
        overrides: The command-line overrides applied (``key=value``).
        raw: The resolved plain-data config (after quick, overrides and interpolation).
    """

    config: CampaignConfig
    source: Path
    quick: bool = False
    overrides: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------- reading
def _read_yaml(path: Path, shown: str) -> dict[str, Any]:
    data = read_yaml(path, shown, what="campaign")
    if data is None:
        raise ConfigError(shown, [("", "the file is empty; expected a mapping of campaign keys")])
    if not isinstance(data, dict):
        raise ConfigError(shown, [("", f"expected a mapping of campaign keys at the top level, got "
                                      f"{type(data).__name__}")])
    return data


def parse_overrides(items: Sequence[str], shown: str = "command line") -> list[tuple[str, Any]]:
    """Parse ``key=value`` overrides; values are YAML scalars/lists (``3``, ``0.5``, ``null``, ``[1, 2]``).

    Keys are dotted paths; list items are addressed by index (``guidance.0.particles=4`` or
    ``guidance[0].particles=4``).

    Raises:
        ConfigError: for an item without ``=``, an empty key or an unparsable value.
    """
    out: list[tuple[str, Any]] = []
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(shown, [("", f"override {item!r} must look like key=value "
                                          "(e.g. loop.rounds=2)")])
        try:
            value = parse_yaml(text, shown) if text.strip() else ""
        except ConfigError as err:
            why = err.problems[0][1].removeprefix("invalid YAML: ")
            raise ConfigError(shown, [(key, f"cannot parse the override value {text!r}: {why}")]) from None
        out.append((key, value))
    return out


def _display_key(key: str) -> str:
    """``guidance.0.particles`` / ``guidance[0].particles`` -> ``guidance[0].particles`` (error-path style)."""
    out = ""
    for part in key.split("."):
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


def _apply(cfg: Any, key: str, value: Any, shown: str, what: str, origins: dict[str, str] | None = None) -> None:
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        OmegaConf.update(cfg, key, value, merge=True, force_add=True)
    except (OmegaConfBaseException, ValueError, IndexError, KeyError, TypeError, AttributeError) as err:
        raise ConfigError(shown, [(key, f"cannot apply {what} {key}={value!r}: {_first_line(err)}")]) from None
    if origins is not None:
        origins[_display_key(key)] = what


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _merge_quick(cfg: Any, quick: Any, shown: str, origins: dict[str, str]) -> None:
    """Apply the ``quick:`` section: nested mappings merge; dotted keys address nested values."""
    if not isinstance(quick, Mapping):
        raise ConfigError(shown, [("quick", f"expected a mapping of overrides, got {type(quick).__name__}")])

    def walk(prefix: str, node: Mapping[str, Any]) -> None:
        for k, v in node.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, Mapping) and v:
                walk(key, v)
            else:
                _apply(cfg, key, v, shown, "quick: override", origins)

    walk("", quick)


def _resolve(data: dict[str, Any], *, name: str, quick: Mapping[str, Any] | None,
             overrides: list[tuple[str, Any]], shown: str, origins: dict[str, str]) -> dict[str, Any]:
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    data.setdefault("name", name)
    try:
        cfg = OmegaConf.create(data)
    except (OmegaConfBaseException, ValueError, TypeError, KeyError) as err:  # e.g. a non-string key, a date
        raise ConfigError(shown, [("", f"cannot read the configuration: {_first_line(err)}")]) from None
    if quick is not None:
        _merge_quick(cfg, quick, shown, origins)
    for key, value in overrides:
        _apply(cfg, key, value, shown, "command-line override", origins)
    try:
        resolved = OmegaConf.to_container(cfg, resolve=True)
    except (OmegaConfBaseException, ValueError, TypeError, KeyError) as err:
        key = getattr(err, "full_key", None) or ""
        raise ConfigError(shown, [(str(key), f"cannot resolve interpolation: {_first_line(err)}")]) from None
    assert isinstance(resolved, dict)
    return resolved


# ---------------------------------------------------------------------------------- error formatting
def _strip(tp: Any) -> Any:
    """Drop Annotated and Optional wrappers; a remaining union comes back as a tuple of members."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _strip(typing.get_args(tp)[0])
    if origin is typing.Union or origin is types.UnionType:
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(members) == 1:
            return _strip(members[0])
        return tuple(_strip(a) for a in members)
    return tp


def _models(tp: Any) -> list[type[BaseModel]]:
    members = tp if isinstance(tp, tuple) else (tp,)
    return [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]


def _tag_of(model: type[BaseModel], item: str) -> bool:
    """True if ``item`` is the discriminator value of ``model`` (a Literal-typed tag field)."""
    for f in model.model_fields.values():
        if typing.get_origin(f.annotation) is typing.Literal and typing.get_args(f.annotation) == (item,):
            return True
    return False


def _walk(loc: Sequence[Any], root: type[BaseModel] = CampaignConfig) -> tuple[list[str], Any]:
    """Turn a pydantic ``loc`` into user-facing path parts, dropping union tags; also return the type
    reached (for the list of allowed keys)."""
    parts: list[str] = []
    tp: Any = root
    for item in loc:
        tp = _strip(tp)
        if isinstance(item, int):
            parts.append(f"[{item}]")
            args = typing.get_args(tp) if typing.get_origin(tp) in (list, tuple) else ()
            tp = args[0] if args else Any
            continue
        models = _models(tp)
        chosen = next((m for m in models if _tag_of(m, item)), None)
        if chosen is not None and len(models) > 1:  # a discriminated-union tag: not a key the user wrote
            tp = chosen
            continue
        owner = next((m for m in models if item in m.model_fields), None)
        if owner is not None:
            parts.append(f".{item}" if parts else item)
            tp = owner.model_fields[item].annotation
            continue
        if isinstance(tp, tuple) and not models:  # pydantic names the union member it tried: skip it
            continue
        parts.append(f".{item}" if parts else item)
        tp = Any
    return parts, _strip(tp)


def format_path(loc: Sequence[Any]) -> str:
    """``('guidance', 0, 'svdd', 'particles')`` -> ``guidance[0].particles``."""
    return "".join(_walk(loc)[0])


def _got(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _nested_home(parent: Any, key: str) -> str | None:
    """``"loop.rounds"`` when ``key`` is not a key of ``parent`` but of one of its sections."""
    for m in _models(parent):
        for name, f in m.model_fields.items():
            if any(key in sub.model_fields for sub in _models(_strip(f.annotation))):
                return f"{name}.{key}"
    return None


def _message(err: Mapping[str, Any]) -> tuple[str, str]:
    kind = err["type"]
    loc = list(err["loc"])
    if kind == "extra_forbidden":
        _, parent = _walk(loc[:-1])
        allowed: list[str] = []
        for m in _models(parent):
            allowed += [k for k in m.model_fields if k not in allowed]
        if parent is CampaignConfig:
            allowed.append("quick")
        key = str(loc[-1])
        nested = _nested_home(parent, key)
        if nested and loc[:-1]:
            nested = f"{format_path(loc[:-1])}.{nested}"
        close = [nested] if nested else difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return format_path(loc), f"unknown key ({hint}allowed: {', '.join(allowed)})"
    path = format_path(loc)
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return path, "required key is missing"
    if kind == "union_tag_not_found":
        disc = str(ctx.get("discriminator", "")).strip("'")
        return (f"{path}.{disc}" if path else disc), "required key is missing"
    if kind == "union_tag_invalid":
        disc = str(ctx.get("discriminator", "")).strip("'")
        return (f"{path}.{disc}" if path else disc), (f"unknown {disc} {ctx.get('tag')!r} "
                                                        f"(expected one of: {ctx.get('expected_tags')})")
    msg = str(err["msg"])
    if kind == "non_finite":  # raised inside a free-form mapping: the context names the key below ``path``
        return path + str(ctx.get("subpath", "")), msg
    if kind.startswith("guider"):  # the guider registry's messages are complete (they name what was given)
        return path, msg
    if kind in ("value_error", "assertion_error"):
        return path, msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    value = err.get("input")
    if isinstance(value, (dict, list)):
        return path, msg
    if kind == "literal_error" and isinstance(value, str):
        expected = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        close = difflib.get_close_matches(value, expected, n=1, cutoff=0.5)
        if close:
            return path, f"{msg} (got {_got(value)}; did you mean {close[0]!r}?)"
    return path, f"{msg} (got {_got(value)})"


def _origin(path: str, origins: Mapping[str, str]) -> str:
    """`` [from a command-line override]`` when ``path`` (or a parent of it) was set by one."""
    for key, what in origins.items():
        if path == key or path.startswith((key + ".", key + "[")):
            return f" [from a {what}]"
    return ""


def _format_validation(exc: ValidationError, shown: str, origins: Mapping[str, str]) -> ConfigError:
    merged: dict[str, list[str]] = {}
    for err in exc.errors():
        path, msg = _message(err)
        if msg not in merged.setdefault(path, []):
            merged[path].append(msg)
    return ConfigError(shown, [(p, "; or ".join(msgs) + _origin(p, origins)) for p, msgs in merged.items()])


# ------------------------------------------------------------------------------------------- file checks
def _check_files(config: CampaignConfig, shown: str) -> None:
    problems: list[tuple[str, str]] = []
    if config.model.checkpoint is not None and not Path(config.model.checkpoint).is_file():
        problems.append(("model.checkpoint", f"file not found: {config.model.checkpoint}"))
    train = config.model.train
    if train is not None and train.data.path is not None and not Path(train.data.path).is_file():
        problems.append(("model.train.data.path", f"file not found: {train.data.path}"))
    if problems:
        raise ConfigError(shown, problems)


# ----------------------------------------------------------------------------------------------- public
def load_campaign(path: str | Path, overrides: Sequence[str] = (), *, quick: bool = False,
                  check_files: bool = True) -> LoadedCampaign:
    """Read, override, interpolate and validate a campaign file.

    Args:
        path: The YAML file.
        overrides: ``key=value`` strings applied after the file (and after ``quick:`` when ``quick``).
        quick: Apply the file's ``quick:`` section (fewer training steps, rounds, candidates).
        check_files: Check that the checkpoint / data files exist.

    Returns:
        The validated :class:`LoadedCampaign`.

    Raises:
        ConfigError: naming the file, the key path and what was expected, one line per problem.
    """
    shown = str(path)
    source = Path(path)
    data = _read_yaml(source, shown)
    quick_section = data.pop("quick", None)
    if quick and quick_section is None:
        raise ConfigError(shown, [("quick", "--quick was given but the file has no quick: section")])
    if quick_section is not None and not isinstance(quick_section, Mapping):
        raise ConfigError(shown, [("quick", f"expected a mapping of overrides, got "
                                           f"{type(quick_section).__name__}")])
    parsed = parse_overrides(overrides, shown)
    origins: dict[str, str] = {}
    raw = _resolve(data, name=source.stem, quick=quick_section if quick else None, overrides=parsed, shown=shown,
                   origins=origins)
    try:
        config = CampaignConfig.model_validate(raw)
    except ValidationError as exc:
        raise _format_validation(exc, shown, origins) from None
    if check_files:
        _check_files(config, shown)
    return LoadedCampaign(config, source, quick, list(overrides), raw)
