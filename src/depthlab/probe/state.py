"""A probe pass leaves a model as it found it: parameters, their gradients, buffers,
the modules' train/eval modes and the random number generators."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def preserved_state(model: nn.Module, train_mode: bool) -> Iterator[None]:
    """Put ``model`` in train (``train_mode``) or eval mode for the duration; restore every
    module's mode, every buffer and the global RNG (CPU and the model's CUDA devices)."""
    modes = [(m, m.training) for m in model.modules()]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    cuda = sorted({p.device.index or 0 for p in model.parameters() if p.device.type == "cuda"})
    with torch.random.fork_rng(devices=cuda):
        model.train(train_mode)
        try:
            yield
        finally:
            for m, mode in modes:
                m.training = mode
            with torch.no_grad():
                for b, saved in buffers:
                    b.copy_(saved)
