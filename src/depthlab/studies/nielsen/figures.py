"""The figures of Nielsen's chapter 5, ours beside his numbers: learning speed per layer
at initialization and during training, and validation accuracy against depth. Each
saves a PNG and an SVG in ``out`` and returns the PNG's path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from depthlab.references import NIELSEN_INIT_SPEED
from depthlab.report.plotting import layer_color, new_figure, save_figure
from depthlab.store import RunDir


def init_speed_figure(init_speeds: dict[int, np.ndarray], out: Path) -> Path:
    """One panel per depth: each hidden layer's mean speed (± std over seeds) beside Nielsen's."""
    fig, axes = new_figure(1, len(init_speeds), width=3.6, height=3.4, sharey=True)
    for ax, (depth, speeds) in zip(axes[0], init_speeds.items()):
        layers = np.arange(1, depth + 1)
        ax.bar(layers - 0.2, speeds.mean(0), 0.4, yerr=speeds.std(0), label="ours", color="tab:blue")
        ax.bar(layers + 0.2, NIELSEN_INIT_SPEED[depth], 0.4, label="Nielsen", color="tab:gray")
        ax.set(yscale="log", xticks=layers, xlabel="hidden layer", title=f"[784, {', '.join(['30'] * depth)}, 10]")
    axes[0][0].set_ylabel("learning speed ‖∂C/∂b‖")
    axes[0][0].legend()
    return save_figure(fig, out, "learning_speed_init")


def training_speed_figure(speeds: np.ndarray, out: Path) -> Path:
    """Each hidden layer's speed over the full-batch epochs (``speeds[epoch, layer]``)."""
    fig, axes = new_figure(1, 1, width=6.5, height=4.2)
    ax = axes[0][0]
    for k in range(speeds.shape[1]):
        ax.plot(speeds[:, k], color=layer_color(k + 1, speeds.shape[1]), label=f"hidden layer {k + 1}")
    ax.set(yscale="log", xlabel="epoch (full batch of 1000 images)", ylabel="learning speed ‖∂C/∂b‖",
           title="[784, 30, 30, 30, 30, 10]")
    ax.legend()
    return save_figure(fig, out, "learning_speed_training")


def accuracy_figure(runs: dict[int, RunDir], rows: list[dict[str, Any]], out: Path) -> Path:
    """Left: the final validation accuracy per depth (``rows``) beside Nielsen's; right:
    each depth run's validation accuracy over its epochs."""
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
    return save_figure(fig, out, "accuracy_vs_depth")
