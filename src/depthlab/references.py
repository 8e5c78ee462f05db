"""The sources' published numbers, which the studies set beside ours.

Every number here is copied from its source (see ``../shared/docs/paper.md``); nothing
here is computed.
"""

from __future__ import annotations

# -- Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward
#    neural networks", AISTATS ----------------------------------------------------------

GLOROT_DEPTH, GLOROT_WIDTH = 5, 1000
"""The paper's networks: 5 hidden layers of 1000 units."""

GLOROT_TABLE1: dict[str, dict[str, float]] = {
    "Softsign": {"shapeset": 16.27, "mnist": 1.64, "cifar10": 55.78, "small-imagenet": 69.14},
    "Softsign N": {"shapeset": 16.06, "mnist": 1.72, "cifar10": 53.8, "small-imagenet": 68.13},
    "Tanh": {"shapeset": 27.15, "mnist": 1.76, "cifar10": 55.9, "small-imagenet": 70.58},
    "Tanh N": {"shapeset": 15.60, "mnist": 1.64, "cifar10": 52.92, "small-imagenet": 68.57},
    "Sigmoid": {"shapeset": 82.61, "mnist": 2.21, "cifar10": 57.28, "small-imagenet": 70.66},
}
"""Table 1: test error (%) with 5 hidden layers, by configuration ("N": the normalized
init) and data set."""

GLOROT_UPDATES = 5_000_000
"""Section 2.3: learning rates were chosen on validation error after this many updates."""

GLOROT_JACOBIAN = {"Tanh": 0.5, "Tanh N": 0.8}
"""Section 4.2: the mean singular value of the layer Jacobian at initialization, tanh
with the standard and the normalized init."""

# -- Nielsen (2015), "Neural Networks and Deep Learning", chapter 5 ----------------------

NIELSEN_INIT_SPEED = {2: (0.07, 0.31), 3: (0.012, 0.060, 0.283), 4: (0.003, 0.017, 0.070, 0.285)}
"""‖δ^l‖ per hidden layer at initialization, by number of hidden layers."""

NIELSEN_TRAINING_RATIO = 100.0
"""How many times slower the first hidden layer learns than the last during training."""

NIELSEN_ACCURACY = {1: 96.48, 2: 96.90, 3: 96.57, 4: 96.53}
"""Validation accuracy (%) on MNIST after 30 epochs, by number of hidden layers."""

NIELSEN_EPOCHS = 30
"""The epochs of Nielsen's depth runs."""

# -- The lecture on fully-connected networks ---------------------------------------------

LECTURE_STD = {("tanh", "gaussian:0.01"): (0.21, 0.048, 0.011), ("tanh", "lecun-normal"): (0.63, 0.49, 0.41)}
"""The activation std of the first layers of its 10 × 500 tanh stack, by weight init:
0.01·N(0, 1), and N(0, 1/n_in) (which the lecture calls Xavier)."""
