"""Hostile campaign configs, generated: random key paths and types, NaN/inf, aliases, duplicate keys, bytes.

Every input either validates or is refused with a :class:`ConfigError` whose lines all name the file (one per
problem); the refusals of the issue (a non-finite number, a duplicate key, an alias bomb, a non-UTF-8 or binary
file) are one line, and ``seqguide design validate`` answers with an exit status, never a traceback.
"""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_helpers import call_cli, one_or_two_lines

from seqguide.design.cli import design_main
from seqguide.design.config_io import ConfigError, format_path, load_campaign, parse_overrides
from seqguide.io.safe_yaml import MAX_YAML_NODES, parse_yaml, read_yaml

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))

BASE: dict[str, Any] = {
    "name": "fuzz",
    "seed": 1,
    "model": {"checkpoint": "model.ckpt", "length": 8},
    "objective": {
        "oracles": [{"name": "gc", "weight": 1.0}, {"name": "tm", "weight": 0.0, "label": "tm_seen"}],
        "constraints": [{"name": "gc", "lower": 0.2, "upper": 0.8, "label": "gc_window"}],
        "combine": "sum",
    },
    "guidance": [],
    "sampling": {"steps": 8},
    "loop": {"rounds": 2, "candidates": 4, "budget": 10, "score_batch": 2},
    "surrogate": {"lr": 0.003, "invalid_value": 0.0, "epochs": 2},
    "value_model": {"lr": 0.001, "val_fraction": 0.1},
}

#: Keys where a finite number is meant (floats), with their display path.
FINITE_KEYS = [
    ("objective.oracles.0.weight", "objective.oracles[0].weight"),
    ("objective.oracles.1.weight", "objective.oracles[1].weight"),
    ("objective.constraints.0.lower", "objective.constraints[0].lower"),
    ("objective.constraints.0.upper", "objective.constraints[0].upper"),
    ("surrogate.lr", "surrogate.lr"),
    ("surrogate.invalid_value", "surrogate.invalid_value"),
    ("value_model.lr", "value_model.lr"),
    ("value_model.val_fraction", "value_model.val_fraction"),
    ("objective.oracles.0.args.threshold", "objective.oracles[0].args.threshold"),
    ("objective.constraints.0.args.window", "objective.constraints[0].args.window"),
]


def _paths(data: Any, prefix: str = "") -> list[str]:
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, f"{prefix}.{i}")
    return out


ALL_PATHS = _paths(BASE)


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node: Any = data
    for p in parts[:-1]:
        key: Any = int(p) if isinstance(node, list) else p
        if isinstance(node, dict) and key not in node:
            node[key] = {}
        node = node[key]
    last: Any = int(parts[-1]) if isinstance(node, list) else parts[-1]
    node[last] = value


@pytest.fixture
def campaign_dir(tmp_path: Path) -> Path:
    (tmp_path / "model.ckpt").write_bytes(b"not checked here")
    return tmp_path


def _write(folder: Path, data: dict[str, Any]) -> Path:
    path = folder / "c.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.slow
@given(key=st.sampled_from(FINITE_KEYS), value=st.sampled_from([math.nan, math.inf, -math.inf]),
       how=st.sampled_from(["yaml", "override"]))
@SETTINGS
def test_non_finite_numbers_are_refused_with_their_key_path(tmp_path_factory, tally, key, value, how):
    folder = tmp_path_factory.mktemp("finite")
    data = copy.deepcopy(BASE)
    dotted, shown = key
    overrides: list[str] = []
    if how == "yaml":
        _set(data, dotted, value)
    else:
        if ".args." in dotted:  # a free-form argument: its YAML text is parsed by the override parser
            overrides = [f"{dotted}={'.nan' if math.isnan(value) else ('.inf' if value > 0 else '-.inf')}"]
        else:
            overrides = [f"{dotted}={value}"]  # 'nan', 'inf', '-inf': YAML strings, coerced by pydantic
    path = _write(folder, data)
    tally.inputs("campaign YAML: NaN/inf at a number key (hypothesis)")
    with pytest.raises(ConfigError) as caught:
        load_campaign(path, overrides, check_files=False)
    assert one_or_two_lines(str(caught.value)), str(caught.value)
    assert f"{path}: {shown}: Input should be a finite number" in str(caught.value), str(caught.value)


scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=12))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=6)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.slow
@given(path=st.one_of(st.sampled_from(ALL_PATHS), st.builds(lambda p, k: f"{p}.{k}", st.sampled_from(ALL_PATHS),
                                                           st.text("abcxyz_", min_size=1, max_size=5))),
       value=values)
def test_any_value_at_any_key_path_validates_or_is_refused_in_lines_naming_the_file(tmp_path_factory, tally, path,
                                                                                     value):
    folder = tmp_path_factory.mktemp("paths")
    (folder / "model.ckpt").write_bytes(b"x")
    data = copy.deepcopy(BASE)
    try:
        _set(data, path, value)
    except (TypeError, KeyError, IndexError, ValueError):  # the path runs through a scalar: replace the parent
        _set(data, path.rsplit(".", 1)[0], value)
    file = _write(folder, data)
    tally.inputs("campaign YAML: random value at a random key path (hypothesis)")
    code, _, err = call_cli(design_main, ["validate", str(file)])  # load, validate, build the objective
    assert code in (0, 2) and "Traceback" not in err, err
    if code == 2:
        lines = err.removeprefix("error: ").splitlines()
        assert lines and all(line.startswith(f"{file}:") for line in lines), err


@given(keys=st.lists(st.sampled_from(["seed", "name", "loop", "description", "quick", "store"]), min_size=1,
                     max_size=5, unique=True), dup=st.data())
@SETTINGS
def test_duplicate_keys_are_refused_naming_both_lines(tmp_path_factory, tally, keys, dup):
    folder = tmp_path_factory.mktemp("dup")
    lines = [f"{k}: 1" for k in keys]
    first = dup.draw(st.integers(0, len(lines) - 1))
    at = dup.draw(st.integers(first + 1, len(lines)))
    lines.insert(at, f"{keys[first]}: 2")
    path = folder / "dup.yaml"
    path.write_text("\n".join(lines) + "\n")
    tally.inputs("YAML: duplicate keys (hypothesis)")
    with pytest.raises(ConfigError) as caught:
        load_campaign(path, check_files=False)
    msg = str(caught.value)
    assert one_or_two_lines(msg)
    assert f"line {at + 1}: duplicate key '{keys[first]}' (first given on line {first + 1})" in msg, msg


def test_a_nested_duplicate_and_a_merge_key(tmp_path, tally):
    path = tmp_path / "nested.yaml"
    path.write_text("loop:\n  rounds: 2\n  candidates: 4\n  rounds: 3\n")
    with pytest.raises(ConfigError, match=r"line 4: duplicate key 'rounds' \(first given on line 2\)"):
        read_yaml(path)
    # A merge key may be overridden: that is what merges are for.
    assert parse_yaml("base: &b {x: 1, y: 2}\nthing:\n  <<: *b\n  x: 3\n")["thing"] == {"x": 3, "y": 2}
    tally.inputs("YAML: duplicate keys (hypothesis)", 2)


@given(width=st.integers(2, 12), depth=st.integers(1, 12))
@SETTINGS
def test_alias_expansion_is_bounded(tally, width, depth):
    lines = ["a0: &a0 [" + ", ".join(["x"] * width) + "]"]
    for d in range(1, depth + 1):
        lines.append(f"a{d}: &a{d} [" + ", ".join([f"*a{d - 1}"] * width) + "]")
    text = "\n".join(lines) + "\n"
    expanded = sum(width ** (d + 1) for d in range(depth + 1))  # leaves + lists, roughly
    start = time.perf_counter()
    tally.inputs("YAML: anchors and aliases (hypothesis)")
    try:
        parse_yaml(text, "bomb.yaml")
    except ConfigError as err:
        assert one_or_two_lines(str(err)) and "alias bomb" in str(err), str(err)
        assert expanded > MAX_YAML_NODES // 2
    else:
        assert expanded <= 4 * MAX_YAML_NODES
    assert time.perf_counter() - start < 5.0  # a few KB never takes minutes


@pytest.mark.slow
def test_a_recursive_alias_and_deep_nesting_are_refused(tally):
    for text, why in [("&a [*a]\n", "contains it"), ("a: " + "[" * 3000 + "]" * 3000, "nested"),
                      ("a: " + "{b: " * 100 + "1" + "}" * 100, "nested")]:
        with pytest.raises(ConfigError, match=why) as caught:
            parse_yaml(text, "x.yaml")
        assert one_or_two_lines(str(caught.value))
        tally.inputs("YAML: anchors and aliases (hypothesis)")


