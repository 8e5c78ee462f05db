"""The figures of the lecture's initialization demonstrations: activation histograms and
standard deviations per layer, norms of products of random matrices, and the units of a
constant-initialized net after training. Each saves a PNG and an SVG in ``out``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from depthlab.nets.activations import ACTIVATIONS
from depthlab.nets.mlp import MLP
from depthlab.references import LECTURE_STD
from depthlab.report.document import ReportFigure
from depthlab.report.plotting import layer_color, new_figure, save_figure
from depthlab.studies.init_statistics.demos import (
    DEPTH,
    PRODUCT_SIZE,
    PRODUCT_VARIANCES,
    SCHEMES,
    STUDIED,
    unit_parameters,
)

HISTOGRAM_BINS = 50


def activation_histograms(activation: str, layers: dict[str, list[tuple[Tensor, Tensor]]],
                          out: Path) -> ReportFigure:
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


def std_figure(activation: str, rows: list[dict[str, Any]], out: Path) -> ReportFigure:
    """Each layer's activation std per weight scale (log scale), with the lecture's numbers."""
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


def product_figure(factors: np.ndarray, norms: dict[str, np.ndarray], out: Path) -> Path:
    """‖W_k⋯W_1‖_F / √n against k for each variance (``norms``), with its expected value dashed."""
    fig, axes = new_figure(1, 1, width=6.0, height=4.0)
    ax = axes[0][0]
    for k, (label, n) in enumerate(norms.items()):
        ax.plot(factors, n, color=f"C{k}", label=label)
        ax.plot(factors, (PRODUCT_SIZE * PRODUCT_VARIANCES[label]) ** (factors / 2), "--", color=f"C{k}",
                label=f"{label}: (nσ²)^(k/2)")
    ax.set(yscale="log", xlabel="factors k", ylabel="‖W_k⋯W_1‖_F / √n",
           title=f"products of {PRODUCT_SIZE}×{PRODUCT_SIZE} Gaussian matrices")
    ax.legend(fontsize=8)
    return save_figure(fig, out, "matrix_products")


def symmetry_figure(models: dict[float, MLP], out: Path) -> Path:
    """Layer 1 of each trained net (by dropout rate): row i holds unit i's weights and bias."""
    fig, axes = new_figure(1, len(models), width=3.6, height=3.4)
    for ax, (dropout, model) in zip(axes[0], models.items()):
        ax.imshow(unit_parameters(model)[0].numpy(), cmap="coolwarm", aspect="auto")
        ax.set(title=f"dropout {dropout}", xlabel="input (last column: bias)", ylabel="hidden unit")
    return save_figure(fig, out, "symmetry")
