"""What does probing cost? Training the paper's reference net (5 hidden layers of 1000
tanh units, SGD, minibatches of 10) on in-memory Shapeset batches, side by side in one
process: with probes on the default schedule (depthlab.training.schedule) and without.

Prints the cost of one measure of each kind (scalars only; with histograms; with
histograms and Jacobian spectra) beside the forward/backward pass it needs, timed
alternately; the overhead of the default schedule on a run of ``--updates`` updates, as
the trainer times its probes within the run and as the difference of two runs side by
side (noisier: it carries any drift of the machine between them); and the overhead the same measured costs give for
longer runs (the paper's runs are millions of updates).

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
from depthlab.training.schedule import ProbeSchedule
from depthlab.training.trainer import train

DEFAULTS = TrainConfig()
NET = dict(depth=5, width=1000, activation="tanh", init="normalized", lr=0.01, batch_size=10)


def timed_run(data: FixedDataset, updates: int, probe: bool) -> tuple[float, float]:
    """Seconds the run took, and of them the seconds its probes took (the trainer times them)."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = train(dict(NET, updates=updates, eval_every=updates, probe=probe), out=f"{tmp}/run", data=data,
                       progress=False)
        return time.perf_counter() - start, result.final.get("probe_seconds", 0.0)


def measure_seconds(data: FixedDataset, repeats: int = 7) -> dict[str, float]:
    """Median seconds of a plain forward/backward pass and of each kind of measure, timed
    alternately on the same net."""
    torch.manual_seed(0)
    model = MLP(data.input_dim, [1000] * 5, data.num_classes, "tanh")
    model.initialize("normalized")
    x, y = data.test
    x, y = x[:DEFAULTS.probe_size], y[:DEFAULTS.probe_size]
    loss = COSTS.get("nll").loss
    probe = Probe(model, x, y, loss, jacobian_examples=DEFAULTS.jacobian_examples, layer_names="positions")

    def forward_backward():
        model.zero_grad()
        loss(model(x), y).backward()

    kinds = {"pass": forward_backward,
             "scalars": lambda u: probe.measure(u, with_jacobians=False, with_histograms=False),
             "histograms": lambda u: probe.measure(u, with_jacobians=False),
             "spectra": lambda u: probe.measure(u)}
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    update = 0
    for _ in range(repeats):
        for kind, run in kinds.items():
            start = time.perf_counter()
            if kind == "pass":
                run()
            else:
                update += 1
                run(update)
            times[kind].append(time.perf_counter() - start)
    return {kind: statistics.median(values) for kind, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    x, y = generate(20_000, seed=0)
    data = FixedDataset("shapeset-in-memory", (1, 32, 32), 9, (x, y), (x[:10], y[:10]), (x[:1000], y[:1000]))

    cost = measure_seconds(data)
    print(f"reference net 5x1000 tanh, batch 10, {torch.get_num_threads()} threads; probe set "
          f"{DEFAULTS.probe_size} examples, Jacobians on {DEFAULTS.jacobian_examples} examples")
    print(f"forward/backward pass {cost['pass']:.3f} s; one measure: {cost['scalars']:.3f} s "
          f"({cost['scalars'] / cost['pass']:.2f}x the pass), {cost['histograms']:.3f} s with histograms, "
          f"{cost['spectra']:.3f} s with histograms and Jacobian spectra")

    without, with_probes, probing = [], [], []
    for _ in range(args.repeats):
        without.append(timed_run(data, args.updates, probe=False)[0])
        seconds, probe_seconds = timed_run(data, args.updates, probe=True)
        with_probes.append(seconds)
        probing.append(probe_seconds)
    base, probed, probe_seconds = statistics.median(without), statistics.median(with_probes), statistics.median(probing)
    print(f"{args.updates} updates, default schedule (every {DEFAULTS.probe_every}): probes took "
          f"{probe_seconds:.1f} s of the probed run's {probed:.1f} s, overhead "
          f"{100 * probe_seconds / (probed - probe_seconds):.1f}% (timed in the run); "
          f"{base:.1f} s without probes, {100 * (probed - base) / base:.1f}% (the two runs side by side)")

    per_update = base / args.updates
    for total in (args.updates, 100_000, 1_000_000, 5_000_000):
        schedule = ProbeSchedule(total, DEFAULTS.probe_every)
        measures = [schedule.measure(update) for update in schedule]
        probes = len(measures)
        histograms = sum(m["with_histograms"] for m in measures)
        jacobians = sum(m["with_jacobians"] for m in measures)
        seconds = ((probes - histograms) * cost["scalars"] + (histograms - jacobians) * cost["histograms"]
                   + jacobians * cost["spectra"])
        print(f"{total:>9,} updates: {probes} probes ({histograms} with histograms, {jacobians} with spectra) = "
              f"{100 * seconds / (total * per_update):.1f}% of training time (from the measured costs)")


if __name__ == "__main__":
    main()
