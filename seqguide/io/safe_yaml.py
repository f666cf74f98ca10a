"""Read YAML that users write (campaigns, ``key=value`` overrides, training configs), refusing hostile input.

:func:`read_yaml` / :func:`parse_yaml` are ``yaml.SafeLoader`` (plain data, never Python objects) plus
these refusals, each a one-line :class:`ConfigError` that names the file:

* a file that is not UTF-8 text (binary content, a NUL byte, another encoding) or is larger than
  :data:`MAX_YAML_BYTES`;
* a key written twice in one mapping (both lines are named; ``<<`` merge keys may still be overridden);
* anchors and aliases that expand to more than :data:`MAX_YAML_NODES` nodes (a few-KB "billion laughs"
  file would otherwise take minutes and gigabytes downstream), an alias that contains itself, and nesting
  deeper than :data:`MAX_YAML_DEPTH`.

Example:
    >>> parse_yaml("a: 1\\nb: [x, y]")
    {'a': 1, 'b': ['x', 'y']}
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

__all__ = ["MAX_YAML_BYTES", "MAX_YAML_DEPTH", "MAX_YAML_NODES", "ConfigError", "parse_yaml", "read_yaml"]

#: Largest YAML file read (bytes); campaign and training configs are a few KB.
MAX_YAML_BYTES = 8 * 1024 * 1024
#: Most nodes a YAML document may expand to once its aliases are followed.
MAX_YAML_NODES = 200_000
#: Deepest nesting of mappings and lists accepted.
MAX_YAML_DEPTH = 64


class ConfigError(ValueError):
    """A campaign file problem; ``str()`` is one ``file: key.path: message`` line per problem.

    Attributes:
        file: The campaign file as given.
        problems: ``(key path, message)`` pairs; the path is ``""`` for the file as a whole.
    """

    def __init__(self, file: str | Path, problems: Sequence[tuple[str, str]]) -> None:
        self.file = str(file)
        self.problems = list(problems)
        super().__init__("\n".join(self._line(p, m) for p, m in self.problems))

    def _line(self, path: str, message: str) -> str:
        path, message = _one_line(path), _one_line(message)
        return f"{self.file}: {path}: {message}" if path else f"{self.file}: {message}"


class _YAMLRefusal(Exception):
    """A YAML document this project will not read (duplicate key, alias bomb, too deep)."""


class _Loader(yaml.SafeLoader):
    """``SafeLoader`` that refuses duplicate keys (naming both lines)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader reports it below
                continue
            line = key_node.start_mark.line + 1
            if first is not None:
                raise _YAMLRefusal(f"line {line}: duplicate key {key!r} (first given on line {first}); "
                                   "each key may appear once per mapping")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a node graph that expands beyond MAX_YAML_NODES / MAX_YAML_DEPTH or loops on itself."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def children(node: yaml.Node) -> list[yaml.Node]:
        if isinstance(node, yaml.MappingNode):
            return [n for pair in node.value for n in pair]
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        return []

    def size(node: yaml.Node, depth: int) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if depth > MAX_YAML_DEPTH:
            raise _YAMLRefusal(f"line {node.start_mark.line + 1}: nested deeper than {MAX_YAML_DEPTH} levels")
        if key in open_nodes:
            raise _YAMLRefusal(f"line {node.start_mark.line + 1}: an alias refers to a node that contains it "
                               "(recursive anchors are not allowed)")
        open_nodes.add(key)
        total = 1
        for child in children(node):
            total += size(child, depth + 1)
            if total > MAX_YAML_NODES:
                raise _YAMLRefusal(f"anchors and aliases expand to more than {MAX_YAML_NODES:,} nodes (near line "
                                   f"{node.start_mark.line + 1}); refusing what looks like an alias bomb")
        open_nodes.discard(key)
        sizes[key] = total
        return total

    size(root, 0)


def parse_yaml(text: str, shown: str = "<yaml>") -> Any:
    """Parse YAML text into plain data (``yaml.SafeLoader``) with the refusals of the module docstring.

    Args:
        text: The YAML document.
        shown: How to name the source in errors (a file name, ``"command line"``).

    Returns:
        The document (None for an empty one).

    Raises:
        ConfigError: one line: invalid YAML (with line and column), a duplicate key (both lines), aliases
            expanding too far, nesting too deep.
    """
    loader = None
    try:
        loader = _Loader(text)  # the reader refuses control characters already here
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node)
        return loader.construct_document(node)
    except _YAMLRefusal as err:
        raise ConfigError(shown, [("", f"invalid YAML: {err}")]) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        if isinstance(err, yaml.reader.ReaderError):
            where = f"character {err.position + 1}: "
        problem = getattr(err, "problem", None) or _first_line(err)
        raise ConfigError(shown, [("", f"invalid YAML: {where}{problem}")]) from None
    except RecursionError:
        raise ConfigError(shown, [("", f"invalid YAML: nested too deeply (more than {MAX_YAML_DEPTH} levels "
                                       "are refused)")]) from None
    finally:
        if loader is not None:
            loader.dispose()


def read_yaml(path: str | Path, shown: str | None = None, *, what: str = "YAML") -> Any:
    """Read a YAML file safely: UTF-8 text only, bounded size, then :func:`parse_yaml`.

    Args:
        path: The file.
        shown: How to name it in errors (default: the path as given).
        what: What the file is, for the not-found message (``"campaign"``, ``"training config"``).

    Raises:
        ConfigError: a missing or unreadable file, binary or non-UTF-8 content, an oversized file, or any
            refusal of :func:`parse_yaml`.
    """
    shown = str(path) if shown is None else shown
    path = Path(path)
    if not path.is_file():
        raise ConfigError(shown, [("", f"{what} file not found ({path.resolve()})")])
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise ConfigError(shown, [("", f"the file is {size:,} bytes; a {what} file is at most "
                                           f"{MAX_YAML_BYTES:,} bytes of YAML text")])
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(shown, [("", f"cannot read the file: {err.strerror or err}")]) from None
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise ConfigError(shown, [("", f"not a text file (a NUL byte at offset {nul}); expected YAML text")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(shown, [("", f"not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start}: "
                                       f"{err.reason}); save the file as UTF-8")]) from None
    return parse_yaml(text, shown)




def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _one_line(text: str) -> str:
    """Line breaks and other control characters (e.g. in a key the user wrote) shown escaped: one problem is one
    line, whatever counts as a line break (``str.splitlines`` also splits on U+001C..U+001E, U+0085, U+2028...)."""
    return "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii") for c in text)
