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

from depthlab.config import TrainConfig
from depthlab.data.registry import DATASETS
from depthlab.grid import RunSpec
from depthlab.studies.datasets import first_available, subset
from depthlab.studies.nielsen.budgets import NielsenBudget
from depthlab.studies.study import Plan

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


def plan(budget_name: str, budget: NielsenBudget, out: Path, data_dir: str | None = None) -> Plan[NielsenBudget]:
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
