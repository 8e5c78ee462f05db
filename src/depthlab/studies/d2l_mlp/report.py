"""The report of the d2l MLP chapter: one section per experiment, each with its figure,
its table (CSV beside the report) and the verdicts of :mod:`.claims`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from depthlab.data.registry import DATASETS
from depthlab.data.synthetic import true_polynomial_weights
from depthlab.report.document import Block, ReportFigure, Section, Table
from depthlab.report.html import write_report
from depthlab.report.tables import write_table
from depthlab.store import RunDir
from depthlab.studies.d2l_mlp import claims, figures
from depthlab.studies.d2l_mlp.budgets import CHAPTER, D2LBudget
from depthlab.studies.d2l_mlp.figures import per_epoch, weight_norm
from depthlab.studies.d2l_mlp.plan import (
    DECAY_LAMBDAS,
    FOLDS,
    POLYNOMIAL_FITS,
    SHOWN_LAMBDAS,
    lambda_name,
)
from depthlab.studies.d2l_mlp.scratch import mlp_from_scratch, sigmoid_gradient
from depthlab.studies.init_statistics.demos import (
    PRODUCT_FACTORS,
    PRODUCT_SIZE,
    product_norms,
)
from depthlab.studies.study import Plan

Blocks = list[Block]


def last(run: RunDir, key: str) -> float:
    """The metric's last recorded value (nan if it has none: a diverged run)."""
    values = run.series(key)[1]
    return float(values[-1]) if values else float("nan")


def _mlp_section(run: RunDir, scratch: list[dict[str, float]], full: bool, out: Path) -> Blocks:
    epochs, test_error = per_epoch(run, "test_error")
    _, train_error = per_epoch(run, "train_error")
    log_updates, train_cost = run.series("train_cost")
    log_epochs = np.asarray(log_updates) / run.config.log_every
    at_epoch = {name: dict(zip(np.round(e).astype(int).tolist(), values)) for name, (e, values) in
                (("loss", (log_epochs, train_cost)), ("train", (epochs, 1 - train_error)),
                 ("test", (epochs, 1 - test_error)))}
    rows = [{"epoch": row["epoch"], **{f"scratch_{k}": v for k, v in row.items() if k != "epoch"},
             **{f"nn_{key}": float(at_epoch[name].get(row["epoch"], np.nan)) for key, name in
                (("train_loss", "loss"), ("train_accuracy", "train"), ("test_accuracy", "test"))}}
            for row in scratch]
    write_table(rows, out, "mlp_fashion_mnist")
    png = figures.mlp_figure(scratch, log_epochs, train_cost, epochs, train_error, test_error, out)
    nn_accuracy = 1 - last(run, "test_error")
    return [ReportFigure(png, "The 784-256-10 ReLU MLP trained from scratch and with nn modules: training loss, "
                              "training and test accuracy per epoch."),
            Table(rows, "Per epoch, from scratch and with nn modules (mlp_fashion_mnist.csv)"),
            claims.mlp_accuracy(nn_accuracy, full),
            claims.scratch_agrees(scratch[-1]["test_accuracy"], nn_accuracy, full)]


