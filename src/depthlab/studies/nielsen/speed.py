"""Nielsen's two measurements of learning speed (ch. 5), made by the report rather than
by trainer runs: ‖δ^l‖ = ‖∂C/∂b^l‖ of each hidden layer at initialization, and during
full-batch gradient descent on the first 1000 training images (see :mod:`.plan` for the
setup)."""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from depthlab.data.base import FixedDataset
from depthlab.errors import DepthlabError
from depthlab.probe import Probe
from depthlab.probe.quantities import BIAS_GRAD_NORM
from depthlab.studies.nielsen.plan import COST, ETA, LAMBDA, SPEED_DEPTH, SPEED_EXAMPLES, nielsen_config
from depthlab.training.costs import COSTS
from depthlab.training.trainer import build_model


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
