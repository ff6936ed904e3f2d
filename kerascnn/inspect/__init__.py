"""Looking inside models: cost accounting (parameters, multiply-adds)."""

from kerascnn.inspect.cost_rules import cost_rule, register_cost
from kerascnn.inspect.costs import (  # noqa: F401  (`costs` the function shadows the module)
    CostReport,
    CostRow,
    costs,
)

__all__ = ["CostReport", "CostRow", "cost_rule", "costs", "register_cost"]
