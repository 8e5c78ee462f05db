"""What every study is.

A study is declared once (in its package's ``__init__``) as a :class:`Study`: its name,
its budgets, the options it takes, a ``plan`` function that turns a budget into a
:class:`Plan` (the trainer runs of its grid, and the settings it resolved, such as the
data sets) and a ``report`` function that turns the finished runs into figures, tables,
verdicts and ``report.html``. :func:`depthlab.studies.reproduce` does the rest for every
study alike. Importing this module imports no torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from depthlab.errors import unknown_choice
from depthlab.grid import RunSpec

if TYPE_CHECKING:
    from depthlab.store.run import RunDir


@dataclass(frozen=True)
class Plan:
    """What one reproduction does: the ``budget`` called ``budget_name``, the ``settings``
    it resolved (recorded in ``budget.json`` and read by the report), and its ``runs``."""

    study: str
    budget_name: str
    budget: Any
    settings: dict[str, Any] = field(default_factory=dict)
    runs: list[RunSpec] = field(default_factory=list)


@dataclass(frozen=True)
class Study:
    """A reproduction: ``plan(budget_name, budget, out, data_dir, **options) -> Plan`` and
    ``report(plan, runs, out, progress) -> Path`` (``runs``: run name → RunDir).
    ``options`` are the keyword options it takes besides the budget (e.g. ``datasets``)."""

    name: str
    title: str
    budgets: Mapping[str, Any]
    plan: Callable[..., Plan]
    report: Callable[[Plan, dict[str, RunDir], Path, bool], Path]
    options: tuple[str, ...] = ()

    def budget(self, name: str) -> Any:
        """The budget called ``name``, or one line naming this study's budgets."""
        if name not in self.budgets:
            raise unknown_choice(f"budget of {self.name}", name, self.budgets)
        return self.budgets[name]
