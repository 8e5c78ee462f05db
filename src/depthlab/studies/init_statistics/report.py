"""The report of the lecture's initialization demonstrations: figures (:mod:`.figures`),
tables and a verdict on each of the lecture's statements (:mod:`.claims`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from depthlab.nets.activations import ACTIVATIONS
from depthlab.references import LECTURE_STD
from depthlab.report.document import ReportFigure, Section, Table
from depthlab.report.html import write_report
from depthlab.report.tables import write_table
from depthlab.store import RunDir
from depthlab.studies.init_statistics import claims, figures
from depthlab.studies.init_statistics.budgets import InitStatisticsBudget
from depthlab.studies.init_statistics.demos import (
    DEPTH,
    PRODUCT_FACTORS,
    PRODUCT_SIZE,
    PRODUCT_VARIANCES,
    SCHEMES,
    STUDIED,
    SYMMETRY_BATCH,
    SYMMETRY_CLASSES,
    SYMMETRY_CONSTANT,
    SYMMETRY_DROPOUTS,
    SYMMETRY_INPUTS,
    SYMMETRY_LR,
    SYMMETRY_WIDTH,
    WIDTH,
    layer_activations,
    product_norms,
    train_constant_init,
    unit_parameters,
)
from depthlab.studies.study import Plan


def _weight_scale_results(activation: str, examples: int, out: Path) -> tuple[list[dict[str, Any]], list]:
    phi = ACTIVATIONS.get(activation)
    layers = {label: layer_activations(activation, SCHEMES[label], examples) for label in STUDIED[activation]}
    rows = []
    for label, activations in layers.items():
        lecture = LECTURE_STD.get((activation, SCHEMES[label]), ())
        rows += [{"activation": activation, "init": label, "layer": k, "mean": a.mean().item(), "std": a.std().item(),
                  "saturated_fraction": phi.saturated(s, a).float().mean().item(),
                  "lecture_std": lecture[k - 1] if k <= len(lecture) else None}
                 for k, (s, a) in enumerate(activations, start=1)]
    blocks = [figures.activation_histograms(activation, layers, out), figures.std_figure(activation, rows, out),
              Table(rows, f"{activation}: activation statistics per layer ({activation}_std.csv); saturated "
                          f"fraction: {phi.saturation_rule}")]
    return rows, blocks


def _product_results(out: Path) -> list:
    norms = {label: product_norms(v) for label, v in PRODUCT_VARIANCES.items()}
    factors = np.arange(1, PRODUCT_FACTORS + 1)
    rows = [{"factors": int(k), **{label: float(n[k - 1]) for label, n in norms.items()},
             **{f"expected {label}": (PRODUCT_SIZE * v) ** (k / 2) for label, v in PRODUCT_VARIANCES.items()}}
            for k in factors]
    write_table(rows, out, "matrix_products")
    png = figures.product_figure(factors, norms, out)
    unscaled, scaled = norms["σ² = 1"][-1], norms["σ² = 1/n"][-1]
    shown = [rows[k - 1] for k in (1, 10, 25, 50, 100) if k <= PRODUCT_FACTORS]
    return [ReportFigure(png, "Norm of the partial product against the number of factors (log scale), both variances "
                              "scaling the same random draws; dashed: the expected value."),
            Table(shown, "Partial product norms at some k (every k in matrix_products.csv)"),
            claims.products_explode(unscaled, scaled)]


def _symmetry_results(steps: int, out: Path) -> list:
    models = {dropout: train_constant_init(dropout, steps) for dropout in SYMMETRY_DROPOUTS}
    initial = unit_parameters(train_constant_init(0.0, 0))
    rows = [{"dropout": dropout, "layer": k, "max_row_difference": (p - p[0]).abs().max().item(),
             "change_from_init": (p - p0).norm().item()}
            for dropout, model in models.items()
            for k, (p, p0) in enumerate(zip(unit_parameters(model), initial), start=1)]
    write_table(rows, out, "symmetry")
    png = figures.symmetry_figure(models, out)
    tied = max(r["max_row_difference"] for r in rows if r["dropout"] == 0)
    broken = min(r["max_row_difference"] for r in rows if r["dropout"] > 0)
    return [f"A tanh MLP {SYMMETRY_INPUTS} → {SYMMETRY_WIDTH} → {SYMMETRY_WIDTH} → {SYMMETRY_CLASSES}, "
            f"every weight {SYMMETRY_CONSTANT}, biases 0, trained {steps} SGD steps (η = {SYMMETRY_LR}, "
            f"minibatch {SYMMETRY_BATCH}).",
            ReportFigure(png, "Layer 1 after training: row i holds hidden unit i's weights and bias."),
            Table(rows, "Largest difference between two units of a layer (symmetry.csv)"),
            claims.symmetry_breaks(tied, broken)]


def report(plan: Plan[InitStatisticsBudget], runs: dict[str, RunDir], out: Path, progress: bool = True) -> Path:
    """Run the demonstrations at the plan's budget and write figures (PNG, SVG), tables
    (CSV) and ``report.html`` into ``out``; return the report's path."""
    sizes = plan.budget
    tanh_rows, tanh_blocks = _weight_scale_results("tanh", sizes.examples, out)
    relu_rows, relu_blocks = _weight_scale_results("relu", sizes.examples, out)
    write_table(tanh_rows, out, "tanh_std")
    write_table(relu_rows, out, "relu_std")
    stack = (f"{DEPTH} layers of {WIDTH} units without biases, fed {sizes.examples} examples x ~ N(0, 1)^{WIDTH}; "
             "weights N(0, σ²) as labelled (n = 500 inputs per unit).")
    sections = [
        Section("Setup", ["Data: none (Gaussian inputs and random matrices).",
                          Table([{"budget": plan.budget_name, **dataclasses.asdict(sizes)}], "Budget")]),
        Section("Weight scale and tanh activations", [stack, *tanh_blocks, *claims.tanh_verdicts(tanh_rows)]),
        Section("ReLU: N(0, 1/n) against He N(0, 2/n)", [stack, *relu_blocks, claims.relu_verdict(relu_rows)]),
        Section("Products of random matrices", _product_results(out)),
        Section("Symmetry of constant initialization", _symmetry_results(sizes.symmetry_steps, out)),
    ]
    return write_report(out / "report.html", "The lecture's initialization statistics", sections,
                        intro=f"Budget '{plan.budget_name}'. Forward passes and random matrices only; no data set.")
