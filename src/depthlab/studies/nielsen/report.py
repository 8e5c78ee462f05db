"""The report of Nielsen's chapter 5: learning speed per layer at initialization and
during training, and validation accuracy against depth, ours beside Nielsen's numbers
(:mod:`depthlab.references`), each with a verdict by the rule stated beside it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from depthlab.data.registry import DATASETS
from depthlab.references import (
    NIELSEN_ACCURACY,
    NIELSEN_EPOCHS,
    NIELSEN_INIT_SPEED,
    NIELSEN_TRAINING_RATIO,
)
from depthlab.report.document import Outcome, ReportFigure, Section, Table, Verdict
from depthlab.report.html import write_report
from depthlab.report.plotting import layer_color, new_figure, save_figure
from depthlab.report.tables import write_table
from depthlab.store import RunDir
from depthlab.studies.nielsen import NielsenBudget
from depthlab.studies.nielsen.experiments import (
    DEPTHS,
    ETA,
    LAMBDA,
    SPEED_EXAMPLES,
    learning_speed_at_init,
    learning_speed_in_training,
)
from depthlab.studies.study import Plan

RATIO_TOLERANCE = 3.0
"""Our training ratio reproduces Nielsen's when its median is within this factor of 100."""
DEPTH_GAIN = 0.3
"""Depth helps when 3 or 4 hidden layers beat the best of 1 and 2 by more than this many
accuracy points."""


Blocks = list[str | ReportFigure | Table | Verdict]


def _init_speed_results(init_speeds: dict[int, np.ndarray], out: Path) -> Blocks:
    rows = [{"hidden_layers": depth, "layer": k + 1, "ours_mean": float(speeds[:, k].mean()),
             "ours_std": float(speeds[:, k].std()), "nielsen": NIELSEN_INIT_SPEED[depth][k]}
            for depth, speeds in init_speeds.items() for k in range(depth)]
    write_table(rows, out, "learning_speed_init")
    fig, axes = new_figure(1, len(init_speeds), width=3.6, height=3.4, sharey=True)
    for ax, (depth, speeds) in zip(axes[0], init_speeds.items()):
        layers = np.arange(1, depth + 1)
        ax.bar(layers - 0.2, speeds.mean(0), 0.4, yerr=speeds.std(0), label="ours", color="tab:blue")
        ax.bar(layers + 0.2, NIELSEN_INIT_SPEED[depth], 0.4, label="Nielsen", color="tab:gray")
        ax.set(yscale="log", xticks=layers, xlabel="hidden layer", title=f"[784, {', '.join(['30'] * depth)}, 10]")
    axes[0][0].set_ylabel("learning speed ‖∂C/∂b‖")
    axes[0][0].legend()
    png = save_figure(fig, out, "learning_speed_init")
    seeds = len(next(iter(init_speeds.values())))
    increasing = all(np.all(np.diff(s.mean(0)) > 0) for s in init_speeds.values())
    ratios = ", ".join(f"{d} layers: {s.mean(0)[-1] / s.mean(0)[0]:.3g} (Nielsen {n[-1] / n[0]:.3g})"
                       for (d, s), n in zip(init_speeds.items(), NIELSEN_INIT_SPEED.values()))
    verdict = Verdict("At initialization every hidden layer learns faster than the one below it (Nielsen, ch. 5).",
                      Outcome.REPRODUCED if increasing else Outcome.NOT_REPRODUCED, f"Last/first layer speed ratio: {ratios}.")
    return [f"‖∂C/∂b^l‖ with C averaged over the first {SPEED_EXAMPLES} training images; mean ± std over "
            f"{seeds} initializations (seeds 0–{seeds - 1}).",
            ReportFigure(png, "Learning speed per hidden layer at initialization, ours beside Nielsen's."),
            Table(rows, "Learning speed at initialization (learning_speed_init.csv)"), verdict]


