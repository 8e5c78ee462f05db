"""What the d2l chapter computes by hand rather than through trainer runs: its MLP from
scratch (hand-written ReLU and parameters, trained on the minibatches a trainer run
reads) and sigmoid's gradient by autograd (setup: :mod:`.plan`)."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from depthlab.data.base import FixedDataset
from depthlab.studies.d2l_mlp.plan import BATCH, MLP_LR, MLP_WIDTH, SIGMOID_RANGE, WEIGHT_STD


def scratch_parameters(seed: int = 0, inputs: int = 784, classes: int = 10) -> list[torch.Tensor]:
    """The chapter's hand-made parameters: W1 = 0.01·N(0, 1) (inputs × 256), b1 = 0,
    W2 = 0.01·N(0, 1) (256 × classes), b2 = 0, drawn from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(inputs, MLP_WIDTH, generator=generator) * WEIGHT_STD, torch.zeros(MLP_WIDTH),
            torch.randn(MLP_WIDTH, classes, generator=generator) * WEIGHT_STD, torch.zeros(classes)]


def relu(x: torch.Tensor) -> torch.Tensor:
    """max(x, 0), written out as the chapter does."""
    return torch.max(x, torch.zeros_like(x))


def scratch_net(params: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """O = ReLU(X W1 + b1) W2 + b2 on flattened images."""
    w1, b1, w2, b2 = params
    return relu(x.reshape(len(x), -1) @ w1 + b1) @ w2 + b2


@torch.no_grad()
def accuracy(params: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> float:
    return (scratch_net(params, x).argmax(1) == y).float().mean().item()


def mlp_from_scratch(dataset: FixedDataset, epochs: int, seed: int = 0,
                     params: list[torch.Tensor] | None = None) -> list[dict[str, float]]:
    """Train the chapter's from-scratch MLP (SGD η = 0.1, minibatch 256) on the minibatch
    stream a trainer run of ``seed`` reads; ``params`` (W1, b1, W2, b2) replace
    :func:`scratch_parameters`. Per epoch, as the chapter's training loop reports it:
    the training loss and accuracy averaged over the epoch's minibatches, and the test
    accuracy at its end."""
    params = [p.detach().clone().requires_grad_() for p in (params or scratch_parameters(seed, dataset.input_dim,
                                                                                 dataset.num_classes))]
    optimizer = torch.optim.SGD(params, lr=MLP_LR)
    batches = dataset.train_batches(BATCH, seed)
    per_epoch = dataset.updates_per_epoch(BATCH)
    rows = []
    for epoch in range(1, epochs + 1):
        loss_sum, correct, seen = 0.0, 0, 0
        for _ in range(per_epoch):
            x, y = next(batches)
            logits = scratch_net(params, x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
        rows.append({"epoch": epoch, "train_loss": loss_sum / seen, "train_accuracy": correct / seen,
                     "test_accuracy": accuracy(params, *dataset.test)})
    return rows


def sigmoid_gradient(points: int = 161) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, σ(x), σ′(x)) on :data:`SIGMOID_RANGE`, the gradient by autograd."""
    x = torch.linspace(*SIGMOID_RANGE, points, dtype=torch.float64, requires_grad=True)
    y = torch.sigmoid(x)
    (grad,) = torch.autograd.grad(y.sum(), x)
    return x.detach().numpy().round(12) + 0.0, y.detach().numpy(), grad.numpy()  # + 0.0: no −0
