"""The grid of the Glorot & Bengio (2010) reproduction: data set × configuration ×
learning rate, and the learning-rate selection on validation error (section 2.3)."""

from __future__ import annotations

from pathlib import Path

from depthlab.config import TrainConfig
from depthlab.data.registry import DATASETS, available_datasets
from depthlab.errors import DepthlabError
from depthlab.grid import RunSpec
from depthlab.store import RunDir, best_by_validation
from depthlab.studies.glorot2010.budgets import GlorotBudget
from depthlab.studies.study import Plan

CONFIGURATIONS: dict[str, tuple[str, str]] = {
    "Sigmoid": ("sigmoid", "standard"),
    "Tanh": ("tanh", "standard"),
    "Tanh N": ("tanh", "normalized"),
    "Softsign": ("softsign", "standard"),
    "Softsign N": ("softsign", "normalized"),
    "ReLU He": ("relu", "he-normal"),
}
"""Table 1's rows, label → (activation, init), and ReLU with He init as a modern
reference (not in the paper)."""


def choose_datasets(requested: list[str] | None, data_dir: str | None) -> list[str]:
    """The data sets to run: those requested (each must be available), or every one
    available (Shapeset always is) but variants such as ``shapeset-centred``."""
    if not requested:
        return available_datasets(data_dir)
    found = available_datasets(data_dir, variants=True)
    requested = list(dict.fromkeys(requested))  # each once, in the order given
    for name in requested:
        DATASETS.get(name)
        if name not in found:
            raise DepthlabError(f"data set '{name}' has no files here (available: {', '.join(found)}); "
                                f"see 'depthlab train --download' or --data-dir")
    return requested


def run_name(dataset: str, label: str, lr: float) -> str:
    return f"{dataset}/{label.lower().replace(' ', '-')}/lr{lr:g}"


def grid(budget: GlorotBudget, datasets: list[str], data_dir: str | None = None) -> list[RunSpec]:
    """Every run of the reproduction: data set × configuration × learning rate."""
    specs = []
    for dataset in datasets:
        for label, (activation, init) in CONFIGURATIONS.items():
            for lr in budget.learning_rates:
                config = TrainConfig(
                    dataset=dataset, data_dir=data_dir, depth=budget.depth, width=budget.width,
                    activation=activation, init=init, lr=lr, batch_size=10,
                    updates=budget.updates if dataset == "shapeset" else budget.file_updates,
                    eval_size=budget.eval_size, eval_every=budget.eval_every, log_every=min(500, budget.eval_every),
                    probe_every=budget.probe_every, probe_size=budget.probe_size,
                    jacobian_examples=budget.jacobian_examples,
                )
                specs.append(RunSpec(run_name(dataset, label, lr), config))
    return specs


def plan(budget_name: str, budget: GlorotBudget, out: Path, data_dir: str | None = None,
         datasets: list[str] | None = None) -> Plan[GlorotBudget]:
    """The reproduction on ``datasets`` (default: every one available)."""
    chosen = choose_datasets(datasets, data_dir)
    return Plan("glorot2010", budget_name, budget, {"datasets": chosen, "data_dir": data_dir},
                grid(budget, chosen, data_dir))


def chosen_runs(runs: dict[str, RunDir], datasets: list[str], budget: GlorotBudget) -> dict[str, dict[str, RunDir]]:
    """For each data set and configuration, the run whose learning rate won on validation."""
    chosen: dict[str, dict[str, RunDir]] = {}
    for dataset in datasets:
        chosen[dataset] = {}
        for label in CONFIGURATIONS:
            best = best_by_validation([runs[run_name(dataset, label, lr)] for lr in budget.learning_rates])
            if best is not None:
                chosen[dataset][label] = best
    return chosen
