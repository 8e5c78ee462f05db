"""A probe measured on depthlab's schedule from someone else's training loop.

Training frameworks call back at the start of training, before each update and at the
end; :class:`ScheduledProbe` turns those calls into the measures ``depthlab train``
takes (:class:`depthlab.training.schedule.ProbeSchedule`: dense early, every ``every``
updates, histograms and Jacobian spectra at initialization and every fifty intervals,
and a last measure with histograms at the end), optionally written into a run
directory that ``depthlab inspect`` reads (:meth:`depthlab.probe.Probe.log_to`).

Update u's measure is taken after u updates, before the next. The probe set is given,
or made of the first examples of a framework's batches (:func:`probe_set_from`). A
measure runs the model as the framework trains it: on the probe set converted as each
batch is (``convert``: a precision plugin's cast to bfloat16) and in the framework's own
context around a training step (``context``: the autocast region of mixed precision).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from depthlab.config import TrainConfig
from depthlab.errors import DepthlabError
from depthlab.probe import Probe
from depthlab.probe.budget import OverheadBudget
from depthlab.probe.calling import Inputs, examples_in, first_examples, map_leaves
from depthlab.training.schedule import ProbeSchedule

DEFAULTS = TrainConfig()
BUDGET = 0.05  # the callbacks' default overhead budget: 5% of the time spent training


def probe_set_from(batches: Iterable[Any], size: int) -> tuple[Inputs, Tensor | None]:
    """The first ``size`` examples of ``batches`` as (inputs, targets): a batch is an
    ``(inputs, targets)`` pair, a dict of keyword inputs (transformers' batches, whose
    ``labels`` the model reads itself: no targets), or a tensor of inputs alone. Batches
    are joined while their tensors agree in shape beyond the first dimension (dynamic
    padding ends the join early: the probe set is then smaller)."""
    taken: list[tuple[Inputs, Tensor | None]] = []
    count = 0
    for batch in batches:
        inputs, targets = _split(batch)
        if taken and not _joinable(taken[0], (inputs, targets)):
            break
        taken.append((inputs, targets))
        count += examples_in(inputs)
        if count >= size:
            break
    if not taken:
        raise DepthlabError("the training framework gave no batch to make a probe set of: give the callback inputs")
    inputs = _join([batch[0] for batch in taken])
    targets = torch.cat([batch[1] for batch in taken]) if taken[0][1] is not None else None
    keep = min(size, examples_in(inputs))
    return first_examples(inputs, keep), targets[:keep] if targets is not None else None


def _split(batch: Any) -> tuple[Inputs, Tensor | None]:
    if isinstance(batch, Tensor) or isinstance(batch, Mapping):
        return (dict(batch) if isinstance(batch, Mapping) else batch), None
    if isinstance(batch, (tuple, list)) and len(batch) == 2 and isinstance(batch[1], Tensor):
        inputs = batch[0]
        return (tuple(inputs) if isinstance(inputs, list) else inputs), batch[1]
    raise DepthlabError(f"cannot make a probe set of a batch of type {type(batch).__name__} (an (inputs, targets) "
                        "pair, a dict of keyword inputs or a tensor): give the callback inputs")


def _shapes(batch: tuple[Inputs, Tensor | None]) -> list[Any]:
    inputs, targets = batch
    values = list(inputs.items()) if isinstance(inputs, Mapping) else list(enumerate(
        inputs if isinstance(inputs, tuple) else (inputs,)))
    values.append(("targets", targets))
    return [(key, tuple(v.shape[1:]) if isinstance(v, Tensor) else type(v)) for key, v in values]


def _joinable(first: tuple[Inputs, Tensor | None], other: tuple[Inputs, Tensor | None]) -> bool:
    return _shapes(first) == _shapes(other)


def _join(parts: list[Inputs]) -> Inputs:
    first = parts[0]
    if isinstance(first, Mapping):
        return {key: torch.cat([p[key] for p in parts]) if isinstance(value, Tensor) else value
                for key, value in first.items()}
    if isinstance(first, tuple):
        return tuple(torch.cat([p[i] for p in parts]) if isinstance(value, Tensor) else value
                     for i, value in enumerate(first))
    return torch.cat(parts)


def to_device(inputs: Inputs, device: torch.device) -> Inputs:
    """The probe set with every tensor of any nesting on ``device``."""
    return map_leaves(lambda where, leaf: leaf.to(device) if isinstance(leaf, Tensor) else leaf, inputs)


class ScheduledProbe:
    """The probe of a framework callback (see the module docstring). ``path``: the run
    directory to write (None: measures stay in :attr:`probe`'s log); ``inputs``,
    ``targets``, ``loss_fn``, ``layers`` (names or glob patterns), ``stats``,
    ``jacobian_examples``, ``train_mode`` and ``budget`` as for
    :class:`depthlab.probe.Probe`, except that the budget defaults to 5% of the training
    time (:data:`BUDGET`; None measures on every scheduled update, as ``depthlab train``
    does); without ``inputs``, the first ``probe_size`` examples of the batches
    :meth:`start` is given."""

    def __init__(self, path: str | Path | None = None, inputs: Inputs | None = None, targets: Tensor | None = None,
                 loss_fn: Callable[[Any, Tensor | None], Tensor] | None = None, every: int = DEFAULTS.probe_every,
                 probe_size: int = DEFAULTS.probe_size, jacobian_examples: int = DEFAULTS.jacobian_examples,
                 layers: str | Sequence[str] | None = None, stats: str | Sequence[str] | None = None,
                 train_mode: bool = False, budget: float | None = BUDGET):
        if every < 1 or probe_size < 1:
            raise DepthlabError(f"every ({every}) and probe_size ({probe_size}) must be at least 1")
        self.path = Path(path) if path is not None else None
        self.inputs, self.targets, self.loss_fn = inputs, targets, loss_fn
        self.every, self.probe_size, self.jacobian_examples = every, probe_size, jacobian_examples
        self.layers, self.stats, self.train_mode = layers, stats, train_mode
        self.budget = OverheadBudget(budget).fraction if budget is not None else None
        self.probe: Probe | None = None
        self.schedule: ProbeSchedule | None = None
        self.measured_at: int | None = None
        self.context: Callable[[], AbstractContextManager] = nullcontext

    @property
    def started(self) -> bool:
        return self.probe is not None

    def start(self, model: nn.Module, total: int, device: torch.device, lr: float | None = None,
              batches: Iterable[Any] | None = None, convert: Callable[[Any], Any] | None = None,
              context: Callable[[], AbstractContextManager] | None = None, first: int = 0) -> None:
        """Make the probe for a run of ``total`` updates (its set from ``batches`` unless
        inputs were given) and, with a path, its run directory. ``convert`` maps the probe
        inputs and targets as the framework maps each batch before the model sees it;
        ``context`` makes the context manager every measure runs in (the framework's own
        around a training step: an autocast region, a default dtype). ``first``: the update
        training starts at (above 0 where the framework resumed from a checkpoint); a run
        directory that already holds updates takes only a resumed fit, never a new one."""
        if total < 1:
            raise DepthlabError(f"the run has {total} updates to train: the probe schedule needs at least one")
        if self.inputs is not None:
            inputs, targets = self.inputs, self.targets
        elif batches is not None:
            inputs, targets = probe_set_from(batches, self.probe_size)
        else:
            raise DepthlabError("no probe set: give the callback inputs (and targets)")
        if convert is not None:
            inputs, targets = convert(inputs), convert(targets) if targets is not None else None
        self.context = context or nullcontext
        self.probe = Probe(model, to_device(inputs, device), targets.to(device) if targets is not None else None,
                           self.loss_fn, layers=self.layers, stats=self.stats,
                           jacobian_examples=self.jacobian_examples, train_mode=self.train_mode,
                           budget=OverheadBudget(self.budget, total=total) if self.budget is not None else None)
        self.schedule = ProbeSchedule(total, self.every)
        if self.path is not None:
            self.probe.log_to(self.path, lr=lr)
            if first == 0 and (held := self.probe.writer.stored_until) >= 0:
                self.probe.writer.run.release()
                raise DepthlabError(f"{self.path} holds a run up to update {held} and this fit starts at update 0: "
                                    "resume the fit from its checkpoint, or give the callback another path")

    def before_update(self, update: int) -> None:
        """Measure after ``update`` updates when the schedule says so (once per update,
        however many times a framework calls: gradient accumulation calls per batch)."""
        if update in self.schedule and update != self.measured_at and self._new(update):
            with self.context():
                self.probe.measure(update, **self.schedule.measure(update))
            self.measured_at = update

    def log_metrics(self, update: int, **numbers: float) -> None:
        if self.path is not None and numbers and self._new(update):
            self.probe.log_metrics(update, **numbers)

    def end(self, update: int, status: str = "completed") -> None:
        """The last measure (with histograms, as the figures read it) unless one was taken
        at ``update``, and the run's status (once: a framework reporting an exception after
        the end, another callback's, changes nothing)."""
        if self.probe.writer is not None and self.probe.writer.ended is not None:
            return
        if status == "completed" and update != self.measured_at and self._new(update):
            with self.context():
                self.probe.measure(update, with_jacobians=self.schedule.jacobians(update), with_histograms=True)
            self.measured_at = update
        if self.path is not None:
            self.probe.finish(update if self._new(update) else None, status=status)

    def _new(self, update: int) -> bool:
        """Whether the run directory holds nothing at ``update`` yet. A framework resumed
        from a checkpoint older than what its run directory holds trains those updates
        again: what was stored of them stays, and they are neither measured nor logged
        twice (the writer would refuse them and stop the user's training)."""
        writer = self.probe.writer
        return writer is None or update > writer.stored_until
