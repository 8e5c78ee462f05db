"""What studies and reports ask of stored runs: whether a run exists, finished or can
resume; whether it can serve a figure or a claim; which of a learning-rate grid won."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from depthlab.config import TrainConfig
from depthlab.registry import Choice
from depthlab.store.run import RunDir, Status

FINISHED = (Status.COMPLETED, Status.DIVERGED)


class RunState(Choice, kind="run state"):
    """What a run directory holds for a grid that wants it: nothing yet, a finished run, a
    run to resume, or a broken one (made but never checkpointed)."""

    MISSING = "missing"
    FINISHED = "finished"
    RESUMABLE = "resumable"
    BROKEN = "broken"


def run_state(path: str | Path) -> RunState:
    """The :class:`RunState` of the run directory ``path``."""
    run = RunDir(path)
    if not run.exists:
        return RunState.BROKEN if run.path.exists() else RunState.MISSING
    if run.status["status"] in FINISHED:
        return RunState.FINISHED
    return RunState.RESUMABLE if run.has_checkpoint else RunState.BROKEN


def changed_settings(run: RunDir, config: TrainConfig) -> list[str]:
    """The config keys in which a stored run differs from ``config`` (none for a run not
    made yet)."""
    if not run.exists:
        return []
    stored, wanted = run.config.to_dict(), config.to_dict()
    return sorted(k for k in wanted.keys() | stored.keys() if stored.get(k) != wanted.get(k))


def run_problem(run: RunDir | None, trained: bool = True, probes: bool = False) -> str | None:
    """Why ``run`` cannot serve: "missing", "diverged at update N" (only when the
    ``trained`` network matters; its statistics at initialization stay valid) or
    "no probes" (when ``probes`` are needed); None when it can."""
    if run is None or not run.exists:
        return "missing"
    status = run.status
    if trained and status["status"] == Status.DIVERGED:
        return f"diverged at update {status.get('diverged_at', status.get('update'))}"
    if probes and not run.has_probes:
        return "no probes"
    return None


def usable_runs(runs: Mapping[str, RunDir | None], labels: Sequence[str], trained: bool = True,
                probes: bool = False) -> tuple[dict[str, RunDir], list[str]]:
    """The runs of ``labels`` that :func:`run_problem` accepts, and "label (why)" for
    each of the others."""
    kept, skipped = {}, []
    for label in labels:
        problem = run_problem(runs.get(label), trained, probes)
        if problem:
            skipped.append(f"{label} ({problem})")
        else:
            kept[label] = runs[label]
    return kept, skipped


def final_test_error(run: RunDir) -> float | None:
    """The test error (%) the run ended with, or None if it recorded none."""
    final = run.final or {}
    return None if final.get("test_error") is None else 100 * final["test_error"]


def best_by_validation(runs: Sequence[RunDir]) -> RunDir | None:
    """The run with the lowest final validation error among those that did not diverge
    (Glorot & Bengio 2010, section 2.3: the learning rate is chosen on validation error),
    a tie broken by the lower validation cost (networks that answer one class all err
    alike; a regression has the cost alone); if every one diverged, the first of them, so
    the tables can say so."""
    finished = [r for r in runs if r.final and r.final.get("status") == Status.COMPLETED]
    diverged = [r for r in runs if r.final and r.final.get("status") == Status.DIVERGED]
    return min(finished, key=lambda r: (r.final.get("validation_error", 0.0), r.final.get("validation_cost", math.inf)),
               default=diverged[0] if diverged else None)
