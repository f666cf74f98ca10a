"""The guiders described for readers: a guider as a commented campaign YAML entry, and the Markdown reference.

:func:`reference_markdown` is what ``seqguide guiders show --all --markdown`` writes into ``docs/guiders.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

import yaml

from seqguide.guidance.registry.specs import GuiderInfo
from seqguide.guidance.registry.table import guider_info, list_guiders

__all__ = ["reference_markdown", "yaml_example"]

_REGENERATE = "seqguide guiders show --all --markdown > docs/guiders.md"


def _class_path(info: GuiderInfo) -> str:
    return f"{info.cls.__module__}:{info.cls.__qualname__}"


def _python_only(info: GuiderInfo) -> list[str]:
    """The arguments only Python callers can set: resources with no YAML source, parameters with no schema."""
    return info.python_resources + [p.name for p in info.params if not p.yaml]


def yaml_example(info: GuiderInfo) -> str:
    """The guider as a campaign ``guidance`` entry with every default, one commented line per key."""
    rows: list[tuple[str, str]] = [(f"- method: {info.name}", info.summary)]
    docs = info.resource_docs
    for r, sources in info.resources.items():
        rows.append((f"  {r}: {sources[0]}", f"one of {', '.join(sources)}. {docs.get(r, '')}".strip()))
    for p in info.params:
        if not p.yaml:
            continue
        value = "<required>" if p.required else yaml.safe_dump(p.default, default_flow_style=True).strip()
        value = value.removesuffix("\n...").strip()
        rows.append((f"  {p.name}: {value}", f"{p.type_text()}. {p.doc}".strip()))
    width = max(len(a) for a, _ in rows) + 2
    return "\n".join(f"{a:<{width}}# {b}" if b else a for a, b in rows)


def reference_markdown(names: Sequence[str] | None = None) -> str:
    """The campaign YAML reference for guidance, generated from the registry (``docs/guiders.md``)."""
    names = list(names or list_guiders())
    lines = [
        "# Guidance reference",
        "",
        f"Generated from the guider registry by `{_REGENERATE}`; do not edit by hand.",
        "",
        "Each campaign `guidance:` entry names a guider by `method:` (a name below, or a class path such as",
        "`my_package.guiders:MyGuider`; other packages register theirs through the `seqguide.guiders` entry-point",
        "group). Its other keys are the guider constructor's arguments, validated against the constructor's own",
        "signature and type hints; a resource argument (`value: ...`) names the source a campaign resolves it from:",
        "`oracle` (the objective on the model's look-ahead), `surrogate` (an ensemble refitted on every label so far",
        "each round) or `value_model` (the SVDD-MC learned value model).",
        "",
        "On the command line, `seqguide sample --guidance` takes `NAME`, `NAME:key=value,key=value` or an inline",
        "mapping `'{method: NAME, key: value}'`. A `NAME` with a `.` is a class path, `pkg.mod.Class` or",
        "`pkg.mod:Class`; the `:`-part after it that has no `=` is the class, so arguments follow a second `:`",
        "(`pkg.mod:Class:key=value`). Short names have no `.`, so `svdd:particles=8` keeps its meaning.",
        "",
        "| name | hooks | paper |",
        "| --- | --- | --- |",
    ]
    infos = [guider_info(n) for n in names]
    lines += [f"| [`{i.name}`](#{i.name}) | {', '.join(i.hooks)} | {i.paper} |" for i in infos]
    for info in infos:
        lines += ["", f"## {info.name}", "", f"{info.summary}", "",
                  f"`{_class_path(info)}`; paper: {info.paper or '-'}; hooks: {', '.join(info.hooks) or '-'}.", "",
                  "```yaml", "guidance:", *("  " + line for line in yaml_example(info).splitlines()), "```"]
        python_only = _python_only(info)
        if python_only:
            lines += ["", f"Python-only arguments (not settable from YAML): {', '.join(python_only)}."]
    return "\n".join(lines) + "\n"
