"""Our numbers beside Glorot & Bengio (2010)'s (:mod:`depthlab.references`), as tables.

- Table 1: test error (%) of 5-hidden-layer networks per activation and init ("N" =
  normalized init W ~ U[±√6/√(n_j + n_{j+1})], eq. 16; the others standard init
  W ~ U[±1/√n], eq. 1) on Shapeset-3×2, MNIST, CIFAR-10 and Small-ImageNet.
- Section 4.2: the mean singular value of the layer Jacobian J = diag(φ'(s)) W at
  initialization is about 0.5 with standard and 0.8 with normalized init (tanh).

A study hands in ``runs_by_dataset``: data set → {configuration label → RunDir}, the run
chosen on validation error for each label. Any label may be missing or its run diverged;
:func:`depthlab.store.usable_runs` sorts out what can be used and says why the rest
cannot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from depthlab.data.registry import DATASETS
from depthlab.probe.quantities import JACOBIAN_SV_MAX, JACOBIAN_SV_MEAN, JACOBIAN_SV_MIN
from depthlab.references import GLOROT_JACOBIAN, GLOROT_TABLE1
from depthlab.store import RunDir, final_test_error, run_problem

LABELS = ("Softsign", "Softsign N", "Tanh", "Tanh N", "Sigmoid", "ReLU He")
"""The configurations of the study, in Table 1's order; "ReLU He" is the modern reference
(ReLU with He init), not in the paper."""


# -- reading our runs -------------------------------------------------------------------
def dataset_title(name: str) -> str:
    return DATASETS.get(name).title if name in DATASETS else name


def skipped_note(skipped: Sequence[str]) -> str:
    """The caption's sentence on the configurations left out, or ""."""
    return f" Left out: {'; '.join(skipped)}." if skipped else ""


def jacobian_at_init(run: RunDir) -> dict[str, dict[str, float]]:
    """Layer → {"mean", "min", "max"} singular value of J = diag(φ'(s)) W at update 0
    (empty when the run measured no Jacobians)."""
    probes = run.probes
    by_stat = {k: probes.values_at(stat, 0)
               for k, stat in zip(("mean", "min", "max"), (JACOBIAN_SV_MEAN, JACOBIAN_SV_MIN, JACOBIAN_SV_MAX))}
    return {layer: {k: by_stat[k][layer] for k in by_stat}
            for layer in probes.hidden_layers() if layer in by_stat["mean"]}


# -- tables -----------------------------------------------------------------------------
def table1(runs_by_dataset: Mapping[str, Mapping[str, RunDir]]) -> list[dict[str, Any]]:
    """Table 1's rows: per configuration label and data set of the study, our final test
    error (%), the paper's, and our run's learning rate and updates ("diverged" or empty
    where we have no number). A data set the paper has not (Fashion-MNIST) gets no paper
    column, and a configuration it has not (ReLU He) an empty paper cell: see
    :func:`table1_caption`."""
    labels = [label for label in LABELS
              if label in GLOROT_TABLE1 or any(label in runs for runs in runs_by_dataset.values())]
    rows = []
    for label in labels:
        row: dict[str, Any] = {"configuration": label}
        for dataset, runs in runs_by_dataset.items():
            title = dataset_title(dataset)
            run = runs.get(label)
            problem = run_problem(run)
            if problem == "missing":
                ours = lr = updates = None
            else:
                ours = problem or final_test_error(run)
                lr, updates = run.config.lr, run.status.get("update")
            row[f"{title} ours (%)"] = ours
            if _in_the_paper(dataset):
                row[f"{title} paper (%)"] = GLOROT_TABLE1.get(label, {}).get(dataset)
            row[f"{title} lr"] = lr
            row[f"{title} updates"] = updates
        rows.append(row)
    return rows


def _in_the_paper(dataset: str) -> bool:
    return any(dataset in errors for errors in GLOROT_TABLE1.values())


def table1_caption(datasets: Sequence[str]) -> str:
    """What Table 1 shows, and what of it the paper has not."""
    extra = ", ".join(label for label in LABELS if label not in GLOROT_TABLE1)
    absent = ", ".join(dataset_title(d) for d in datasets if not _in_the_paper(d))
    return ("Test error (%) of the configuration chosen on validation error, ours beside Glorot & Bengio (2010), "
            f"Table 1. An empty paper cell: not in the paper ({extra}, a modern reference)."
            + (f" The paper has no {absent} results, so no paper column for {absent}." if absent else ""))


def jacobian_table(runs: Mapping[str, RunDir]) -> list[dict[str, Any]]:
    """Per layer and averaged over the hidden layers, the mean (min, max) singular value
    of the layer Jacobian at initialization for Tanh and Tanh N, beside the paper's
    :data:`GLOROT_JACOBIAN`; a label whose run is missing or measured no Jacobian gets one
    row saying so."""
    rows = []
    for label, paper in GLOROT_JACOBIAN.items():
        problem = run_problem(runs.get(label), trained=False, probes=True)
        layers = {} if problem else jacobian_at_init(runs[label])
        if not layers:
            rows.append({"configuration": label, "layer": problem or "no Jacobian measured", "paper": paper})
            continue
        for layer, sv in layers.items():
            rows.append({"configuration": label, "layer": layer, "mean sv": sv["mean"], "min sv": sv["min"],
                         "max sv": sv["max"], "paper": None})
        rows.append({"configuration": label, "layer": "average",
                     **{f"{k} sv": float(np.mean([sv[k] for sv in layers.values()])) for k in ("mean", "min", "max")},
                     "paper": paper})
    return rows


def selection_table(runs: Mapping[str, RunDir], chosen: Mapping[str, Mapping[str, RunDir]]) -> list[dict[str, Any]]:
    """One row per run of the grid that was made: what the learning-rate selection saw (a
    reproduction stopped early may not have started every run), and ✓ under "chosen" on
    the run whose rate won (``chosen``: data set → configuration label → RunDir)."""
    winners = {run.path for by_label in chosen.values() for run in by_label.values()}
    rows = []
    for name, run in runs.items():
        if not run.exists:
            continue
        final = run.final or {}
        rows.append({
            "run": name, "learning rate": run.config.lr, "chosen": "✓" if run.path in winners else "",
            "status": run.status["status"],
            "updates": final.get("update"),
            "validation error (%)": 100 * final["validation_error"] if "validation_error" in final else None,
            "test error (%)": 100 * final["test_error"] if "test_error" in final else None,
            "updates/s": final.get("updates_per_second"),
        })
    return rows
