"""A grid file: a ``train --config`` file whose top-level keys are the base configuration,
plus an ``[axes]`` table mapping config keys to the values they take. The grid is the
product of the axes, in the file's order:

    dataset = "fashion-mnist"
    updates = 2000
    [axes]
    lr = [0.01, 0.1]                        # a list
    seed = [0, 1, 2]
    depth = {lin = [10, 100], num = 10}     # evenly spaced (whole numbers for int keys)
    weight-decay = {log = [1e-5, 1e-2], num = 4}   # evenly spaced in log

Importing this module imports no torch.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from depthlab.config import FIELDS, FilePath, from_mapping, load_config_file
from depthlab.data.registry import DATASETS
from depthlab.errors import DepthlabError, unknown_choice
from depthlab.grid import RunSpec

RANGE_KINDS = ("lin", "log")
MAX_POINTS = 100_000


@dataclass(frozen=True)
class Grid:
    """The base configuration (a mapping of config keys) and the axes (key → values)."""

    base: dict[str, Any]
    axes: dict[str, list[Any]]

    @property
    def points(self) -> list[dict[str, Any]]:
        """Every combination of axis values, the last axis varying fastest."""
        return [dict(zip(self.axes, values)) for values in itertools.product(*self.axes.values())]

    def specs(self) -> list[RunSpec]:
        """One validated run per point, named from its values; a bad value is one line
        naming its run before anything is started."""
        specs, names = [], {}
        for point in self.points:
            name = run_name(point)
            if name in names:
                raise DepthlabError(f"grid points {names[name]} and {point} make the same run name {name!r}")
            names[name] = point
            config = from_mapping({**self.base, **point}, source=f"grid point {name}")
            try:
                config.validate()
                DATASETS.get(config.dataset)
            except DepthlabError as error:
                raise DepthlabError(f"grid point {name}: {error}") from None
            specs.append(RunSpec(name, config))
        return specs

    def to_dict(self) -> dict[str, Any]:
        return {"base": self.base, "axes": self.axes}


def run_name(point: dict[str, Any]) -> str:
    """``lr0.01-seed2``: each key (hyphenated) and value, path separators and colons
    replaced."""
    parts = []
    for key, value in point.items():
        shown = f"{value:g}" if isinstance(value, float) else str(value).lower() if isinstance(value, bool) else \
            str(value)
        parts.append(f"{key.replace('_', '-')}{shown}".replace("/", "-").replace(":", "-").replace(" ", ""))
    return "-".join(parts) or "base"


def _key(key: str, source: str) -> str:
    name = key.replace("-", "_")
    if name not in FIELDS:
        raise unknown_choice(f"key in {source}:", key, [k.replace("_", "-") for k in FIELDS])
    return name


def _range(key: str, spec: dict[str, Any], source: str) -> list[Any]:
    kinds = [kind for kind in RANGE_KINDS if kind in spec]
    extra = set(spec) - {*RANGE_KINDS, "num"}
    if len(kinds) != 1 or "num" not in spec or extra:
        raise DepthlabError(f"{source}: axis '{key}' must be a list of values or {{lin = [FROM, TO], num = N}} "
                            f"or {{log = [FROM, TO], num = N}}, not {spec}")
    kind, ends, num = kinds[0], spec[kinds[0]], spec["num"]
    if not (isinstance(ends, list) and len(ends) == 2 and all(isinstance(e, (int, float)) and
                                                              not isinstance(e, bool) for e in ends)):
        raise DepthlabError(f"{source}: axis '{key}': {kind} takes two numbers [FROM, TO], not {ends!r}")
    if not (isinstance(num, int) and not isinstance(num, bool) and num >= 1):
        raise DepthlabError(f"{source}: axis '{key}': num must be a whole number of values, at least 1, not {num!r}")
    if num > MAX_POINTS:  # counted before any value is made
        raise DepthlabError(f"{source}: axis '{key}': num {num:,} would make more than {MAX_POINTS:,} runs: "
                            "narrow the axis")
    try:
        low, high = map(float, ends)
    except OverflowError:  # a whole number beyond any float (10**400)
        digits = max(len(str(abs(e))) for e in ends)
        raise DepthlabError(f"{source}: axis '{key}': {kind} takes two finite numbers [FROM, TO], not a whole number "
                            f"of {digits} digits") from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise DepthlabError(f"{source}: axis '{key}': {kind} takes two finite numbers [FROM, TO], not {ends!r}")
    if kind == "log" and not (low > 0 and high > 0):
        raise DepthlabError(f"{source}: axis '{key}': a log range needs positive ends, not {ends}")
    steps = [i / (num - 1) if num > 1 else 0.0 for i in range(num)]
    if kind == "lin":
        values = [low + (high - low) * t for t in steps]
    else:
        values = [math.exp(math.log(low) + (math.log(high) - math.log(low)) * t) for t in steps]
    if FIELDS[key].type.startswith("int"):
        values = list(dict.fromkeys(round(v) for v in values))  # whole numbers, each once
    else:
        values = [float(f"{v:.6g}") for v in values]
    return values


def parse_grid(values: dict[str, Any], source: str = "grid") -> Grid:
    """A grid from a file's mapping; its base keys are checked as a config is."""
    values = dict(values)
    axes_table = values.pop("axes", None)
    if not isinstance(axes_table, dict) or not axes_table:
        raise DepthlabError(f"{source} has no [axes] table: add one, e.g. [axes] lr = [0.01, 0.1]")
    base = {_key(key, source): value for key, value in values.items()}
    from_mapping(base, source=source)  # each base value of the right type
    axes: dict[str, list[Any]] = {}
    for key, spec in axes_table.items():
        name = _key(key, f"{source} [axes]")
        if isinstance(spec, list):
            if not spec:
                raise DepthlabError(f"{source}: axis '{key}' lists no values")
            axes[name] = spec
        elif isinstance(spec, dict):
            axes[name] = _range(name, spec, source)
        else:
            raise DepthlabError(f"{source}: axis '{key}' must be a list of values or a range table, not {spec!r}")
    for name, axis in axes.items():
        for value in axis:
            from_mapping({name: value}, source=f"{source} [axes]")  # each value of the key's type
    size = math.prod(len(axis) for axis in axes.values())
    if size > MAX_POINTS:
        raise DepthlabError(f"{source} makes {size:,} runs, more than {MAX_POINTS:,}: narrow an axis")
    return Grid(base, axes)


def load_grid(path: str | Path) -> Grid:
    """Read and check a grid file (TOML or JSON)."""
    FilePath().check("grid file", str(path), str)
    if not Path(path).is_file():
        raise DepthlabError(f"grid file {path} does not exist")
    return parse_grid(load_config_file(path), source=f"grid file {path}")
