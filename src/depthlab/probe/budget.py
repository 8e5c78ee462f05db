"""An overhead budget for a probe measured while a model trains.

:class:`OverheadBudget` keeps a probe's measures within a ``fraction`` of the wall time
spent training, measured as it goes: it adds up P, the time spent inside measures, and
T, the time between them (training), and lets the next measure run only if

    (P + ĉ) / T ≤ fraction,

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

    def __init__(self, fraction: float, clock: Callable[[], float] = synchronized_clock):
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
            raise DepthlabError(f"budget {fraction!r} is not a fraction of the training time between 0 and 1 "
                                "(e.g. 0.05), or None for no budget")
        self.fraction, self.clock = float(fraction), clock
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
            return None
        cost = self.expected(kind)
        if self.probing + cost <= self.fraction * self.training:
            return None
        share = f"{(self.probing + cost) / self.training:.1%}" if self.training > 0 else "an unbounded share"
        return (f"skipped the measure at update {update}: it would cost {cost:.3g} s, putting the probe at "
                f"{share} of {self.training:.3g} s of training, over the {self.fraction * 100:g}% budget")

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
