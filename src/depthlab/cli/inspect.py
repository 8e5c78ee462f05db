"""``depthlab inspect RUN_DIR``: one run's report, with mean-field theory beside the
measured statistics and a plain-words diagnosis (see :mod:`depthlab.report.run_report`
and :mod:`depthlab.report.diagnosis`)."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("inspect", help="one run's report: curves, per-layer probes, theory and a diagnosis",
                       description="Write RUN_DIR's report (self-contained HTML with figures): training curves, "
                                   "per-layer probe statistics, mean-field theory beside measurement at "
                                   "initialization, and a diagnosis, which is also printed.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by depthlab train")
    p.add_argument("--out", metavar="DIR", help="where to write report.html and its figures (default RUN_DIR/report)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from depthlab.report.run_report import write_run_report

    report = write_run_report(args.run_dir, args.out)
    for finding in report.findings:
        print(finding.line())
    print(f"wrote {report.path}")
    return 0
