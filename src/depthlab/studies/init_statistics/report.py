"""The report of the lecture's initialization demonstrations: figures, tables and a
verdict on each of the lecture's statements, by the thresholds stated below."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from depthlab.nets.activations import ACTIVATIONS
from depthlab.references import LECTURE_STD
from depthlab.report.document import ReportFigure, Section, Table, Verdict
from depthlab.report.html import write_report
from depthlab.report.plotting import layer_color, new_figure, save_figure
from depthlab.report.tables import write_table
from depthlab.store import RunDir
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

HISTOGRAM_BINS = 50
LECTURE_RTOL = 0.1
"""Our std reproduces a lecture number when within this relative difference."""
SATURATED_MAJORITY = 0.5
"""N(0, 1) saturates a layer when more than this fraction of its units has |a| ≥ 0.95."""
COLLAPSED_STD = 1e-3
"""0.01·N(0, 1) has collapsed when the top layer's std is below this."""
KEPT_FACTOR, LOST_FACTOR = 3.0, 10.0
"""ReLU: He keeps the std (largest/smallest layer std below 3); N(0, 1/n) loses it (more than 10×)."""
EXPLODED, BOUNDED = 1e10, (1e-3, 1e3)
"""The σ² = 1 product explodes past 1e10; the scaled one stays within [1e-3, 1e3]."""


def _close(ours: float, lecture: float) -> bool:
    return abs(ours - lecture) <= LECTURE_RTOL * lecture


def _activation_figures(activation: str, layers: dict[str, list[tuple[Tensor, Tensor]]], out: Path) -> ReportFigure:
    """One panel per weight scale, holding one histogram per layer, stacked bottom to top
    and each scaled to its own peak; for ReLU, of the positive outputs (the rest are 0)."""
    value_range = ACTIVATIONS.get(activation).value_range
    fig, axes = new_figure(1, len(layers), width=3.0, height=4.2, sharey=True)
    for ax, (label, activations) in zip(axes[0], layers.items()):
        for layer, (_, a) in enumerate(activations, start=1):
            shown = a[a > 0] if activation == "relu" else a
            counts, edges = np.histogram(shown.clamp(*value_range).numpy(), bins=HISTOGRAM_BINS, range=value_range)
            ax.stairs(layer + 0.9 * counts / counts.max(), edges, baseline=layer, fill=True,
                      color=layer_color(layer, DEPTH))
        ax.set(title=label, xlabel=f"{activation}(s)", yticks=range(1, DEPTH + 1))
    axes[0][0].set_ylabel("layer")
    png = save_figure(fig, out, f"{activation}_histograms")
    relu_note = "; ReLU: the positive outputs only (about half are exactly 0)." if activation == "relu" else "."
    return ReportFigure(png, f"{activation}: histogram of each layer's activations (stacked bottom to top, each "
                             "scaled to its peak), one panel per weight scale; values beyond the range count in the "
                             "end bins" + relu_note)


def _std_figure(activation: str, rows: list[dict[str, Any]], out: Path) -> ReportFigure:
    fig, axes = new_figure(1, 1, width=6.0, height=4.0)
    ax = axes[0][0]
    for k, label in enumerate(STUDIED[activation]):
        mine = [r for r in rows if r["init"] == label]
        ax.plot([r["layer"] for r in mine], [r["std"] for r in mine], "o-", color=f"C{k}", label=label)
        lecture = LECTURE_STD.get((activation, SCHEMES[label]), ())
        ax.plot(range(1, len(lecture) + 1), lecture, "kx", ms=9)
    ax.plot([], [], "kx", label="lecture")
    ax.set(yscale="log", xlabel="layer", ylabel="activation std", xticks=range(1, DEPTH + 1), title=activation)
    ax.legend(fontsize=8)
    png = save_figure(fig, out, f"{activation}_std")
    return ReportFigure(png, f"{activation}: standard deviation of each layer's activations (log scale), ours and the "
                             "lecture's numbers.")


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
    blocks = [_activation_figures(activation, layers, out), _std_figure(activation, rows, out),
              Table(rows, f"{activation}: activation statistics per layer ({activation}_std.csv); saturated "
                          f"fraction: {phi.saturation_rule}")]
    return rows, blocks


