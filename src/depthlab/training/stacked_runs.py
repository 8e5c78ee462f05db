"""Train several runs as one stack, each into its own ordinary run directory.

Runs that share a data set, hidden widths, activation, minibatch size and device, and
that each take the fused step's rules (SGD, momentum or Nesterov; no clipping, dropout
or batch norm), train together in one :class:`~depthlab.training.stacked.StackedSGD`.
Each keeps its own initialization, seed and minibatch stream, learning rate, momentum,
weight decay, cost, length and evaluation and probe schedules. A
:class:`~depthlab.training.trainer.Trainer` per run does that run's bookkeeping exactly
as when it trains alone (metrics, probes, checkpoints, status, final numbers); the stack
takes the updates of all of them at once. A run that diverges is recorded as diverged
and its slice frozen while the others go on; one that reaches its last update is
finished and frozen the same way. Ctrl-C checkpoints every run; each resumes, in a stack
again or alone, with the numbers an uninterrupted run gets. Each run's ``env.json``
says which stack it trained in (``stack``: its size and runs).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm

from depthlab.config import TrainConfig
from depthlab.data.base import Batch, Dataset, FixedDataset
from depthlab.errors import DepthlabError
from depthlab.limits import FLOAT_BYTES, machine_memory, parameter_count
from depthlab.nets.activations import ACTIVATIONS
from depthlab.store import run_state
from depthlab.training.fused import fused_rules_reason
from depthlab.training.optim import OPTIMIZERS
from depthlab.training.stacked import StackedSGD
from depthlab.training.trainer import RunResult, Trainer, load_data, prepare, reopen, stop_on_sigint

MAX_STACK = 64
"""Runs per stack at most: past a few dozen small networks the per-operation overhead an
update pays is already shared (benchmarks/bench_stacked.py measures throughput against
the stack size), and a smaller stack loses less to a run that ends early."""
STACK_MEMORY_FRACTION = 0.25
"""The share of the machine's memory (of the GPU's free memory on one) a stack may take."""


def stack_unsupported_reason(config: TrainConfig) -> str | None:
    """Why the run of ``config`` cannot train in a stack, or None when it can: it takes the
    fused step's rules (:func:`depthlab.training.fused.fused_rules_reason`, read from the
    config before any network is built) and does not ask for the autograd engine."""
    if config.engine == "autograd":
        return "it asks for the autograd engine"
    return fused_rules_reason(ACTIVATIONS.get(config.activation), config.batchnorm, any(config.dropouts),
                              OPTIMIZERS.get(config.optimizer), config.clip_norm)


def stack_key(config: TrainConfig) -> tuple:
    """What the runs of one stack share: runs with equal keys can train together."""
    return (config.dataset, config.data_dir, config.download, config.eval_size, config.device,
            tuple(config.hidden_widths), config.activation, config.batch_size)


def member_bytes(config: TrainConfig, dataset: Dataset) -> int:
    """What one run adds to a stack: its parameters, their momentum buffers and weight
    gradients, and every layer's outputs, derivatives and δ for one minibatch (float32)."""
    widths = [dataset.input_dim, *config.hidden_widths, dataset.num_outputs]
    params = parameter_count(widths)
    momentum = OPTIMIZERS.get(config.optimizer).momentum
    return FLOAT_BYTES * ((3 if momentum else 2) * params + 3 * config.batch_size * sum(widths))


