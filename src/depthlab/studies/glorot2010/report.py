"""The reproduction's page: the claims with their verdicts, Table 1, the Jacobian table,
every figure, the learning-rate selection and the environment, from the stored runs."""

from __future__ import annotations

from pathlib import Path

from depthlab.references import GLOROT_DEPTH, GLOROT_UPDATES, GLOROT_WIDTH
from depthlab.report.document import Section, Table, format_duration, key_value_table
from depthlab.report.html import write_report
from depthlab.report.tables import write_table
from depthlab.store import RunDir
from depthlab.store.run import environment
from depthlab.studies.glorot2010.budgets import GlorotBudget
from depthlab.studies.glorot2010.claims import glorot2010_verdicts
from depthlab.studies.glorot2010.cost_surface import cost_surface
from depthlab.studies.glorot2010.figures import figure_1, glorot2010_figures
from depthlab.studies.glorot2010.plan import chosen_runs
from depthlab.studies.glorot2010.tables import jacobian_table, selection_table, table1, table1_caption
from depthlab.studies.study import Plan


def report(plan: Plan[GlorotBudget], runs: dict[str, RunDir], out: Path, progress: bool = True) -> Path:
    """Write ``out/report.html`` (with its figures and tables) from the plan's runs."""
    budget, datasets = plan.budget, plan.settings["datasets"]
    chosen = chosen_runs(runs, datasets, budget)
    fig_dir = out / "figures"
    surface = cost_surface(resolution=budget.surface_points)
    figs = {"figure01": figure_1(fig_dir), **glorot2010_figures(chosen, fig_dir, surface)}
    verdicts = glorot2010_verdicts(chosen, surface.numbers(), figs)
    table = write_table(table1(chosen), out, "table1", table1_caption(datasets))
    jacobian = write_table(jacobian_table(chosen.get("shapeset", {})), out, "jacobian",
                           "Mean singular value of the layer-to-layer Jacobian at initialization (Shapeset), "
                           "ours beside the paper's.")
    selection = Table(selection_table(runs, chosen), "Every run of the grid; the learning rate with the lowest "
                                                     "final validation error is chosen (✓) per configuration and "
                                                     "data set.")

    deviations = []
    if (budget.depth, budget.width) != (GLOROT_DEPTH, GLOROT_WIDTH):
        deviations.append(f"This budget trains {budget.depth} hidden layers of {budget.width} units, not the "
                          f"paper's {GLOROT_DEPTH} of {GLOROT_WIDTH}, so that it fits its time.")
    if budget.updates < GLOROT_UPDATES:
        deviations.append(f"Each Shapeset run trains {budget.updates:,} updates, where the paper chose its learning "
                          f"rates after {GLOROT_UPDATES:,}: errors stand above Table 1's, and effects that take "
                          "longer to appear may not show.")
    if budget.eval_size:
        deviations.append(f"Validation and test errors are measured on {budget.eval_size:,} examples each.")
    if "mnist" not in datasets and "fashion-mnist" in datasets:
        deviations.append("MNIST was not found; Fashion-MNIST (same format and size) stands in for it.")
    seconds = sum((run.final or {}).get("seconds", 0.0) for run in runs.values())
    intro = (f"Budget '{plan.budget_name}': {budget.updates:,} updates per Shapeset run and {budget.file_updates:,} "
             f"per file data set run, learning rates {', '.join(f'{lr:g}' for lr in budget.learning_rates)}, "
             f"minibatches of 10, data sets: {', '.join(datasets)}; {len(runs)} runs, trained in "
             f"{format_duration(seconds)} of run time (the sum over runs; workers run them side by side). "
             + " ".join(deviations))
    shown = {verdict.figure.path for verdict in verdicts if verdict.figure is not None}
    others = [figure for figure in figs.values() if figure.path not in shown]  # each figure shown once
    sections = [
        Section("Claims of the paper, checked on our runs", list(verdicts)),
        Section("Table 1: test error (%), ours beside the paper's", [table]),
        Section("Layer-to-layer Jacobian singular values at initialization", [jacobian]),
        *([Section("Other figures", others)] if others else []),
        Section("Learning-rate selection", [selection]),
        Section("Environment", [key_value_table(environment(seed=0, device="cpu"), "setting",
                                                "Versions and machine of this report.")]),
    ]
    return write_report(out / "report.html", "Glorot & Bengio (2010), reproduced", sections, intro)
