"""The plan of the lecture's initialization demonstrations: no trainer runs, since the
report computes everything (:mod:`.demos`)."""

from __future__ import annotations

from pathlib import Path

from depthlab.studies.init_statistics.budgets import InitStatisticsBudget
from depthlab.studies.study import Plan


def plan(budget_name: str, budget: InitStatisticsBudget, out: Path,
         data_dir: str | None = None) -> Plan[InitStatisticsBudget]:
    """No trainer runs: everything is computed by the report."""
    return Plan("init-statistics", budget_name, budget)
