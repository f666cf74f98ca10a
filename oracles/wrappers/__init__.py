"""Composable oracle wrappers: cache, budget, process pool, timeout, transforms and composites.

Every wrapper is itself an :class:`~oracles.base.Oracle` and forwards ``name``, ``alphabet``,
``maximize``, ``n_objectives`` and ``optimal_value`` of the oracle it wraps, so stacks such as
``Cached(Budgeted(Parallel(oracle), budget=1000), path="scores.sqlite")`` behave like the bare oracle
except for what each layer adds.

Order matters in two ways, and the wrong order raises when the stack is built:

* the stateful layers (:class:`Cached`, :class:`Budgeted`) sit *outside* the layers that run work in
  other processes (:class:`Parallel`, :class:`Timeout`): state changed in a child never reaches the
  parent;
* :class:`Timeout` sits inside :class:`Parallel` (``Parallel(Timeout(oracle))``), not around it.

A budget counts cache hits as free wherever the cache sits (``Oracle.is_cached`` is forwarded), but
placing :class:`Cached` outermost is the natural order. It charges what the scorer at the bottom of the
stack actually received (``Oracle.items_received``: retries of a crashed batch included, and the counts
of child processes reported back by :class:`Parallel` and :class:`Timeout`).

:class:`Cached`, :class:`Budgeted`, :class:`Parallel` and :class:`Transform` pass :meth:`Oracle.stream`
through, so a caller sees each chunk a process pool finishes as soon as it finishes.

What belongs here: oracles that wrap or combine other oracles and add one thing each (memory, a budget, other
processes, a time limit, a map of the values, constraints). A scorer of its own goes in its own module of
:mod:`oracles`; a wrapper that runs its oracle elsewhere calls ``_check_no_state`` like :class:`Parallel` does.

- :mod:`.common`: :class:`Wrapper`, the base class, and the helpers every layer shares (receipts, de-duplication).
- :mod:`.stack`: walking the layers of a stack; the check that keeps Cached/Budgeted out of other processes.
- :mod:`.cache`: :class:`Cached` and its SQLite store.
- :mod:`.budget`: :class:`Budgeted` (raises :class:`~oracles.base.BudgetExhausted`).
- :mod:`.parallel`: :class:`Parallel` and the functions its pool workers run.
- :mod:`.timeout`: :class:`Timeout` and its child process's loop.
- :mod:`.transform`: :class:`Transform` and :class:`Negate`.
- :mod:`.constraints`: :class:`Constraint`, ``check_constraints``, ``first_validation_error``.
- :mod:`.composite`: :class:`Composite`.
"""

from oracles.wrappers.budget import Budgeted
from oracles.wrappers.cache import Cached
from oracles.wrappers.common import Wrapper
from oracles.wrappers.common import _add_received as _add_received
from oracles.wrappers.common import _received as _received
from oracles.wrappers.composite import Composite
from oracles.wrappers.constraints import Constraint
from oracles.wrappers.constraints import check_constraints as check_constraints
from oracles.wrappers.constraints import first_validation_error as first_validation_error
from oracles.wrappers.parallel import Parallel
from oracles.wrappers.stack import _check_no_state as _check_no_state
from oracles.wrappers.timeout import Timeout
from oracles.wrappers.transform import Negate, Transform

# The names below `import *` gives, as before the split; the aliased imports above (used by oracles.ray and
# seqguide.design.objective) keep importing from here too.
__all__ = [
    "Budgeted",
    "Cached",
    "Composite",
    "Constraint",
    "Negate",
    "Parallel",
    "Timeout",
    "Transform",
    "Wrapper",
]
