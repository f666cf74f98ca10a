"""Black-box oracles: the Oracle protocol, composable wrappers and built-in scorers."""

from oracles.base import BudgetExhausted, FunctionOracle, Oracle, OracleLike, OracleResult, from_function
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
    "Timeout",
    "Transform",
    "Wrapper",
    "from_function",
]
