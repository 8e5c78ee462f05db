"""A run directory written from a user's own training loop: the probe's measures, the
training numbers the loop gives, and the run's status, as ``depthlab inspect`` (and
:func:`depthlab.diagnose`) read them. :meth:`depthlab.probe.Probe.log_to` makes one, or
continues one a loop left unfinished (a crash, a kill, a lost node: status running or
interrupted) from the update after the last one it stored."""

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

CONTINUED = (Status.RUNNING, Status.INTERRUPTED)
"""The statuses of a stored run a loop may continue (it stopped before its end)."""


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
    """Writes into the run directory at ``path``: probe.json (``facts`` about the model,
    such as its class and a learning rate, and the probed layers as the measures give
    them), probes.jsonl, metrics.jsonl and status.json (with ``skipped_measures``, the
    number of measures an overhead budget skipped, once there is one). The run is held
    (locked) from here until :meth:`finish`.

    A new or empty folder becomes a new run. A run a loop wrote before and left unfinished
    is continued: what it stored stays, and every update written must come after
    :attr:`stored_until` (the last update it stored). Anything else at ``path`` is
    refused in one line, never cleared."""

    def __init__(self, path: str | Path, facts: dict[str, Any]):
        self.skipped = 0
        self.stored_until = self.last = -1
        self.ended: tuple[str, int] | None = None
        if (found := RunDir(path)).made_by_probe:
            self.run = self._continued(found.hold())
            try:
                self.facts = {**self.run.probe_facts, **{k: v for k, v in facts.items() if v is not None}}
                self.run.write_probe_facts(self.facts)
            except BaseException:
                self.run.release()
                raise
        else:
            self.facts = {**facts, "layers": []}
            self.run = RunDir.create_for_probe(path, self.facts)

    def _continued(self, run: RunDir) -> RunDir:
        """The stored run, held, after checking that it stopped before its end; its last
        update and skipped measures are read back."""
        try:
            if not run.exists:  # killed between its probe.json and its first status
                run.set_status(Status.RUNNING, update=0)
            status = run.status
            if status["status"] not in CONTINUED:
                raise DepthlabError(f"{run.path} holds a run a loop already ended ({status['status']} at update "
                                    f"{status.get('update')}); log_to another path (only a running or interrupted "
                                    "run is continued)")
            self.stored_until = self.last = run.last_update()
            run.drop_cut_lines()
            self.skipped = int(status.get("skipped_measures", 0))
        except BaseException:
            run.release()
            raise
        return run

    def check(self, update: int, what: str = "a measure") -> int:
        """``update`` (:func:`checked_update`), refusing ``what`` at it in one line once the
        run is finished, or when it is not after the last update the stored run holds."""
        update = checked_update(update)
        if self.ended is not None:
            raise DepthlabError(f"{what} at update {update} after finish(): {self.run.path} is {self.ended[0]} at "
                                f"update {self.ended[1]} and is not written to any more")
        if update <= self.stored_until:
            raise DepthlabError(f"{what} at update {update} is not after update {self.stored_until}, the last one "
                                f"{self.run.path} holds: continue the loop from update {self.stored_until + 1} "
                                "(or log_to another path)")
        return update

    def write(self, measure: Measure) -> None:
        """Append ``measure``; the run is running at its update."""
        self.check(measure.update)
        if measure.layers != self.facts["layers"]:
            self.facts["layers"] = measure.layers
            self.run.write_probe_facts(self.facts)
        self.run.append_probes(measure.rows, measure.histograms)
        self._status("running", measure.update)

    def skip(self, update: int) -> None:
        """Count a measure skipped at ``update`` (by the probe's overhead budget)."""
        self.check(update)
        self.skipped += 1
        self._status("running", update)

    def log_metrics(self, update: int, **numbers: float) -> None:
        """Record training numbers at ``update`` (``train_cost``, ``validation_error``,
        ``test_error``, … as depthlab train names them)."""
        update = self.check(update, "log_metrics")
        numbers = {name: checked_number(name, value) for name, value in numbers.items()}
        self.run.append_metrics({"update": update, **numbers})
        self._status("running", update)

    def finish(self, update: int | None = None, status: str = "completed") -> None:
        """Mark the run ``status`` (completed, diverged or interrupted) at ``update`` (None:
        the last update written) and let go of its lock."""
        if status not in ENDED:
            raise unknown_choice("run status", status, ENDED)
        if self.ended is not None:
            raise DepthlabError(f"finish() was called already: {self.run.path} is {self.ended[0]} at update "
                                f"{self.ended[1]}")
        update = max(self.last, 0) if update is None else checked_update(update)
        if update < self.stored_until:
            raise DepthlabError(f"finish at update {update} is before update {self.stored_until}, the last one "
                                f"{self.run.path} holds")
        self._status(status, update)
        self.ended = (status, update)
        self.run.release()

    def _status(self, status: str, update: int) -> None:
        self.last = max(self.last, update)
        skipped = {"skipped_measures": self.skipped} if self.skipped else {}
        self.run.set_status(status, update=update, **skipped)
