"""Black-box oracles: the Oracle protocol, composable wrappers and built-in scorers."""

from oracles.base import BudgetExhausted, FunctionOracle, Oracle, OracleLike, OracleResult, from_function

__all__ = ["BudgetExhausted", "FunctionOracle", "Oracle", "OracleLike", "OracleResult", "from_function"]
