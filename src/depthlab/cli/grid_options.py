"""The flags of every command that trains a grid of runs (``reproduce``, ``sweep``): how
many at once, where (local processes or Ray) and whether in stacks
(:func:`depthlab.studies.runner.run_specs` takes them)."""

from __future__ import annotations

import os


def add_grid_options(p) -> None:
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="runs trained at once here (local), or the CPUs of a local Ray instance (default: up to 2)")
    p.add_argument("--backend", default="local", help="local (default): processes here; ray: Ray tasks")
    p.add_argument("--address", help="a Ray cluster's address (with --backend ray; default: a local Ray instance)")
    p.add_argument("--engine", default="auto",
                   help="auto (default): runs of one shape train as one stack where that is faster; stacked: "
                        "wherever they can; separate: each alone")
