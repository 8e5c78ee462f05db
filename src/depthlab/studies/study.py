"""What every study is, and the one way to run one.

A study is declared once (in its package's ``__init__``) as a :class:`Study`: its name,
its budgets, the options it takes, a ``plan`` function that turns a budget into a
:class:`Plan` (the trainer runs of its grid, and the settings it resolved, such as the
data sets) and a ``report`` function that turns the finished runs into figures, tables,
verdicts and ``report.html``. :func:`reproduce` does the rest for every study alike:
checks the budget and options, writes ``budget.json``, trains the grid (resumable, in
parallel, indifferent to divergence: :mod:`depthlab.studies.runner`) and calls the
report. Importing this module imports no torch.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from depthlab.config import TrainConfig
from depthlab.errors import DepthlabError, unknown_choice

if TYPE_CHECKING:
    from depthlab.store.run import RunDir


BACKENDS = ("local", "ray")
"""Where a grid's runs train: processes on this machine, or Ray tasks (see
:mod:`depthlab.studies.runner`)."""


def check_backend(backend: str, address: str | None = None) -> None:
    """A backend that can run here, or one line: an unknown name, ``--address`` without
    Ray, or Ray not installed."""
    if backend not in BACKENDS:
        raise unknown_choice("backend", backend, BACKENDS)
    if address is not None and backend != "ray":
        raise DepthlabError("--address names a Ray cluster: give it with --backend ray")
    if backend == "ray" and importlib.util.find_spec("ray") is None:
        raise DepthlabError("--backend ray needs Ray, which is not installed: pip install 'depthlab[ray]'")


ENGINES = ("auto", "stacked", "separate")
"""How a grid's runs train: in stacks where that is faster, in stacks wherever they can
share one, or each alone (see :mod:`depthlab.studies.stacking`)."""


def check_engine(engine: str) -> None:
    """One of :data:`ENGINES`, or one line naming them."""
    if engine not in ENGINES:
        raise unknown_choice("engine", engine, ENGINES)


@dataclass(frozen=True)
class RunSpec:
    """One trainer run of a study: ``name`` is its path below ``runs/`` (e.g.
    ``shapeset/tanh-n/lr0.01``)."""

    name: str
    config: TrainConfig


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


def reproduce(name: str, budget: str = "quick", out: str | Path | None = None, workers: int = 1,
              data_dir: str | None = None, progress: bool = True, publish: str | Path | None = None,
              backend: str = "local", address: str | None = None, engine: str = "auto", **options: Any) -> Path:
    """Run (or resume) the study called ``name`` at ``budget`` into ``out`` (default
    ``results/<name>``) and write its ``report.html`` and ``report.md``; return the
    report's path. Finished runs are kept, an interrupted one resumes; ``options`` are the
    study's own (``depthlab.studies.STUDIES.get(name).options``); ``backend`` and
    ``address`` choose where the runs train, ``engine`` whether in stacks
    (:func:`depthlab.studies.runner.run_specs`).
    ``publish``: a folder
    that receives the Markdown report and its PNG figures, and nothing else (no run
    directories), as ``docs/results/`` holds them."""
    from depthlab.store.files import write_json
    from depthlab.studies import STUDIES

    study = STUDIES.get(name)
    sizes = study.budget(budget)
    for option in sorted(set(options) - set(study.options)):
        takes = ", ".join(f"{o} (--{o})" for o in study.options) or "none"
        raise DepthlabError(f"study {name} takes no {option} option (--{option}); its options: {takes}")
    if workers < 1:
        raise DepthlabError(f"workers {workers} must be at least 1")
    check_backend(backend, address)
    check_engine(engine)
    out = Path(out or Path("results") / name)
    from depthlab.store.lock import FolderLock
    from depthlab.studies.runner import (  # after the arguments are checked: torch
        check_specs,
        run_specs,
    )

    plan = study.plan(budget, sizes, out=out, data_dir=data_dir, **options)  # a bad option: nothing written
    out.mkdir(parents=True, exist_ok=True)
    with FolderLock(out, "study folder"):  # one study writes a folder at a time
        check_specs(plan.runs, out)  # runs of another budget there: refused before anything is written
        write_json(out / "budget.json", {"study": name, "budget": budget, **dataclasses.asdict(sizes),
                                         **plan.settings})
        runs = run_specs(plan.runs, out, workers=workers, progress=progress, backend=backend, address=address,
                         engine=engine)
        report = study.report(plan, runs, out, progress)
    if publish is not None:
        from depthlab.report.markdown import publish as publish_markdown

        publish_markdown(report.with_suffix(".md"), publish)
    return report
