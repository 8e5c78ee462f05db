"""Run a grid file into a folder, and summarize and report it from the store.

    DIR/grid.json      the grid as parsed: base keys and axis values
    DIR/runs/<name>/   one ordinary run directory per point (see depthlab.store.run)
    DIR/summary.csv    one row per run: a column per axis, then its status and numbers
    DIR/report.html    the runs' curves, and a heat map of one metric over two axes
                       (report.md beside it)

Running the same grid again keeps finished runs and resumes interrupted ones, as studies
do (:mod:`depthlab.grid.runner`); ``depthlab sweep --report DIR`` redraws the summary
and the report from what is stored. Importing this module imports no torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from depthlab.config import FilePath
from depthlab.errors import DepthlabError
from depthlab.grid import Backend, RunSpec, Stacking, check_backend
from depthlab.registry import Choice
from depthlab.report.document import ReportFigure, Section, Table
from depthlab.report.html import write_report
from depthlab.report.tables import write_table
from depthlab.store import RunDir, run_state
from depthlab.store.files import read_object, write_json
from depthlab.store.lock import FolderLock
from depthlab.sweeps.grid_file import Grid, load_grid, parse_grid
from depthlab.threads import check_threads
from depthlab.training.costs import COSTS


class Metric(Choice, kind="metric"):
    """A number of ``summary.csv`` that a sweep's heat map can show."""

    VALIDATION_ERROR = "validation_error"
    TEST_ERROR = "test_error"
    TRAIN_COST = "train_cost"
    VALIDATION_COST = "validation_cost"
    TEST_COST = "test_cost"


SUMMARY_COLUMNS = ("status", *Metric.names(), "updates")
"""The columns of ``summary.csv`` after one per axis."""


def sweep(grid_file: str | Path, out: str | Path, workers: int = 1, progress: bool = True, backend: str = "local",
          address: str | None = None, metric: str | None = None, stacking: str = "auto",
          threads: int | None = None) -> Path:
    """Train every point of ``grid_file`` into ``out`` (resuming what is there), then
    write ``summary.csv`` and ``report.html``; return the report's path. ``backend``,
    ``address``, ``stacking`` and ``threads`` as :func:`depthlab.grid.runner.run_specs` takes them;
    ``metric``: a :class:`Metric`. Nothing is started when the file, a point or a choice
    is bad."""
    grid = load_grid(grid_file)
    specs = grid.specs()
    FilePath().check("--out", str(out), str)
    backend = check_backend(backend, address)
    stacking = Stacking.parse(stacking)
    if workers < 1:
        raise DepthlabError(f"workers {workers} must be at least 1")
    check_threads(threads, local=backend is not Backend.RAY)
    _check_metric(metric)
    from depthlab.grid.runner import check_specs, run_specs  # after the arguments are checked: torch

    out = Path(out)
    check_points([spec for spec in specs if run_state(out / "runs" / spec.name) != "finished"])
    out.mkdir(parents=True, exist_ok=True)
    with FolderLock(out, "sweep folder"):
        check_specs(specs, out)
        write_json(out / "grid.json", grid.to_dict())
        run_specs(specs, out, workers=workers, progress=progress, backend=backend, address=address,
                  stacking=stacking, threads=threads)
        return write_sweep_report(out, metric)


def dry_run(grid_file: str | Path, out: str | Path, workers: int = 1, backend: str = "local",
            address: str | None = None, stacking: str = "auto", threads: int | None = None) -> str:
    """What :func:`sweep` with these arguments would train, as text: the grid's points, its
    runs and updates (those already finished in ``out`` too) and the wall time expected
    here (:func:`depthlab.grid.estimate.describe`). Trains nothing and writes nothing."""
    grid = load_grid(grid_file)
    specs = grid.specs()
    FilePath().check("--out", str(out), str)
    check_threads(threads, local=check_backend(backend, address) is not Backend.RAY)
    Stacking.parse(stacking)
    if workers < 1:
        raise DepthlabError(f"workers {workers} must be at least 1")
    from depthlab.grid.estimate import describe  # torch
    from depthlab.grid.runner import check_specs

    check_specs(specs, Path(out))
    return describe(specs, Path(out), workers, threads, f"sweep {grid_file}:")


def check_points(specs: list[RunSpec]) -> None:
    """Every point's run checked against its data (each data set loaded once, one at a
    time: its files found and read, the batch size against the training set, ...) before
    any run starts; a bad point is one line naming it. A re-run checks only the points
    not finished yet (a finished sweep's report is redrawn without its data)."""
    from depthlab.training.trainer import check_run, load_data  # torch

    by_data: dict[tuple, list[RunSpec]] = {}
    for spec in specs:
        config = spec.config
        by_data.setdefault((config.dataset, config.data_dir, config.download, config.eval_size), []).append(spec)
    for group in by_data.values():
        checking = group[0]
        try:
            dataset = load_data(checking.config)
            for checking in group:
                check_run(checking.config, dataset)
        except DepthlabError as error:
            raise DepthlabError(f"grid point {checking.name}: {error}") from None


