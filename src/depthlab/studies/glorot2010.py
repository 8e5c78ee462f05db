"""Reproduce Glorot & Bengio (2010), "Understanding the difficulty of training deep
feedforward neural networks" (AISTATS, PMLR 9), end to end.

The grid (the paper's Table 1 rows, plus a modern reference): sigmoid, tanh and softsign
with the standard init U[±1/√n], tanh and softsign with the normalized init
U[±√6/√(n_in+n_out)] ("N"), and ReLU with He init; 5 hidden layers, SGD with minibatches
of 10, the NLL cost. Each configuration's learning rate is chosen on validation error
from a grid (section 2.3) and its test error reported. The report reads only the run
directories, so it can be redrawn without retraining.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from depthlab.config import TrainConfig
from depthlab.data.registry import DATASETS, available_datasets
from depthlab.errors import DepthlabError
from depthlab.report.html import Figure, Section, Table, write_report
from depthlab.store.run import RunDir, environment
from depthlab.studies.runner import RunSpec, best_by_validation, run_specs

CONFIGURATIONS: dict[str, tuple[str, str]] = {
    "Sigmoid": ("sigmoid", "standard"),
    "Tanh": ("tanh", "standard"),
    "Tanh N": ("tanh", "normalized"),
    "Softsign": ("softsign", "standard"),
    "Softsign N": ("softsign", "normalized"),
    "ReLU He": ("relu", "he-normal"),
}
"""Table 1's rows: label → (activation, init)."""


@dataclass(frozen=True)
class Budget:
    """How much work a reproduction does.

    ``updates`` is per run on Shapeset (trained online) and ``file_updates`` on the file
    data sets; every configuration trains once per learning rate in ``learning_rates``.
    """

    name: str
    depth: int
    width: int
    updates: int
    file_updates: int
    learning_rates: tuple[float, ...]
    eval_size: int | None
    eval_every: int
    probe_every: int
    probe_size: int
    jacobian_examples: int
    surface_points: int


BUDGETS = {
    "smoke": Budget("smoke", depth=3, width=48, updates=300, file_updates=200, learning_rates=(0.05,),
                    eval_size=300, eval_every=100, probe_every=100, probe_size=100, jacobian_examples=2,
                    surface_points=15),
    "quick": Budget("quick", depth=5, width=500, updates=30_000, file_updates=10_000, learning_rates=(0.01, 0.05),
                    eval_size=2_000, eval_every=2_500, probe_every=2_500, probe_size=300, jacobian_examples=4,
                    surface_points=41),
    "full": Budget("full", depth=5, width=1000, updates=5_000_000, file_updates=1_000_000,
                   learning_rates=(0.001, 0.003, 0.01, 0.03, 0.1), eval_size=None, eval_every=50_000,
                   probe_every=50_000, probe_size=300, jacobian_examples=8, surface_points=61),
}
PAPER_DEPTH, PAPER_WIDTH = 5, 1000


def choose_datasets(requested: list[str] | None, data_dir: str | None) -> list[str]:
    """The data sets to run: those requested (each must be available), or every one
    available (Shapeset always is)."""
    found = available_datasets(data_dir)
    if not requested:
        return found
    requested = list(dict.fromkeys(requested))  # each once, in the order given
    for name in requested:
        DATASETS.get(name)
        if name not in found:
            raise DepthlabError(f"data set '{name}' has no files here (available: {', '.join(found)}); "
                                f"see 'depthlab train --download' or --data-dir")
    return requested


def run_name(dataset: str, label: str, lr: float) -> str:
    return f"{dataset}/{label.lower().replace(' ', '-')}/lr{lr:g}"


def grid(budget: Budget, datasets: list[str], data_dir: str | None = None) -> list[RunSpec]:
    """Every run of the reproduction: data set × configuration × learning rate."""
    specs = []
    for dataset in datasets:
        for label, (activation, init) in CONFIGURATIONS.items():
            for lr in budget.learning_rates:
                config = TrainConfig(
                    dataset=dataset, data_dir=data_dir, depth=budget.depth, width=budget.width,
                    activation=activation, init=init, lr=lr, batch_size=10,
                    updates=budget.updates if dataset == "shapeset" else budget.file_updates,
                    eval_size=budget.eval_size, eval_every=budget.eval_every, log_every=min(500, budget.eval_every),
                    probe_every=budget.probe_every, probe_size=budget.probe_size,
                    jacobian_examples=budget.jacobian_examples,
                )
                specs.append(RunSpec(run_name(dataset, label, lr), config))
    return specs


