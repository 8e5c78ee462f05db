"""What does the callbacks' overhead budget keep? A user's own loop (plain SGD on a
64-256-256-10 tanh MLP, minibatches of 10, one thread) of ``--updates`` updates, probed by
:class:`depthlab.integrations.scheduled.ScheduledProbe` on its default schedule with each
budget in turn (no budget, 5%, 1%), side by side in one process: the measures taken and
skipped, and the probe's wall time as a share of the training's.

    python benchmarks/bench_budget.py [--updates 20000] [--budgets none 0.05 0.01]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

from depthlab.integrations.scheduled import ScheduledProbe


def run(budget: float | None, updates: int) -> tuple[int, int, float]:
    """(measures taken, measures skipped, probe seconds / training seconds)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 256), nn.Tanh(), nn.Linear(256, 256), nn.Tanh(), nn.Linear(256, 10))
    scheduled = ScheduledProbe(None, inputs=torch.randn(300, 64), targets=torch.randint(0, 10, (300,)),
                               loss_fn=F.cross_entropy, budget=budget)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    scheduled.start(model, updates, torch.device("cpu"))
    probing, start = 0.0, time.perf_counter()
    for update in range(updates):
        before = time.perf_counter()
        scheduled.before_update(update)
        probing += time.perf_counter() - before
        x, y = torch.randn(10, 64), torch.randint(0, 10, (10,))
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    before = time.perf_counter()
    scheduled.end(updates)
    probing += time.perf_counter() - before
    training = time.perf_counter() - start - probing
    return len(scheduled.probe.log.updates), len(scheduled.probe.skipped), probing / training


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--budgets", nargs="+", default=["none", "0.05", "0.01"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{args.updates} updates of a 64-256-256-10 tanh MLP, batch 10, 1 thread; the callbacks' default schedule")
    print(f"{'budget':>7} {'measures':>8} {'skipped':>7} {'probe / training':>16}")
    for name in args.budgets:
        taken, skipped, share = run(None if name == "none" else float(name), args.updates)
        print(f"{name:>7} {taken:>8} {skipped:>7} {share:>16.1%}", flush=True)


if __name__ == "__main__":
    main()