def _polynomial_section(runs: dict[str, RunDir], budget: D2LBudget, out: Path) -> Blocks:
    rows, fitted = [], {}
    for label, features in POLYNOMIAL_FITS.items():
        run = runs[f"polynomial/{label}"]
        state = run.load_checkpoint()["model"]
        weights = [float(state["1.bias"][0]), *map(float, state["1.weight"][0])]
        rows.append({"fit": label, "features": features, "epochs": run.config.epochs,
                     "train_loss": last(run, "train_set_cost"), "test_loss": last(run, "test_cost"),
                     "weights": " ".join(f"{w:.3f}" for w in weights[:6]) + (" …" if len(weights) > 6 else "")})
        fitted[label] = weights
    png = figures.polynomial_figure({label: runs[f"polynomial/{label}"] for label in POLYNOMIAL_FITS}, out)
    by_fit = {row["fit"]: row for row in rows}
    write_table(rows, out, "polynomial_fits")
    short = budget.polynomial_epochs < CHAPTER.polynomial_epochs
    return [f"y = 5 + 1.2x − 3.4x²/2! + 5.6x³/3! + N(0, 0.1²): the noise alone costs 0.01. True weights "
            f"{', '.join(f'{w:g}' for w in true_polynomial_weights(4))}, then zeros.",
            ReportFigure(png, "Training and test loss of a linear model fitted with 4 (normal), 2 (underfitting) and "
                              "20 features (overfitting)."),
            Table(rows, "The three fits (polynomial_fits.csv); weights: the bias (the x⁰ weight) first"),
            claims.normal_fit(fitted["normal"], true_polynomial_weights(4), not short),
            claims.underfitting(by_fit["underfitting"]["train_loss"], by_fit["underfitting"]["test_loss"],
                                by_fit["normal"]["test_loss"], not short),
            claims.overfitting(by_fit["overfitting"]["train_loss"], by_fit["overfitting"]["test_loss"],
                               budget.overfit_epochs >= CHAPTER.overfit_epochs)]


def _decay_section(runs: dict[str, RunDir], full: bool, out: Path) -> Blocks:
    shown = {lam: runs[f"decay/{lambda_name(lam)}"] for lam in SHOWN_LAMBDAS}
    png = figures.decay_figure(shown, out)
    rows = []
    for lam in DECAY_LAMBDAS:
        run = runs[f"decay/{lambda_name(lam)}"]
        rows.append({"lambda": lam, "train_loss": last(run, "train_set_cost"), "test_loss": last(run, "test_cost"),
                     "weight_norm": float(weight_norm(run)[1][-1])})
    write_table(rows, out, "weight_decay")
    at = {row["lambda"]: row for row in rows}
    plain, decayed = at[SHOWN_LAMBDAS[0]], at[SHOWN_LAMBDAS[1]]
    return [ReportFigure(png, "Training and test loss without (λ = 0) and with weight decay (λ = 3), and ‖w‖."),
            Table(rows, "Every λ fitted on the 20 training examples (weight_decay.csv)"),
            claims.weight_decay((plain["train_loss"], plain["test_loss"]),
                                (decayed["train_loss"], decayed["test_loss"]),
                                (plain["weight_norm"], decayed["weight_norm"]), full)]


def _kfold_section(runs: dict[str, RunDir], full: bool, out: Path) -> Blocks:
    rows = [{"lambda": lam, "fold": k, "train_loss": last(run, "train_set_cost"),
             "validation_loss": last(run, "validation_cost")}
            for lam in DECAY_LAMBDAS for k in range(1, FOLDS + 1)
            for run in [runs[f"kfold/{lambda_name(lam)}/fold{k}"]]]
    write_table(rows, out, "kfold")
    mean = {lam: {key: float(np.mean([r[key] for r in rows if r["lambda"] == lam]))
                  for key in ("train_loss", "validation_loss")} for lam in DECAY_LAMBDAS}
    test = {lam: last(runs[f"decay/{lambda_name(lam)}"], "test_cost") for lam in DECAY_LAMBDAS}
    summary = [{"lambda": lam, "mean_train_loss": m["train_loss"], "mean_validation_loss": m["validation_loss"],
                "test_loss_whole_training_set": test[lam]} for lam, m in mean.items()]
    write_table(summary, out, "kfold_choice")
    png = figures.kfold_figure(mean, test, out)
    return [f"{FOLDS}-fold cross-validation of the weight-decay fit: each fold of 4 of the 20 training examples is "
            "held out once, the other 16 train.",
            ReportFigure(png, "Mean training and validation loss over the folds for each λ, and each λ's test loss "
                              "when fitted on all 20 examples."),
            Table(summary, "The choice (kfold_choice.csv; every fold in kfold.csv)"),
            claims.kfold_selection({lam: m["validation_loss"] for lam, m in mean.items()}, test, full)]


