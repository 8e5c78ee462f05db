"""The configuration of one training run: typed, validated, loadable from TOML or JSON.

The same keys serve as command-line flags (``--batch-size``), as keys of a config file
(``batch-size`` or ``batch_size``) and as fields of :class:`TrainConfig` in Python.
Importing this module imports no torch, so the command line checks its flags quickly.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import math
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from depthlab.errors import DepthlabError, either, unknown_choice
from depthlab.limits import MAX_DEPTH, MAX_SEED, MAX_UPDATES, check_at_most
from depthlab.registry import Choice

if TYPE_CHECKING:
    import torch


class StepName(Choice, kind="step"):
    """How a run takes its updates (``--step``): ``fused`` (:mod:`depthlab.training.fused`,
    for the plain MLPs it can train), ``autograd`` (any model and optimizer) or ``auto``
    (fused whenever the run qualifies)."""

    AUTO = "auto"
    AUTOGRAD = "autograd"
    FUSED = "fused"


RENAMED = {"engine": "step"}
"""Keys that changed their name: the old key is refused with :func:`renamed`'s line."""


def renamed(old: str) -> str:
    """The line refusing the old key ``old``: its new name and values, e.g. "'engine' is
    now 'step': auto, autograd or fused" (the command line's flag says the same:
    :class:`depthlab.cli.common.Renamed`)."""
    new = RENAMED[old]
    return f"'{old}' is now '{new}': {either(TYPES[new].names())}"


@dataclass
class TrainConfig:
    """Everything that defines a run. ``widths`` wins over ``depth`` × ``width``; depth 0
    (or ``widths = []``) is a linear model, the output layer alone. Each field's
    constraint is declared in :data:`CONSTRAINTS`, the rules between fields in
    :data:`RULES`; :meth:`validate` checks both."""

    dataset: str = "shapeset"
    data_dir: str | None = None
    download: bool = False
    eval_size: int | None = None
    seed: int = 0
    device: str = "cpu"
    depth: int = 5
    width: int = 1000
    widths: list[int] | None = None
    activation: str = "tanh"
    init: str = "normalized"
    bias_init: str = "zero"
    cost: str = "nll"
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    batch_size: int = 10
    updates: int | None = None
    epochs: float | None = None
    weight_decay: float = 0.0
    dropout: float | list[float] = 0.0
    batchnorm: bool = False
    clip_norm: float | None = None
    eval_every: int = 2000
    eval_train: bool = False
    log_every: int = 100
    step: StepName = StepName.AUTO
    graphs: bool | None = None
    """Capture an update in a CUDA graph and replay it (:mod:`depthlab.training.graphs`):
    None (the default) wherever the device is CUDA and the step can be captured; False never."""
    probe: bool = True
    probe_every: int = 2000
    probe_size: int = 300
    jacobian_examples: int = 2
    probe_stats: list[str] | None = None
    tensorboard: bool = False

    @property
    def hidden_widths(self) -> list[int]:
        return list(self.widths) if self.widths is not None else [self.width] * self.depth

    @property
    def dropouts(self) -> list[float]:
        """The dropout rate after each hidden layer: ``dropout`` is one rate for all, or one
        per layer (d2l's 0.2 and 0.5)."""
        if isinstance(self.dropout, list):
            return list(self.dropout)
        return [self.dropout] * len(self.hidden_widths)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> TrainConfig:
        return from_mapping({**self.to_dict(), **changes})

    def validate(self) -> TrainConfig:
        """Check the rules between fields, then every field's constraints; raise a
        one-line DepthlabError for the first broken one."""
        for rule in RULES:
            rule.check(self)
        for name, constraints in CONSTRAINTS.items():
            value = getattr(self, name)
            if value is not None:
                for constraint in constraints:
                    constraint.check(name.replace("_", "-"), value, TYPES[name])
        return self


# -- constraints: what one field may hold -----------------------------------------------
@dataclass(frozen=True)
class Interval:
    """A finite number between ``low`` and ``high`` (None: unbounded), ``closed`` on the
    "left", "right", "both" or "neither" side, as scikit-learn's ``Interval``. ``note``
    follows the refusal of a negative count."""

    low: float | None
    high: float | None = None
    closed: str = "left"
    note: str = ""

    def check(self, name: str, value: float, kind: type) -> None:
        left, right = self.closed in ("left", "both"), self.closed in ("right", "both")
        above = self.low is None or value > self.low or (left and value == self.low)
        below = self.high is None or value < self.high or (right and value == self.high)
        if above and below and math.isfinite(value):
            return
        if self.high is not None:
            raise DepthlabError(f"{name} {value} must be in {'[' if left else '('}{self.low:g}, "
                                f"{self.high:g}{']' if right else ')'}")
        if not left:
            raise DepthlabError(f"{name} {value} must be a positive finite number")
        if kind is int:
            raise DepthlabError(f"{name} {value} must not be negative{self.note}")
        raise DepthlabError(f"{name} {value} must be a finite number, not negative")