def chosen_runs(runs: dict[str, RunDir], datasets: list[str], budget: Budget) -> dict[str, dict[str, RunDir]]:
    """For each data set and configuration, the run whose learning rate won on validation."""
    chosen: dict[str, dict[str, RunDir]] = {}
    for dataset in datasets:
        chosen[dataset] = {}
        for label in CONFIGURATIONS:
            best = best_by_validation([runs[run_name(dataset, label, lr)] for lr in budget.learning_rates])
            if best is not None:
                chosen[dataset][label] = best
    return chosen


def selection_table(runs: dict[str, RunDir]) -> list[dict]:
    """One row per run: what the learning-rate selection saw."""
    rows = []
    for name, run in runs.items():
        final = run.final or {}
        rows.append({
            "run": name, "learning rate": run.config["lr"], "status": run.status["status"],
            "updates": final.get("update"),
            "validation error (%)": 100 * final["validation_error"] if "validation_error" in final else None,
            "test error (%)": 100 * final["test_error"] if "test_error" in final else None,
            "updates/s": final.get("updates_per_second"),
        })
    return rows


def reproduce(out: Path, budget: str = "quick", datasets: list[str] | None = None, workers: int = 1,
              data_dir: str | None = None, progress: bool = True) -> Path:
    """Run (or resume) the whole reproduction into ``out`` and write ``out/report.html``."""
    from depthlab.report.tables import write_table
    from depthlab.studies.cost_surface import cost_surface
    from depthlab.studies.glorot2010_claims import glorot2010_verdicts
    from depthlab.studies.glorot2010_figures import glorot2010_figures
    from depthlab.studies.glorot2010_tables import jacobian_table, table1

    plan = BUDGETS[budget]
    datasets = choose_datasets(datasets, data_dir)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "budget.json").write_text(json.dumps({**asdict(plan), "datasets": datasets}, indent=2) + "\n")
    runs = run_specs(grid(plan, datasets, data_dir), out, workers=workers, progress=progress)

    chosen = chosen_runs(runs, datasets, plan)
    fig_dir = out / "figures"
    surface = cost_surface(resolution=plan.surface_points)
    figs = {"figure01": figure_1(fig_dir), **glorot2010_figures(chosen, fig_dir, surface)}
    verdicts = glorot2010_verdicts(chosen, surface.numbers(), figs)
    table = write_table(table1(chosen), out, "table1", "Test error (%) of the configuration chosen on validation "
                                                       "error, ours beside Glorot & Bengio (2010), Table 1.")
    jacobian = write_table(jacobian_table(chosen.get("shapeset", {})), out, "jacobian",
                           "Mean singular value of the layer-to-layer Jacobian at initialization (Shapeset), "
                           "ours beside the paper's.")
    selection = Table(selection_table(runs), "Every run of the grid; the learning rate with the lowest final "
                                             "validation error is chosen per configuration and data set.")

    deviations = []
    if (plan.depth, plan.width) != (PAPER_DEPTH, PAPER_WIDTH):
        deviations.append(f"This budget trains {plan.depth} hidden layers of {plan.width} units, not the paper's "
                          f"{PAPER_DEPTH} of {PAPER_WIDTH}, so that it fits its time.")
    if plan.eval_size:
        deviations.append(f"Validation and test errors are measured on {plan.eval_size:,} examples each.")
    if "mnist" not in datasets and "fashion-mnist" in datasets:
        deviations.append("MNIST was not found; Fashion-MNIST (same format and size) stands in for it.")
    intro = (f"Budget '{plan.name}': {plan.updates:,} updates per Shapeset run and {plan.file_updates:,} per file data "
             f"set run, learning rates {', '.join(f'{lr:g}' for lr in plan.learning_rates)}, minibatches of 10, "
             f"data sets: {', '.join(datasets)}. " + " ".join(deviations))
    sections = [
        Section("Claims of the paper, checked on our runs", list(verdicts)),
        Section("Table 1: test error (%), ours beside the paper's", [table]),
        Section("Layer-to-layer Jacobian singular values at initialization", [jacobian]),
        Section("Figures", list(figs.values())),
        Section("Learning-rate selection", [selection]),
        Section("Environment", [Table([environment(seed=0, device="cpu")], "Versions and machine of this report.")]),
    ]
    return write_report(out / "report.html", "Glorot & Bengio (2010), reproduced", sections, intro)


def figure_1(out_dir: Path) -> Figure:
    """Figure 1: example Shapeset-3×2 images with their class."""
    from depthlab.data.figure import draw_grid
    from depthlab.data.shapeset import CLASS_NAMES, generate

    x, y = generate(24, seed=2010)
    out_dir.mkdir(parents=True, exist_ok=True)
    for suffix in ("png", "svg"):
        draw_grid(x, y, CLASS_NAMES, out_dir / f"figure01.{suffix}", rows=4, cols=6)
    return Figure(out_dir / "figure01.png", "Figure 1: Shapeset-3×2 examples (generated, seed 2010).")