def largest_stack(config: TrainConfig, dataset: Dataset) -> int:
    """How many runs like ``config`` one stack takes: as many as fit in
    :data:`STACK_MEMORY_FRACTION` of the memory, at most :data:`MAX_STACK`."""
    if config.device.startswith("cuda"):
        memory = torch.cuda.mem_get_info(torch.device(config.device))[0]
    else:
        memory = machine_memory() or 2**32
    return max(1, min(MAX_STACK, int(STACK_MEMORY_FRACTION * memory) // member_bytes(config, dataset)))


def train_stacked(jobs: Sequence[tuple[TrainConfig, str | Path]], data: Dataset | None = None,
                  progress: bool = True) -> list[RunResult]:
    """Train the runs of ``jobs`` ((config, run directory) pairs, every config
    stackable and of one :func:`stack_key`) in stacks as large as memory allows, one
    stack after another; a run whose directory holds an interrupted run resumes it.
    Return each run's result, in the order of ``jobs``."""
    if not jobs:
        return []
    configs = [config.validate() for config, _ in jobs]
    for config in configs:
        reason = stack_unsupported_reason(config)
        if reason:
            raise DepthlabError(f"the run of seed {config.seed} cannot train in a stack: {reason}")
        if stack_key(config) != stack_key(configs[0]):
            raise DepthlabError("the runs of a stack share their data set, hidden widths, activation, batch size "
                                "and device")
    dataset = data or load_data(configs[0])
    size = largest_stack(configs[0], dataset)
    results = []
    for start in range(0, len(jobs), size):
        results += _train_one_stack(jobs[start:start + size], dataset, progress)
    return results


def _train_one_stack(jobs: Sequence[tuple[TrainConfig, str | Path]], dataset: Dataset,
                     progress: bool) -> list[RunResult]:
    trainers: list[Trainer] = []
    try:
        for config, path in jobs:
            trainers.append(reopen(path, progress=False, data=dataset) if run_state(path) == "resumable"
                            else prepare(config, path, dataset, progress=False))
        stack = StackedSGD([t.model for t in trainers], [t.cost for t in trainers],
                           [t.config.lr for t in trainers], [_momentum(t.config) for t in trainers],
                           [OPTIMIZERS.get(t.config.optimizer).nesterov for t in trainers],
                           [t.config.weight_decay for t in trainers])
        runs = [t.run.path.name for t in trainers]
        for k, trainer in enumerate(trainers):  # the stack takes over each run's stepper and its state
            member = stack.member(k)
            member.load_state_dict(trainer.engine.state_dict())
            trainer.engine_name, trainer.engine = "stacked", member
            trainer.stack = {"size": len(trainers), "runs": runs}
    except BaseException:  # a bad input or a Ctrl-C while setting up: no half-made run
        for trainer in trainers:
            trainer.abandon()
            trainer.run.release()
        raise
    return _fit(stack, trainers, dataset, progress)


def _momentum(config: TrainConfig) -> float:
    return config.momentum if OPTIMIZERS.get(config.optimizer).momentum else 0.0


def _fit(stack: StackedSGD, trainers: list[Trainer], dataset: Dataset, progress: bool) -> list[RunResult]:
    """The loop of :meth:`Trainer.fit` for every run at once."""
    results: dict[int, RunResult] = {}
    device = trainers[0].device
    try:
        for trainer in trainers:
            trainer.begin()
        batches = _stacked_batches(trainers, dataset)
        bar = tqdm(total=max(t.total for t in trainers), initial=min(t.update for t in trainers), unit="upd",
                   disable=not progress, dynamic_ncols=True, mininterval=0.5, leave=False,
                   desc=f"stack of {len(trainers)}")
        with stop_on_sigint(trainers):
            while len(results) < len(trainers):
                for trainer in trainers:
                    if trainer.running:
                        trainer.before_update()
                x, y = next(batches)
                costs = stack.step(x.to(device, non_blocking=True), y.to(device, non_blocking=True)).tolist()
                for k, trainer in enumerate(trainers):
                    if k in results:
                        continue
                    if trainer.running:
                        trainer.after_update(costs[k])
                    if not trainer.running:  # diverged, completed or interrupted: its slice stays as it is
                        stack.freeze(k)
                        results[k] = trainer.finish()
                bar.update()
        bar.close()
        return [results[k] for k in range(len(trainers))]
    except KeyboardInterrupt:  # a second Ctrl-C, or one before the loop
        for k, trainer in enumerate(trainers):
            if k not in results:
                trainer.abandon()
        raise
    finally:
        for trainer in trainers:
            trainer.run.release()


def _stacked_batches(trainers: list[Trainer], dataset: Dataset) -> Iterator[Batch]:
    """Each update's minibatches of every run, stacked: (K, B, …). A run that no longer
    trains repeats its last minibatch (its slice is frozen). From a finite training set
    the K minibatches are gathered at once."""
    if isinstance(dataset, FixedDataset):
        streams = [dataset.train_indices(t.config.batch_size, t.config.seed, start=t.update) for t in trainers]
        x, y = dataset.train

        def stack(indices: list) -> Batch:
            index = torch.stack(indices)
            return x[index], y[index]
    else:
        streams = [dataset.train_batches(t.config.batch_size, t.config.seed, start=t.update) for t in trainers]

        def stack(batches: list) -> Batch:
            return torch.stack([xb for xb, _ in batches]), torch.stack([yb for _, yb in batches])
    last: list = [None] * len(trainers)
    while True:
        for k, (trainer, stream) in enumerate(zip(trainers, streams)):
            if trainer.running or last[k] is None:
                last[k] = next(stream)
        yield stack(last)
