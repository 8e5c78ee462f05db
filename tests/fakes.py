"""Stand-ins that tests build through the real code: run directories written by the
store with chosen probe rows, status and final numbers; a port nothing listens on; a Ctrl-C
at a chosen update. (Importable from every test: ``tests/`` is on pytest's ``pythonpath``.)"""

from __future__ import annotations

import signal
import socket
from pathlib import Path

from depthlab.config import TrainConfig
from depthlab.store import Network, RunDir


def write_run(path: Path, rows=(), histograms=(), status: str = "completed", update: int | None = None,
              final: dict | None = None, **config) -> RunDir:
    """A run directory written through the store: a TrainConfig of ``config``, a network
    with Shapeset's input and classes, the probe ``rows`` and ``histograms`` (one measure
    per update), the status at ``update`` (default: the last probe's) and ``final``."""
    config = TrainConfig(**config)
    run = RunDir.create(path, config, {}, Network((1, 32, 32), (1024, *config.hidden_widths, 9)))
    for at in sorted({r["update"] for r in (*rows, *histograms)}):
        run.append_probes([r for r in rows if r["update"] == at], [h for h in histograms if h["update"] == at])
    update = update if update is not None else max((r["update"] for r in rows), default=0)
    run.set_status(status, update=update, **({"diverged_at": update} if status == "diverged" else {}))
    if final is not None:
        run.write_final(final)
    return run


def closed_port() -> int:
    """A port on this machine that nothing listens on (it was free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def interrupt_at(monkeypatch, stepper: type, update: int) -> None:
    """A Ctrl-C (SIGINT, as the terminal sends it) while ``stepper`` takes its ``update``-th
    step, counted over every instance."""
    step, calls = stepper.step, []

    def interrupted(self, x, y):
        calls.append(1)
        if len(calls) == update:
            signal.raise_signal(signal.SIGINT)
        return step(self, x, y)

    monkeypatch.setattr(stepper, "step", interrupted)
