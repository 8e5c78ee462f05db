"""An overhead budget for a probe measured while a model trains.

:class:`OverheadBudget` keeps a probe's measures within a ``fraction`` of the wall time
spent training, measured as it goes: it adds up P, the time spent inside measures, and
T, the time between them (training), and lets the next measure run only if

    P + ĉ ≤ fraction · T̂,

where T̂ is the training time the budget is a share of: T itself, or, when the run's
length is known (``total`` updates), T projected over the whole run, T · (total − u₀) /
(u − u₀) at update u for a first measure at u₀. Measured as it goes against T alone, a
schedule that is dense early (depthlab's: updates 1, 2, 5, 10, …) could never take its
early measures, the ones the paper's figures read: on a 20,000-update run of a
64-256-256-10 MLP the whole schedule cost 2.3% of training, yet 10 of its 21 measures
were refused against T. Projected, the run as a whole stays within the fraction.

where ĉ, the measure's expected cost, is the running mean of the earlier measures of its
kind (with or without Jacobian spectra, with or without histograms: they cost very
different amounts; a kind not yet seen is expected to cost as much as the dearest one
seen). The first measure always runs (there is nothing to judge by yet). Every measure,
the last of a run's schedule included, is judged on the totals so far, so the time the
skipped measures did not spend is there for the later ones: the last runs whenever it
fits, and is skipped only when it does not.

The default clock (:func:`synchronized_clock`) waits for the GPU's queued work before it
reads the time, so the training kernels still queued when a measure begins are counted as
training, not as the measure's cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

from depthlab.errors import DepthlabError

Kind = tuple[bool, bool]  # (with Jacobians, with histograms)


def synchronized_clock() -> float:
    """:func:`time.perf_counter` once the CUDA work queued so far has run (where CUDA is in use)."""
    if torch.cuda.is_initialized():
        torch.cuda.synchronize()
    return time.perf_counter()


class OverheadBudget:
    """The budget (see the module docstring); ``clock`` gives seconds (default
    :func:`synchronized_clock`)."""

    def __init__(self, fraction: float, clock: Callable[[], float] = synchronized_clock, total: int | None = None):
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
            raise DepthlabError(f"budget {fraction!r} is not a fraction of the training time between 0 and 1 "
                                "(e.g. 0.05), or None for no budget")
        self.fraction, self.clock, self.total = float(fraction), clock, total
        self.first: int | None = None  # u₀: the update of the first measure
        self.training = 0.0  # T: seconds between measures
        self.probing = 0.0  # P: seconds inside measures
        self.costs: dict[Kind, tuple[float, int]] = {}  # kind → (total seconds, measures)
        self._since: float | None = None  # when the last measure ended (or the last refusal)

    def expected(self, kind: Kind) -> float:
        """ĉ: the mean cost of the measures of ``kind`` so far (the dearest kind's where
        none has been taken; 0 before any measure)."""
        if kind in self.costs:
            total, count = self.costs[kind]
            return total / count
        return max((total / count for total, count in self.costs.values()), default=0.0)

    def refusal(self, update: int, kind: Kind) -> str | None:
        """None if a measure of ``kind`` at ``update`` may run now, or why not, in words."""
        now = self.clock()
        if self._since is not None:
            self.training += now - self._since
            self._since = now
        if not self.costs:
            self.first = update
            return None
        cost, horizon = self.expected(kind), self.horizon(update)
        if self.probing + cost <= self.fraction * horizon:
            return None
        share = f"{(self.probing + cost) / horizon:.1%}" if horizon > 0 else "an unbounded share"
        of = "the run's projected " if horizon != self.training else ""
        return (f"skipped the measure at update {update}: it would cost {cost:.3g} s, putting the probe at "
                f"{share} of {of}{horizon:.3g} s of training, over the {self.fraction * 100:g}% budget")

    def horizon(self, update: int) -> float:
        """T̂: the training time so far, projected over the run's ``total`` updates where
        that is known and some training has been timed."""
        if self.total is None or self.first is None or update <= self.first:
            return self.training
        return self.training * max(self.total - self.first, update - self.first) / (update - self.first)

    @contextmanager
    def timing(self, kind: Kind) -> Iterator[None]:
        """Time a measure of ``kind`` taken inside the block."""
        start = self.clock()
        try:
            yield
        finally:
            end = self.clock()
            total, count = self.costs.get(kind, (0.0, 0))
            self.costs[kind] = (total + end - start, count + 1)
            self.probing += end - start
            self._since = end
