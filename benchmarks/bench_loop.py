"""The training loop's own cost where it dominates: a small net (784-30-30-30-10 sigmoid,
Nielsen's, minibatches of 10, probes off, one evaluation at the end), whose fused step
takes microseconds, trained by ``depthlab.train`` and by a bare loop of the same
:class:`~depthlab.training.fused.FusedSGD` step on the same minibatches, alternately, side
by side in one process: updates/s of each (median of ``--repeats``) and their ratio.
(``bench_trainer.py`` measures the same on the paper's 5×1000 net, where the step
dominates.) Run it with another tree's ``src`` on ``PYTHONPATH`` to compare two versions.

    python benchmarks/bench_loop.py [--updates 5000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from depthlab.data.base import FixedDataset
from depthlab.nets.mlp import MLP
from depthlab.training.costs import COSTS
from depthlab.training.fused import FusedSGD
from depthlab.training.trainer import train

WIDTHS, LR = [30, 30, 30], 0.1


def bare(data: FixedDataset, updates: int) -> float:
    """Updates/s of a bare loop of the fused step (its cost read every update, as a user's loop logs it)."""
    torch.manual_seed(0)
    model = MLP(data.input_dim, WIDTHS, data.num_classes, "sigmoid")
    model.initialize("normalized")
    step, batches = FusedSGD(model, COSTS.get("nll"), LR).step, data.train_batches(10, seed=0)
    start = time.perf_counter()
    for _ in range(updates):
        x, y = next(batches)
        step(x, y).item()
    return updates / (time.perf_counter() - start)


def depthlab(data: FixedDataset, updates: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        train(dict(widths=WIDTHS, activation="sigmoid", lr=LR, batch_size=10, updates=updates, eval_every=updates,
                   probe=False), out=f"{tmp}/run", data=data, progress=False)
        return updates / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    x, y = torch.rand(2000, 1, 28, 28), torch.randint(0, 10, (2000,))
    data = FixedDataset("bench", (1, 28, 28), 10, (x, y), (x[:200], y[:200]), (x[:200], y[:200]))
    plain, ours = [], []
    for _ in range(args.repeats):
        plain.append(bare(data, args.updates))
        ours.append(depthlab(data, args.updates))
    p, d = statistics.median(plain), statistics.median(ours)
    print(f"784-30x3-10 sigmoid, fused, batch 10, {args.updates} updates, {torch.get_num_threads()} threads, "
          f"median of {args.repeats}")
    print(f"bare loop {p:,.0f} updates/s, depthlab.train {d:,.0f} updates/s, ratio {d / p:.3f}")


if __name__ == "__main__":
    main()
