"""The report of a glorot2010 reproduction at the updates its runs reached, stopped or
not (``benchmarks/gpu_session.sh`` stops it when its time is up), and the small files a
device session brings back. The report is drawn from a copy of the reproduction in which
each stopped run is evaluated at the update it reached and ended there (the reproduction
itself is left as it was, to be continued); a run never started is left out. The files:
the Markdown report with its figures (Figure 11: test error against updates, every
configuration, the paper's Table 1 levels beside; Table 1 at the updates reached), Table
1 as CSV and Markdown, every run's evaluations as one CSV, and each run's status and
final numbers as one JSON. No run directory, no checkpoint.

    python benchmarks/gpu_session_report.py WORK_DIR OUT_DIR --budget gpu-session --device cuda
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

from depthlab.report.markdown import publish
from depthlab.store import RunDir
from depthlab.studies import STUDIES, on_device
from depthlab.training.trainer import reopen

FIELDS = ("run", "activation", "init", "lr", "update", "validation_error", "test_error", "train_cost")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path, help="the reproduction's --out folder")
    parser.add_argument("out", type=Path, help="where the small files go")
    parser.add_argument("--budget", default="gpu-session")
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    if not (args.work / "runs").is_dir():
        print(f"no run in {args.work}: nothing to report")
        return
    study = STUDIES.get("glorot2010")
    work = args.work.with_name(args.work.name + "-reached")
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(args.work, work, ignore=shutil.ignore_patterns(".lock"))
    plan = on_device(study.plan(args.budget, study.budget(args.budget), out=work, datasets=["shapeset"]),
                     args.device)
    runs = {spec.name: RunDir(work / "runs" / spec.name) for spec in plan.runs}
    made = {name: run for name, run in runs.items() if run.exists}
    for run in made.values():
        end_where_stopped(run)
    page = study.report(plan, runs, work, progress=False)
    args.out.mkdir(parents=True, exist_ok=True)
    publish(page.with_suffix(".md"), args.out / "glorot2010")
    for name in ("table1.csv", "table1.md"):
        if (work / name).is_file():
            shutil.copyfile(work / name, args.out / name)
    with open(args.out / "metrics.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        for name, run in made.items():
            config = run.config
            for row in run.metrics():
                writer.writerow({"run": name, "activation": config.activation, "init": config.init, "lr": config.lr,
                                 **row})
    summary = {name: {"status": run.status, "final": run.final, "env": {k: run.env.get(k) for k in
                                                                        ("device", "cuda_device", "step", "kernel",
                                                                         "stack", "graphs", "graphs_off")}}
               for name, run in made.items()}
    (args.out / "runs.json").write_text(json.dumps(summary, indent=1, default=str))
    reached = {name: run.status.get("update") for name, run in made.items()}
    print(f"report of {len(made)} of {len(runs)} runs, updates reached: "
          f"{min(reached.values(), default=0):,} to {max(reached.values(), default=0):,} -> {args.out}")


def end_where_stopped(run: RunDir) -> None:
    """A stopped (interrupted) run, evaluated at the update it reached and ended there as
    completed: what Table 1 and the learning-rate selection read."""
    reached = run.status.get("update", 0)
    if run.status.get("status") != "interrupted" or reached == 0:
        return
    trainer = reopen(run.path, progress=False, updates=reached)
    if trainer.last_eval is None or trainer.last_eval["update"] != reached:
        trainer.last_eval = trainer.evaluate()
    trainer.fit()


if __name__ == "__main__":
    main()
