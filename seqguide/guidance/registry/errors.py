"""Guider specification errors and how they read: :class:`GuiderSpecError`, and pydantic errors rewritten for users.

Every problem is a ``(key path, message)`` pair. Unknown keys name the guider, its keys and the nearest one; a
choice error adds the nearest accepted value; a constructor's own ``ValueError`` is placed at the argument its
message names.
"""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = ["GuiderSpecError", "raise_problems"]


class GuiderSpecError(ValueError):
    """A guider specification problem; ``problems`` holds ``(key path, message)`` pairs (the path is relative
    to the guider's mapping, e.g. ``particles``; ``""`` for the mapping as a whole)."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{p}: {m}" if p else m for p, m in self.problems))


def raise_problems(problems: Sequence[tuple[tuple[Any, ...], str]], data: Any) -> typing.NoReturn:
    """Raise a ``pydantic.ValidationError`` with one ``(location, message)`` error per problem."""
    raise ValidationError.from_exception_data(
        "guider", [{"type": PydanticCustomError("guider", msg), "loc": loc, "input": data} for loc, msg in problems])


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _named_argument(message: str, kwargs: Mapping[str, Any]) -> str:
    """The argument a constructor's error message starts with (``"particles must be >= 1"``), else ``""``."""
    m = re.match(r"\W*(\w+)", message)
    return m.group(1) if m and m.group(1) in kwargs else ""


def _error_details(exc: ValidationError, name: str, allowed: Sequence[str]) -> list[InitErrorDetails]:
    """Rewrite a spec model's errors for users: unknown keys name the guider (``name``), its keys (``allowed``) and
    the nearest one; a Literal error adds the nearest accepted value."""
    out: list[InitErrorDetails] = []
    allowed = list(allowed)
    for err in exc.errors():
        loc, kind = tuple(err["loc"]), err["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            msg = f"unknown argument of {name} ({hint}allowed: {', '.join(allowed)})"
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


def _loc_text(loc: Sequence[Any]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(loc))


def _user_message(err: Mapping[str, Any]) -> str:
    msg = str(err["msg"])
    if err["type"] in ("guider", "guider_argument", "guider_choice"):
        return msg
    value = err.get("input")
    return msg if isinstance(value, (dict, list)) else f"{msg} (got {value!r})"


def _spec_error(exc: ValidationError) -> GuiderSpecError:
    """A :class:`GuiderSpecError` with one ``(key path, message)`` per error of ``exc``."""
    return GuiderSpecError([(_loc_text(e["loc"]), _user_message(e)) for e in exc.errors()])


def _rewritten(exc: ValidationError, name: str, allowed: Sequence[str]) -> ValidationError:
    """``exc`` with its errors rewritten for users (see :func:`_error_details`)."""
    return ValidationError.from_exception_data("guider", _error_details(exc, name, allowed))
