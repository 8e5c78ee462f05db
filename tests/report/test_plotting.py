"""Figures as files: a PNG and an SVG written whole or not at all."""

import subprocess
import sys
from pathlib import Path

import depthlab
from depthlab.report.plotting import new_figure, save_figure

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
