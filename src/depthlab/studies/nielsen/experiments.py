"""Nielsen's vanishing-gradient experiments (Neural Networks and Deep Learning, 2015, ch. 5).

Setup (Nielsen, ch. 3 and 5): networks [784, 30, …, 30, 10] with a sigmoid on every
layer, the output included, and the per-output cross-entropy
C = −Σ_k [t_k ln a_k + (1 − t_k) ln(1 − a_k)] (the ``binary-cross-entropy`` cost); weights
N(0, 1/n_in) (``lecun-normal``), biases N(0, 1); SGD with minibatches of 10, η = 0.1, and
L2 regularization λ = 5.0, i.e. the update w ← (1 − ηλ/n) w − η ∂C/∂w with n the size of
the training set. The depth runs go through the trainer, whose weight decay λ/n also
shrinks the biases (Nielsen leaves them alone): at λ/n = 5/50,000 = 1e-4 a negligible
difference. The full-batch run below decays the weights only, as Nielsen does.

Three measurements:

1. Learning speed at initialization: ‖δ^l‖ = ‖∂C/∂b^l‖ of each hidden layer, C averaged
   over the first 1000 training images, for 2, 3 and 4 hidden layers; the mean over
   ``init_seeds`` networks. Nielsen: [784,30,30,10] → 0.07, 0.31; [784,30,30,30,10] →
   0.012, 0.060, 0.283; [784,30,30,30,30,10] → 0.003, 0.017, 0.070, 0.285.
2. Learning speed during full-batch gradient descent on those 1000 images (η = 0.1,
   λ = 5, n = 1000) for 4 hidden layers: Nielsen finds the first layer about 100× slower
   than the last throughout 500 epochs.
3. Validation accuracy after training 1 to 4 hidden layers (30 epochs): 96.48, 96.90,
   96.57, 96.53 % — deeper is not better.

Nielsen's numbers are for MNIST; without MNIST the study runs on Fashion-MNIST and says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from depthlab.config import TrainConfig
from depthlab.data.base import FixedDataset
from depthlab.data.registry import DATASETS
from depthlab.errors import DepthlabError
from depthlab.grid import RunSpec
from depthlab.probe import Probe
from depthlab.probe.quantities import BIAS_GRAD_NORM
from depthlab.studies.datasets import first_available, subset
from depthlab.studies.nielsen import NielsenBudget
from depthlab.studies.study import Plan
from depthlab.training.costs import COSTS
from depthlab.training.trainer import build_model

WIDTH = 30
ETA = 0.1
LAMBDA = 5.0
BATCH_SIZE = 10
COST = "binary-cross-entropy"
SPEED_EXAMPLES = 1000
SPEED_DEPTH = 4
DEPTHS = (1, 2, 3, 4)
NIELSEN_DATASETS = ("mnist", "fashion-mnist")

def nielsen_config(hidden_layers: int, dataset: str, train_size: int, **changes: Any) -> TrainConfig:
    """Nielsen's network and training rule with ``hidden_layers`` hidden layers of 30
    sigmoid units, for a training set of ``train_size`` images (weight decay λ/n)."""
    return TrainConfig(dataset=dataset, widths=[WIDTH] * hidden_layers, activation="sigmoid",
                       init="lecun-normal", bias_init="normal", cost=COST, optimizer="sgd", lr=ETA,
                       batch_size=BATCH_SIZE, weight_decay=LAMBDA / train_size, probe=False, **changes)


def choose_dataset(data_dir: str | None = None) -> str:
    """MNIST when its files are found, else Fashion-MNIST, else a one-line error."""
    return first_available(NIELSEN_DATASETS, data_dir, "Nielsen's study needs MNIST or Fashion-MNIST and found "
                           "neither: put their IDX files in --data-dir or $DEPTHLAB_DATA, or on Debian: apt-get "
                           "install dataset-fashion-mnist")


def speed_set(dataset: FixedDataset) -> tuple[torch.Tensor, torch.Tensor]:
    """The first 1000 training images and labels, on which Nielsen measures learning speed."""
    x, y = dataset.train
    if len(x) < SPEED_EXAMPLES:
        raise DepthlabError(f"{dataset.name} has {len(x)} training images; the learning speed needs {SPEED_EXAMPLES}")
    return x[:SPEED_EXAMPLES], y[:SPEED_EXAMPLES]


def learning_speed_at_init(dataset: FixedDataset, hidden_layers: int, seeds: int) -> np.ndarray:
    """‖∂C/∂b^l‖ of each hidden layer (columns) of freshly initialized networks, one row
    per seed 0 … seeds−1, C averaged over :func:`speed_set` (the probes' ``bias_grad_norm``)."""
    x, y = speed_set(dataset)
    config = nielsen_config(hidden_layers, dataset.name, len(dataset.train[0]))
    speeds = []
    for seed in range(seeds):
        model = build_model(config.replace(seed=seed), dataset)
        rows = Probe(model, x, y, COSTS.get(COST).loss, jacobian_examples=0, layer_names="positions").measure(0)
        norms = {row["layer"]: row["value"] for row in rows if row["stat"] == BIAS_GRAD_NORM}
        speeds.append([norms[f"layer {k}"] for k in range(1, hidden_layers + 1)])
    return np.array(speeds)


def learning_speed_in_training(dataset: FixedDataset, epochs: int, seed: int = 0,
                               progress: bool = False) -> np.ndarray:
    """Full-batch gradient descent on :func:`speed_set` (η = 0.1, λ = 5 on the weights
    only, n = 1000) of the 4-hidden-layer network; row e holds ‖∂C/∂b^l‖ of every hidden
    layer at the start of epoch e, read from that epoch's own gradient."""
    x, y = speed_set(dataset)
    model = build_model(nielsen_config(SPEED_DEPTH, dataset.name, len(x), seed=seed), dataset)
    weights = [layer.weight for layer in model.linears]
    biases = [layer.bias for layer in model.linears]
    optimizer = torch.optim.SGD([{"params": weights, "weight_decay": LAMBDA / len(x)}, {"params": biases}], lr=ETA)
    loss_fn = COSTS.get(COST).loss
    speeds = []
    for _ in tqdm(range(epochs), desc="full-batch epochs", disable=not progress, leave=False):
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        speeds.append([b.grad.norm().item() for b in biases[:-1]])
        optimizer.step()
    return np.array(speeds)


def plan(budget_name: str, budget: NielsenBudget, out: Path, data_dir: str | None = None) -> Plan:
    """Nielsen's network with 1 to 4 hidden layers trained through the trainer (resumable),
    the validation error measured after every epoch, on MNIST or else Fashion-MNIST."""
    name = choose_dataset(data_dir)
    depth_data, n_train = subset(DATASETS.get(name).load(data_dir), budget.depth_train_size,
                                 budget.depth_eval_size, out / "data")
    per_epoch = n_train // BATCH_SIZE
    specs = [RunSpec(f"depth{depth}", nielsen_config(depth, depth_data, n_train, data_dir=data_dir,
                                                     epochs=budget.depth_epochs, eval_every=per_epoch,
                                                     log_every=per_epoch))
             for depth in DEPTHS]
    return Plan("nielsen-ch5", budget_name, budget, {"dataset": name, "data_dir": data_dir}, specs)