def _tanh_verdicts(rows: list[dict[str, Any]]) -> list[Verdict]:
    by = {(r["init"], r["layer"]): r for r in rows}
    verdicts = []
    for label, claim in (("0.01·N(0,1)", "0.01·N(0,1): the std collapses, 0.21, 0.048, 0.011, … → 0."),
                         ("LeCun N(0,1/n)", "N(0,1/n) (the lecture's Xavier): the std decays slowly, ≈ 0.63, "
                                            "0.49, 0.41, …")):
        lecture = LECTURE_STD["tanh", SCHEMES[label]]
        pairs = [(by[label, k]["std"], v) for k, v in enumerate(lecture, start=1)]
        ours = ", ".join(f"{o:.3g}" for o, _ in pairs)
        top = by[label, DEPTH]["std"]
        holds = all(_close(o, v) for o, v in pairs)
        if label == "0.01·N(0,1)":
            holds = holds and top < COLLAPSED_STD
        verdicts.append(Verdict.decide(
            claim, holds, f"Ours: {ours}; layer {DEPTH}: {top:.3g} (agreement within "
            f"{LECTURE_RTOL:.0%}; collapse means below {COLLAPSED_STD:g})."))
    saturated = [by["N(0,1)", k]["saturated_fraction"] for k in range(1, DEPTH + 1)]
    verdicts.append(Verdict.decide(
        "N(0,1): every layer saturates at ±1.", min(saturated) > SATURATED_MAJORITY,
        f"Fraction of units with |a| ≥ 0.95: {min(saturated):.1%} to {max(saturated):.1%} "
        f"across the layers."))
    return verdicts


def _relu_verdict(rows: list[dict[str, Any]]) -> Verdict:
    def spread(label: str) -> float:
        stds = [r["std"] for r in rows if r["init"] == label]
        return max(stds) / min(stds)

    lecun, he = spread("LeCun N(0,1/n)"), spread("He N(0,2/n)")
    return Verdict.decide(
        "ReLU: N(0,1/n) (the lecture's Xavier) collapses the activations, He keeps them.",
        lecun > LOST_FACTOR and he < KEPT_FACTOR,
        f"Largest/smallest layer std: N(0,1/n) {lecun:.3g} (collapse: above {LOST_FACTOR:g}), He {he:.3g} "
        f"(kept: below {KEPT_FACTOR:g}).")


def _product_results(out: Path) -> list:
    norms = {label: product_norms(v) for label, v in PRODUCT_VARIANCES.items()}
    factors = np.arange(1, PRODUCT_FACTORS + 1)
    rows = [{"factors": int(k), **{label: float(n[k - 1]) for label, n in norms.items()},
             **{f"expected {label}": (PRODUCT_SIZE * v) ** (k / 2) for label, v in PRODUCT_VARIANCES.items()}}
            for k in factors]
    write_table(rows, out, "matrix_products")
    fig, axes = new_figure(1, 1, width=6.0, height=4.0)
    ax = axes[0][0]
    for k, (label, n) in enumerate(norms.items()):
        ax.plot(factors, n, color=f"C{k}", label=label)
        ax.plot(factors, (PRODUCT_SIZE * PRODUCT_VARIANCES[label]) ** (factors / 2), "--", color=f"C{k}",
                label=f"{label}: (nσ²)^(k/2)")
    ax.set(yscale="log", xlabel="factors k", ylabel="‖W_k⋯W_1‖_F / √n",
           title=f"products of {PRODUCT_SIZE}×{PRODUCT_SIZE} Gaussian matrices")
    ax.legend(fontsize=8)
    png = save_figure(fig, out, "matrix_products")
    unscaled, scaled = norms["σ² = 1"][-1], norms["σ² = 1/n"][-1]
    holds = unscaled > EXPLODED and BOUNDED[0] <= scaled <= BOUNDED[1]
    shown = [rows[k - 1] for k in (1, 10, 25, 50, 100) if k <= PRODUCT_FACTORS]
    return [ReportFigure(png, "Norm of the partial product against the number of factors (log scale), both variances "
                              "scaling the same random draws; dashed: the expected value."),
            Table(shown, "Partial product norms at some k (every k in matrix_products.csv)"),
            Verdict.decide(
                f"The product of {PRODUCT_FACTORS} Gaussian random matrices with σ² = 1 explodes; with "
                "σ² = 1/n it stays O(1).", holds,
                f"After {PRODUCT_FACTORS} factors: σ² = 1 gives {unscaled:.3g} (explodes: above {EXPLODED:g}), "
                f"σ² = 1/n gives {scaled:.3g} (bounded: within {BOUNDED[0]:g}–{BOUNDED[1]:g}).")]