def _training_speed_results(speeds: np.ndarray, out: Path) -> Blocks:
    ratio = speeds[:, -1] / speeds[:, 0]
    rows = [{"epoch": e, **{f"layer_{k + 1}": float(v) for k, v in enumerate(row)}, "last_over_first": float(r)}
            for e, (row, r) in enumerate(zip(speeds, ratio))]
    write_table(rows, out, "learning_speed_training")
    fig, axes = new_figure(1, 1, width=6.5, height=4.2)
    ax = axes[0][0]
    for k in range(speeds.shape[1]):
        ax.plot(speeds[:, k], color=layer_color(k + 1, speeds.shape[1]), label=f"hidden layer {k + 1}")
    ax.set(yscale="log", xlabel="epoch (full batch of 1000 images)", ylabel="learning speed ‖∂C/∂b‖",
           title="[784, 30, 30, 30, 30, 10]")
    ax.legend()
    png = save_figure(fig, out, "learning_speed_training")
    median = float(np.median(ratio))
    close = NIELSEN_TRAINING_RATIO / RATIO_TOLERANCE <= median <= NIELSEN_TRAINING_RATIO * RATIO_TOLERANCE
    verdict = Verdict("During training the first hidden layer stays about 100× slower than the last (Nielsen).",
                      Outcome.REPRODUCED if close else Outcome.NOT_REPRODUCED,
                      f"Last/first ratio over {len(speeds)} epochs: median {median:.3g}, from {ratio.min():.3g} "
                      f"to {ratio.max():.3g} (reproduced when the median is within {RATIO_TOLERANCE:g}× of 100).")
    shown = sorted({*range(0, len(rows), max(1, len(rows) // 5)), len(rows) - 1})
    return [f"Full-batch gradient descent on the first {SPEED_EXAMPLES} training images, η = {ETA}, λ = {LAMBDA} "
            f"(weights only), {len(speeds)} epochs; the speed is read from each epoch's gradient.",
            ReportFigure(png, "Learning speed of each hidden layer during training (log scale)."),
            Table([rows[i] for i in shown], "Learning speed during training, some epochs "
                  "(every epoch in learning_speed_training.csv)"), verdict]


def _accuracy_results(runs: dict[int, RunDir], budget: NielsenBudget, out: Path) -> Blocks:
    rows = []
    for depth, run in runs.items():
        errors = run.series("validation_error")[1]  # a diverged run has no final error: nan
        ours = 100 * (1 - run.final.get("validation_error", float("nan")))
        rows.append({"hidden_layers": depth, "ours_final": ours, "ours_best": 100 * (1 - min(errors, default=np.nan)),
                     "nielsen": NIELSEN_ACCURACY[depth], "difference": ours - NIELSEN_ACCURACY[depth]})
    write_table(rows, out, "accuracy_vs_depth")
    fig, axes = new_figure(1, 2, width=5.0, height=3.8)
    depths = np.array(list(runs))
    axes[0][0].plot(depths, [r["ours_final"] for r in rows], "o-", label="ours")
    axes[0][0].plot(depths, [r["nielsen"] for r in rows], "s--", color="tab:gray", label="Nielsen (MNIST)")
    axes[0][0].set(xticks=depths, xlabel="hidden layers", ylabel="validation accuracy (%)")
    axes[0][0].legend()
    for depth, run in runs.items():
        updates, errors = run.series("validation_error")
        epochs = np.array(updates) / run.config.eval_every
        axes[0][1].plot(epochs, 100 * (1 - np.array(errors)), color=layer_color(depth, len(runs)),
                        label=f"{depth} hidden")
    axes[0][1].set(xlabel="epoch", ylabel="validation accuracy (%)")
    axes[0][1].legend()
    png = save_figure(fig, out, "accuracy_vs_depth")
    shallow = np.nanmax([r["ours_final"] for r in rows if r["hidden_layers"] <= 2])
    deep = np.nanmax([r["ours_final"] for r in rows if r["hidden_layers"] > 2])
    evidence = (f"Best of 1–2 hidden layers {shallow:.2f} %, best of 3–4 {deep:.2f} % "
                f"(depth helps when the deeper nets gain more than {DEPTH_GAIN} points).")
    if budget.depth_epochs < NIELSEN_EPOCHS or budget.depth_train_size is not None:
        verdict = Outcome.CANNOT_SHOW
        evidence += (f" The budget trains less than Nielsen's {NIELSEN_EPOCHS} epochs on 50,000 images, which "
                     "handicaps the deeper nets, slower to learn.")
    else:
        verdict = Outcome.REPRODUCED if deep <= shallow + DEPTH_GAIN else Outcome.NOT_REPRODUCED
    return [ReportFigure(png, "Validation accuracy against depth, ours beside Nielsen's; right: during training."),
            Table(rows, "Validation accuracy (%) after training (accuracy_vs_depth.csv)"),
            Verdict("More than two hidden layers does not improve accuracy (Nielsen: 96.48, 96.90, 96.57, "
                    "96.53 %).", verdict, evidence)]


SETUP = ("Networks [784, 30, …, 30, 10], sigmoid everywhere, per-output cross-entropy, weights N(0, 1/n_in), "
         "biases N(0, 1), SGD minibatch 10, η = 0.1, L2 λ = 5 as weight decay λ/n per update (n: training images); "
         "the depth runs' weight decay also shrinks the biases, which Nielsen does not.")


def report(plan: Plan, runs: dict[str, RunDir], out: Path, progress: bool = True) -> Path:
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
