"""Glorot & Bengio (2010)'s reported numbers, the same numbers read from our runs, and
the tables that set them side by side.

- Table 1: test error (%) of 5-hidden-layer networks per activation and init ("N" =
  normalized init W ~ U[±√6/√(n_j + n_{j+1})], eq. 16; the others standard init
  W ~ U[±1/√n], eq. 1) on Shapeset-3×2, MNIST, CIFAR-10 and Small-ImageNet.
- Section 4.2: the mean singular value of the layer Jacobian J = diag(φ'(s)) W at
  initialization is about 0.5 with standard and 0.8 with normalized init (tanh).

A study hands in ``runs_by_dataset``: data set → {configuration label → RunDir}, the run
chosen on validation error for each label. Any label may be missing or its run diverged;
:func:`usable_runs` sorts out what can be used and says why the rest cannot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from depthlab.probe.stats import hidden_layers, read_rows, values_at
from depthlab.store.run import RunDir

LABELS = ("Softsign", "Softsign N", "Tanh", "Tanh N", "Sigmoid", "ReLU He")
"""The configurations of the study, in Table 1's order; "ReLU He" is the modern reference
(ReLU with He init), not in the paper."""

DATASET_TITLES = {"shapeset": "Shapeset-3×2", "mnist": "MNIST", "fashion-mnist": "Fashion-MNIST",
                  "cifar10": "CIFAR-10", "small-imagenet": "Small-ImageNet"}

PAPER_TABLE1: dict[str, dict[str, float]] = {
    "Softsign": {"shapeset": 16.27, "mnist": 1.64, "cifar10": 55.78, "small-imagenet": 69.14},
    "Softsign N": {"shapeset": 16.06, "mnist": 1.72, "cifar10": 53.8, "small-imagenet": 68.13},
    "Tanh": {"shapeset": 27.15, "mnist": 1.76, "cifar10": 55.9, "small-imagenet": 70.58},
    "Tanh N": {"shapeset": 15.60, "mnist": 1.64, "cifar10": 52.92, "small-imagenet": 68.57},
    "Sigmoid": {"shapeset": 82.61, "mnist": 2.21, "cifar10": 57.28, "small-imagenet": 70.66},
}
"""Glorot & Bengio (2010), Table 1: test error (%) with 5 hidden layers."""

PAPER_JACOBIAN = {"Tanh": 0.5, "Tanh N": 0.8}
"""Glorot & Bengio (2010), section 4.2: mean singular value of the layer Jacobian at init."""


# -- reading our runs -------------------------------------------------------------------
def dataset_title(name: str) -> str:
    return DATASET_TITLES.get(name, name)


def run_problem(run: RunDir | None, trained: bool = True, probes: bool = False) -> str | None:
    """Why ``run`` cannot serve: "missing", "diverged at update N" (only when the
    ``trained`` network matters; its statistics at initialization stay valid) or
    "no probes" (when ``probes`` are needed); None when it can."""
    if run is None or not (run.path / "status.json").is_file():
        return "missing"
    status = run.status
    if trained and status["status"] == "diverged":
        return f"diverged at update {status.get('diverged_at', status.get('update'))}"
    if probes and not (run.path / "probes.jsonl").is_file():
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


def skipped_note(skipped: Sequence[str]) -> str:
    """The caption's sentence on the configurations left out, or ""."""
    return f" Left out: {'; '.join(skipped)}." if skipped else ""


def describe(run: RunDir) -> str:
    """One line on what a run is: its net, learning rate, budget and directory."""
    config = run.config
    widths = config.get("widths") or [config["width"]] * config["depth"]
    shape = f"{len(widths)}×{widths[0]}" if len(set(widths)) == 1 else "-".join(map(str, widths))
    return (f"{shape} {config['activation']}/{config['init']}, lr {config['lr']:g}, "
            f"{run.status.get('update', 0)} updates ({run.path.name})")


def probe_data(run: RunDir) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The probe rows and histograms a run stored."""
    return read_rows(run.path / "probes.jsonl")


def final_test_error(run: RunDir) -> float | None:
    """The test error (%) the run ended with, or None if it recorded none."""
    final = run.final or {}
    return None if final.get("test_error") is None else 100 * final["test_error"]


def jacobian_at_init(run: RunDir) -> dict[str, dict[str, float]]:
    """Layer → {"mean", "min", "max"} singular value of J = diag(φ'(s)) W at step 0
    (empty when the run measured no Jacobians)."""
    rows, _ = probe_data(run)
    by_stat = {k: values_at(rows, f"jacobian_sv_{k}", 0) for k in ("mean", "min", "max")}
    return {layer: {k: by_stat[k][layer] for k in by_stat}
            for layer in hidden_layers(rows) if layer in by_stat["mean"]}


# -- tables -----------------------------------------------------------------------------
def table1(runs_by_dataset: Mapping[str, Mapping[str, RunDir]]) -> list[dict[str, Any]]:
    """Table 1's rows: per configuration label and data set of the study, our final test
    error (%), the paper's, and our run's learning rate and updates ("diverged" or empty
    where we have no number; the paper's cell is empty where it reports none)."""
    labels = [label for label in LABELS
              if label in PAPER_TABLE1 or any(label in runs for runs in runs_by_dataset.values())]
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
                lr, updates = run.config["lr"], run.status.get("update")
            row[f"{title} ours (%)"] = ours
            row[f"{title} paper (%)"] = PAPER_TABLE1.get(label, {}).get(dataset)
            row[f"{title} lr"] = lr
            row[f"{title} updates"] = updates
        rows.append(row)
    return rows


def jacobian_table(runs: Mapping[str, RunDir]) -> list[dict[str, Any]]:
    """Per layer and averaged over the hidden layers, the mean (min, max) singular value
    of the layer Jacobian at initialization for Tanh and Tanh N, beside the paper's
    :data:`PAPER_JACOBIAN`; a label whose run is missing or measured no Jacobian gets one
    row saying so."""
    rows = []
    for label, paper in PAPER_JACOBIAN.items():
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
