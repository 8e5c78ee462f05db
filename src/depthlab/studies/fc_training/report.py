"""The report of the lecture's training experiments: one section per experiment, each
with its figure, its table (CSV beside the report) and the verdicts of :mod:`.claims`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from depthlab.probe.quantities import ACTIVATION_STD, BACKPROP_GRAD_STD, WEIGHT_GRAD_NORM
from depthlab.report.document import Block, ReportFigure, Section, Table
from depthlab.report.html import write_report
from depthlab.report.tables import write_table
from depthlab.store import RunDir
from depthlab.studies.fc_training import claims, figures
from depthlab.studies.fc_training.budgets import DECIDING_UPDATES, FCBudget
from depthlab.studies.fc_training.plan import (
    ACTIVATION_INITS,
    CLIP_LR,
    CLIP_NORM,
    DEEP,
    DEEP_LR,
    LEARNING_RATES,
    MOMENTUM,
    WIDTH,
    rate_name,
)
from depthlab.studies.fc_training.quadratic import (
    QUADRATIC,
    QUADRATIC_STEPS,
    best_quadratic_paths,
    quadratic,
    reversals,
)
from depthlab.studies.study import Plan

Blocks = list[Block]
FINAL_SHARE = 0.1
"""The final training cost is the mean over the last 10% of the logged updates."""


def final_training_cost(run: RunDir) -> tuple[float, float]:
    """The mean logged training cost over the last :data:`FINAL_SHARE` of the run and its
    standard error (the windows' std over √windows); inf for a diverged run."""
    if (run.final or {}).get("status") == "diverged":
        return float("inf"), float("inf")
    updates, costs = run.series("train_cost")
    if not updates:
        return float("nan"), float("nan")
    tail = np.asarray(costs)[np.asarray(updates) >= (1 - FINAL_SHARE) * updates[-1]]
    error = float(tail.std(ddof=1) / np.sqrt(len(tail))) if len(tail) > 1 else float("inf")
    return float(tail.mean()), error


def final_error(run: RunDir) -> float:
    return float((run.final or {}).get("validation_error", float("nan")))


def _status(run: RunDir) -> str:
    return (run.final or {}).get("status", "missing")


def _optimizer_section(runs: dict[str, RunDir], decides: bool, out: Path) -> Blocks:
    rows, best = [], {}
    for optimizer, rates in LEARNING_RATES.items():
        costs = {lr: final_training_cost(runs[f"optimizers/{optimizer}/{rate_name(lr)}"]) for lr in rates}
        chosen = min(rates, key=lambda lr: costs[lr][0] if np.isfinite(costs[lr][0]) else np.inf)
        best[optimizer] = chosen
        for lr in rates:
            run = runs[f"optimizers/{optimizer}/{rate_name(lr)}"]
            rows.append({"optimizer": optimizer, "lr": lr, "status": _status(run), "final_train_cost": costs[lr][0],
                         "standard_error": costs[lr][1], "validation_error (%)": 100 * final_error(run),
                         "best": "yes" if lr == chosen else ""})
    write_table(rows, out, "optimizers")
    png = figures.optimizers_figure({optimizer: (lr, runs[f"optimizers/{optimizer}/{rate_name(lr)}"])
                                     for optimizer, lr in best.items()}, out)
    finals = {optimizer: next((r["final_train_cost"], r["standard_error"]) for r in rows
                              if r["optimizer"] == optimizer and r["best"]) for optimizer in best}
    effective = best["momentum"] / (1 - MOMENTUM)
    return [ReportFigure(png, "Training cost against updates, each optimizer at the best rate of its grid."),
            Table(rows, "Every rate of every grid (optimizers.csv)"),
            f"With μ = {MOMENTUM:g}, momentum's best η = {best['momentum']:g} takes steps of η/(1 − μ) = "
            f"{effective:g} once its velocity builds up; SGD's best is η = {best['sgd']:g}: at their best rates the "
            "two take steps of about the same size, and what is left to differ is momentum's averaging of gradients.",
            claims.beats_sgd("momentum", finals, decides), claims.beats_sgd("adam", finals, decides)]


def _quadratic_section(out: Path) -> Blocks:
    paths = best_quadratic_paths()
    curvature = np.array(QUADRATIC)
    rows = [{"optimizer": optimizer, "lr": lr, "final_f": float(quadratic(path[-1], curvature)),
             "reversals_across_valley": reversals(path)} for optimizer, (lr, path) in paths.items()]
    png = figures.quadratic_figure(paths, out)
    write_table(rows, out, "quadratic")
    by = {row["optimizer"]: row for row in rows}
    verdict = claims.momentum_damps((by["sgd"]["final_f"], by["sgd"]["reversals_across_valley"]),
                                    (by["momentum"]["final_f"], by["momentum"]["reversals_across_valley"]),
                                    QUADRATIC_STEPS)
    return [f"f(x) = 0.1x₁² + 2x₂² from (−5, −2), {QUADRATIC_STEPS} steps, each optimizer at the rate of its grid "
            "that ends lowest.",
            ReportFigure(png, "Each optimizer's path over the contours of the quadratic."),
            Table(rows, "The quadratic (quadratic.csv)"), verdict]


def gradient_norm(run: RunDir) -> tuple[np.ndarray, np.ndarray]:
    """(updates, ‖∂C/∂W‖ over all layers) from the probes: √Σ_l ‖∂C/∂W_l‖²."""
    probes = run.probes
    if not probes.has(WEIGHT_GRAD_NORM):
        return np.array([]), np.array([])
    per_layer = [probes.series(WEIGHT_GRAD_NORM, layer) for layer in probes.layers]
    per_layer = [(steps, values) for steps, values in per_layer if len(steps)]
    steps = per_layer[0][0]
    total = np.sqrt(np.sum([np.asarray(values[:len(steps)]) ** 2 for _, values in per_layer], axis=0))
    return np.asarray(steps), total


def _clipping_section(runs: dict[str, RunDir], decides: bool, out: Path) -> Blocks:
    plain, clipped = runs["clipping/none"], runs["clipping/clipped"]
    labelled = {"no clipping": plain, f"clipped to {CLIP_NORM:g}": clipped}
    rows = []
    for label, run in labelled.items():
        final = run.final or {}
        rows.append({"run": label, "status": _status(run), "diverged_at": final.get("diverged_at", ""),
                     "validation_error (%)": 100 * final_error(run)})
    diverged_at = plain.final["diverged_at"] if _status(plain) == "diverged" else None
    png = figures.clipping_figure(labelled, {label: gradient_norm(run) for label, run in labelled.items()},
                                  diverged_at, out)
    write_table(rows, out, "clipping")
    return [f"{DEEP} × {WIDTH} ReLU, He init, η = {CLIP_LR:g}; the clipped run rescales the gradient to norm "
            f"{CLIP_NORM:g} whenever it is larger.",
            ReportFigure(png, "Gradient norm (left, on the probe set, before clipping) and training cost (right) "
                              "without and with clipping."),
            Table(rows, "Clipping (clipping.csv)"),
            claims.clipping(_status(plain), _status(clipped), final_error(clipped), decides)]


def _per_layer(run: RunDir, stat: str, update: int) -> np.ndarray:
    values = run.probes.values_at(stat, update)
    return np.array([values[f"layer {k}"] for k in range(1, DEEP + 1)])


def _spread(values: np.ndarray) -> float:
    return float(values.max() / values.min()) if values.min() > 0 else float("inf")


def _batchnorm_section(runs: dict[str, RunDir], decides: bool, out: Path) -> Blocks:
    pair = {"without": runs["activations/sigmoid"], "with": runs["batchnorm/sigmoid"]}
    layers = np.arange(1, DEEP + 1)
    rows, spreads, drawn = [], {}, {}
    for label, run in pair.items():
        end = run.probes.updates[-1]
        gradients, activations = _per_layer(run, BACKPROP_GRAD_STD, end), _per_layer(run, ACTIVATION_STD, end)
        spreads[label] = _spread(gradients)
        drawn[label] = (gradients, activations, run)
        rows += [{"batchnorm": label, "layer": k, "backprop_grad_std": float(g), "activation_std": float(a),
                  "update": end} for k, g, a in zip(layers, gradients, activations)]
    png = figures.batchnorm_figure(layers, drawn, out)
    write_table(rows, out, "batchnorm")
    return [f"{DEEP} × {WIDTH} sigmoid, normalized init, η = {DEEP_LR:g}; batch normalization after each linear "
            "layer, before the sigmoid. The probes run the nets in evaluation mode, where batch normalization uses "
            "its running statistics, so the per-layer statistics are read at the last probe, not at "
            "initialization (where the running statistics are still 0 and 1 and the layer passes its input on).",
            ReportFigure(png, "Per hidden layer at the end of training: the back-propagated gradient's std (left) "
                              "and the activations' std (middle); right: validation error over updates."),
            Table(rows, "Per layer, without and with batch normalization (batchnorm.csv)"),
            claims.batchnorm(final_error(pair["without"]), final_error(pair["with"]), decides),
            claims.batchnorm_gradients(spreads["without"], spreads["with"], decides)]


def _activation_section(runs: dict[str, RunDir], decides: bool, out: Path) -> Blocks:
    layers = np.arange(1, DEEP + 1)
    rows, ratios, errors, drawn = [], {}, {}, {}
    for activation, init in ACTIVATION_INITS.items():
        run = runs[f"activations/{activation}"]
        gradients = _per_layer(run, BACKPROP_GRAD_STD, 0)
        ratios[activation] = float(gradients[0] / gradients[-1])
        errors[activation] = final_error(run)
        drawn[activation] = (init, gradients, run)
        rows.append({"activation": activation, "init": init, "first_over_last_gradient": ratios[activation],
                     "status": _status(run), "validation_error (%)": 100 * errors[activation]})
    png = figures.activations_figure(layers, drawn, out)
    write_table(rows, out, "activations")
    return [f"{DEEP} × {WIDTH} nets, η = {DEEP_LR:g}: sigmoid and tanh with the normalized init, ReLU and leaky ReLU "
            "with He's.",
            ReportFigure(png, "The back-propagated gradient per layer at initialization (left) and validation error "
                              "over updates (right)."),
            Table(rows, "Activations (activations.csv)"), claims.sigmoid_gradient_vanishes(ratios),
            claims.prefer_relu(errors, decides)]


def report(plan: Plan[FCBudget], runs: dict[str, RunDir], out: Path, progress: bool = True) -> Path:
    """Read every run, descend the quadratic and write the figures (PNG, SVG), tables
    (CSV) and ``report.html`` into ``out``; return the report's path."""
    budget, name = plan.budget, plan.settings["dataset"]
    decides = budget.updates >= DECIDING_UPDATES
    note = f"Data: {name}." if name == "fashion-mnist" else f"Data: {name} (Fashion-MNIST was not found)."
    sections = [
        Section("Setup", [f"Minibatches of 64, {budget.updates:,} updates per run; validation and test on "
                          f"{f'{budget.eval_size:,}' if budget.eval_size else 'all'} images.",
                          Table([{"budget": plan.budget_name, **dataclasses.asdict(budget)}], "Budget")]),
        Section("Optimizers on a deep MLP", _optimizer_section(runs, decides, out)),
        Section("Optimizers on an ill-conditioned quadratic", _quadratic_section(out)),
        Section("Gradient clipping", _clipping_section(runs, decides, out)),
        Section("Batch normalization", _batchnorm_section(runs, decides, out)),
        Section("Activations", _activation_section(runs, decides, out)),
    ]
    return write_report(out / "report.html", "The lecture on fully-connected nets: what makes them train", sections,
                        intro=f"Budget '{plan.budget_name}'. {note}")