def _dropout_section(runs: dict[str, RunDir], full: bool, out: Path) -> Blocks:
    rows = []
    for label in ("none", "d2l"):
        run = runs[f"dropout/{label}"]
        train_acc, test_acc = 1 - last(run, "train_error"), 1 - last(run, "test_error")
        rows.append({"dropout": "none" if label == "none" else "0.2, 0.5", "train_accuracy": train_acc,
                     "test_accuracy": test_acc, "gap": train_acc - test_acc})
    png = figures.dropout_figure({label: runs[f"dropout/{label}"] for label in ("none", "d2l")}, out)
    write_table(rows, out, "dropout")
    return [ReportFigure(png, "Training and test accuracy (measured with dropout off, as at inference) without and "
                              "with dropout."),
            Table(rows, "Dropout (dropout.csv)"),
            claims.dropout((rows[0]["gap"], rows[1]["gap"]), (rows[0]["test_accuracy"], rows[1]["test_accuracy"]),
                           full)]


def _stability_section(out: Path) -> Blocks:
    x, y, grad = sigmoid_gradient()
    norms = product_norms(1.0)
    png = figures.stability_figure(x, y, grad, norms, out)
    rows = [{"x": float(v), "sigmoid": float(s), "gradient": float(g)} for v, s, g in zip(x, y, grad)][::8]
    write_table(rows, out, "sigmoid_gradient")
    return [ReportFigure(png, f"Left: sigmoid and its gradient. Right: the product of {PRODUCT_FACTORS} "
                              f"{PRODUCT_SIZE} × {PRODUCT_SIZE} N(0, 1) matrices."),
            Table(rows, "Sigmoid's gradient (sigmoid_gradient.csv)"),
            claims.sigmoid_vanishes(x, grad), claims.product_explodes(norms)]


def report(plan: Plan[D2LBudget], runs: dict[str, RunDir], out: Path, progress: bool = True) -> Path:
    """Train the from-scratch MLP, read every run and write the figures (PNG, SVG),
    tables (CSV) and ``report.html`` into ``out``; return the report's path."""
    budget, name = plan.budget, plan.settings["dataset"]
    images = DATASETS.get(plan.settings["images"]).load(plan.settings["data_dir"])
    full_images = budget.image_epochs >= CHAPTER.image_epochs and budget.image_train_size is None
    full_decay = budget.decay_epochs >= CHAPTER.decay_epochs
    scratch = mlp_from_scratch(images, budget.image_epochs, seed=runs["mlp"].config.seed)
    note = (f"Data: {name}." if name == "fashion-mnist" else
            f"Data: {name}: Fashion-MNIST was not found, and the chapter's numbers are for it, so compare trends.")
    budget_rows = [{"budget": plan.budget_name, **dataclasses.asdict(budget)},
                   {"budget": "the chapter", **dataclasses.asdict(CHAPTER)}]
    sections = [
        Section("Setup", ["Every experiment with the chapter's settings (see the module docstring of "
                          "depthlab.studies.d2l_mlp.plan); an epoch of Fashion-MNIST here is 50,000 images, "
                          "10,000 being held out for validation.", Table(budget_rows, "Budget")]),
        Section("MLP on Fashion-MNIST", _mlp_section(runs["mlp"], scratch, full_images, out)),
        Section("Underfitting and overfitting", _polynomial_section(runs, budget, out)),
        Section("Weight decay", _decay_section(runs, full_decay, out)),
        Section("K-fold model selection", _kfold_section(runs, full_decay, out)),
        Section("Dropout", _dropout_section(runs, full_images, out)),
        Section("Numerical stability", _stability_section(out)),
    ]
    return write_report(out / "report.html", "Dive into Deep Learning: the multilayer-perceptron chapter", sections,
                        intro=f"Budget '{plan.budget_name}'. {note}")
