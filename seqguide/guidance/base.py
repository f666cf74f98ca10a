"""The Guider base class: the hooks of the one sampling loop (docs/architecture.md, "The guider core").

The loop (``seqguide.sampling.sample``) calls, at every step from time t to s < t::

    branches = union of guider.conditions(t)            # which model branches to evaluate
    preds    = model.predict(state, t, branches)        # one batched forward
    preds    = guider.combine(preds, t)                 # CFG family; "cond" is the prediction used
    pred     = guider.adjust(state, preds["cond"], t)   # gradient-style guidance
    cands    = guider.propose(model, state, pred, t, s) # M candidate next states
    state    = guider.select(cands, t)                  # value-based selection / resampling
    state    = guider.remask(state, pred, t)            # APS anchored remasking

and once at the end ``guider.finalize(state)``. When a guider reorders rows (resampling) every guider's
``reorder(index)`` is called, so per-row state stays aligned. Every hook defaults to the identity, so a guider
implements only the hooks it needs, and several guiders compose in list order. At most one guider
of a stack may implement ``propose`` and at most one ``select``.

Per-run state lives in private attributes set by :meth:`Guider.reset`, which the loop calls before
step 0 of every run (and every batch chunk): nothing survives between ``sample()`` calls.

Besides those hooks a guider may declare ``expansion`` (particles per requested sample:
the loop runs ``n * expansion`` rows, e.g. SMC's k particles or best-of-N's N draws) and implement
``finalize`` to reduce them back to one output per request (or return them all with weights).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch

if TYPE_CHECKING:
    from seqguide.sampling.guider_context import GuiderContext

__all__ = ["HOOKS", "Candidates", "Final", "Guider", "stack_problems"]

#: The loop's hooks, in the order it calls them (``reset`` before step 0, ``reorder`` whenever a guider reorders
#: rows, ``finalize`` after the last step).
HOOKS = ("reset", "conditions", "combine", "adjust", "propose", "select", "remask", "reorder", "finalize")


@dataclass
class Candidates:
    """Proposed next states.

    Attributes:
        states: ``(B, M, ...)`` M candidates for each of the B current rows.
        parent: ``(B, ...)`` the state they were proposed from.
        pred: the prediction the proposals used (``(B, L, V)`` logits for discrete models).
        t: current time.
        s: next time (s < t).
    """

    states: torch.Tensor
    parent: torch.Tensor
    pred: Any
    t: float
    s: float

    @property
    def num(self) -> int:
        return int(self.states.shape[1])


@dataclass
class Final:
    """What ``finalize`` returns.

    Attributes:
        state: ``(R, ...)`` the output rows (R = n requested, or ``n * expansion`` when all are kept).
        scores: ``(R,)`` reward of each output row if the guider computed it, else None.
        weights: ``(R,)`` normalised importance weights within each request's group, if any.
        group: ``(R,)`` which request each row answers (int64), if rows were kept per group.
    """

    state: torch.Tensor
    scores: torch.Tensor | None = None
    weights: torch.Tensor | None = None
    group: torch.Tensor | None = None


class Guider:
    """Base class of all guidance methods; every hook is the identity.

    Args:
        start: Fraction of the run (by step index) at which the guider becomes active.
        stop: Fraction at which it stops being active (exclusive; ``stop=1`` includes the last step).
    """

    #: Branches of the model this guider needs evaluated (``("cond",)`` or ``("cond", "uncond")``).
    branches: tuple[str, ...] = ("cond",)
    #: Rows the loop runs per requested sample (particles); reduced again by :meth:`finalize`.
    expansion: int = 1
    #: Constructor parameters that take objects rather than YAML values, with the sources a campaign or the CLI
    #: may resolve them from (the first is the default), e.g. ``{"value": ("oracle", "surrogate", "value_model")}``.
    resources: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: The paper (and equation or algorithm) the method follows, e.g. ``"Li et al. 2024, arXiv 2408.08252"``.
    paper: ClassVar[str] = ""

    def __init__(self, *, start: float = 0.0, stop: float = 1.0) -> None:
        if not 0.0 <= start < 1.0:
            raise ValueError(f"start must be in [0, 1), got {start}")
        if not start < stop <= 1.0:
            raise ValueError(f"stop must be in (start, 1], got stop={stop} with start={start}")
        self.start, self.stop = start, stop
        self._ctx: GuiderContext | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def reset(self, ctx: GuiderContext) -> None:
        """Clear per-run state before step 0. Subclasses call ``super().reset(ctx)`` first."""
        self._ctx = ctx

    @property
    def ctx(self) -> GuiderContext:
        if self._ctx is None:
            raise RuntimeError(f"{type(self).__name__} is used outside a sample() run (reset() not called)")
        return self._ctx

    def is_active(self) -> bool:
        """Whether the current step lies in ``[start, stop)`` of the run (step-index fractions)."""
        ctx = self.ctx
        i, n = ctx.step_index, ctx.num_steps
        lo = int(self.start * n)
        hi = n if self.stop >= 1.0 else max(int(self.stop * n), lo + 1)
        return lo <= i < hi

    # -- hooks -------------------------------------------------------------------------
    def conditions(self, t: float) -> tuple[str, ...]:
        """Model branches needed at time t."""
        return self.branches

    def combine(self, preds: Mapping[str, Any], t: float) -> Mapping[str, Any]:
        """Combine branch predictions; the result's ``"cond"`` entry is what the step uses."""
        return preds

    def adjust(self, state: torch.Tensor, pred: Any, t: float) -> Any:
        """Modify the prediction (gradient-style guidance)."""
        return pred

    def propose(self, model: Any, state: torch.Tensor, pred: Any, t: float, s: float) -> Candidates | None:
        """Propose candidate next states; None means "use the default single model step"."""
        return None

    def select(self, cands: Candidates, t: float) -> torch.Tensor | None:
        """Pick the next state ``(B, ...)`` from the candidates; None means "no opinion"."""
        return None

    def remask(self, state: torch.Tensor, pred: Any, t: float) -> torch.Tensor:
        """Re-mask tokens after selection (APS)."""
        return state

    def finalize(self, state: torch.Tensor) -> Final:
        """Reduce the ``n * expansion`` rows to the output."""
        return Final(state)

    def reorder(self, index: torch.Tensor) -> None:
        """Rows were reordered (SMC resampling, beam selection): new row i is old row ``index[i]``.
        Guiders that keep per-row state (momentum buffers, integrals) reorder it here."""

    def trace(self) -> dict[str, Any]:
        """Per-run diagnostics merged into ``Samples.trace`` (e.g. resampling counts)."""
        return {}

    # -- helpers -----------------------------------------------------------------------
    def implements(self, hook: str) -> bool:
        """True if this guider overrides ``hook`` of the base class."""
        return getattr(type(self), hook) is not getattr(Guider, hook)

    def __repr__(self) -> str:
        window = "" if (self.start, self.stop) == (0.0, 1.0) else f", start={self.start}, stop={self.stop}"
        return f"{type(self).__name__}({window.lstrip(', ')})"


