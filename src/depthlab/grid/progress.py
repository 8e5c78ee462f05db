"""A grid's progress, counted in updates: one bar for the whole grid, its total the sum of
every run's updates and its ETA from the rate of updates, and with several workers one line
per group of runs in training (a run, or a stack).

How the workers report: through what they write anyway. A running run's status.json holds
the update it reached (the training loop brings it up to date every
:data:`~depthlab.training.trainer.STATUS_SECONDS`), and a thread of the grid's own process
reads the status of every unfinished run every :data:`POLL_SECONDS`. That works alike for
runs trained in this process, in a local pool's worker processes and in Ray tasks (whose
run directories are on storage this process sees, as the runner requires): nothing is
passed to a worker or sent back across a cluster, a worker that dies leaves nothing
behind to drain, and the bar shows the same numbers a user reads in status.json.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from depthlab.errors import DepthlabError
from depthlab.grid.spec import RunSpec
from depthlab.store import RunDir
from depthlab.store.run import Status

POLL_SECONDS = 1.0
"""How often the grid's process reads its running runs' status.json."""

TRAINING = "  {desc}: {n_fmt}/{total_fmt} {bar}"
IDLE = "  (waiting for a run)"
"""A worker's line while it trains a group, and while it has none."""


def planned_updates(specs: Sequence[RunSpec]) -> dict[str, int]:
    """Each run's number of updates: its ``updates``, or its ``epochs`` of its training set
    (each data set loaded once for that, only where a run counts in epochs)."""
    from depthlab.training.trainer import load_data, total_updates  # torch

    loaded: dict[tuple, Any] = {}
    totals = {}
    for spec in specs:
        config = spec.config
        if config.epochs is None:
            totals[spec.name] = total_updates(config, None)
            continue
        key = (config.dataset, config.data_dir, config.download, config.eval_size)
        if key not in loaded:
            loaded[key] = load_data(config)
        totals[spec.name] = total_updates(config, loaded[key])
    return totals


def reached(path: Path, total: int) -> tuple[int, bool]:
    """The updates run ``path`` has done towards its ``total``, and whether it trains no
    more: a run that ended (completed or diverged: what a diverged run did not train is
    never trained) counts as all of them; one not made yet as none."""
    run = RunDir(path)
    try:
        status = run.status if run.exists else {}
    except (DepthlabError, OSError):  # being replaced as it was read: counted at the next read
        status = {}
    if status.get("status") in (Status.COMPLETED, Status.DIVERGED):
        return total, True
    return min(int(status.get("update", 0) or 0), total), False


class GridProgress:
    """The bars of a grid: ``groups`` (lists of runs trained together) whose run
    directories ``paths`` gives and whose lengths ``totals`` gives; a line per group in
    training below the total when ``workers`` > 1. From :meth:`start` (or entering it as a
    context) to :meth:`close` a thread reads the runs' status.json every
    :data:`POLL_SECONDS`. ``file``: where the bars are drawn (stderr by default). Not
    ``enabled``, it draws and reads nothing (``totals`` may then be empty)."""

    def __init__(self, groups: Sequence[list[RunSpec]], paths: dict[str, Path], totals: dict[str, int],
                 workers: int = 1, enabled: bool = True, file: Any = None):
        self.paths, self.totals = paths, totals
        self.groups = [[spec.name for spec in group] for group in groups]
        self.done = {name: reached(paths[name], totals[name]) for name in totals}
        self.at_start = dict(self.done)
        self.runs = len(totals)
        self.bar = tqdm(total=sum(totals.values()), initial=sum(n for n, _ in self.done.values()), unit="upd",
                        desc="updates", disable=not enabled, dynamic_ncols=True, file=file, smoothing=0.1)
        self.enabled = enabled
        shown = workers if enabled and workers > 1 else 0
        self.lines = [tqdm(total=1, position=k + 1, unit="upd", leave=False, dynamic_ncols=True, file=file,
                           bar_format=IDLE) for k in range(shown)]
        self.slots: list[int | None] = [None] * shown
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._describe()

    def start(self) -> GridProgress:
        """Start reading the runs' status.json (every :data:`POLL_SECONDS`) until :meth:`close`."""
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="grid-progress", daemon=True)
            self._thread.start()
        return self

    def __enter__(self) -> GridProgress:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _watch(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self.poll()

    def poll(self) -> None:
        """Read the status of every run not ended yet and move the bars to it."""
        with self._lock:
            for name, (_, ended) in self.done.items():
                if not ended:
                    self.done[name] = reached(self.paths[name], self.totals[name])
            self._draw()

    def finished(self, names: Sequence[str]) -> None:
        """Runs a worker reported finished: all their updates are done."""
        if not self.enabled:
            return
        with self._lock:
            for name in names:
                self.done[name] = (self.totals[name], True)
            self._draw()

    def _draw(self) -> None:
        self.bar.update(sum(n for n, _ in self.done.values()) - self.bar.n)
        self._describe()
        self._show_groups()

    def _describe(self) -> None:
        ended = sum(ended for _, ended in self.done.values())
        self.bar.set_postfix_str(f"runs {ended}/{self.runs}", refresh=False)
        self.bar.refresh()

    def _show_groups(self) -> None:
        """A line per group in training (a run of it moved since the grid began, and not
        all ended), each keeping its line while it trains."""
        if not self.lines:
            return
        training = [k for k, names in enumerate(self.groups)
                    if not all(self.done[n][1] for n in names) and any(self.done[n] != self.at_start[n] for n in names)]
        for slot, k in enumerate(self.slots):
            if k is not None and k not in training:
                self.slots[slot] = None
        for k in training:
            if k not in self.slots and None in self.slots:
                slot = self.slots.index(None)
                self.slots[slot] = k
                names = self.groups[k]
                self.lines[slot].reset(total=sum(self.totals[n] for n in names))
                self.lines[slot].bar_format = TRAINING
                self.lines[slot].set_description_str(
                    names[0] + (f" (+{len(names) - 1} more)" if len(names) > 1 else ""), refresh=False)
        for line, k in zip(self.lines, self.slots):
            if k is None:
                line.bar_format = IDLE
            else:
                line.update(sum(self.done[n][0] for n in self.groups[k]) - line.n)
            line.refresh()

    def close(self) -> None:
        """Stop reading, bring the bars to where the runs are and close them."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.enabled:
            self.poll()
        for line in self.lines:
            line.close()
        self.bar.close()
