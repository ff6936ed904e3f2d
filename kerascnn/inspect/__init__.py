"""Looking inside models: cost accounting (parameters, multiply-adds)."""

from kerascnn.inspect.costs import (  # noqa: F401  (`costs` the function shadows the module)
    CostReport,
    CostRow,
    cost_rule,
    costs,
    register_cost,
)

__all__ = ["CostReport", "CostRow", "cost_rule", "costs", "register_cost"]
