"""How much does depthlab's training loop cost on top of the step itself?

The paper's reference net (5 hidden layers of 1000 tanh units, Shapeset-sized inputs,
SGD) is trained for the same number of updates on the same in-memory minibatches, side by
side in one process, by

- ``plain``: a bare PyTorch loop (autograd: zero_grad, forward, loss, backward, step;
  fused: the same FusedSGD step) with nothing else, and
- ``depthlab``: ``depthlab.training.trainer.train`` with the same engine, probes off and
  evaluation on a token set (its loop overhead: progress bar, divergence check,
  training-cost log, checkpoint at the end),

repeated in alternation; the median examples/s of each and their ratio are printed.

    python benchmarks/bench_trainer.py [--updates 1500] [--batch-sizes 10,100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F

from depthlab.data.base import FixedDataset
from depthlab.data.shapeset import generate
from depthlab.nets.mlp import MLP
from depthlab.training.costs import COSTS
from depthlab.training.fused import FusedSGD
from depthlab.training.trainer import train

DEPTH, WIDTH, LR = 5, 1000, 0.01


def in_memory_shapeset(examples: int) -> FixedDataset:
    x, y = generate(examples, seed=0)
    return FixedDataset("shapeset-in-memory", (1, 32, 32), 9, (x, y), (x[:10], y[:10]), (x[:10], y[:10]))


def plain_loop(data: FixedDataset, batch_size: int, updates: int, engine: str) -> float:
    """Seconds for ``updates`` steps of a bare loop over the same minibatches."""
    torch.manual_seed(0)
    model = MLP(data.input_dim, [WIDTH] * DEPTH, data.num_classes, "tanh")
    model.initialize("normalized")
    batches = data.train_batches(batch_size, seed=0)
    if engine == "fused":
        step = FusedSGD(model, COSTS.get("nll"), LR).step
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=LR)

        def step(x, y):
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            return loss
    start = time.perf_counter()
    for _ in range(updates):
        x, y = next(batches)
        step(x, y).item()
    return time.perf_counter() - start


def depthlab_loop(data: FixedDataset, batch_size: int, updates: int, engine: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        train(dict(depth=DEPTH, width=WIDTH, activation="tanh", init="normalized", lr=LR, batch_size=batch_size,
                   updates=updates, eval_every=updates, log_every=100, probe=False, step=engine),
              out=f"{tmp}/run", data=data, progress=True)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=1500)
    parser.add_argument("--batch-sizes", default="10,100")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    data = in_memory_shapeset(max(sizes) * 200)
    print(f"reference net: {DEPTH}x{WIDTH} tanh, SGD lr {LR}, {args.updates} updates, {torch.get_num_threads()} threads, "
          f"median of {args.repeats}")
    print(f"{'engine':>8} {'batch':>5} {'plain ex/s':>11} {'depthlab ex/s':>13} {'ratio':>6}")
    for engine in ("autograd", "fused"):
        for batch in sizes:
            plain, ours = [], []
            for _ in range(args.repeats):
                plain.append(plain_loop(data, batch, args.updates, engine))
                ours.append(depthlab_loop(data, batch, args.updates, engine))
            examples = args.updates * batch
            p, d = examples / statistics.median(plain), examples / statistics.median(ours)
            print(f"{engine:>8} {batch:>5} {p:>11,.0f} {d:>13,.0f} {d / p:>6.3f}", flush=True)


if __name__ == "__main__":
    main()
