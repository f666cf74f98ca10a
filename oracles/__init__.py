"""Black-box oracles: the Oracle protocol, composable wrappers, a registry and built-in scorers.

    >>> from oracles import get_oracle, Cached, Budgeted
    >>> gc = Cached(Budgeted(get_oracle("gc"), budget=100))
    >>> gc(["GGCA", "ACXT"]).valid          # doctest: +SKIP
    array([ True, False])

Built-ins (``list_oracles()``): gc, window_gc, tm, restriction_sites, homopolymer, jaspar, protparam,
hydrophobic_moment, amp, amp_design, enhancer, qed, logp, sa, similarity, pains, brenk, radicals, mpo, ehrlich,
external, surrogate, and
``ray`` (another oracle scored on a Ray cluster, :class:`oracles.ray.RayOracle`: ``pip install "seqguide[ray]"``),
``poli`` (a problem of poli's repository, :class:`oracles.poli.PoliOracle`; :mod:`oracles.to_poli` is the reverse:
``pip install "seqguide[poli]"``);
third-party oracles join through the ``seqguide.oracles`` entry-point group.
"""

from oracles.base import BudgetExhausted, FunctionOracle, Oracle, OracleLike, OracleResult, from_function
from oracles.registry import describe_oracles, get_oracle, list_oracles, register_oracle
from oracles.surrogate import Surrogate
from oracles.wrappers import Budgeted, Cached, Composite, Constraint, Negate, Parallel, Timeout, Transform, Wrapper

__all__ = [
    "BudgetExhausted",
    "Budgeted",
    "Cached",
    "Composite",
    "Constraint",
    "FunctionOracle",
    "Negate",
    "Oracle",
    "OracleLike",
    "OracleResult",
    "Parallel",
    "Surrogate",
    "Timeout",
    "Transform",
    "Wrapper",
    "describe_oracles",
    "from_function",
    "get_oracle",
    "list_oracles",
    "register_oracle",
]
