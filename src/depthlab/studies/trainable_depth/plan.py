"""The grid of Schoenholz et al. (2017), Figure 5, at a budget's size: tanh networks of
one width, weights N(0, σ_w²/n_in) and biases N(0, σ_b²) (the mean-field
parameterization, ``sigma-w2:V`` and ``sigma-b2:V``), trained by SGD (η = 0.01, minibatch
64) on Fashion-MNIST (else MNIST), with the training set's accuracy measured at the end
(``eval_train``)."""

from __future__ import annotations

from pathlib import Path

from depthlab.config import TrainConfig
from depthlab.data.registry import DATASETS
from depthlab.grid import RunSpec
from depthlab.studies.datasets import fashion_mnist_or_mnist, subset
from depthlab.studies.study import Plan
from depthlab.studies.trainable_depth.budgets import DepthBudget

LR, BATCH = 0.01, 64


def depth_config(dataset: str, budget: DepthBudget, sigma_w2: float, depth: int, **changes) -> TrainConfig:
    """One cell of the grid."""
    return TrainConfig(dataset=dataset, depth=depth, width=budget.width, activation="tanh",
                       init=f"sigma-w2:{sigma_w2:g}", bias_init=f"sigma-b2:{budget.sigma_b2:g}", optimizer="sgd",
                       lr=LR, batch_size=BATCH, updates=budget.updates, eval_every=budget.updates,
                       log_every=max(1, budget.updates // 10), eval_size=budget.eval_size, eval_train=True,
                       probe=False, **changes)


def run_name(sigma_w2: float, depth: int) -> str:
    return f"sw{sigma_w2:g}/depth{depth}"


def plan(budget_name: str, budget: DepthBudget, out: Path, data_dir: str | None = None) -> Plan[DepthBudget]:
    """Every (σ_w², depth) of the budget."""
    name = fashion_mnist_or_mnist(data_dir, "trainable-depth")
    images, _ = subset(DATASETS.get(name).load(data_dir), budget.train_size,
                       budget.eval_size if budget.train_size else None, out / "data")
    specs = [RunSpec(run_name(sigma_w2, depth), depth_config(images, budget, sigma_w2, depth, data_dir=data_dir))
             for sigma_w2 in budget.sigma_w2s for depth in budget.depths]
    return Plan("trainable-depth", budget_name, budget, {"dataset": name, "data_dir": data_dir}, specs)
