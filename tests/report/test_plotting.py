"""Figures as files: a PNG and an SVG written whole or not at all."""

import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import depthlab
from depthlab.report.plotting import CELL_FONT_SIZES, cell_font_size, heat_map, new_figure, save_figure

LIMITED = """
import resource, sys
from depthlab.errors import DepthlabError
from depthlab.report.plotting import new_figure, save_figure
fig, axes = new_figure()
axes[0][0].plot(range(2000), [(i * 7919) % 997 for i in range(2000)])  # a PNG of tens of KB
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    save_figure(fig, sys.argv[1], "curves")
except DepthlabError as error:
    print(error)
"""


def test_a_figure_cut_short_by_a_file_size_limit_leaves_the_old_one_whole(tmp_path):
    fig, _ = new_figure()
    save_figure(fig, tmp_path, "curves")
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    result = subprocess.run([sys.executable, "-c", LIMITED, str(tmp_path)], capture_output=True, text=True,
                            env={"PYTHONPATH": str(Path(depthlab.__file__).parents[1]), "MPLBACKEND": "Agg"},
                            check=True)
    assert result.stdout == f"could not write {tmp_path / 'curves.png'}: File too large\n"
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before
    assert sorted(before) == ["curves.png", "curves.svg"]


def _cell_texts(ax):
    return [t for t in ax.texts if t.get_text()]


def test_heat_map_numbers_fill_their_cells_and_fit_them():
    """A sweep's map of 8 learning rates × 6 seeds: each number is written in a font of
    at least 9 points (the map wrote 6 before), and no written text is wider than its cell."""
    fig, axes = new_figure(1, 1, width=6.0, height=4.4)
    ax = axes[0][0]
    values = np.array([[0.0123 * (i + 1) * (j + 1) for j in range(6)] for i in range(8)])
    values[7, :] = np.nan
    blanks = np.full(values.shape, "", dtype=object)
    blanks[7, :] = "diverged"
    heat_map(ax, list(range(6)), [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0], values, "cost", blanks=blanks)
    fig.tight_layout()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    cell_width = ax.get_window_extent(renderer).width / 6
    numbers = [t for t in _cell_texts(ax) if t.get_text() != "diverged"]
    assert len(numbers) == 42 and all(t.get_fontsize() >= 9 for t in numbers)
    assert max(t.get_window_extent(renderer).width for t in _cell_texts(ax)) <= cell_width
    plt.close(fig)


def test_the_cell_font_shrinks_with_the_cell_within_its_bounds():
    fig, axes = new_figure(1, 1, width=6.0, height=4.4)
    sizes = [cell_font_size(axes[0][0], columns, 4, ["0.012"]) for columns in (2, 12, 60)]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] == CELL_FONT_SIZES[1] and sizes[-1] == CELL_FONT_SIZES[0]
    assert CELL_FONT_SIZES[0] < sizes[1] < CELL_FONT_SIZES[1]
    plt.close(fig)
