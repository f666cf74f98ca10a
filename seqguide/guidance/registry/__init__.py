"""The guider registry: every guidance method constructible by a short name or a class path.

One table maps short names (``svdd``, ``smc``, ...) to guider classes; third-party packages add theirs through
the ``seqguide.guiders`` entry-point group, and any ``Guider`` subclass can be named by its class path
(``my_pkg.guiders:MyGuider`` or ``my_pkg.guiders.MyGuider``). A guider's arguments are validated against its
constructor's own signature and type hints, then by the constructor itself.

What belongs here: how guiders are named, validated, documented and listed; no guider lives here (each family's
subpackage holds its guiders, and the table in :mod:`.table` names the built-in ones).

What lives where (each module imports only the ones above it):

- :mod:`.errors`: :class:`GuiderSpecError` (``(key path, message)`` problems) and pydantic errors rewritten for
  users (the guider's keys and the nearest one, the nearest accepted value).
- :mod:`.specs`: :class:`GuiderInfo`, :class:`Param`, :class:`GuiderSpec`: a guider class's resources and
  hyperparameters read from its constructor, and the pydantic model derived from them.
- :mod:`.table`: the table of names (built-ins, :func:`register_guider`, entry points, class paths),
  :func:`guider_info`, :func:`list_guiders` (with the nearest name for an unknown one), :func:`refresh`.
- :mod:`.validation`: :func:`guider_spec`, :func:`validate_mapping`, :func:`validate_stack`, :func:`build_guider`.
- :mod:`.docs`: a guider as a commented campaign YAML entry, and the Markdown reference (``docs/guiders.md``).
- :mod:`.cli`: the ``seqguide guiders`` command (``list``, ``show``) and the ``--guidance NAME:key=value`` syntax.

Example:
    >>> from seqguide.guidance.registry import build_guider, guider_spec, list_guiders
    >>> "svdd" in list_guiders()
    True
    >>> guider = build_guider("smc", value=my_oracle, particles=8, lam=10.0)       # doctest: +SKIP
"""

from __future__ import annotations

from seqguide.guidance.registry.errors import GuiderSpecError, raise_problems
from seqguide.guidance.registry.specs import GuiderInfo, GuiderSpec, Param
from seqguide.guidance.registry.table import (
    ENTRY_POINT_GROUP,
    guider_info,
    list_guiders,
    refresh,
    register_guider,
)
from seqguide.guidance.registry.table import (
    _registered as _registered,  # the names register_guider() added (tests remove theirs)
)
from seqguide.guidance.registry.validation import build_guider, guider_spec, validate_mapping, validate_stack

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
