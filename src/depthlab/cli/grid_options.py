"""The flags of every command that trains a grid of runs (``reproduce``, ``sweep``): how
many at once, where (a :class:`~depthlab.grid.Backend`) and whether in stacks (a
:class:`~depthlab.grid.Stacking`), as :func:`depthlab.grid.runner.run_specs` takes them."""

from __future__ import annotations

import os

from depthlab.cli.common import Renamed
from depthlab.errors import either
from depthlab.grid import Stacking


def add_grid_options(p) -> None:
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="runs trained at once here (local), or the CPUs of a local Ray instance (default: up to 2)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="threads each run trains on (default: the cores here shared among the workers; with "
                        "--backend ray, 1, the CPUs each task asks for)")
    p.add_argument("--backend", default="local", help="local (default): processes here; ray: Ray tasks")
    p.add_argument("--address", help="a Ray cluster's address (with --backend ray; default: a local Ray instance)")
    p.add_argument("--stacking", default=Stacking.AUTO,
                   help="auto (default): runs of one shape train as one stack where that is faster; always: "
                        "wherever they can; never: each alone")
    p.add_argument("--engine", action=Renamed, now=f"--stacking: {either(Stacking.names())}")
