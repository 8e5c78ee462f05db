"""What a grid will cost before it runs (``--dry-run``): its runs, their updates, and the
wall time expected on this machine.

The time comes from a calibration measured here, in this process, in about a second: the
grid's largest network (most parameters) takes :data:`CALIBRATION_UPDATES` updates with
the step its runs use, on its own data set's minibatches and with the threads a worker
gets, and evaluates :data:`CALIBRATION_EXAMPLES` examples. The cost model then scales
both by each run's parameter count (the matrix products dominate both)::

    seconds(run) = updates · t_update · P/P₀ + evaluations · examples per evaluation · t_example · P/P₀

where evaluations = ⌈updates / eval_every⌉ (+1 at update 0 where the run evaluates there)
and the examples are the validation and test sets. The runs are handed to the workers in
the runner's order, each to the first one free; the wall time is when the last ends. Not
counted: starting the workers, the probes and checkpoints, stacks (which can only make it
shorter) and whatever else the report computes. Nothing is written: the data sets are read
(never downloaded), and only training minibatches are drawn.

On a GPU (the runs' device is CUDA) the time is instead the memory roof of each group as
the runner trains it (:func:`expected_seconds`): a lower bound the engines approach where
CUDA graphs take the launches off the host.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

from depthlab.config import StepName, TrainConfig
from depthlab.grid.spec import RunSpec
from depthlab.grid.stacking import plan_stacks, stacking_pays
from depthlab.limits import parameter_count
from depthlab.threads import share, using
from depthlab.training.costs import COSTS
from depthlab.training.optim import OPTIMIZERS
from depthlab.training.speed import device_bandwidth, roof_seconds_per_update, weight_passes
from depthlab.training.stacked_runs import MAX_STACK
from depthlab.training.step import make_step
from depthlab.training.trainer import build_model, evaluate, load_data, total_updates

CALIBRATION_UPDATES = 200
"""Updates timed on the largest network (after :data:`WARMUP_UPDATES` untimed)."""
WARMUP_UPDATES = 20
CALIBRATION_EXAMPLES = 1000
"""Examples evaluated (one evaluation batch) to time evaluation."""


@dataclass(frozen=True)
class Calibration:
    """What the largest network cost here: seconds per update and per evaluated example,
    for a network of ``parameters`` weights and biases on ``threads`` threads."""

    parameters: int
    update_seconds: float
    example_seconds: float
    threads: int


@dataclass(frozen=True)
class Estimate:
    """A grid's runs (``updates`` each by name), those ``left`` to train, and the
    expected wall time of those on ``workers`` workers, from ``calibration``."""

    updates: dict[str, int]
    left: list[str]
    seconds: float
    workers: int
    calibration: Calibration | None
    device: str = "cpu"
    """Where the runs train: on a CUDA device ``seconds`` is the updates' memory roof
    (:func:`expected_seconds`) and there is no calibration."""


def _shape(spec: RunSpec, dataset) -> list[int]:
    return [dataset.input_dim, *spec.config.hidden_widths, dataset.num_outputs]


def _loaded(specs: Sequence[RunSpec]):
    """Each data set of ``specs`` read once (never downloaded), by run name."""
    from depthlab.data.registry import DATASETS

    cache, by_name = {}, {}
    for spec in specs:
        c = spec.config
        key = (c.dataset, c.data_dir, c.eval_size)
        if key not in cache:
            cache[key] = DATASETS.get(c.dataset).load(c.data_dir, False, c.eval_size)
        by_name[spec.name] = cache[key]
    return by_name


def _evaluated_examples(dataset) -> int:
    """The validation and test examples an evaluation goes through, read without drawing
    a generated set (a generated data set states its sizes)."""
    from depthlab.data.base import FixedDataset

    if isinstance(dataset, FixedDataset):
        return len(dataset.validation[0]) + len(dataset.test[0])
    return dataset.validation_size + dataset.test_size


def _examples(dataset, seed: int):
    """Up to :data:`CALIBRATION_EXAMPLES` examples to evaluate: a finite data set's
    validation examples (in memory already), a stream's drawn training examples (a
    generated validation set would be drawn and cached)."""
    from depthlab.data.base import FixedDataset

    if isinstance(dataset, FixedDataset):
        x, y = dataset.validation
        return x[:CALIBRATION_EXAMPLES], y[:CALIBRATION_EXAMPLES]
    return next(dataset.train_batches(CALIBRATION_EXAMPLES, seed + 1))


def calibrate(spec: RunSpec, dataset, threads: int) -> Calibration:
    """Time ``spec``'s network here: :data:`CALIBRATION_UPDATES` updates of its step on its
    minibatches, and the evaluation of :data:`CALIBRATION_EXAMPLES` examples, on
    ``threads`` threads (restored after)."""
    with using(threads):
        config = spec.config
        model = build_model(config, dataset)
        cost = COSTS.get(config.cost)
        step = make_step(config, model, cost)
        device = torch.device(config.device)
        batches = dataset.train_batches(config.batch_size, config.seed)
        minibatches = [next(batches) for _ in range(WARMUP_UPDATES + CALIBRATION_UPDATES)]
        for x, y in minibatches[:WARMUP_UPDATES]:
            step.step(x.to(device), y.to(device)).item()
        start = time.perf_counter()
        costs = [step.step(x.to(device), y.to(device)) for x, y in minibatches[WARMUP_UPDATES:]]
        torch.stack(costs).tolist()
        update_seconds = (time.perf_counter() - start) / CALIBRATION_UPDATES
        x, y = _examples(dataset, config.seed)
        start = time.perf_counter()
        evaluate(model, cost, x, y, device)
        example_seconds = (time.perf_counter() - start) / len(x)
    return Calibration(parameter_count(_shape(spec, dataset)), update_seconds, example_seconds, threads)


def run_seconds(spec: RunSpec, updates: int, dataset, calibration: Calibration) -> float:
    """The cost model's seconds for ``spec`` (module docstring)."""
    from depthlab.training.schedule import evaluates_at_start

    scale = parameter_count(_shape(spec, dataset)) / calibration.parameters
    every = spec.config.eval_every
    evaluations = math.ceil(updates / every) + evaluates_at_start(updates, every)
    return scale * (updates * calibration.update_seconds
                    + evaluations * _evaluated_examples(dataset) * calibration.example_seconds)


