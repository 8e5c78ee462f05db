"""The studies, one package each, found through one registry, and the one way to run one:
``depthlab reproduce NAME`` is :func:`reproduce` of ``STUDIES.get(NAME)``.

A study is added by one package that declares its :class:`~depthlab.studies.study.Study`
in its ``__init__`` and one entry in the list below. :func:`reproduce` does the rest for
every study alike: checks the budget and options, writes ``budget.json``, trains the grid
(resumable, in parallel, indifferent to divergence: :mod:`depthlab.grid.runner`) and calls
the report. Importing this package imports no torch.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from depthlab.config import check_device
from depthlab.errors import DepthlabError
from depthlab.grid import Backend, RunSpec, Stacking, check_backend
from depthlab.registry import Registry
from depthlab.report.markdown import publish as publish_markdown
from depthlab.store.files import write_json
from depthlab.store.lock import FolderLock
from depthlab.studies import d2l_mlp, fc_training, glorot2010, init_statistics, nielsen, trainable_depth
from depthlab.studies.study import Plan, Study
from depthlab.threads import check_threads

STUDIES: Registry[Study] = Registry("study", [glorot2010.STUDY, nielsen.STUDY, init_statistics.STUDY, d2l_mlp.STUDY,
                                           fc_training.STUDY, trainable_depth.STUDY])


def reproduce(name: str, budget: str = "quick", out: str | Path | None = None, workers: int = 1,
              data_dir: str | None = None, progress: bool = True, publish: str | Path | None = None,
              backend: str = "local", address: str | None = None, stacking: str = "auto", threads: int | None = None,
              device: str | None = None, **options: Any) -> Path:
    """Run (or resume) the study called ``name`` at ``budget`` into ``out`` (default
    ``results/<name>``) and write its ``report.html`` and ``report.md``; return the
    report's path. Finished runs are kept, an interrupted one resumes; ``options`` are the
    study's own (``STUDIES.get(name).options``); ``backend`` and ``address`` choose where
    the runs train, ``stacking`` whether in stacks, ``threads`` on how many threads each
    (:func:`depthlab.grid.runner.run_specs`), ``device`` on which device every run
    trains (None: as the study's plan says, the CPU).
    ``publish``: a folder that receives the Markdown report and its PNG figures, and
    nothing else (no run directories), as ``docs/results/`` holds them."""
    study = STUDIES.get(name)
    sizes = study.budget(budget)
    for option in sorted(set(options) - set(study.options)):
        takes = ", ".join(f"{o} (--{o})" for o in study.options) or "none"
        raise DepthlabError(f"study {name} takes no {option} option (--{option}); its options: {takes}")
    if workers < 1:
        raise DepthlabError(f"workers {workers} must be at least 1")
    backend = check_backend(backend, address)
    stacking = Stacking.parse(stacking)
    check_threads(threads, local=backend is not Backend.RAY)
    if device is not None:
        check_device(device)
    out = Path(out or Path("results") / name)
    from depthlab.grid.runner import check_specs, run_specs  # after the arguments are checked: torch

    plan = study.plan(budget, sizes, out=out, data_dir=data_dir, **options)  # a bad option: nothing written
    if device is not None:
        plan = on_device(plan, device)
    out.mkdir(parents=True, exist_ok=True)
    with FolderLock(out, "study folder"):  # one study writes a folder at a time
        check_specs(plan.runs, out)  # runs of another budget there: refused before anything is written
        write_json(out / "budget.json", {"study": name, "budget": budget, **dataclasses.asdict(sizes),
                                         **plan.settings})
        runs = run_specs(plan.runs, out, workers=workers, progress=progress, backend=backend, address=address,
                         stacking=stacking, threads=threads)
        report = study.report(plan, runs, out, progress)
    if publish is not None:
        publish_markdown(report.with_suffix(".md"), publish)
    return report


def on_device(plan: Plan, device: str) -> Plan:
    """``plan`` with every run on ``device`` (a run already made on another device is
    refused by the runner's check of stored settings, as any changed setting is)."""
    return dataclasses.replace(plan, runs=[RunSpec(spec.name, spec.config.replace(device=device))
                                           for spec in plan.runs])


__all__ = ["STUDIES", "Study", "reproduce"]