def stored_grid(out: Path) -> Grid:
    """The grid a sweep folder was made from, or one line saying it holds none."""
    path = Path(out) / "grid.json"
    if not path.is_file():
        raise DepthlabError(f"{out} holds no sweep (no grid.json): run depthlab sweep GRID.toml --out {out} first")
    stored = read_object(path)
    if not (isinstance(stored.get("base"), dict) and isinstance(stored.get("axes"), dict)):
        raise DepthlabError(f"{path} holds no base and axes: it was damaged or edited by hand")
    return parse_grid({**stored["base"], "axes": stored["axes"]}, source=str(path))


def summary_rows(out: Path, grid: Grid, specs: list[RunSpec]) -> list[dict[str, Any]]:
    """One row per point (``specs``: the grid's runs), in grid order: its axis values,
    then :data:`SUMMARY_COLUMNS` from its run directory (empty where it recorded none,
    "missing" where it never ran)."""
    rows = []
    for point, spec in zip(grid.points, specs):
        run = RunDir(Path(out) / "runs" / spec.name)
        row: dict[str, Any] = {key.replace("_", "-"): value for key, value in point.items()}
        final = run.final or {}
        status = run.status["status"] if run.exists else "missing"
        train_updates, train_costs = run.series("train_cost")
        row.update({"status": status, "validation_error": final.get("validation_error", ""),
                    "test_error": final.get("test_error", ""),
                    "train_cost": train_costs[-1] if train_costs and status != "diverged" else "",
                    "validation_cost": final.get("validation_cost", ""), "test_cost": final.get("test_cost", ""),
                    "updates": final.get("update", train_updates[-1] if train_updates else 0)})
        rows.append(row)
    return rows


def _check_metric(metric: str | None) -> Metric | None:
    return None if metric is None else Metric.parse(metric)


def write_sweep_report(out: str | Path, metric: str | None = None) -> Path:
    """(Re)write ``summary.csv`` and ``report.html`` of the sweep in ``out`` from its
    store; ``metric`` is the heat map's (default: validation error, or validation cost
    for a regression)."""
    from depthlab.report.plotting import heat_map, new_figure, save_figure  # matplotlib: after the checks

    metric = _check_metric(metric)
    out = Path(out)
    grid = stored_grid(out)
    specs = grid.specs()
    rows = summary_rows(out, grid, specs)
    write_table(rows, out, "summary")
    measure = COSTS.get(specs[0].config.cost).measure  # a grid mixing labels and real targets: the first kind
    curve = f"validation_{measure}"
    metric = metric or Metric(curve)
    fig, axes = new_figure(1, 1, width=7.0, height=4.2)
    for spec in specs:
        updates, values = RunDir(out / "runs" / spec.name).series(curve)
        if updates:
            axes[0][0].plot(updates, values, ".-", label=spec.name if len(specs) <= 12 else None)
    axes[0][0].set(xlabel="updates", ylabel=curve.replace("_", " "), yscale="log" if measure == "cost" else "linear")
    if len(specs) <= 12 and axes[0][0].get_lines():
        axes[0][0].legend(fontsize=7)
    blocks: list = [ReportFigure(save_figure(fig, out, "curves"), f"The {curve.replace('_', ' ')} of every run over "
                                                                  "updates.")]
    keys = list(grid.axes)
    if len(keys) in (1, 2):
        values = np.array([np.nan if row[metric] == "" else float(row[metric]) for row in rows])
        fig, axes = new_figure(1, 1, width=6.0, height=4.4)
        if len(keys) == 2:
            shape = (len(grid.axes[keys[0]]), len(grid.axes[keys[1]]))
            blanks = np.array([row["status"] for row in rows], dtype=object).reshape(shape)
            heat_map(axes[0][0], grid.axes[keys[1]], grid.axes[keys[0]], values.reshape(shape), label=metric,
                     blanks=blanks)
            axes[0][0].set(xlabel=keys[1].replace("_", "-"), ylabel=keys[0].replace("_", "-"))
            caption = f"{metric} over {keys[0]} and {keys[1]}; a cell without a value names the run's status."
        else:
            axes[0][0].plot(range(len(values)), values, "o-")
            axes[0][0].set(xticks=range(len(values)), xticklabels=[str(v) for v in grid.axes[keys[0]]],
                           xlabel=keys[0].replace("_", "-"), ylabel=metric)
            caption = f"{metric} against {keys[0]}."
        blocks.append(ReportFigure(save_figure(fig, out, "metric"), caption))
    blocks.append(Table(rows, "Every run (summary.csv)"))
    finished = sum(row["status"] in ("completed", "diverged") for row in rows)
    diverged = sum(row["status"] == "diverged" for row in rows)
    return write_report(out / "report.html", f"Sweep: {out.name}", [Section("Runs", blocks)],
                        intro=f"{len(rows)} runs over {', '.join(k.replace('_', '-') for k in keys)}: {finished} "
                              f"finished, {diverged} of them diverged.")
