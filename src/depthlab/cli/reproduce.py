"""``depthlab reproduce``: run a whole study and write its figures, tables and report."""

from __future__ import annotations

import argparse
import shutil

from depthlab.cli.grid_options import add_grid_options
from depthlab.data.download import locate
from depthlab.data.registry import DATASETS
from depthlab.report.summary import SUMMARY_FILE, VerdictSummary
from depthlab.signals import stopped_exit_code
from depthlab.studies import STUDIES, dry_run, reproduce


def add_parser(sub) -> None:
    p = sub.add_parser("reproduce", help="reproduce a study: runs, figures, tables and report.html",
                       description="Reproduce a study end to end. Interrupted, run the same command again: "
                                   "finished runs are kept, not retrained.")
    p.add_argument("study", help=" | ".join(study.name for study in STUDIES))
    size = p.add_mutually_exclusive_group()
    size.add_argument("--smoke", dest="budget", action="store_const", const="smoke",
                      help="a minute or two: every figure and table, tiny networks")
    size.add_argument("--quick", dest="budget", action="store_const", const="quick",
                      help="the default: glorot2010 in about 10 minutes on 2 cores")
    size.add_argument("--long", dest="budget", action="store_const", const="long",
                      help="decides every claim: glorot2010 in 1 h 24 min on 2 cores")
    size.add_argument("--full", dest="budget", action="store_const", const="full",
                      help="the sources' budgets (days on a CPU; glorot2010: the paper's 5M updates of width "
                           "1000, stacked per activation on a GPU with --device cuda)")
    size.add_argument("--budget", dest="budget", help="any budget the study declares, by name")
    p.add_argument("--datasets", help="comma-separated, e.g. shapeset,fashion-mnist (default: all available)")
    p.add_argument("--out", help="output folder (default: results/<study>)")
    p.add_argument("--publish", metavar="DIR",
                   help="also copy the Markdown report and its PNG figures (no runs) into DIR, e.g. docs/results/NAME")
    add_grid_options(p)
    p.add_argument("--device", help="cpu | cuda | cuda:N | mps: where every run trains (default cpu)")
    p.add_argument("--data-dir", help="where to look for data files first")
    p.add_argument("--download", action="store_true",
                   help="download the missing files of --datasets (default: MNIST) into --data-dir or the user "
                        "data folder, verified against their published digests")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--dry-run", action="store_true",
                   help="print the grid, its number of runs and updates and the time it is expected to take here "
                        "(timed in about a second); train nothing, write nothing")
    p.set_defaults(run=run, budget="quick")


def run(args: argparse.Namespace) -> int:
    options = {"datasets": [d.strip() for d in args.datasets.split(",")]} if args.datasets else {}
    if args.dry_run:
        print(dry_run(args.study, args.budget, out=args.out, workers=args.workers, data_dir=args.data_dir,
                      backend=args.backend, address=args.address, stacking=args.stacking, threads=args.threads,
                      device=args.device, **options))
        return 0
    if args.download:
        download_missing(options.get("datasets", ["mnist"]), args.data_dir)
    try:
        report = reproduce(args.study, args.budget, out=args.out, workers=args.workers, data_dir=args.data_dir,
                           progress=not args.quiet, publish=args.publish, backend=args.backend,
                           address=args.address, stacking=args.stacking, threads=args.threads, device=args.device,
                           **options)
    except KeyboardInterrupt as stop:
        print(f"interrupted: finished runs are kept in {args.out or 'results/' + args.study}; "
              "run the same command again to resume")
        return stopped_exit_code(stop)
    summary = report.with_name(SUMMARY_FILE)
    if summary.is_file():
        print(VerdictSummary.read(summary).text(shutil.get_terminal_size().columns))
    print(f"wrote {report}")
    return 0


def download_missing(names: list[str], data_dir: str | None) -> None:
    """Fetch the files of each named data set that are not found (generated ones need none)."""
    for name in names:
        spec = DATASETS.get(name)
        if spec.files is not None and not spec.available(data_dir):
            locate(spec.files, data_dir, download=True)