@given(data=st.binary(min_size=1, max_size=400))
@SETTINGS
def test_random_bytes_are_refused_in_one_line(tmp_path_factory, tally, data):
    path = tmp_path_factory.mktemp("bytes") / "c.yaml"
    path.write_bytes(data)
    tally.inputs("YAML: random bytes (hypothesis)")
    with pytest.raises(ConfigError) as caught:
        load_campaign(path, check_files=False)
    assert all(line.startswith(f"{path}:") for line in str(caught.value).splitlines())


@pytest.mark.slow
@given(text=st.text(alphabet=st.characters(min_codepoint=0xA0, max_codepoint=0x2FF), min_size=1, max_size=20),
       encoding=st.sampled_from(["utf-16", "utf-16-le", "latin-1", "cp1252", "utf-32"]))
@SETTINGS
def test_other_encodings_are_refused_as_not_utf8(tmp_path_factory, tally, text, encoding):
    raw = f"name: {text}\n".encode(encoding, errors="ignore")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return  # this draw happens to be UTF-8 too
    path = tmp_path_factory.mktemp("enc") / "c.yaml"
    path.write_bytes(raw)
    tally.inputs("YAML: non-UTF-8 encodings (hypothesis)")
    with pytest.raises(ConfigError) as caught:
        load_campaign(path, check_files=False)
    msg = str(caught.value)
    assert one_or_two_lines(msg) and ("not UTF-8 text" in msg or "not a text file" in msg), msg
    code, _, err = call_cli(design_main, ["validate", str(path)])
    assert code == 2 and one_or_two_lines(err) and err.startswith("error: "), err


@pytest.mark.slow
@given(items=st.lists(st.text(max_size=30), max_size=4))
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_random_command_line_overrides(campaign_dir, tally, items):
    path = _write(campaign_dir, copy.deepcopy(BASE))
    tally.inputs("campaign overrides key=value (hypothesis)")
    try:
        parse_overrides(items, "command line")
        load_campaign(path, items, check_files=False)
    except ConfigError as err:
        assert "Traceback" not in str(err) and len(str(err).splitlines()) == len(err.problems), str(err)
        assert all(line.startswith(("command line:", f"{path}:")) for line in str(err).splitlines()), str(err)


def test_the_refused_alias_bomb_of_a_few_kb_through_the_cli(tmp_path, tally):
    text = "a: &a [" + ",".join(["lol"] * 10) + "]\n" + "".join(
        f"{c}: &{c} [" + ",".join([f"*{chr(ord(c) - 1)}"] * 10) + "]\n" for c in "bcdefghi")
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    assert path.stat().st_size < 2000
    start = time.perf_counter()
    code, _, err = call_cli(design_main, ["validate", str(path)])
    assert code == 2 and one_or_two_lines(err) and "alias bomb" in err and time.perf_counter() - start < 5
    tally.inputs("YAML: anchors and aliases (hypothesis)")


def test_format_path_is_the_display_path():
    assert format_path(("objective", "oracles", 0, "weight")) == "objective.oracles[0].weight"


@pytest.mark.parametrize("method", [".svdd:SVDD", "..svdd:SVDD", "../../x", ".svdd", "pkg.mod:", "a-b.c:D"])
def test_a_relative_or_malformed_guider_class_path_is_one_line(campaign_dir, tally, method):
    """``method: .svdd:SVDD`` in a campaign and ``seqguide guiders show ../../x``: one line, exit 2 (importlib
    would raise TypeError for a relative name)."""
    from seqguide.guidance.registry.cli import guiders_main

    data = copy.deepcopy(BASE)
    data["guidance"] = [{"method": method}]
    code, _, err = call_cli(design_main, ["validate", str(_write(campaign_dir, data))])
    assert code == 2 and one_or_two_lines(err), err
    assert "guidance[0].method" in err and repr(method) in err and "TypeError" not in err, err
    code, _, err = call_cli(guiders_main, ["show", method])
    assert code == 2 and one_or_two_lines(err) and repr(method) in err and "TypeError" not in err, err
    tally.inputs("guider class paths: relative and malformed", 2)
