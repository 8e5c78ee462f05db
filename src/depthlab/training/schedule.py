"""When to measure: dense early, sparse late, and scaled to the run's length.

Statistics change fastest in the first updates (Glorot & Bengio 2010, Figures 2–3 use a
log-like time axis early on), so probes are taken at update 0, at 1, 2, 5, 10, 20, 50, …
below ``every``, then every ``every`` updates, and at the last update. A run shorter than
``every`` probes once per decade instead (1, 10, 100, …): there one probe pass costs as
much as dozens of updates. Jacobian spectra, which cost an SVD per layer and example, are
taken at initialization (where the paper reports them) and every fifty probe intervals;
histograms, which the figures read at the first and the last probe, at those updates and
at the end. Evaluations: every ``every`` updates and at the end, and at update 0 when the
run has more than one evaluation to compare it with.
"""

from __future__ import annotations

from collections.abc import Iterator


def _early(update: int, total: int, every: int) -> bool:
    """Whether ``update`` is one of the early probes below min(every, total): 1, 2, 5,
    10, 20, 50, … (only 1, 10, 100, … for a run shorter than ``every``)."""
    if not 0 < update < min(every, total):
        return False
    decade = 10 ** (len(str(update)) - 1)
    return update % decade == 0 and update // decade in ((1, 2, 5) if total >= every else (1,))


JACOBIAN_STRIDE = 50


class ProbeSchedule:
    """A run's probe updates, each with what it measures, decided by arithmetic on the
    update number: memory does not grow with the length of the run.

    >>> list(ProbeSchedule(3000, 1000))
    [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 3000]
    >>> list(ProbeSchedule(200, 2000))
    [0, 1, 10, 100, 200]
    >>> [u for u in ProbeSchedule(120_000, 1000) if ProbeSchedule(120_000, 1000).measure(u)["with_jacobians"]]
    [0, 50000, 100000]
    """

    def __init__(self, total: int, every: int):
        self.total, self.every = total, every

    def __contains__(self, update: int) -> bool:
        return 0 <= update <= self.total and (update in (0, self.total) or update % self.every == 0
                                              or _early(update, self.total, self.every))

    def __iter__(self) -> Iterator[int]:
        """The probe updates in order, generated as they are asked for."""
        yield 0
        yield from self._early()
        yield from range(self.every, self.total, self.every)
        if self.total > 0:
            yield self.total

    def _early(self) -> Iterator[int]:
        candidates = (m * 10 ** k for k in range(len(str(self.every))) for m in (1, 2, 5))
        return (u for u in candidates if _early(u, self.total, self.every))

    def after(self, update: int) -> int | None:
        """The first probe update after ``update`` (None after the last).

        >>> ProbeSchedule(3000, 1000).after(20), ProbeSchedule(3000, 1000).after(2000)
        (50, 3000)
        """
        if update >= self.total:
            return None
        early = next((u for u in self._early() if u > update), self.total)
        return min(early, (update // self.every + 1) * self.every, self.total)

    def jacobians(self, update: int) -> bool:
        """Whether the probe at ``update`` measures Jacobian spectra: at initialization and
        every JACOBIAN_STRIDE probe intervals."""
        return update == 0 or (update in self and update % (JACOBIAN_STRIDE * self.every) == 0)

    def histograms(self, update: int) -> bool:
        """Whether it records histograms: where it measures spectra, and at the last update."""
        return self.jacobians(update) or update == self.total

    def measure(self, update: int) -> dict[str, bool]:
        """The keyword arguments of :meth:`depthlab.probe.Probe.measure` at ``update``."""
        return {"with_jacobians": self.jacobians(update), "with_histograms": self.histograms(update)}


def evaluates_at_start(total: int, every: int) -> bool:
    """Whether a run of ``total`` updates, evaluated every ``every``, is also evaluated
    at update 0: only when it has another evaluation before its end to compare with."""
    return total > every
