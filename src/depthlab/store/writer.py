"""A run directory written from a user's own training loop: the probe's measures, the
training numbers the loop gives, and the run's status, as ``depthlab inspect`` (and
:func:`depthlab.diagnose`) read them. :meth:`depthlab.probe.Probe.log_to` makes one."""

from __future__ import annotations

import math
import numbers
import operator
from pathlib import Path
from typing import Any

from depthlab.errors import DepthlabError, unknown_choice
from depthlab.store.probes import Measure
from depthlab.store.run import RunDir, Status

ENDED = tuple(status.value for status in Status if status is not Status.RUNNING)
"""The statuses a run may end with (queries.FINISHED: those it ends with for good)."""


def checked_update(update: Any, what: str = "update") -> int:
    """``update`` as the whole number ≥ 0 a run stores (an int, a NumPy integer or an
    integer tensor of one element); anything else (a string, NaN, 2.5, a negative
    count, True) is one line naming it."""
    try:
        whole = operator.index(update) if not isinstance(update, bool) else None
    except TypeError:
        whole = None
    if whole is None or whole < 0:
        raise DepthlabError(f"{what} {update!r} is not a training update: give a whole number ≥ 0 "
                            "(the number of updates trained so far)")
    return whole


def checked_number(name: str, value: Any) -> float:
    """``value`` as the float a run stores for the training number ``name``: a real number
    or a tensor/array of one element (NaN and ±inf are numbers a diverging run has);
    anything else (a string, a vector) is one line naming it."""
    if isinstance(value, numbers.Real):
        return float(value)
    if hasattr(value, "shape") and math.prod(value.shape) == 1 and not isinstance(value, (str, bytes)):
        try:
            return float(value.item())
        except (TypeError, ValueError):
            pass
    shown = f"a tensor of shape {tuple(value.shape)}" if hasattr(value, "shape") else repr(value)[:60]
    raise DepthlabError(f"log_metrics {name}={shown} is not a number: give a float (or a tensor of one element)")


class ProbeWriter:
    """Writes into a new run directory at ``path``: probe.json (``facts`` about the model,
    such as its class and a learning rate, and the probed layers as the measures give
    them), probes.jsonl, metrics.jsonl and status.json (with ``skipped_measures``, the
    number of measures an overhead budget skipped, once there is one). The run is held
    (locked) from here until :meth:`finish`."""

    def __init__(self, path: str | Path, facts: dict[str, Any]):
        self.facts = {**facts, "layers": []}
        self.skipped = 0
        self.run = RunDir.create_for_probe(path, self.facts)

    def write(self, measure: Measure) -> None:
        """Append ``measure``; the run is running at its update."""
        if measure.layers != self.facts["layers"]:
            self.facts["layers"] = measure.layers
            self.run.write_probe_facts(self.facts)
        self.run.append_probes(measure.rows, measure.histograms)
        self._status("running", measure.update)

    def skip(self, update: int) -> None:
        """Count a measure skipped at ``update`` (by the probe's overhead budget)."""
        self.skipped += 1
        self._status("running", update)

    def log_metrics(self, update: int, **numbers: float) -> None:
        """Record training numbers at ``update`` (``train_cost``, ``validation_error``,
        ``test_error``, … as depthlab train names them)."""
        update = checked_update(update)
        numbers = {name: checked_number(name, value) for name, value in numbers.items()}
        self.run.append_metrics({"update": update, **numbers})
        self._status("running", update)

    def finish(self, update: int, status: str = "completed") -> None:
        """Mark the run ``status`` (completed, diverged or interrupted) at ``update`` and let
        go of its lock."""
        if status not in ENDED:
            raise unknown_choice("run status", status, ENDED)
        update = checked_update(update)
        self._status(status, update)
        self.run.release()

    def _status(self, status: str, update: int) -> None:
        skipped = {"skipped_measures": self.skipped} if self.skipped else {}
        self.run.set_status(status, update=update, **skipped)