def wall_seconds(seconds: Sequence[float], workers: int) -> float:
    """When the last of runs taking ``seconds``, in this order, each handed to the first
    of ``workers`` free, ends."""
    free = [0.0] * max(1, workers)
    for s in seconds:
        heapq.heappush(free, heapq.heappop(free) + s)
    return max(free)


def estimate(specs: Sequence[RunSpec], root: Path, workers: int, threads: int) -> Estimate:
    """The grid's updates and, for the runs not finished under ``root``, the expected wall
    time on ``workers`` workers of ``threads`` threads each (calibrated here)."""
    from depthlab.grid.progress import planned_updates
    from depthlab.store import run_state

    updates = planned_updates(specs)
    left = [spec for spec in specs if run_state(Path(root) / "runs" / spec.name) != "finished"]
    if not left:
        return Estimate(updates, [], 0.0, workers, None)
    device = left[0].config.device
    if device.startswith("cuda"):
        return Estimate(updates, [s.name for s in left], expected_seconds(SimpleNamespace(runs=left), device), workers,
                        None, device)
    data = _loaded(left)
    largest = max(left, key=lambda s: parameter_count(_shape(s, data[s.name])))
    calibration = calibrate(largest, data[largest.name], threads)
    seconds = [run_seconds(s, updates[s.name], data[s.name], calibration) for s in left]
    return Estimate(updates, [s.name for s in left], wall_seconds(seconds, workers), workers, calibration)


def duration(seconds: float) -> str:
    """``seconds`` for a person: 45 s, 13 min, 1 h 24 min."""
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}{'' if n == 1 else 's'}"


def describe(specs: Sequence[RunSpec], root: Path, workers: int, threads: int | None, title: str) -> str:
    """The dry run's text: ``title``, the grid (a line per run: its seed, updates and
    configuration), the number of runs and updates, and the expected wall time on
    ``workers`` local workers of ``threads`` threads each (None: their share of the cores,
    :func:`depthlab.threads.share`)."""
    if not specs:
        return f"{title}\n\nNo runs to train: running it only computes and writes the report."
    found = estimate(specs, root, workers, threads or share(workers))
    lines = [title, ""]
    width = max(len(spec.name) for spec in specs)
    lines.append(f"  {'run':<{width}}  {'seed':>4}  {'updates':>9}  configuration")
    for spec in specs:
        c = spec.config
        widths = c.hidden_widths
        shape = (f"{len(widths)}x{widths[0]}" if len(set(widths)) == 1 else "-".join(map(str, widths))) \
            if widths else "linear"
        done = "" if spec.name in found.left else "  (finished)"
        lines.append(f"  {spec.name:<{width}}  {c.seed:>4}  {found.updates[spec.name]:>9,}  {c.dataset}, {shape} "
                     f"{c.activation}, init {c.init}, {c.optimizer} lr {c.lr:g}, batch {c.batch_size}{done}")
    total = sum(found.updates.values())
    left = sum(found.updates[name] for name in found.left)
    lines += ["", f"{_count(len(specs), 'run')}, {total:,} updates in all; {_count(len(found.left), 'run')} and "
                  f"{left:,} updates left to train in {root}"]
    cal = found.calibration
    if not found.left:
        lines.append("Nothing left to train: running it only writes the report.")
    elif cal is None:
        lines.append(f"Expected time of the updates on {found.device}: at least {duration(found.seconds)} (each "
                     "update's bytes ÷ the device's memory bandwidth, one group after another; evaluations, probes "
                     "and start-up come on top)")
    else:
        lines.append(f"Expected wall time here: about {duration(found.seconds)} on {workers} worker"
                     f"{'s' if workers > 1 else ''} (measured just now on the largest network, {cal.parameters:,} "
                     f"parameters, {cal.threads} thread{'s' if cal.threads > 1 else ''}: {1 / cal.update_seconds:,.0f} "
                     f"updates/s, "
                     f"{cal.example_seconds * 1e6:,.0f} µs per example evaluated; "
                     "not counted: start-up, probes, checkpoints and the report; slower while other jobs share "
                     "the cores)")
    return "\n".join(lines)


