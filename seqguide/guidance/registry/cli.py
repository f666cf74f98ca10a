"""``seqguide guiders``: the guider registry from the command line, and the ``--guidance`` option syntax.

    seqguide guiders list                      every guider: name, hooks, paper, arguments
    seqguide guiders show NAME [NAME ...]      one guider's arguments with types, defaults and docs, as YAML
    seqguide guiders show --all --markdown     the campaign YAML reference for guidance (docs/guiders.md)

``--guidance`` (``seqguide sample``) takes ``NAME`` or ``NAME:key=value,key=value`` (values are YAML scalars,
e.g. ``svdd:particles=8,alpha=0.5``) or an inline YAML mapping (``'{method: smc, lam: 10}'``); repeat it to
stack guiders. ``NAME`` is a short name or a class path: ``pkg.mod.Class`` or ``pkg.mod:Class``. The rule that
tells a class path's ``:Class`` from arguments: a NAME with a ``.`` is a class path, and the ``:``-part after it
that has no ``=`` is its class (``pkg.mod:Class:key=value`` or ``pkg.mod.Class:key=value``); short names have no
``.``, so ``svdd:particles=8`` is unchanged. Everything is validated by the registry against the guiders' own
constructors.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import yaml

from seqguide.guidance.registry.docs import _class_path, _python_only, reference_markdown, yaml_example
from seqguide.guidance.registry.errors import GuiderSpecError
from seqguide.guidance.registry.specs import GuiderInfo
from seqguide.guidance.registry.table import guider_info, list_guiders

__all__ = ["guiders_main", "parse_guidance_option", "reference_markdown", "yaml_example"]


def parse_guidance_option(text: str) -> dict[str, Any]:
    """``"svdd:particles=8,alpha=0.5"``, ``"pkg.mod:Class:alpha=1"`` or ``"{method: svdd}"`` -> a guider mapping.

    A NAME with a ``.`` is a class path; the ``:``-part after it without ``=`` is its class (see the module docs).

    Raises:
        GuiderSpecError: for a malformed option (the guider's own arguments are checked later, by the registry).
    """
    text = text.strip()
    if text.startswith("{"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise GuiderSpecError([("", f"--guidance {text!r} is not a valid YAML mapping: {err}")]) from None
        if not isinstance(data, dict):
            raise GuiderSpecError([("", f"--guidance {text!r} must be a mapping such as '{{method: svdd}}'")])
        return data
    name, _, rest = text.partition(":")
    name = name.strip()
    if not name:
        raise GuiderSpecError([("", f"--guidance {text!r}: give a guider name, e.g. svdd:particles=8")])
    if "." in name and rest:  # a class path: the next ':'-part without '=' is the class, 'pkg.mod:Class:args'
        head, _, tail = rest.partition(":")
        if "=" not in head:
            if not head.strip():
                raise GuiderSpecError([("", f"--guidance {text!r}: give the class after ':', e.g. pkg.mod:Class")])
            name, rest = f"{name}:{head.strip()}", tail
    data: dict[str, Any] = {"method": name}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise GuiderSpecError([("", f"--guidance {text!r}: expected key=value after the name, got {item!r}")])
        try:
            data[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            raise GuiderSpecError([(key.strip(), f"cannot parse {value!r}")]) from None
    return data


def _arguments_line(info: GuiderInfo) -> str:
    parts = [f"{r}: {' | '.join(s) if s else '(Python only)'}" for r, s in info.all_resources.items()]
    for p in info.params:
        default = "" if p.required else f" = {p.default!r}"
        parts.append(f"{p.name}: {p.type_text()}{default}" + ("" if p.yaml else " (Python only)"))
    return ", ".join(parts) or "(none)"


def _list(out: Any) -> int:
    for name in list_guiders():
        try:
            info = guider_info(name)
        except GuiderSpecError as err:  # a broken plugin must not hide the others
            print(f"{name}\n    cannot load: {err}", file=out)
            continue
        origin = "" if info.origin == "built-in" else f"  [{info.origin}]"
        print(f"{name}  {_class_path(info)}{origin}", file=out)
        print(f"    {info.summary}", file=out)
        print(f"    paper: {info.paper or '-'}", file=out)
        print(f"    hooks: {', '.join(info.hooks) or '-'}", file=out)
        print(f"    arguments: {_arguments_line(info)}", file=out)
    return 0


def _show(names: Sequence[str], out: Any) -> int:
    for i, name in enumerate(names):
        info = guider_info(name)
        if i:
            print(file=out)
        print(f"{info.name}: {info.summary}", file=out)
        print(f"  class:  {_class_path(info)} ({info.origin})", file=out)
        print(f"  paper:  {info.paper or '-'}", file=out)
        print(f"  hooks:  {', '.join(info.hooks) or '-'}", file=out)
        python_only = _python_only(info)
        if python_only:
            print(f"  Python-only arguments: {', '.join(python_only)}", file=out)
        print("  YAML (campaign 'guidance:' entry, every default shown):", file=out)
        for line in yaml_example(info).splitlines():
            print(f"    {line}", file=out)
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seqguide guiders", description="List and describe the registered guiders.")
    sub = p.add_subparsers(dest="action", required=True)
    sub.add_parser("list", help="every guider with its hooks, paper and arguments")
    show = sub.add_parser("show", help="a guider's arguments with types, defaults and docs (as campaign YAML)")
    show.add_argument("names", nargs="*", metavar="NAME", help="guider names or class paths")
    show.add_argument("--all", action="store_true", help="every registered guider")
    show.add_argument("--markdown", action="store_true", help="the Markdown reference (docs/guiders.md)")
    return p


def guiders_main(argv: Sequence[str]) -> int:
    """Entry point of ``seqguide guiders`` (``argv`` without the word ``guiders``)."""
    args = _parser().parse_args(list(argv))
    try:
        if args.action == "list":
            return _list(sys.stdout)
        names = list_guiders() if args.all else args.names
        if not names:
            print("error: give a guider name (see 'seqguide guiders list') or --all", file=sys.stderr)
            return 2
        if args.markdown:
            sys.stdout.write(reference_markdown(names))
            return 0
        return _show(names, sys.stdout)
    except GuiderSpecError as err:
        print(f"error: {'; '.join(m for _, m in err.problems)}", file=sys.stderr)
        return 2
