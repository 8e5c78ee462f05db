"""What a grid is made of, and the named choices of how it trains. Importing this module
imports no torch, so the command line checks ``--backend`` and ``--stacking`` at once."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from depthlab.config import TrainConfig
from depthlab.errors import DepthlabError
from depthlab.registry import Choice


@dataclass(frozen=True)
class RunSpec:
    """One trainer run of a grid: ``name`` is its path below ``runs/`` (e.g.
    ``shapeset/tanh-n/lr0.01``)."""

    name: str
    config: TrainConfig


class Backend(Choice, kind="backend"):
    """Where a grid's runs train: processes on this machine, or Ray tasks (see
    :mod:`depthlab.grid.runner`)."""

    LOCAL = "local"
    RAY = "ray"


def check_backend(backend: str, address: str | None = None) -> Backend:
    """The :class:`Backend` called ``backend`` if it can run here, or one line: an unknown
    name, ``--address`` without Ray, or Ray not installed."""
    backend = Backend.parse(backend)
    if address is not None and backend is not Backend.RAY:
        raise DepthlabError("--address names a Ray cluster: give it with --backend ray")
    if backend is Backend.RAY and importlib.util.find_spec("ray") is None:
        raise DepthlabError("--backend ray needs Ray, which is not installed: pip install 'depthlab[ray]'")
    return backend


class Stacking(Choice, kind="stacking"):
    """Whether a grid's runs train in stacks (see :mod:`depthlab.grid.stacking`): where
    that is measured to be faster, wherever they can share one, or each alone."""

    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"