@dataclass(frozen=True)
class AtMost:
    """At most ``limit`` (``why``: the reason for the limit); of a list, its length,
    named ``of``."""

    limit: float
    why: str
    of: str = ""

    def check(self, name: str, value: Any, kind: type) -> None:
        if isinstance(value, list):
            check_at_most(self.of or name, len(value), self.limit, self.why)
        else:
            check_at_most(name, value, self.limit, self.why)


@dataclass(frozen=True)
class Units:
    """A positive number of units: one width, or each of a list of widths."""

    def check(self, name: str, value: int | list[int], kind: type) -> None:
        for width in value if isinstance(value, list) else [value]:
            if width < 1:
                raise DepthlabError(f"width {width} must be a positive number of units")


@dataclass(frozen=True)
class Each:
    """``constraint`` on one number, or on each of a list of them."""

    constraint: Interval

    def check(self, name: str, value: Any, kind: type) -> None:
        for item in value if isinstance(value, list) else [value]:
            self.constraint.check(name, item, float)


@dataclass(frozen=True)
class Registered:
    """A name in the registry ``target`` ("module:attribute"), imported when a config is
    validated: the registries live beside what they name, and importing the config
    imports none of them."""

    target: str

    def check(self, name: str, value: str, kind: type) -> None:
        module, _, attribute = self.target.partition(":")
        getattr(importlib.import_module(module), attribute).get(value)


@dataclass(frozen=True)
class OneOf:
    """A member of a :class:`~depthlab.registry.Choice`."""

    choice: type[Choice]

    def check(self, name: str, value: str, kind: type) -> None:
        self.choice.parse(value)


@dataclass(frozen=True)
class FilePath:
    """Text the file system can take as (part of) a path: no NUL byte, which no path may
    hold."""

    def check(self, name: str, value: str, kind: type) -> None:
        if "\0" in value:
            raise DepthlabError(f"{name} {value!r} holds a NUL byte, which no file path can hold")


@dataclass(frozen=True)
class Device:
    """A device this machine has (:func:`check_device`)."""

    def check(self, name: str, value: str, kind: type) -> None:
        check_device(value)


@dataclass(frozen=True)
class Statistics:
    """Names of probe statistics: those the quantities of
    :data:`depthlab.probe.quantities.QUANTITIES` emit (looked up, as :class:`Registered`
    looks up its registry, when a config is validated: the probe lies above the config)."""

    def check(self, name: str, value: list[str], kind: type) -> None:
        quantities = importlib.import_module("depthlab.probe.quantities").QUANTITIES
        valid = [stat for quantity in quantities for stat in quantity.stats]
        if not value:
            raise DepthlabError(f"{name} names no statistic: name at least one, or leave it out for all")
        for stat in value:
            if stat not in valid:
                raise unknown_choice("probe statistic", stat, valid)


POSITIVE = Interval(0, None, closed="neither")
CONSTRAINTS: dict[str, tuple[Any, ...]] = {
    "dataset": (FilePath(),),  # else checked where it is loaded (a family's argument, such as a file, is read there)
    "data_dir": (FilePath(),),
    "eval_size": (POSITIVE,),
    "seed": (Interval(0), AtMost(MAX_SEED, "torch takes 64-bit seeds")),
    "device": (Device(),),
    "depth": (Interval(0, note=" (0: a linear model)"), AtMost(MAX_DEPTH, "hidden layers")),
    "width": (Units(),),
    "widths": (Units(), AtMost(MAX_DEPTH, "hidden layers", of="depth")),
    "activation": (Registered("depthlab.nets.activations:ACTIVATIONS"),),
    "init": (Registered("depthlab.nets.init:INITS"),),
    "bias_init": (Registered("depthlab.nets.init:BIAS_INITS"),),
    "cost": (Registered("depthlab.training.costs:COSTS"),),
    "optimizer": (Registered("depthlab.training.optim:OPTIMIZERS"),),
    "lr": (POSITIVE,),
    "momentum": (Interval(0, 1),),
    "batch_size": (POSITIVE,),
    "updates": (POSITIVE, AtMost(MAX_UPDATES, "update numbers are recorded exactly in JSON")),
    "epochs": (POSITIVE,),
    "weight_decay": (Interval(0),),
    "dropout": (Each(Interval(0, 1)),),
    "clip_norm": (POSITIVE,),
    "eval_every": (POSITIVE,),
    "log_every": (POSITIVE,),
    "step": (OneOf(StepName),),
    "probe_every": (POSITIVE,),
    "probe_size": (POSITIVE,),
    "jacobian_examples": (Interval(0, note=" (0: no spectra)"),),
    "probe_stats": (Statistics(),),
}
"""Each field's constraints, checked in order (a field of none here takes any value of
its type, which :func:`from_mapping` checks)."""


# -- rules: what fields may hold together -----------------------------------------------
@dataclass(frozen=True)
class Rule:
    """Fields that cannot go together: ``broken(config)`` says when, ``says(config)`` the
    one line."""

    broken: Callable[[TrainConfig], bool]
    says: Callable[[TrainConfig], str]

    def check(self, config: TrainConfig) -> None:
        if self.broken(config):
            raise DepthlabError(self.says(config))


