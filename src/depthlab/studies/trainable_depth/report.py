"""The report of the trainable-depth study: the heat map of training accuracy over
(σ_w², depth) with 6 ξ_c and the critical σ_w² drawn over it, the table of every cell and
the verdict of :mod:`.claims`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from depthlab.report.document import ReportFigure, Section, Table
from depthlab.report.html import write_report
from depthlab.report.tables import write_table
from depthlab.store import RunDir
from depthlab.studies.study import Plan
from depthlab.studies.trainable_depth import claims, figures
from depthlab.studies.trainable_depth.budgets import DECIDING_UPDATES, DepthBudget
from depthlab.studies.trainable_depth.plan import LR, run_name
from depthlab.theory import critical_sigma_w2, trainable_depth


def training_accuracy(run: RunDir) -> float:
    """1 − the last training-set error (NaN for a run that recorded none: diverged)."""
    errors = run.series("train_error")[1]
    return 1 - float(errors[-1]) if errors and (run.final or {}).get("status") == "completed" else float("nan")


def report(plan: Plan[DepthBudget], runs: dict[str, RunDir], out: Path, progress: bool = True) -> Path:
    """Read every cell, draw the heat map with the theory line and write ``report.html``."""
    budget = plan.budget
    sigma_w2s, depths = np.array(budget.sigma_w2s), np.array(budget.depths)
    accuracy = np.array([[training_accuracy(runs[run_name(sw, d)]) for sw in sigma_w2s] for d in depths])
    predicted = np.array([trainable_depth("tanh", sw, budget.sigma_b2) for sw in sigma_w2s])
    critical = float(critical_sigma_w2("tanh", budget.sigma_b2))
    rows = [{"sigma_w2": float(sw), "depth": int(d), "six_xi_c": float(predicted[j]),
             "predicted": "trainable" if d <= predicted[j] else "untrainable",
             "status": (runs[run_name(sw, d)].final or {}).get("status", "missing"),
             "training_accuracy": float(accuracy[i, j])}
            for i, d in enumerate(depths) for j, sw in enumerate(sigma_w2s)]
    write_table(rows, out, "trainable_depth")
    blanks = np.array([[row["status"] for row in rows[i * len(sigma_w2s):(i + 1) * len(sigma_w2s)]]
                       for i in range(len(depths))], dtype=object)
    png = figures.trainable_depth_figure(sigma_w2s, depths, accuracy, blanks, budget, critical, out)
    verdict = claims.follows_theory(accuracy, depths, predicted, budget.updates >= DECIDING_UPDATES)
    setup = (f"tanh networks of width {budget.width}, weights N(0, σ_w²/n_in), biases N(0, {budget.sigma_b2:g}), "
             f"SGD η = {LR:g} with minibatches of 64 for {budget.updates:,} updates on {plan.settings['dataset']}; "
             f"the training accuracy is measured on {budget.eval_size or 'all the'} training images at the end. "
             f"The theory line is depthlab.theory.trainable_depth = 6 ξ_c at σ_b² = {budget.sigma_b2:g}; the critical "
             f"line χ₁ = 1 is at σ_w² = {critical:.3f}.")
    sizes = {k: ", ".join(map(str, v)) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(budget).items()}
    sections = [
        Section("Setup", [setup, Table([{"budget": plan.budget_name, **sizes}], "Budget")]),
        Section("Trainable depth", [ReportFigure(png, "Training accuracy over (σ_w², depth), with 6 ξ_c and the "
                                                      "critical σ_w² of mean-field theory drawn over it."),
                                    Table(rows, "Every cell (trainable_depth.csv)"), verdict]),
    ]
    return write_report(out / "report.html", "Trainable depth: Schoenholz et al. (2017) against 6 ξ_c", sections,
                        intro=f"Budget '{plan.budget_name}'.")