# -- on a device: the memory roof of each group ------------------------------------------
# The runs are grouped as the runner groups them (plan_stacks and stacking_pays, one
# worker): a stack of K runs takes as many updates as its longest run, each an update of K
# networks; a run alone takes its own. An update's time is the bytes it must move ÷ the
# device's bandwidth (depthlab.training.speed). Evaluations, probes and data drawn on the
# host come on top.

AUTOGRAD_EXTRA_PASSES = 2
"""Autograd with torch.optim writes each weight gradient and reads it back: 2 passes more
than the fused step (:mod:`depthlab.training.fused`)."""


def expected_seconds(plan: Any, device: str = "cpu", stacking: str = "auto", device_name: str | None = None) -> float:
    """Seconds the updates of ``plan``'s runs (a :class:`depthlab.studies.study.Plan`, or
    anything with ``runs``: RunSpecs) take at ``device``'s memory roof, one group after
    another as the runner trains them with ``stacking`` (the section's comment): a lower
    bound. ``device_name``: the GPU's name, for a device not on this machine (its bandwidth
    is then looked up, never measured); on the CPU the bandwidth is a measured copy, and
    :func:`describe`'s calibration is the better guide."""
    device = torch.device(device)
    runs: Sequence[RunSpec] = [RunSpec(spec.name, spec.config.replace(device=str(device))) for spec in plan.runs]
    shapes = _Shapes()
    bandwidth, _ = device_bandwidth(device, device_name)
    total = 0.0
    for group in plan_stacks(runs, stacking):
        configs = [spec.config for spec in group]
        widths = shapes.widths(configs[0])
        stacked = len(configs) > 1 and stacking_pays(stacking, configs, parameter_count(widths))
        if stacked:
            for start in range(0, len(configs), MAX_STACK):
                part = configs[start:start + MAX_STACK]
                updates = max(shapes.updates(c) for c in part)
                total += updates * roof_seconds_per_update(widths, part[0].batch_size, len(part),
                                                           max(_passes(c) for c in part), bandwidth)
        else:
            for config in configs:
                total += shapes.updates(config) * roof_seconds_per_update(widths, config.batch_size, 1, _passes(config),
                                                                          bandwidth)
    return total


def _passes(config: TrainConfig) -> int:
    """Passes over each parameter per update of the run of ``config`` (torch.optim's rules
    that keep more state, Adam's two moments say, are counted as SGD's: a lower bound)."""
    rule = OPTIMIZERS.get(config.optimizer)
    passes = weight_passes(rule.momentum and config.momentum > 0, rule.nesterov, config.weight_decay > 0)
    return passes + (AUTOGRAD_EXTRA_PASSES if config.step == StepName.AUTOGRAD or not rule.fused else 0)


class _Shapes:
    """Each data set's layer widths and updates, loaded once (with one validation and test
    example: only the sizes are needed)."""

    def __init__(self):
        self.datasets: dict[tuple, Any] = {}

    def dataset(self, config: TrainConfig):
        key = (config.dataset, config.data_dir)
        if key not in self.datasets:
            self.datasets[key] = load_data(config.replace(eval_size=1))
        return self.datasets[key]

    def widths(self, config: TrainConfig) -> list[int]:
        data = self.dataset(config)
        return [data.input_dim, *config.hidden_widths, data.num_outputs]

    def updates(self, config: TrainConfig) -> int:
        if config.updates is not None:
            return config.updates
        return total_updates(config, self.dataset(config))
