"""The figures of the lecture's training experiments, one per experiment: each saves a
PNG and an SVG in ``out`` and returns the PNG's path."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from depthlab.report.plotting import new_figure, save_figure, updates_axis
from depthlab.store import RunDir
from depthlab.studies.fc_training.plan import CLIP_NORM, OPTIMIZER_DEPTH, WIDTH
from depthlab.studies.fc_training.quadratic import QUADRATIC, quadratic


def _save(fig, axes, out: Path, stem: str) -> Path:
    """Put a small legend on each panel of the row and save the figure."""
    for ax in axes[0]:
        ax.legend(fontsize=7)
    return save_figure(fig, out, stem)


def optimizers_figure(best: dict[str, tuple[float, RunDir]], out: Path) -> Path:
    """Training cost against updates of each optimizer's run at its best rate
    (``best``: optimizer → (rate, run))."""
    fig, axes = new_figure(1, 1, width=6.5, height=4.0)
    for optimizer, (lr, run) in best.items():
        updates, costs = run.series("train_cost")
        axes[0][0].plot(updates, costs, label=f"{optimizer} (η = {lr:g})")
    axes[0][0].set(yscale="log", xlabel="updates", ylabel="training cost (NLL)",
                   title=f"{OPTIMIZER_DEPTH} × {WIDTH} tanh, normalized init")
    axes[0][0].legend(fontsize=8)
    return save_figure(fig, out, "optimizers")


def quadratic_figure(paths: dict[str, tuple[float, np.ndarray]], out: Path) -> Path:
    """Each optimizer's path (``paths``: optimizer → (rate, path)) over the contours of
    the quadratic."""
    curvature = np.array(QUADRATIC)
    fig, axes = new_figure(2, 3, width=3.6, height=2.6, sharex=True, sharey=True)
    grid = np.meshgrid(np.linspace(-5.5, 1.0, 200), np.linspace(-3.0, 3.0, 200))
    levels = quadratic(np.stack(grid, -1), curvature)
    for ax, (optimizer, (lr, path)) in zip(axes.flat, paths.items()):
        ax.contour(*grid, levels, levels=12, colors="lightgray", linewidths=0.7)
        ax.plot(path[:, 0], path[:, 1], ".-", color="tab:orange", markersize=3, linewidth=1)
        ax.set(title=f"{optimizer}, η = {lr:g}", xlim=(-5.5, 1.0), ylim=(-3.0, 3.0))
    for ax in axes[-1]:
        ax.set_xlabel("x₁")
    for ax in axes[:, 0]:
        ax.set_ylabel("x₂")
    return save_figure(fig, out, "quadratic")


def clipping_figure(runs: dict[str, RunDir], norms: dict[str, tuple[np.ndarray, np.ndarray]],
                    diverged_at: int | None, out: Path) -> Path:
    """Left: each run's gradient norm (``norms``, by the same labels as ``runs``) with the
    clipping threshold; right: its training cost; a line where the plain run diverged."""
    fig, axes = new_figure(1, 2, width=4.4, height=3.4)
    for label, run in runs.items():
        axes[0][0].plot(*norms[label], ".-", label=label)
        axes[0][1].plot(*run.series("train_cost"), label=label)
    if diverged_at is not None:
        for ax in axes[0]:
            ax.axvline(diverged_at, color="red", linestyle=":", label="diverged")
    axes[0][0].axhline(CLIP_NORM, color="gray", linestyle="--", linewidth=0.8, label="clipping threshold")
    updates_axis(axes[0][0], "gradient norm ‖∂C/∂W‖ (probe set)")
    updates_axis(axes[0][1], "training cost")
    for ax in axes[0]:
        ax.set_yscale("log")
    return _save(fig, axes, out, "clipping")


def batchnorm_figure(layers: np.ndarray, pair: dict[str, tuple[np.ndarray, np.ndarray, RunDir]], out: Path) -> Path:
    """Per hidden layer, the back-propagated gradient's std and the activations' std of
    each net (``pair``: "without"/"with" → (gradients, activations, run)); right: its
    validation error over updates."""
    fig, axes = new_figure(1, 3, width=3.6, height=3.2)
    for label, (gradients, activations, run) in pair.items():
        axes[0][0].plot(layers, gradients, "o-", label=f"{label} batch norm")
        axes[0][1].plot(layers, activations, "o-", label=f"{label} batch norm")
        axes[0][2].plot(*run.series("validation_error"), "o-", label=f"{label} batch norm")
    axes[0][0].set(yscale="log", xlabel="hidden layer", ylabel="back-propagated gradient std", xticks=layers)
    axes[0][1].set(xlabel="hidden layer", ylabel="activation std", xticks=layers)
    axes[0][2].set(xlabel="updates", ylabel="validation error")
    return _save(fig, axes, out, "batchnorm")


def activations_figure(layers: np.ndarray, nets: dict[str, tuple[str, np.ndarray, RunDir]], out: Path) -> Path:
    """Left: the back-propagated gradient's std per layer at initialization of each net
    (``nets``: activation → (init, gradients, run)); right: its validation error."""
    fig, axes = new_figure(1, 2, width=4.6, height=3.4)
    for activation, (init, gradients, run) in nets.items():
        axes[0][0].plot(layers, gradients, "o-", label=f"{activation} ({init})")
        axes[0][1].plot(*run.series("validation_error"), "o-", label=activation)
    axes[0][0].set(yscale="log", xlabel="hidden layer", ylabel="back-propagated gradient std at init", xticks=layers)
    axes[0][1].set(xlabel="updates", ylabel="validation error")
    return _save(fig, axes, out, "activations")
