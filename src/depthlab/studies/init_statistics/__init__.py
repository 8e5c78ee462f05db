"""The lecture's demonstrations of why initialization matters (:mod:`.demos`: forward
passes, random matrices and a tiny net; no data set, no trainer runs) and their report
(:mod:`.report`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from depthlab.registry import deferred
from depthlab.studies.study import Plan, Study


@dataclass(frozen=True)
class InitStatisticsBudget:
    """The sizes of one run: ``examples`` fed through the 10 × 500 stack (the lecture:
    1000) and ``symmetry_steps`` SGD steps of the symmetry demonstration."""

    examples: int
    symmetry_steps: int


BUDGETS = {
    "smoke": InitStatisticsBudget(examples=300, symmetry_steps=30),
    "quick": InitStatisticsBudget(examples=1000, symmetry_steps=60),
}
"""``quick`` runs the lecture's own sizes in seconds, so there is no bigger budget."""


def plan(budget_name: str, budget: InitStatisticsBudget, out: Path, data_dir: str | None = None) -> Plan:
    """No trainer runs: everything is computed by the report."""
    return Plan("init-statistics", budget_name, budget)


STUDY = Study("init-statistics", "The lecture's initialization statistics", BUDGETS, plan=plan,
              report=deferred("depthlab.studies.init_statistics.report:report"))
