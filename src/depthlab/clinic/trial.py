"""A short training trial of a copy of a model, as the doctor runs one for the model as
it is and one for each remedy: the same batches (drawn once from the user's data and
replayed), the same seed, the same number of updates, probed at the same updates.

Nothing of the user's is touched: the trial trains a deep copy, with a fresh optimizer
of the user's kind and hyperparameters (:class:`TrialSettings`), and
:func:`untouched_rng` puts the global random number generators (torch's, CUDA's,
NumPy's, Python's) and the data loader's own generator back as they were.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from depthlab.errors import DepthlabError
from depthlab.probe.calling import call_model, examples_in, map_leaves, probe_loss
from depthlab.probe.probe import Probe
from depthlab.report.diagnosis import Facts, Finding, diagnose
from depthlab.store.probes import ProbeLog

PROBE_QUANTITIES = ("activation", "preactivation", "backprop_grad", "update_ratio")
"""What a trial's probe measures: the statistics the diagnosis reads (no Jacobians)."""
PROBE_EXAMPLES = 256
"""At most this many examples of the first batches make the probe set."""
DEFAULT_LR = 0.01


@dataclass(frozen=True)
class TrialSettings:
    """How a trial trains: ``optimizer`` makes the optimizer of a copy's parameters (the
    user's kind and hyperparameters), its learning rate scaled by ``lr_scale``; the
    gradients clipped to norm ``clip_norm`` before each update (None: not clipped)."""

    optimizer: Callable[[Iterable[Any]], torch.optim.Optimizer]
    lr: float
    lr_scale: float = 1.0
    clip_norm: float | None = None
    group_at: tuple[int | None, ...] | None = None
    """Per parameter of the user's model (in ``parameters()`` order), the index of the
    user's optimizer's parameter group holding it, None where no group does (the user's
    optimizer does not train it); None: one group for all."""
    group_hypers: tuple[dict[str, Any], ...] = ()

    @classmethod
    def of(cls, optimizer: torch.optim.Optimizer | Callable | None, model: nn.Module) -> TrialSettings:
        """The settings of the user's ``optimizer``: an optimizer (its class and its first
        parameter group's hyperparameters, read, never changed), a callable making one from
        parameters, or None (SGD at lr 0.01)."""
        if optimizer is None:
            return cls(lambda params: torch.optim.SGD(params, lr=DEFAULT_LR), DEFAULT_LR)
        if isinstance(optimizer, torch.optim.Optimizer):
            kind = type(optimizer)
            accepted = inspect.signature(kind).parameters  # AdamW's defaults hold a key its constructor refuses

            def hyper_of(group: dict[str, Any]) -> dict[str, Any]:
                return {key: value.item() if isinstance(value, Tensor) and value.numel() == 1 else value
                        for key, value in group.items() if key in optimizer.defaults and key in accepted}

            hypers = tuple(hyper_of(group) for group in optimizer.param_groups)
            position = {id(p): k for k, p in enumerate(model.parameters())}
            group_at: list[int | None] = [None] * len(position)
            for index, group in enumerate(optimizer.param_groups):
                for p in group["params"]:
                    if id(p) in position:
                        group_at[position[id(p)]] = index
            if all(index is None for index in group_at):  # an optimizer of another model: its first group for all
                group_at = [0] * len(position)
            first = hypers[0]
            return cls(lambda params: kind(params, **first), float(first["lr"]), group_at=tuple(group_at),
                       group_hypers=hypers)
        if callable(optimizer):
            probe = optimizer(copy.deepcopy(model).parameters())
            if not isinstance(probe, torch.optim.Optimizer):
                raise DepthlabError(f"optimizer= made a {type(probe).__name__}, not a torch.optim.Optimizer: give "
                                    "an optimizer, a callable making one from parameters, or None (SGD, lr 0.01)")
            return cls(optimizer, float(probe.param_groups[0]["lr"]))
        raise DepthlabError(f"optimizer= is a {type(optimizer).__name__}: give a torch.optim.Optimizer, a callable "
                            "making one from parameters, or None (SGD, lr 0.01)")

    def make(self, params: Iterable[nn.Parameter], originals: Iterable[nn.Parameter] | None = None
             ) -> torch.optim.Optimizer:
        """The optimizer of a copy's ``params``: with the user's parameter groups, each
        parameter in the group of the user's parameter it copies (``originals``: the copy's
        parameters in the user's model's order, before a remedy changed it; default
        ``params``); a parameter a remedy added (a LayerNorm's) in the first group; one the
        user's optimizer does not train left out."""
        params = list(params)
        if self.group_at is not None:
            where = {id(p): k for k, p in enumerate(params if originals is None else originals)}
            groups: dict[int, list[nn.Parameter]] = {}
            for p in params:
                k = where.get(id(p))
                index = self.group_at[k] if k is not None and k < len(self.group_at) else 0
                if index is not None:
                    groups.setdefault(index, []).append(p)
            params = [{"params": members, **self.group_hypers[index]} for index, members in sorted(groups.items())]
        optimizer = self.optimizer(params)
        for group in optimizer.param_groups:
            group["lr"] = group["lr"] * self.lr_scale
        return optimizer

    @property
    def effective_lr(self) -> float:
        return self.lr * self.lr_scale


