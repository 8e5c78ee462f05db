"""The d2l MLP chapter's experiments, with its settings (``../shared/docs/paper.md``).

1. MLP on Fashion-MNIST (its implementation section): 784-256-10 ReLU, weights N(0, 0.01²), biases 0,
   cross-entropy, SGD η = 0.1, minibatch 256, 10 epochs; once with ``nn`` modules (a
   trainer run) and once from scratch (:func:`.scratch.mlp_from_scratch`: hand-written ReLU and
   parameters) on the same minibatches.
2. Under- and overfitting (model selection): a linear model on ``polynomial:features=K`` for
   K = 4 (the true degree), 2 (too few) and 20 (too many), squared error, SGD η = 0.01,
   minibatch 10, 400 epochs (1,500 for K = 20), PyTorch's default init U(±1/√n_in).
3. Weight decay: a linear model on ``linear`` (200 inputs, 20 training
   examples), weights N(0, 1), biases 0, squared error, SGD η = 0.003, minibatch 5,
   100 epochs, λ = 0 against λ = 3. The trainer's weight decay also shrinks the bias,
   which the chapter's concise version leaves alone.
4. Dropout: 784-256-256-10 ReLU, weights N(0, 0.01²), dropout 0.2 after the
   first hidden layer and 0.5 after the second against none, η = 0.5, minibatch 256,
   10 epochs.
5. K-fold model selection (the Kaggle house-prices section): 5-fold cross-validation of the weight-decay
   fit over λ ∈ :data:`DECAY_LAMBDAS`, each λ also fitted on the whole training set.
6. Numerical stability and initialization: sigmoid's gradient against
   its input, and the product of 100 Gaussian matrices (:mod:`depthlab.studies.
   init_statistics.demos`).

The chapter trains on Fashion-MNIST's 60,000 training images; depthlab holds out 10,000
of them for validation, so an epoch here is 50,000 images (195 minibatches of 256).
Without Fashion-MNIST the study runs on MNIST and says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from depthlab.config import TrainConfig
from depthlab.data.registry import DATASETS
from depthlab.grid import RunSpec
from depthlab.studies.d2l_mlp.budgets import D2LBudget
from depthlab.studies.datasets import fashion_mnist_or_mnist, subset
from depthlab.studies.study import Plan

MLP_WIDTH, MLP_LR, BATCH, WEIGHT_STD = 256, 0.1, 256, 0.01
DROPOUT_WIDTHS, DROPOUT_RATES, DROPOUT_LR = [256, 256], [0.2, 0.5], 0.5
POLYNOMIAL_FITS = {"normal": 4, "underfitting": 2, "overfitting": 20}
"""Each polynomial fit by the number of features it is given (the constant included)."""
POLYNOMIAL_LR, POLYNOMIAL_BATCH, POLYNOMIAL_TRAIN = 0.01, 10, 100
DECAY_LR, DECAY_BATCH, DECAY_TRAIN = 0.003, 5, 20
DECAY_LAMBDAS = (0.0, 1.0, 3.0, 10.0, 30.0)
"""The weight decays K-fold cross-validation chooses among; 0 and 3 are the chapter's."""
SHOWN_LAMBDAS = (0.0, 3.0)
FOLDS = 5
SIGMOID_RANGE = (-8.0, 8.0)


def image_config(dataset: str, n_train: int, epochs: int, **changes: Any) -> TrainConfig:
    """The chapter's Fashion-MNIST MLP: 784-256-10 ReLU, N(0, 0.01²) weights, SGD η = 0.1,
    minibatch 256, evaluated (training set too) and logged once an epoch."""
    per_epoch = n_train // BATCH
    return TrainConfig(**{"dataset": dataset, "widths": [MLP_WIDTH], "activation": "relu",
                          "init": f"gaussian:{WEIGHT_STD}", "bias_init": "zero", "cost": "nll", "optimizer": "sgd",
                          "lr": MLP_LR, "batch_size": BATCH, "epochs": float(epochs), "eval_every": per_epoch,
                          "log_every": per_epoch, "eval_train": True, **changes})


def polynomial_config(features: int, epochs: int) -> TrainConfig:
    """A linear model on ``polynomial:features=K``: squared error, SGD η = 0.01,
    minibatch 10, PyTorch's default init (the paper's "standard" U(±1/√n_in))."""
    per_epoch = POLYNOMIAL_TRAIN // POLYNOMIAL_BATCH
    return TrainConfig(dataset=f"polynomial:features={features}", depth=0, init="standard", bias_init="zero",
                       cost="squared-error", optimizer="sgd", lr=POLYNOMIAL_LR, batch_size=POLYNOMIAL_BATCH,
                       epochs=float(epochs), eval_every=per_epoch, log_every=per_epoch, eval_train=True, probe=False)


def decay_config(weight_decay: float, epochs: int, fold: int | None = None) -> TrainConfig:
    """A linear model on ``linear`` (or its ``fold``-th of 5 folds): N(0, 1) weights,
    squared error, SGD η = 0.003, minibatch 5, weight decay λ; the full fits probe ‖w‖
    every epoch."""
    dataset = "linear" if fold is None else f"linear:fold={fold}/{FOLDS}"
    train = DECAY_TRAIN if fold is None else DECAY_TRAIN - DECAY_TRAIN // FOLDS
    per_epoch = train // DECAY_BATCH
    return TrainConfig(dataset=dataset, depth=0, init="gaussian:1", bias_init="zero", cost="squared-error",
                       optimizer="sgd", lr=DECAY_LR, batch_size=DECAY_BATCH, epochs=float(epochs),
                       weight_decay=weight_decay, eval_every=per_epoch, log_every=per_epoch, eval_train=True,
                       probe=fold is None, probe_every=per_epoch, jacobian_examples=0, probe_size=100)


def lambda_name(weight_decay: float) -> str:
    return f"lambda{weight_decay:g}"


def plan(budget_name: str, budget: D2LBudget, out: Path, data_dir: str | None = None) -> Plan[D2LBudget]:
    """Every trainer run of the chapter: the MLP, the dropout pair, the three polynomial
    fits, the weight-decay fits of every candidate λ and their 5 × 5 K-fold fits."""
    name = fashion_mnist_or_mnist(data_dir, "d2l")
    images, n_train = subset(DATASETS.get(name).load(data_dir), budget.image_train_size, budget.image_eval_size,
                             out / "data")
    image = {"data_dir": data_dir}
    specs = [RunSpec("mlp", image_config(images, n_train, budget.image_epochs, **image))]
    for label, rates in (("none", 0.0), ("d2l", DROPOUT_RATES)):
        specs.append(RunSpec(f"dropout/{label}", image_config(images, n_train, budget.image_epochs, **image,
                                                              widths=DROPOUT_WIDTHS, dropout=rates,
                                                              lr=DROPOUT_LR)))
    for label, features in POLYNOMIAL_FITS.items():
        epochs = budget.overfit_epochs if label == "overfitting" else budget.polynomial_epochs
        specs.append(RunSpec(f"polynomial/{label}", polynomial_config(features, epochs)))
    for weight_decay in DECAY_LAMBDAS:
        specs.append(RunSpec(f"decay/{lambda_name(weight_decay)}", decay_config(weight_decay, budget.decay_epochs)))
        specs += [RunSpec(f"kfold/{lambda_name(weight_decay)}/fold{k}",
                          decay_config(weight_decay, budget.decay_epochs, fold=k)) for k in range(1, FOLDS + 1)]
    return Plan("d2l-mlp", budget_name, budget, {"dataset": name, "data_dir": data_dir, "images": images}, specs)
