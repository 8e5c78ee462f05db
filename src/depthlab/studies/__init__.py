"""The studies, one package each, found through one registry, and the one way to run one:
``depthlab reproduce NAME`` is :func:`reproduce` of ``STUDIES.get(NAME)``.

A study is added by one package that declares its :class:`~depthlab.studies.study.Study`
in its ``__init__`` and one entry in the list below. :func:`reproduce` does the rest for
every study alike: checks the budget and options, writes ``budget.json``, trains the grid
(resumable, in parallel, indifferent to divergence: :mod:`depthlab.grid.runner`) and calls
the report. Importing this package imports no torch.
"""

from __future__ import annotations

import contextlib
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
    study, sizes, plan, out = _planned(name, budget, out, workers, data_dir, backend, address, stacking, threads,
                                       device, options)
    from depthlab.grid.runner import check_specs, run_specs  # after the arguments are checked: torch

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


def _planned(name: str, budget: str, out: str | Path | None, workers: int, data_dir: str | None, backend: str,
             address: str | None, stacking: str, threads: int | None, device: str | None,
             options: dict[str, Any]) -> tuple[Study, Any, Plan, Path]:
    """The study, its budget's sizes, its plan (on ``device`` where given) and its folder,
    every argument checked; nothing written."""
    study = STUDIES.get(name)
    sizes = study.budget(budget)
    for option in sorted(set(options) - set(study.options)):
        takes = ", ".join(f"{o} (--{o})" for o in study.options) or "none"
        raise DepthlabError(f"study {name} takes no {option} option (--{option}); its options: {takes}")
    if workers < 1:
        raise DepthlabError(f"workers {workers} must be at least 1")
    check_threads(threads, local=check_backend(backend, address) is not Backend.RAY)
    Stacking.parse(stacking)
    if device is not None:
        check_device(device)
    out = Path(out or Path("results") / name)
    plan = study.plan(budget, sizes, out=out, data_dir=data_dir, **options)  # a bad option: nothing written
    return study, sizes, plan if device is None else on_device(plan, device), out


def dry_run(name: str, budget: str = "quick", out: str | Path | None = None, workers: int = 1,
            data_dir: str | None = None, backend: str = "local", address: str | None = None, stacking: str = "auto",
            threads: int | None = None, device: str | None = None, **options: Any) -> str:
    """What :func:`reproduce` with these arguments would train, as text: the grid, its
    runs and updates (those already finished in ``out`` too) and the wall time expected
    here (:func:`depthlab.grid.estimate.describe`: from a calibration of about a second,
    or on a GPU ``device`` the memory roof).
    Trains nothing and leaves nothing written (:func:`_left_as_found`)."""
    with _left_as_found(Path(out or Path("results") / name)):
        _, _, plan, out = _planned(name, budget, out, workers, data_dir, backend, address, stacking, threads,
                                   device, options)
        from depthlab.grid.estimate import describe  # torch
        from depthlab.grid.runner import check_specs

        check_specs(plan.runs, out)
        return describe(plan.runs, out, workers, threads, f"{name} at budget {budget}:")


@contextlib.contextmanager
def _left_as_found(folder: Path):
    """Remove, on leaving, what was made meanwhile in ``folder`` (the files and folders
    that were not there; ``folder`` and its parents that were not there, with what they
    hold), never anything that was: a study's plan may cut its data subset into
    ``OUT/data`` (:func:`depthlab.studies.datasets.subset`), which a dry run reads to time
    its runs and then leaves nothing of."""
    top = folder.absolute()
    while not top.parent.exists():
        top = top.parent
    before = set(top.rglob("*")) if top.exists() else None
    try:
        yield
    finally:
        made = [] if not top.exists() else [top, *top.rglob("*")] if before is None else \
            [path for path in top.rglob("*") if path not in before]
        for path in sorted(made, key=lambda p: len(p.parts), reverse=True):
            if path.is_dir() and not path.is_symlink():
                with contextlib.suppress(OSError):  # one holding anything not made here stays
                    path.rmdir()
            else:
                path.unlink(missing_ok=True)


def on_device(plan: Plan, device: str) -> Plan:
    """``plan`` with every run on ``device`` (a run already made on another device is
    refused by the runner's check of stored settings, as any changed setting is)."""
    return dataclasses.replace(plan, runs=[RunSpec(spec.name, spec.config.replace(device=device))
                                           for spec in plan.runs])


__all__ = ["STUDIES", "Study", "dry_run", "reproduce"]
