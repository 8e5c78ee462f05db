"""What every study is.

A study is declared once (in its package's ``__init__``) as a :class:`Study`: its name,
its budgets, the options it takes, a ``plan`` function that turns a budget into a
:class:`Plan` (the trainer runs of its grid, and the settings it resolved, such as the
data sets) and a ``report`` function that turns the finished runs into figures, tables,
verdicts and ``report.html``. :func:`depthlab.studies.reproduce` does the rest for every
study alike. Importing this module imports no torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from depthlab.errors import unknown_choice
from depthlab.grid import RunSpec

if TYPE_CHECKING:
    from depthlab.store.run import RunDir


class Budget(Protocol):
    """What every study's budget is: a dataclass of sizes (written to ``budget.json``)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]


B = TypeVar("B", bound=Budget)


@dataclass(frozen=True)
class Plan(Generic[B]):
    """What one reproduction does: the ``budget`` called ``budget_name``, the ``settings``
    it resolved (recorded in ``budget.json`` and read by the report), and its ``runs``."""

    study: str
    budget_name: str
    budget: B
    settings: dict[str, Any] = field(default_factory=dict)
    runs: list[RunSpec] = field(default_factory=list)


class PlanFunction(Protocol[B]):
    """A study's ``plan.plan``: its budget (and the study's own ``options``, such as
    ``datasets``) turned into a :class:`Plan`; a bad option raises before anything is
    written."""

    def __call__(self, budget_name: str, budget: B, out: Path, data_dir: str | None = None,
                 **options: Any) -> Plan[B]: ...


class ReportFunction(Protocol[B]):
    """A study's ``report.report``: the finished ``runs`` (run name → RunDir) turned into
    figures, tables, verdicts and ``report.html`` in ``out``; returns the page."""

    def __call__(self, plan: Plan[B], runs: dict[str, RunDir], out: Path, progress: bool = True) -> Path: ...


@dataclass(frozen=True)
class Study(Generic[B]):
    """A reproduction, declared in its package's ``__init__`` from the package's fixed
    modules: ``budgets`` (its budget dataclass and :attr:`budgets`), ``plan``,
    ``claims``, ``figures`` and ``report``. ``options`` are the keyword options its plan
    takes besides the budget (e.g. ``datasets``)."""

    name: str
    title: str
    budgets: Mapping[str, B]
    plan: PlanFunction[B]
    report: ReportFunction[B]
    options: tuple[str, ...] = ()

    def budget(self, name: str) -> B:
        """The budget called ``name``, or one line naming this study's budgets."""
        if name not in self.budgets:
            raise unknown_choice(f"budget of {self.name}", name, self.budgets)
        return self.budgets[name]
