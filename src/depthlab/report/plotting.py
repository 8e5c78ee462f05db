"""Small shared pieces for drawing figures: a headless matplotlib figure, saving it as
PNG and SVG together, and one colour per layer so every figure reads the same way."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def new_figure(rows: int = 1, cols: int = 1, width: float = 6.0, height: float = 4.0, **kwargs):
    """A figure with ``rows × cols`` axes, each ``width × height`` inches."""
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False, **kwargs)
    return fig, axes


def layer_color(layer: int, layers: int):
    """Layer 1 (bottom) dark to the top layer light, as in the paper's figures."""
    return plt.get_cmap("viridis")(0.9 * (layer - 1) / max(1, layers - 1))


def updates_axis(ax, ylabel: str) -> None:
    """Label an axes drawn over training: updates on a symmetric-log x axis, since probes
    are dense early and sparse late (update 0 stays on the axis)."""
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(left=0)
    ax.set_xlabel("updates")
    ax.set_ylabel(ylabel)


def save_figure(fig: Figure, directory: str | Path, stem: str) -> Path:
    """Write ``stem.png`` and ``stem.svg`` into ``directory``; return the PNG's path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    png = directory / f"{stem}.png"
    fig.savefig(png, dpi=110)
    fig.savefig(directory / f"{stem}.svg")
    plt.close(fig)
    return png
