"""What a grid is made of, and the named choices of how it trains. Importing this module
imports no torch, so the command line checks ``--backend`` and ``--stacking`` at once."""

from __future__ import annotations

import importlib.util
import socket
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
    if address is not None:
        check_address(address)
    return backend


RAY_CONNECT_SECONDS = 10.0
"""How long a Ray cluster's address may take to accept a connection (Ray itself would
retry an unreachable one for many minutes)."""

RAY_OWN_ADDRESSES = ("auto", "local")
"""Addresses Ray resolves itself: the cluster ``ray start`` made on this machine, or a new one."""


def check_address(address: str) -> None:
    """One line unless ``address`` (``host:port`` of a Ray head, or ``ray://host:port``
    for Ray Client) accepts a connection within :data:`RAY_CONNECT_SECONDS`, so that a
    sweep or study never waits on a cluster that is not there."""
    if address in RAY_OWN_ADDRESSES:
        return
    host, colon, port = address.split("://", 1)[-1].rpartition(":")
    host = host.strip("[]")  # an IPv6 address: [::1]:6379
    if not (colon and host and port.isdigit() and 0 < int(port) < 65536):
        raise DepthlabError(f"--address {address!r} is not a Ray cluster's address: give host:port (the head's port, "
                            f"6379 unless ray start --port said otherwise), ray://host:port or one of "
                            f"{', '.join(RAY_OWN_ADDRESSES)}")
    try:
        socket.create_connection((host, int(port)), timeout=RAY_CONNECT_SECONDS).close()
    except OSError as error:  # refused, unknown host, unreachable network, timed out
        reason = error.strerror or str(error) or type(error).__name__
        raise DepthlabError(f"cannot reach the Ray cluster at {address}: {reason} (is ray start --head running "
                            "there, and is the port right?)") from None


class Stacking(Choice, kind="stacking"):
    """Whether a grid's runs train in stacks (see :mod:`depthlab.grid.stacking`): where
    that is measured to be faster, wherever they can share one, or each alone."""

    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"