def stack_problems(guiders: Sequence[Guider], label: Callable[[Guider], str] | None = None) -> list[str]:
    """Why a list of guiders cannot run as one stack (empty when it can).

    At most one guider may implement ``propose`` and at most one ``select`` (each decides the next state), and at
    most one may run several particles per sample (``expansion``).

    Args:
        guiders: The stack, in order.
        label: How to name a guider in the messages (default: its class name).
    """
    name = label or (lambda g: type(g).__name__)
    roles: dict[tuple[str, ...], list[str]] = {}  # guiders in conflict -> the hooks they both implement
    for hook in ("propose", "select"):
        users = tuple(name(g) for g in guiders if g.implements(hook))
        if len(users) > 1:
            roles.setdefault(users, []).append(hook)
    what = {("propose",): "propose candidate next states", ("select",): "select among candidates",
            ("propose", "select"): "propose and select candidates"}
    problems = [f"at most one guider per stack may {what[tuple(hooks)]} ({', '.join(h + '()' for h in hooks)}); "
                f"got {' and '.join(users)}" for users, hooks in roles.items()]
    expanders = [name(g) for g in guiders if g.expansion != 1]
    if len(expanders) > 1:
        problems.append(f"at most one guider per stack may run several particles per sample; got "
                        f"{' and '.join(expanders)}")
    return problems