@dataclass
class TrialData:
    """The batches every trial replays (on the model's device) and the probe set."""

    batches: list[tuple[Any, Any]]
    probe_inputs: Any
    probe_targets: Tensor | None


@dataclass
class Trial:
    """What one trial measured: the training cost at each update (``losses``; it stops at
    the first non-finite one, ``diverged_at``), the probe log at ``probe_updates``, the
    trained copy (None once released: :meth:`release`), ``steps_run`` (the updates it was to
    run: fewer where a time budget stopped it) and its wall time."""

    name: str
    model: nn.Module | None
    losses: list[float]
    log: ProbeLog
    probe: Probe
    settings: TrialSettings
    steps_run: int = 0
    diverged_at: int | None = None
    seconds: float = 0.0
    initial: dict[str, Any] = field(default_factory=dict)

    def release(self) -> None:
        """Free the trained copy: drop the model, and the tensors the probe holds of it
        (weights, the previous update's weights, the captured activations); what was
        measured (losses, log, activations found) stays."""
        self.model = None
        self.probe.model = None
        self.probe._previous = None
        for call in self.probe.calls:
            for item in dataclasses.fields(call):
                value = getattr(call, item.name)
                if isinstance(value, Tensor):
                    setattr(call, item.name, None)
                elif isinstance(value, (list, tuple)) and any(isinstance(v, Tensor) for v in value):
                    setattr(call, item.name, [])

    @property
    def cost(self) -> float:
        """The mean training cost of the last tenth of the trial's updates (at least one),
        the cost the doctor compares; infinite for a trial that diverged."""
        if self.diverged_at is not None or not self.losses:
            return math.inf
        tail = self.losses[-max(1, len(self.losses) // 10):]
        return float(np.mean(tail))


@contextlib.contextmanager
def untouched_rng(*loaders: Any) -> Iterator[None]:
    """Restore on exit the global RNG states (torch CPU and CUDA, NumPy, Python) and the
    generators of the given data loaders and their samplers."""
    generators = [g for loader in loaders for g in (getattr(loader, "generator", None),
                                                    getattr(getattr(loader, "sampler", None), "generator", None))
                  if isinstance(g, torch.Generator)]
    saved = [g.get_state() for g in generators]
    numpy_state, python_state = np.random.get_state(), random.getstate()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        for g, state in zip(generators, saved):
            g.set_state(state)
        np.random.set_state(numpy_state)
        random.setstate(python_state)


def number_text(value: float | None) -> str:
    """A statistic as the doctor writes it: two significant digits, "n/a" where there is
    none (or it is not finite)."""
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.2g}"


def model_device(model: nn.Module) -> torch.device:
    """Where the model's parameters are (the CPU for a model with none)."""
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def _to(value: Any, device: torch.device) -> Any:
    return map_leaves(lambda _, leaf: leaf.to(device) if isinstance(leaf, Tensor) else leaf, value)


def _own_iterable(data: Any) -> Any:
    """``data``, or, for a data loader with persistent workers, a shallow copy of it with no
    iterator: ``iter()`` of the loader itself would reset the one iterator it keeps, the
    one the user's loop may be in the middle of."""
    if isinstance(data, torch.utils.data.DataLoader) and getattr(data, "_iterator", None) is not None:
        twin = copy.copy(data)
        twin._iterator = None
        return twin
    return data


def draw_batches(data: Any, steps: int, device: torch.device) -> TrialData:
    """``steps`` batches (inputs, targets) from ``data`` (a data loader or any iterable of
    pairs, gone through again when it ends; or one (inputs, targets) pair, the whole batch
    at every update), moved to ``device``; a batch that is a mapping (a transformers
    model's ``input_ids``, ``labels``, …) is the model's keyword arguments, with no
    targets (the model's own ``loss`` is then the cost); the probe set is the first batches' examples,
    at most :data:`PROBE_EXAMPLES`."""
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], Tensor):
        pairs = [data] * steps
    else:
        pairs = []
        source = _own_iterable(data)
        while len(pairs) < steps:
            drawn = list(islice(iter(source), steps - len(pairs)))
            if not drawn:
                raise DepthlabError(f"the data (a {type(data).__name__}) gave no batch: give a data loader (or an "
                                    "iterable) of (inputs, targets) pairs, or one (inputs, targets) pair")
            pairs += drawn
    pairs = [(pair, None) if isinstance(pair, Mapping) else pair for pair in pairs]
    for k, pair in enumerate(pairs):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise DepthlabError(f"batch {k} of the data is a {type(pair).__name__}, not an (inputs, targets) pair "
                                "or a mapping of the model's keyword arguments")
    batches = [(_to(x, device), _to(y, device)) for x, y in pairs]
    first_x, first_y = batches[0]
    if isinstance(first_x, Tensor) and isinstance(first_y, Tensor):
        xs, ys, count = [], [], 0
        for x, y in batches:
            if count >= PROBE_EXAMPLES or x.shape[1:] != first_x.shape[1:] or y.shape[1:] != first_y.shape[1:]:
                break
            xs.append(x)
            ys.append(y)
            count += len(x)
        return TrialData(batches, torch.cat(xs)[:PROBE_EXAMPLES], torch.cat(ys)[:PROBE_EXAMPLES])
    examples_in(first_x)  # a precise error for inputs holding no batch
    return TrialData(batches, first_x, first_y)


