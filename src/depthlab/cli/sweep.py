"""``depthlab sweep``: train a grid file's runs, then write its summary and report."""

from __future__ import annotations

import argparse
from pathlib import Path


from depthlab.cli.grid_options import add_grid_options
from depthlab.errors import DepthlabError, either
from depthlab.signals import stopped_exit_code
from depthlab.sweeps.sweep import Metric, dry_run, sweep, write_sweep_report


def add_parser(sub) -> None:
    p = sub.add_parser("sweep", help="train every point of a grid file; summary.csv and report.html",
                       description="Train the product of a grid file's [axes] over its base config (a train "
                                   "--config file). Interrupted, run the same command again: finished runs are "
                                   "kept, interrupted ones resume.")
    p.add_argument("grid", nargs="?", help="the grid file (TOML or JSON)")
    p.add_argument("--out", help="the sweep folder (default: sweeps/<grid file's name>)")
    p.add_argument("--report", metavar="DIR", help="only redraw DIR's summary.csv and report.html from its runs")
    p.add_argument("--metric", help=f"the heat map's metric: {either(Metric.names())} (default: validation_error, "
                                    "or validation_cost for real-valued targets)")
    add_grid_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--dry-run", action="store_true",
                   help="print the grid, its number of runs and updates and the time it is expected to take here "
                        "(timed in about a second); train nothing, write nothing")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.report:
        if args.grid:
            raise DepthlabError("give a grid file to run, or --report DIR to redraw a sweep, not both")
        print(f"wrote {write_sweep_report(args.report, args.metric)}")
        return 0
    if not args.grid:
        raise DepthlabError("depthlab sweep needs a grid file (or --report DIR)")
    out = args.out or str(Path("sweeps") / Path(args.grid).stem)
    if args.dry_run:
        print(dry_run(args.grid, out, workers=args.workers, backend=args.backend, address=args.address,
                      stacking=args.stacking, threads=args.threads))
        return 0
    try:
        report = sweep(args.grid, out, workers=args.workers, progress=not args.quiet, backend=args.backend,
                       address=args.address, metric=args.metric, stacking=args.stacking, threads=args.threads)
    except KeyboardInterrupt as stop:
        print(f"interrupted: finished runs are kept in {out}; run the same command again to resume")
        return stopped_exit_code(stop)
    print(f"wrote {report}")
    return 0