RULES = [
    Rule(lambda c: c.updates is not None and c.epochs is not None, lambda c: "give --updates or --epochs, not both"),
    Rule(lambda c: c.optimizer == "nesterov" and c.momentum == 0,
         lambda c: "optimizer nesterov needs a momentum above 0 (--momentum)"),
    Rule(lambda c: isinstance(c.dropout, list) and len(c.dropout) != len(c.hidden_widths),
         lambda c: f"dropout lists {len(c.dropout)} rates for {len(c.hidden_widths)} hidden layers: give one rate, "
                   "or one per hidden layer"),
    Rule(lambda c: c.graphs and not c.device.startswith("cuda"),
         lambda c: f"--graphs needs a CUDA device, not {c.device}: use --device cuda, or leave --graphs out"),
    Rule(lambda c: c.tensorboard and not c.probe,
         lambda c: "--tensorboard writes the probe statistics: it cannot go with --no-probe"),
    Rule(lambda c: c.tensorboard and importlib.util.find_spec("tensorboard") is None,
         lambda c: "--tensorboard needs the tensorboard package: pip install tensorboard"),
]


def check_device(device: str) -> torch.device | str:
    """Parse a device string and check that this machine has it (the CPU needs no torch
    import to check)."""
    if device == "cpu":
        return device
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda", "mps"):
        raise DepthlabError(f"unknown device '{device}'; valid choices: cpu, cuda, cuda:N, mps")
    if dev.type == "cpu":
        raise DepthlabError(f"device '{device}': the CPU has no index; use --device cpu")
    if dev.type == "cuda" and torch.cuda.is_available() and (dev.index or 0) >= torch.cuda.device_count():
        raise DepthlabError(f"device '{device}' is not on this machine, which has {torch.cuda.device_count()} "
                            f"CUDA device(s): cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DepthlabError(f"device '{device}' is not available on this machine (no CUDA GPU); use --device cpu")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise DepthlabError(f"device '{device}' is not available on this machine; use --device cpu")
    return dev


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def _optional(hint: Any) -> tuple[Any, bool]:
    """(the type without None, whether None is allowed)."""
    args = typing.get_args(hint)
    if type(None) not in args:
        return hint, False
    rest = [a for a in args if a is not type(None)]
    return rest[0], True


TYPES = {name: _optional(hint)[0] for name, hint in typing.get_type_hints(TrainConfig).items()}
OPTIONAL = {name for name, hint in typing.get_type_hints(TrainConfig).items() if _optional(hint)[1]}


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


COERCERS: dict[Any, tuple[str, Callable[[Any], bool], Callable[[Any], Any]]] = {
    int: ("int", _integer, int),
    float: ("float", _number, float),
    bool: ("bool", lambda v: isinstance(v, bool), bool),
    str: ("str", lambda v: isinstance(v, str), str),
    list[int]: ("list[int]", lambda v: isinstance(v, list) and all(map(_integer, v)), list),
    list[str]: ("list[str]", lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), list),
    float | list[float]: ("a number or a list of numbers",
                          lambda v: _number(v) or (isinstance(v, list) and all(map(_number, v))),
                          lambda v: [float(x) for x in v] if isinstance(v, list) else float(v)),
    StepName: ("str", lambda v: isinstance(v, str), StepName.parse),
}
"""For each field type: its name in an error, the test a value must pass, and the
conversion (ints are accepted for floats; a choice's name becomes its member)."""


def from_mapping(values: dict[str, Any], source: str = "config") -> TrainConfig:
    """Build a config from a mapping with hyphenated or underscored keys; an unknown key
    gets a one-line error naming it, the closest valid key and the source, a renamed key
    one naming its new name."""
    clean: dict[str, Any] = {}
    for key, value in values.items():
        name = key.replace("-", "_")
        if name in RENAMED:
            raise DepthlabError(f"{source}: {renamed(name)}")
        if name not in FIELDS:
            raise unknown_choice(f"key in {source}:", key, [k.replace("_", "-") for k in FIELDS])
        clean[name] = _coerce(name, value, source)
    try:
        return TrainConfig(**clean)
    except TypeError as e:  # pragma: no cover - dataclass rejects nothing else
        raise DepthlabError(f"{source}: {e}") from None


def _coerce(name: str, value: Any, source: str) -> Any:
    """Check a value against the field's type (:data:`COERCERS`) and convert it."""
    if value is None and name in OPTIONAL:
        return None
    kind, accepts, convert = COERCERS[TYPES[name]]
    if not accepts(value):
        raise DepthlabError(f"{source}: '{name.replace('_', '-')}' must be {kind}, not {value!r}")
    return convert(value)


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML or JSON config file into a mapping (validated by :func:`from_mapping`)."""
    path = Path(path)
    if not path.is_file():
        raise DepthlabError(f"config file {path} does not exist")
    try:
        values = json.loads(path.read_text()) if path.suffix == ".json" else tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DepthlabError(f"config file {path} is not valid {path.suffix.lstrip('.').upper() or 'TOML'}: {e}") from None
    if not isinstance(values, dict):
        raise DepthlabError(f"config file {path} holds a {type(values).__name__}, not a table of keys and values")
    return values