def fresh_copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` without gradients."""
    twin = copy.deepcopy(model)
    for p in twin.parameters():
        p.grad = None
    return twin


def probe_updates(steps: int) -> list[int]:
    """The updates a trial of ``steps`` updates is probed at: 0, 1 (one update's size),
    the middle and the end."""
    return sorted({0, min(1, steps), steps // 2, steps})


def run_trial(name: str, model: nn.Module, settings: TrialSettings, data: TrialData, loss_fn: Callable | None,
              steps: int, seed: int, seconds: float | None = None, progress: Callable[[int], None] | None = None,
              before: Callable[[nn.Module, Probe], dict[str, Any]] | None = None,
              originals: list[nn.Parameter] | None = None) -> Trial:
    """Train ``model`` (the trial's own copy, changed in place) for ``steps`` updates on
    ``data``'s batches (the k-th update on batch k), from the torch seed ``seed``, probing
    it at :func:`probe_updates`; with ``seconds``, stop at the first probe update after
    that much time (the steps actually run are the trial's length). ``before`` reads the
    copy and its probe after the first measure (the doctor's mean-field comparison);
    ``originals``: the copy's parameters before a remedy changed it (:meth:`TrialSettings.make`)."""
    start = time.perf_counter()
    _seed(seed)
    probe = Probe(model, data.probe_inputs, data.probe_targets, loss_fn, quantities=PROBE_QUANTITIES,
                  jacobian_examples=0)
    due = probe_updates(steps)
    probe.measure(0, with_jacobians=False, with_histograms=False)
    initial = before(model, probe) if before else {}
    optimizer = settings.make(model.parameters(), originals)
    losses: list[float] = []
    diverged_at, steps_run = None, steps
    model.train()
    with torch.enable_grad():  # a caller under torch.no_grad() still gets a trial
        for step in range(1, steps + 1):
            x, y = data.batches[step - 1]
            optimizer.zero_grad(set_to_none=True)
            loss = probe_loss(loss_fn, call_model(model, x), y)
            value = float(loss.detach())
            if not math.isfinite(value):
                diverged_at = step
                break
            loss.backward()
            if settings.clip_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), settings.clip_norm)
            optimizer.step()
            losses.append(value)
            if progress:
                progress(1)
            over_time = seconds is not None and time.perf_counter() - start > seconds
            if step in due or over_time:
                probe.measure(step, with_jacobians=False, with_histograms=False)
                if over_time:
                    steps_run = step
                    break
    return Trial(name, model, losses, probe.log, probe, settings, steps_run, diverged_at, time.perf_counter() - start,
                 initial)


def _seed(seed: int) -> None:
    """Seed torch's CPU generator, and CUDA's only where CUDA is already initialized:
    ``torch.manual_seed`` would otherwise queue a CUDA seeding that outlives
    :func:`untouched_rng` and seeds the user's CUDA generator when CUDA starts later."""
    torch.default_generator.manual_seed(seed)
    if torch.cuda.is_initialized():
        torch.cuda.manual_seed_all(seed)


def findings_of(trial: Trial) -> list[Finding]:
    """The diagnosis of a trial (:mod:`depthlab.report.diagnosis`): its probes, its
    learning rate, and its divergence."""
    status = ({"status": "diverged", "diverged_at": trial.diverged_at, "cost": "non-finite"}
              if trial.diverged_at is not None else {})
    facts = Facts.of_probe(trial.probe, trial.settings.effective_lr)
    return diagnose(facts, status, [], trial.log)
