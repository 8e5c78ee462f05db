"""The report of Nielsen's chapter 5: learning speed per layer at initialization and
during training, and validation accuracy against depth, ours beside Nielsen's numbers
(:mod:`depthlab.references`), each with a verdict by the rule stated beside it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from depthlab.data.registry import DATASETS
from depthlab.references import NIELSEN_ACCURACY, NIELSEN_INIT_SPEED
from depthlab.report.document import Block, ReportFigure, Section, Table
from depthlab.report.html import write_report
from depthlab.report.tables import write_table
from depthlab.store import RunDir
from depthlab.studies.nielsen import claims, figures
from depthlab.studies.nielsen.budgets import NielsenBudget
from depthlab.studies.nielsen.plan import (
    DEPTHS,
    ETA,
    LAMBDA,
    SPEED_EXAMPLES,
)
from depthlab.studies.nielsen.speed import learning_speed_at_init, learning_speed_in_training
from depthlab.studies.study import Plan


def _init_speed_results(init_speeds: dict[int, np.ndarray], out: Path) -> list[Block]:
    rows = [{"hidden_layers": depth, "layer": k + 1, "ours_mean": float(speeds[:, k].mean()),
             "ours_std": float(speeds[:, k].std()), "nielsen": NIELSEN_INIT_SPEED[depth][k]}
            for depth, speeds in init_speeds.items() for k in range(depth)]
    write_table(rows, out, "learning_speed_init")
    png = figures.init_speed_figure(init_speeds, out)
    seeds = len(next(iter(init_speeds.values())))
    verdict = claims.speed_grows_upward(init_speeds)
    return [f"‖∂C/∂b^l‖ with C averaged over the first {SPEED_EXAMPLES} training images; mean ± std over "
            f"{seeds} initializations (seeds 0–{seeds - 1}).",
            ReportFigure(png, "Learning speed per hidden layer at initialization, ours beside Nielsen's."),
            Table(rows, "Learning speed at initialization (learning_speed_init.csv)"), verdict]


def _training_speed_results(speeds: np.ndarray, out: Path) -> list[Block]:
    ratio = speeds[:, -1] / speeds[:, 0]
    rows = [{"epoch": e, **{f"layer_{k + 1}": float(v) for k, v in enumerate(row)}, "last_over_first": float(r)}
            for e, (row, r) in enumerate(zip(speeds, ratio))]
    write_table(rows, out, "learning_speed_training")
    png = figures.training_speed_figure(speeds, out)
    verdict = claims.first_layer_stays_slower(ratio)
    shown = sorted({*range(0, len(rows), max(1, len(rows) // 5)), len(rows) - 1})
    return [f"Full-batch gradient descent on the first {SPEED_EXAMPLES} training images, η = {ETA}, λ = {LAMBDA} "
            f"(weights only), {len(speeds)} epochs; the speed is read from each epoch's gradient.",
            ReportFigure(png, "Learning speed of each hidden layer during training (log scale)."),
            Table([rows[i] for i in shown], "Learning speed during training, some epochs "
                  "(every epoch in learning_speed_training.csv)"), verdict]


def _accuracy_results(runs: dict[int, RunDir], budget: NielsenBudget, out: Path) -> list[Block]:
    rows = []
    for depth, run in runs.items():
        errors = run.series("validation_error")[1]  # a diverged run has no final error: nan
        ours = 100 * (1 - run.final.get("validation_error", float("nan")))
        rows.append({"hidden_layers": depth, "ours_final": ours, "ours_best": 100 * (1 - min(errors, default=np.nan)),
                     "nielsen": NIELSEN_ACCURACY[depth], "difference": ours - NIELSEN_ACCURACY[depth]})
    write_table(rows, out, "accuracy_vs_depth")
    png = figures.accuracy_figure(runs, rows, out)
    shallow = np.nanmax([r["ours_final"] for r in rows if r["hidden_layers"] <= 2])
    deep = np.nanmax([r["ours_final"] for r in rows if r["hidden_layers"] > 2])
    verdict = claims.depth_does_not_help(shallow, deep, budget.depth_epochs, budget.depth_train_size is None)
    return [ReportFigure(png, "Validation accuracy against depth, ours beside Nielsen's; right: during training."),
            Table(rows, "Validation accuracy (%) after training (accuracy_vs_depth.csv)"),
            verdict]


SETUP = ("Networks [784, 30, …, 30, 10], sigmoid everywhere, per-output cross-entropy, weights N(0, 1/n_in), "
         "biases N(0, 1), SGD minibatch 10, η = 0.1, L2 λ = 5 as weight decay λ/n per update (n: training images); "
         "the depth runs' weight decay also shrinks the biases, which Nielsen does not.")


def report(plan: Plan[NielsenBudget], runs: dict[str, RunDir], out: Path, progress: bool = True) -> Path:
    """Measure the learning speeds and write figures (PNG, SVG), tables (CSV) and
    ``report.html`` into ``out``, with the depth runs' accuracies; return the report's path."""
    sizes, name, data_dir = plan.budget, plan.settings["dataset"], plan.settings["data_dir"]
    dataset = DATASETS.get(name).load(data_dir)
    init_speeds = {depth: learning_speed_at_init(dataset, depth, sizes.init_seeds) for depth in NIELSEN_INIT_SPEED}
    training_speeds = learning_speed_in_training(dataset, sizes.speed_epochs, progress=progress)
    source = DATASETS.get(name).directory(data_dir)
    data_note = (f"Data: {name} from {source}." if name == "mnist" else
                 f"Data: {name} from {source}: MNIST was not found, and Nielsen's numbers are for MNIST, so "
                 "compare trends, not values.")
    depth_sizes = (f"{sizes.depth_train_size or 'all'} training and {sizes.depth_eval_size or 'all'} validation "
                   f"images, epochs: {sizes.depth_epochs}, one run (seed 0) per depth")
    by_depth = {depth: runs[f"depth{depth}"] for depth in DEPTHS}
    sections = [
        Section("Setup", [SETUP, Table([{"budget": plan.budget_name, **dataclasses.asdict(sizes)}], "Budget")]),
        Section("Learning speed at initialization", _init_speed_results(init_speeds, out)),
        Section("Learning speed during training", _training_speed_results(training_speeds, out)),
        Section("Validation accuracy against depth", [f"Depth runs: {depth_sizes}.",
                                                       *_accuracy_results(by_depth, sizes, out)]),
    ]
    return write_report(out / "report.html", "Nielsen, chapter 5: the vanishing gradient problem", sections,
                        intro=f"Budget '{plan.budget_name}'. {data_note}")
