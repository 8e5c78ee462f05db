"""The lecture's training experiments, on Fashion-MNIST (else MNIST), minibatches of 64.

1. Optimizers: SGD, momentum (μ = 0.9), Nesterov (μ = 0.9), AdaGrad, RMSProp and Adam
   (bias corrected; torch.optim's) train one deep MLP, 5 × 128 tanh with the normalized
   init, each at every learning rate of its grid (:data:`LEARNING_RATES`); the best is
   the one with the lowest final training cost. The same six descend the
   ill-conditioned quadratic f(x) = 0.1x₁² + 2x₂² (the d2l momentum section's) from
   (−5, −2) for 40 steps, each at the best rate of its grid (:data:`.quadratic.QUADRATIC_RATES`)
   by the final f (:func:`.quadratic.descend_quadratic`).
2. Gradient clipping: 10 × 128 ReLU with He init at η = 1: its gradients blow up within
   a few updates; the same net with the global gradient norm clipped to 1 (Pascanu et
   al. 2013). The gradient norm over updates is read from the probes (on the probe set,
   before any clipping).
3. Batch normalization: 10 × 128 sigmoid with the normalized init, η = 0.1, without and
   with batch normalization after each linear layer, before the activation (Ioffe &
   Szegedy 2015).
4. Activations: sigmoid, tanh (the normalized init), ReLU and leaky ReLU (He's init),
   each 10 × 128, η = 0.1: the back-propagated gradient per layer at initialization, and
   the training curves. The sigmoid net is the batch-normalization pair's first half.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from depthlab.config import TrainConfig
from depthlab.data.registry import DATASETS
from depthlab.grid import RunSpec
from depthlab.studies.datasets import fashion_mnist_or_mnist, subset
from depthlab.studies.fc_training.budgets import FCBudget
from depthlab.studies.study import Plan

BATCH, WIDTH = 64, 128
OPTIMIZER_DEPTH, DEEP = 5, 10
LEARNING_RATES = {"sgd": (0.03, 0.1, 0.3), "momentum": (0.003, 0.01, 0.03), "nesterov": (0.003, 0.01, 0.03),
                  "adagrad": (0.01, 0.03, 0.1), "rmsprop": (0.0003, 0.001, 0.003), "adam": (0.0003, 0.001, 0.003)}
"""Each optimizer's grid on the deep MLP: three rates a factor of about 3 apart."""
MOMENTUM = 0.9
CLIP_LR, CLIP_NORM = 1.0, 1.0
DEEP_LR = 0.1
ACTIVATION_INITS = {"sigmoid": "normalized", "tanh": "normalized", "relu": "he-normal", "leaky-relu": "he-normal"}


def net_config(dataset: str, budget: FCBudget, depth: int, activation: str, init: str, lr: float,
               **changes: Any) -> TrainConfig:
    """A depth × 128 MLP trained for the budget's updates, evaluated six times."""
    eval_every = max(1, budget.updates // 6)
    return TrainConfig(**{"dataset": dataset, "depth": depth, "width": WIDTH, "activation": activation, "init": init,
                          "lr": lr, "momentum": MOMENTUM, "batch_size": BATCH, "updates": budget.updates,
                          "eval_every": eval_every, "log_every": max(1, budget.updates // 60),
                          "eval_size": budget.eval_size, "probe_every": eval_every, "jacobian_examples": 0,
                          **changes})


def rate_name(lr: float) -> str:
    return f"lr{lr:g}"


def plan(budget_name: str, budget: FCBudget, out: Path, data_dir: str | None = None) -> Plan[FCBudget]:
    """The 18 optimizer runs, the clipping pair, the four activations and the sigmoid net
    with batch normalization."""
    name = fashion_mnist_or_mnist(data_dir, "fc-training")
    images, _ = subset(DATASETS.get(name).load(data_dir), budget.train_size, budget.eval_size, out / "data")
    common = {"data_dir": data_dir}
    specs = [RunSpec(f"optimizers/{optimizer}/{rate_name(lr)}",
                     net_config(images, budget, OPTIMIZER_DEPTH, "tanh", "normalized", lr, optimizer=optimizer,
                                probe=False, **common))
             for optimizer, rates in LEARNING_RATES.items() for lr in rates]
    for label, clip in (("none", None), ("clipped", CLIP_NORM)):
        specs.append(RunSpec(f"clipping/{label}", net_config(images, budget, DEEP, "relu", "he-normal", CLIP_LR,
                                                             clip_norm=clip, probe_every=max(1, budget.updates // 100),
                                                             **common)))
    for activation, init in ACTIVATION_INITS.items():
        specs.append(RunSpec(f"activations/{activation}", net_config(images, budget, DEEP, activation, init, DEEP_LR,
                                                                     **common)))
    specs.append(RunSpec("batchnorm/sigmoid", net_config(images, budget, DEEP, "sigmoid", "normalized", DEEP_LR,
                                                         batchnorm=True, **common)))
    return Plan("fc-training", budget_name, budget, {"dataset": name, "data_dir": data_dir}, specs)
