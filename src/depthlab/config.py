"""The configuration of one training run: typed, validated, loadable from TOML or JSON.

The same keys serve as command-line flags (``--batch-size``), as keys of a config file
(``batch-size`` or ``batch_size``) and as fields of :class:`TrainConfig` in Python.
Importing this module imports no torch, so the command line checks its flags quickly.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from depthlab.errors import DepthlabError, unknown_choice
from depthlab.limits import MAX_DEPTH, MAX_SEED, MAX_UPDATES, check_at_most

if TYPE_CHECKING:
    import torch

ENGINES = ("auto", "autograd", "fused")


@dataclass
class TrainConfig:
    """Everything that defines a run. ``widths`` wins over ``depth`` × ``width``; depth 0
    (or ``widths = []``) is a linear model, the output layer alone."""

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
    engine: str = "auto"
    probe: bool = True
    probe_every: int = 2000
    probe_size: int = 300
    jacobian_examples: int = 2
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
        """Check every value; raise a one-line DepthlabError for the first bad one."""
        from depthlab.nets.activations import ACTIVATIONS
        from depthlab.nets.init import BIAS_INITS, INITS
        from depthlab.training.costs import COSTS
        from depthlab.training.optim import OPTIMIZERS

        ACTIVATIONS.get(self.activation)
        INITS.get(self.init)
        BIAS_INITS.get(self.bias_init)
        COSTS.get(self.cost)
        OPTIMIZERS.get(self.optimizer)
        if self.engine not in ENGINES:
            raise unknown_choice("engine", self.engine, ENGINES)
        if self.widths is None and self.depth < 0:
            raise DepthlabError(f"depth {self.depth} must not be negative (0: a linear model)")
        check_at_most("depth", self.depth if self.widths is None else len(self.widths), MAX_DEPTH,
                      "hidden layers")
        for w in self.hidden_widths:
            if w < 1:
                raise DepthlabError(f"width {w} must be a positive number of units")
        _positive("lr", self.lr)
        _positive("batch-size", self.batch_size)
        _positive("eval-every", self.eval_every)
        _positive("log-every", self.log_every)
        _positive("probe-every", self.probe_every)
        _positive("probe-size", self.probe_size)
        if self.seed < 0:
            raise DepthlabError(f"seed {self.seed} must not be negative")
        check_at_most("seed", self.seed, MAX_SEED, "torch takes 64-bit seeds")
        if self.jacobian_examples < 0:
            raise DepthlabError(f"jacobian-examples {self.jacobian_examples} must not be negative (0: no spectra)")
        if self.optimizer == "nesterov" and self.momentum == 0:
            raise DepthlabError("optimizer nesterov needs a momentum above 0 (--momentum)")
        if self.tensorboard and not self.probe:
            raise DepthlabError("--tensorboard writes the probe statistics: it cannot go with --no-probe")
        if self.tensorboard:
            try:
                import torch.utils.tensorboard  # noqa: F401
            except ImportError:
                raise DepthlabError("--tensorboard needs the tensorboard package: pip install tensorboard") from None
        if self.updates is not None and self.epochs is not None:
            raise DepthlabError("give --updates or --epochs, not both")
        if self.updates is not None:
            _positive("updates", self.updates)
            check_at_most("updates", self.updates, MAX_UPDATES, "update numbers are recorded exactly in JSON")
        if self.epochs is not None:
            _positive("epochs", self.epochs)
        for p in self.dropouts:
            if not 0 <= p < 1:
                raise DepthlabError(f"dropout {p} must be in [0, 1)")
        if isinstance(self.dropout, list) and len(self.dropout) != len(self.hidden_widths):
            raise DepthlabError(f"dropout lists {len(self.dropout)} rates for {len(self.hidden_widths)} hidden "
                                "layers: give one rate, or one per hidden layer")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise DepthlabError(f"weight-decay {self.weight_decay} must be a finite number, not negative")
        if self.eval_size is not None:
            _positive("eval-size", self.eval_size)
        if self.clip_norm is not None:
            _positive("clip-norm", self.clip_norm)
        if not 0 <= self.momentum < 1:
            raise DepthlabError(f"momentum {self.momentum} must be in [0, 1)")
        check_device(self.device)
        return self


def _positive(name: str, value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise DepthlabError(f"{name} {value} must be a positive finite number")


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


def from_mapping(values: dict[str, Any], source: str = "config") -> TrainConfig:
    """Build a config from a mapping with hyphenated or underscored keys; an unknown key
    gets a one-line error naming it, the closest valid key and the source."""
    clean: dict[str, Any] = {}
    for key, value in values.items():
        name = key.replace("-", "_")
        if name not in FIELDS:
            raise unknown_choice(f"key in {source}:", key, [k.replace("_", "-") for k in FIELDS])
        clean[name] = _coerce(name, value, source)
    try:
        return TrainConfig(**clean)
    except TypeError as e:  # pragma: no cover - dataclass rejects nothing else
        raise DepthlabError(f"{source}: {e}") from None


def _coerce(name: str, value: Any, source: str) -> Any:
    """Check a value against the field's annotation; ints are accepted for floats."""
    kind = FIELDS[name].type.replace(" | None", "")
    if value is None and "None" in FIELDS[name].type:
        return None
    if kind == "float | list[float]":  # one number, or one per layer
        if isinstance(value, list):
            return [_coerce_number(name, v, source) for v in value]
        return _coerce_number(name, value, source)
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
        "list[int]": isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value),
    }[kind]
    if not ok:
        raise DepthlabError(f"{source}: '{name.replace('_', '-')}' must be {kind}, not {value!r}")
    return float(value) if kind == "float" else value


def _coerce_number(name: str, value: Any, source: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise DepthlabError(f"{source}: '{name.replace('_', '-')}' must be a number or a list of numbers, "
                            f"not {value!r}")
    return float(value)


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
