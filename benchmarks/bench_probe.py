"""What does probing cost? Training the paper's reference net (5 hidden layers of 1000
tanh units, SGD, minibatches of 10) on in-memory Shapeset batches, side by side in one
process: with probes on the default schedule (depthlab.training.schedule) and without.

Prints the cost of one probe pass (with and without Jacobian spectra), the measured
overhead of the default schedule on a run of ``--updates`` updates, and the overhead the
same measured costs give for longer runs (the paper's runs are millions of updates).

    python benchmarks/bench_probe.py [--updates 20000] [--repeats 1]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from depthlab.config import TrainConfig
from depthlab.data.base import FixedDataset
from depthlab.data.shapeset import generate
from depthlab.nets.mlp import MLP
from depthlab.probe import Probe
from depthlab.training.costs import COSTS
from depthlab.training.schedule import jacobian_updates, probe_updates
from depthlab.training.trainer import train

DEFAULTS = TrainConfig()
NET = dict(depth=5, width=1000, activation="tanh", init="normalized", lr=0.01, batch_size=10)


def timed_run(data: FixedDataset, updates: int, probe: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        train(dict(NET, updates=updates, eval_every=updates, probe=probe), out=f"{tmp}/run", data=data,
              progress=False)
        return time.perf_counter() - start


def probe_pass_seconds(data: FixedDataset, with_jacobians: bool, repeats: int = 3) -> float:
    torch.manual_seed(0)
    model = MLP(data.input_dim, [1000] * 5, data.num_classes, "tanh")
    model.initialize("normalized")
    x, y = data.test
    probe = Probe(model, x[:DEFAULTS.probe_size], y[:DEFAULTS.probe_size], COSTS.get("nll").loss,
                  jacobian_examples=DEFAULTS.jacobian_examples)
    times = []
    for step in range(repeats):
        start = time.perf_counter()
        probe.measure(step, with_jacobians=with_jacobians)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    x, y = generate(20_000, seed=0)
    data = FixedDataset("shapeset-in-memory", (1, 32, 32), 9, (x, y), (x[:10], y[:10]), (x[:1000], y[:1000]))

    plain_pass = probe_pass_seconds(data, with_jacobians=False)
    jacobian_pass = probe_pass_seconds(data, with_jacobians=True)
    print(f"reference net 5x1000 tanh, batch 10, {torch.get_num_threads()} threads; probe set "
          f"{DEFAULTS.probe_size} examples, Jacobians on {DEFAULTS.jacobian_examples} examples")
    print(f"one probe pass: {plain_pass:.3f} s without Jacobian spectra, {jacobian_pass:.3f} s with them")

    without, with_probes = [], []
    for _ in range(args.repeats):
        without.append(timed_run(data, args.updates, probe=False))
        with_probes.append(timed_run(data, args.updates, probe=True))
    base, probed = statistics.median(without), statistics.median(with_probes)
    print(f"{args.updates} updates: {base:.1f} s without probes, {probed:.1f} s with the default schedule "
          f"(every {DEFAULTS.probe_every}): overhead {100 * (probed - base) / base:.1f}% (measured)")

    per_update = base / args.updates
    for total in (args.updates, 100_000, 1_000_000, 5_000_000):
        probes = len(probe_updates(total, DEFAULTS.probe_every))
        jacobians = len(jacobian_updates(total, DEFAULTS.probe_every))
        cost = (probes - jacobians) * plain_pass + jacobians * jacobian_pass
        print(f"{total:>9,} updates: {probes} probes ({jacobians} with Jacobians) = "
              f"{100 * cost / (total * per_update):.1f}% of training time (from the measured costs)")


if __name__ == "__main__":
    main()
