"""Small shared pieces for drawing figures: a headless matplotlib figure, saving it as
PNG and SVG together, one colour per layer so every figure reads the same way, and a
heat map over two axes of a grid."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from depthlab.store.files import replace_durably  # noqa: E402


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


def _edges(values) -> tuple[np.ndarray, list | None, bool]:
    """(cell edges, tick labels, log scale): edges halfway between numeric values
    (halfway in log when they span more than a decade), or index edges and labels for
    other values."""
    try:
        centres = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return np.arange(len(values) + 1) - 0.5, [str(v) for v in values], False
    if len(centres) == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5]), None, False
    geometric = bool(centres.min() > 0 and centres.max() / centres.min() > 10)
    scale = np.log(centres) if geometric else centres
    middle = (scale[1:] + scale[:-1]) / 2
    edges = np.concatenate([[2 * scale[0] - middle[0]], middle, [2 * scale[-1] - middle[-1]]])
    return (np.exp(edges) if geometric else edges), None, geometric


CELL_FONT_SIZES = (6.0, 12.0)
"""The smallest and largest font (points) of the numbers written in a heat map's cells."""


def cell_font_size(ax, columns: int, rows: int, texts) -> float:
    """The font size (points, within :data:`CELL_FONT_SIZES`) at which the longest of
    ``texts`` fills at most 85% of a cell's width (a character taken as 0.6 em wide) and
    half its height, the axes' ``columns × rows`` cells dividing its box evenly."""
    box = ax.get_position()
    width = ax.figure.get_figwidth() * box.width * 72 / max(columns, 1)
    height = ax.figure.get_figheight() * box.height * 72 / max(rows, 1)
    longest = max((len(text) for text in texts), default=1) or 1
    return float(np.clip(min(0.85 * width / (0.6 * longest), 0.5 * height), *CELL_FONT_SIZES))


def heat_map(ax, xs, ys, values, label: str, cmap: str = "viridis", vmin=None, vmax=None, blanks=None):
    """``values[i, j]`` at (xs[j], ys[i]) as coloured cells, each written in its cell (two
    significant digits, in a font sized to the cell: :func:`cell_font_size`), with a
    colour bar named ``label``. A NaN cell is left blank, or says ``blanks[i][j]``
    (e.g. "diverged"). Colours go on a log scale when the values are positive and span
    more than a factor of 100. Numeric axes keep their scale, so a curve can be drawn
    over the map."""
    x_edges, x_labels, x_log = _edges(xs)
    y_edges, y_labels, y_log = _edges(ys)
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    norm = LogNorm(vmin, vmax) if len(finite) and finite.min() > 0 and finite.max() > 100 * finite.min() else None
    mesh = ax.pcolormesh(x_edges, y_edges, np.ma.masked_invalid(values), cmap=cmap, norm=norm,
                         **({} if norm else {"vmin": vmin, "vmax": vmax}))
    ax.figure.colorbar(mesh, ax=ax, label=label)
    x_centres = (x_edges[1:] + x_edges[:-1]) / 2 if x_labels else np.asarray(xs, dtype=float)
    y_centres = (y_edges[1:] + y_edges[:-1]) / 2 if y_labels else np.asarray(ys, dtype=float)
    texts = [[f"{v:.2g}" if np.isfinite(v) else (blanks[i][j] if blanks is not None else "")
              for j, v in enumerate(row)] for i, row in enumerate(values)]
    sizes = {finite: cell_font_size(ax, len(x_centres), len(y_centres),  # numbers, and the words of blank cells
                                    [t for row, texts_row in zip(values, texts) for v, t in zip(row, texts_row)
                                     if np.isfinite(v) == finite]) for finite in (True, False)}
    for i, y in enumerate(y_centres):
        for j, x in enumerate(x_centres):
            finite_cell = np.isfinite(values[i, j])
            bright = finite_cell and mesh.norm(values[i, j]) > 0.6  # dark text on the bright end of the map
            ax.text(x, y, texts[i][j], ha="center", va="center", fontsize=sizes[bool(finite_cell)],
                    color="black" if bright or not finite_cell else "white")
    ax.set(xscale="log" if x_log else "linear", yscale="log" if y_log else "linear")
    ax.set_xticks(x_centres, x_labels or [f"{v:g}" for v in x_centres])
    ax.set_yticks(y_centres, y_labels or [f"{v:g}" for v in y_centres])
    ax.minorticks_off()
    return mesh


def save_figure(fig: Figure, directory: str | Path, stem: str) -> Path:
    """Write ``stem.png`` and ``stem.svg`` into ``directory``; return the PNG's path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    png = directory / f"{stem}.png"
    try:
        replace_durably(png, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
        replace_durably(directory / f"{stem}.svg", lambda tmp: fig.savefig(tmp, format="svg"))
    finally:
        plt.close(fig)
    return png
