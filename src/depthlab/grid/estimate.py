"""The time a grid's updates are expected to take on a device, before any run starts
(what a dry run of ``depthlab reproduce`` prints).

The runs are grouped as the runner groups them (:func:`depthlab.grid.stacking.plan_stacks`
and :func:`~depthlab.grid.stacking.stacking_pays`, one worker): a stack of K runs takes as
many updates as its longest run, each an update of K networks; a run alone takes its own.
An update's time is, on a GPU, the memory roof — the bytes it must move ÷ the device's
bandwidth (:mod:`depthlab.training.speed`), a lower bound the engines approach where
CUDA graphs take the launches off the host — and on the CPU a short measured
calibration of the same shape (each distinct shape measured once, about a quarter of a
second). Evaluations, probes and data drawn on the host come on top.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from depthlab.config import StepName, TrainConfig
from depthlab.grid.spec import RunSpec
from depthlab.grid.stacking import plan_stacks, stacking_pays
from depthlab.limits import parameter_count
from depthlab.training.optim import OPTIMIZERS
from depthlab.training.speed import (device_bandwidth, measured_seconds_per_update, roof_seconds_per_update,
                                     weight_passes)
from depthlab.training.stacked_runs import MAX_STACK
from depthlab.training.trainer import load_data, total_updates

AUTOGRAD_EXTRA_PASSES = 2
"""Autograd with torch.optim writes each weight gradient and reads it back: 2 passes more
than the fused step (:mod:`depthlab.training.fused`)."""


def expected_seconds(plan: Any, device: str = "cpu", stacking: str = "auto", device_name: str | None = None,
                     calibrate: Callable[..., float] = measured_seconds_per_update) -> float:
    """Seconds the updates of ``plan``'s runs (a :class:`depthlab.studies.study.Plan`, or
    anything with ``runs``: RunSpecs) are expected to take on ``device``, one group after
    another as the runner trains them with ``stacking`` (module docstring).
    ``device_name``: the GPU's name, for a device not on this machine (its bandwidth is
    then looked up, never measured); ``calibrate``: the CPU's measure of an update
    (:func:`~depthlab.training.speed.measured_seconds_per_update`'s arguments)."""
    device = torch.device(device)
    runs: Sequence[RunSpec] = [RunSpec(spec.name, spec.config.replace(device=str(device))) for spec in plan.runs]
    shapes = _Shapes()
    if device.type == "cpu":
        measured: dict[tuple, float] = {}

        def per_update(widths, activation, batch, k, stacked, passes):
            key = (tuple(widths), activation, batch, k, stacked)
            if key not in measured:
                measured[key] = calibrate(list(widths), activation, batch, k, stacked, device)
            return measured[key]
    else:
        bandwidth, _ = device_bandwidth(device, device_name)

        def per_update(widths, activation, batch, k, stacked, passes):
            return roof_seconds_per_update(widths, batch, k, passes, bandwidth)

    total = 0.0
    for group in plan_stacks(runs, stacking):
        configs = [spec.config for spec in group]
        widths = shapes.widths(configs[0])
        stacked = len(configs) > 1 and stacking_pays(stacking, configs, parameter_count(widths))
        if stacked:
            for start in range(0, len(configs), MAX_STACK):
                part = configs[start:start + MAX_STACK]
                updates = max(shapes.updates(c) for c in part)
                total += updates * per_update(widths, part[0].activation, part[0].batch_size, len(part), True,
                                              max(_passes(c) for c in part))
        else:
            for config in configs:
                total += shapes.updates(config) * per_update(widths, config.activation, config.batch_size, 1, False,
                                                             _passes(config))
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
