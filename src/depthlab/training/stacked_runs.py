"""Train several runs as one stack, each into its own ordinary run directory.

Runs that share a data set, hidden widths, activation, minibatch size and device, and
that each take the fused step's rules (SGD, momentum or Nesterov; no clipping, dropout
or batch norm), train together in one :class:`~depthlab.training.stacked.StackedSGD`.
Each keeps its own initialization, seed and minibatch stream, learning rate, momentum,
weight decay, cost, length and evaluation and probe schedules. A
:class:`~depthlab.training.trainer.Trainer` per run does that run's bookkeeping exactly
as when it trains alone (metrics, probes, checkpoints, status, final numbers), and the
one training loop (:func:`~depthlab.training.trainer.loop`) drives the stack, which
takes the updates of all of them at once. A run that diverges is recorded as diverged
and its slice frozen while the others go on (the slices never mix, so what it did
between its divergence and the loop reading its cost reaches no other run); one that
reaches its last update is finished and frozen the same way. Ctrl-C checkpoints every run; each resumes, in a stack
again or alone, with the numbers an uninterrupted run gets. Each run's ``env.json``
says which stack it trained in (``stack``: its size and runs).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from pathlib import Path

import torch

from depthlab.config import StepName, TrainConfig
from depthlab.data.base import Batch, Dataset, FixedDataset
from depthlab.errors import DepthlabError
from depthlab.limits import FLOAT_BYTES, machine_memory, parameter_count
from depthlab.nets.activations import ACTIVATIONS
from depthlab.store import RunState, run_state
from depthlab.training.fused import fused_rules_reason
from depthlab.training.optim import OPTIMIZERS
from depthlab.training.stacked import StackedSGD
from depthlab.training.trainer import OpenRun, RunResult, Trainer, create, load_data, loop, open_stored

MAX_STACK = 64
"""Runs per stack at most: past a few dozen small networks the per-operation overhead an
update pays is already shared (benchmarks/bench_stacked.py measures throughput against
the stack size), and a smaller stack loses less to a run that ends early."""
STACK_MEMORY_FRACTION = 0.25
"""The share of the machine's memory (of the GPU's free memory on one) a stack may take."""


def stack_unsupported_reason(config: TrainConfig) -> str | None:
    """Why the run of ``config`` cannot train in a stack, or None when it can: it takes the
    fused step's rules (:func:`depthlab.training.fused.fused_rules_reason`, read from the
    config before any network is built) and does not ask for the autograd step."""
    if config.step == StepName.AUTOGRAD:
        return "it asks for the autograd step"
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
    opened: list[OpenRun] = []
    try:
        for config, path in jobs:
            opened.append(open_stored(path, dataset) if run_state(path) == RunState.RESUMABLE
                          else create(config, path, dataset))
        configs = [o.config for o in opened]
        stack = StackedSGD([o.model for o in opened], [o.cost for o in opened], [c.lr for c in configs],
                           [_momentum(c) for c in configs], [OPTIMIZERS.get(c.optimizer).nesterov for c in configs],
                           [c.weight_decay for c in configs])
    except BaseException:  # a bad input or a Ctrl-C while setting up: no half-made run
        for o in opened:
            o.close()
        raise
    info = {"size": len(opened), "runs": [o.run.path.name for o in opened]}
    books = []
    try:
        for k, o in enumerate(opened):
            books.append(o.books(lambda k=k: stack.member(k), progress=False, stack=info))
    except BaseException:
        for o in opened[len(books) + 1:]:  # the run that failed is closed already
            o.close()
        for book in books:
            book.abandon()
            book.run.release()
        raise
    batches = StackedBatches(books, dataset)
    return loop(books, StackStep(stack, batches), batches, progress, name=f"stack of {len(books)}")


def _momentum(config: TrainConfig) -> float:
    return config.momentum if OPTIMIZERS.get(config.optimizer).momentum else 0.0


class StackStep:
    """The loop's stepper for a stack: the update of every member at once; a member that
    ended is frozen, and its minibatch stream repeats its last minibatch."""

    def __init__(self, stack: StackedSGD, batches: StackedBatches):
        self.stack, self.batches = stack, batches

    def step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.stack.step(x, y)

    def freeze(self, k: int) -> None:
        self.stack.freeze(k)
        self.batches.freeze(k)

    @property
    def graphable(self) -> str | None:
        return self.stack.graphable

    def graph_key(self) -> tuple:
        return self.stack.graph_key()


class StackedBatches:
    """Each update's minibatches of every run, stacked: (K, B, …), each run's from its own
    stream, from its own update on. From a finite training set the K minibatches are
    gathered at once."""

    def __init__(self, books: list[Trainer], dataset: Dataset):
        self.finite = isinstance(dataset, FixedDataset)
        if self.finite:
            self.streams = [dataset.train_indices(t.config.batch_size, t.config.seed, start=t.update) for t in books]
            self.x, self.y = dataset.train
        else:
            self.streams = [dataset.train_batches(t.config.batch_size, t.config.seed, start=t.update)
                            for t in books]
        self.last: list = [None] * len(books)

    def freeze(self, k: int) -> None:
        """Run k ended: its stream repeats its last minibatch (its slice is frozen)."""
        if self.last[k] is None:  # ended before its first update
            self.last[k] = next(self.streams[k])
        self.streams[k] = repeat(self.last[k])

    def __iter__(self) -> StackedBatches:
        return self

    def __next__(self) -> Batch:
        self.last = [next(stream) for stream in self.streams]
        if self.finite:
            index = torch.stack(self.last)
            return self.x[index], self.y[index]
        return torch.stack([xb for xb, _ in self.last]), torch.stack([yb for _, yb in self.last])
