"""``depthlab reproduce``: run a whole study and write its figures, tables and report."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

STUDIES = ("glorot2010", "nielsen-ch5", "init-statistics")


def add_parser(sub) -> None:
    p = sub.add_parser("reproduce", help="reproduce a study: runs, figures, tables and report.html",
                       description="Reproduce a study end to end. Interrupted, run the same command again: "
                                   "finished runs are kept, not retrained.")
    p.add_argument("study", help=" | ".join(STUDIES))
    size = p.add_mutually_exclusive_group()
    size.add_argument("--smoke", dest="budget", action="store_const", const="smoke",
                      help="a minute or two: every figure and table, tiny networks")
    size.add_argument("--quick", dest="budget", action="store_const", const="quick",
                      help="the default: about 20 minutes on 2 cores")
    size.add_argument("--full", dest="budget", action="store_const", const="full",
                      help="the paper's budgets (days on a CPU)")
    p.add_argument("--datasets", help="comma-separated, e.g. shapeset,fashion-mnist (default: all available)")
    p.add_argument("--out", help="output folder (default: results/<study>)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="runs trained in parallel (default: up to 2)")
    p.add_argument("--data-dir", help="where to look for data files first")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run, budget="quick")


def run(args: argparse.Namespace) -> int:
    from depthlab.errors import DepthlabError, unknown_choice

    if args.study not in STUDIES:
        raise unknown_choice("study", args.study, STUDIES)
    if args.workers < 1:
        raise DepthlabError(f"--workers {args.workers} must be at least 1")
    out = Path(args.out or Path("results") / args.study)
    common = dict(budget=args.budget, workers=args.workers, data_dir=args.data_dir, progress=not args.quiet)
    try:
        if args.study == "glorot2010":
            from depthlab.studies.glorot2010 import reproduce

            datasets = [d.strip() for d in args.datasets.split(",")] if args.datasets else None
            report = reproduce(out, datasets=datasets, **common)
        else:
            if args.datasets:
                raise DepthlabError(f"--datasets applies to glorot2010, not {args.study}")
            from depthlab.studies import init_statistics, nielsen

            report = (nielsen if args.study == "nielsen-ch5" else init_statistics).reproduce(out, **common)
    except KeyboardInterrupt:
        print(f"interrupted: finished runs are kept in {out}; run the same command again to resume")
        return 130
    print(f"wrote {report}")
    return 0