def _symmetry_results(steps: int, out: Path) -> list:
    models = {dropout: train_constant_init(dropout, steps) for dropout in SYMMETRY_DROPOUTS}
    initial = unit_parameters(train_constant_init(0.0, 0))
    rows = [{"dropout": dropout, "layer": k, "max_row_difference": (p - p[0]).abs().max().item(),
             "change_from_init": (p - p0).norm().item()}
            for dropout, model in models.items()
            for k, (p, p0) in enumerate(zip(unit_parameters(model), initial), start=1)]
    write_table(rows, out, "symmetry")
    fig, axes = new_figure(1, len(models), width=3.6, height=3.4)
    for ax, (dropout, model) in zip(axes[0], models.items()):
        ax.imshow(unit_parameters(model)[0].numpy(), cmap="coolwarm", aspect="auto")
        ax.set(title=f"dropout {dropout}", xlabel="input (last column: bias)", ylabel="hidden unit")
    png = save_figure(fig, out, "symmetry")
    tied = max(r["max_row_difference"] for r in rows if r["dropout"] == 0)
    broken = min(r["max_row_difference"] for r in rows if r["dropout"] > 0)
    return [f"A tanh MLP {SYMMETRY_INPUTS} → {SYMMETRY_WIDTH} → {SYMMETRY_WIDTH} → {SYMMETRY_CLASSES}, "
            f"every weight {SYMMETRY_CONSTANT}, biases 0, trained {steps} SGD steps (η = {SYMMETRY_LR}, "
            f"minibatch {SYMMETRY_BATCH}).",
            ReportFigure(png, "Layer 1 after training: row i holds hidden unit i's weights and bias."),
            Table(rows, "Largest difference between two units of a layer (symmetry.csv)"),
            Verdict.decide(
                "Constant initialization keeps every hidden unit of a layer identical under SGD; dropout "
                "breaks the symmetry.", tied == 0 and broken > 0,
                f"Largest difference between units: {tied:g} without dropout, at least {broken:.3g} with "
                f"dropout {SYMMETRY_DROPOUTS[-1]}.")]


def report(plan: Plan, runs: dict[str, RunDir], out: Path, progress: bool = True) -> Path:
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
        Section("Weight scale and tanh activations", [stack, *tanh_blocks, *_tanh_verdicts(tanh_rows)]),
        Section("ReLU: N(0, 1/n) against He N(0, 2/n)", [stack, *relu_blocks, _relu_verdict(relu_rows)]),
        Section("Products of random matrices", _product_results(out)),
        Section("Symmetry of constant initialization", _symmetry_results(sizes.symmetry_steps, out)),
    ]
    return write_report(out / "report.html", "The lecture's initialization statistics", sections,
                        intro=f"Budget '{plan.budget_name}'. Forward passes and random matrices only; no data set.")
