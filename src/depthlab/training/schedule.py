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


def probe_updates(total: int, every: int) -> list[int]:
    """The sorted updates at which to probe a run of ``total`` updates.

    >>> probe_updates(3000, 1000)
    [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 3000]
    >>> probe_updates(200, 2000)
    [0, 1, 10, 100, 200]
    """
    steps = {0, total}
    multiples = (1, 2, 5) if total >= every else (1,)
    decade = 1
    while decade < every:
        steps.update(m * decade for m in multiples if m * decade < min(every, total))
        decade *= 10
    steps.update(range(every, total + 1, every))
    return sorted(s for s in steps if s <= total)


JACOBIAN_STRIDE = 50


def jacobian_updates(total: int, every: int) -> set[int]:
    """The probe updates that also measure Jacobian spectra.

    >>> sorted(jacobian_updates(120_000, 1000))
    [0, 50000, 100000]
    """
    return {0, *range(JACOBIAN_STRIDE * every, total + 1, JACOBIAN_STRIDE * every)}


def histogram_updates(total: int, every: int) -> set[int]:
    """The probe updates that also record histograms: those of :func:`jacobian_updates`
    and the last.

    >>> sorted(histogram_updates(120_000, 1000))
    [0, 50000, 100000, 120000]
    """
    return {*jacobian_updates(total, every), total}


class ProbeSchedule:
    """A run's probe updates of :func:`probe_updates`, each with what it measures."""

    def __init__(self, total: int, every: int):
        self.total, self.every = total, every
        self.updates = set(probe_updates(total, every))
        self.jacobians = jacobian_updates(total, every)
        self.histograms = histogram_updates(total, every)

    def __contains__(self, update: int) -> bool:
        return update in self.updates

    def measure(self, update: int) -> dict[str, bool]:
        """The keyword arguments of :meth:`depthlab.probe.Probe.measure` at ``update``."""
        return {"with_jacobians": update in self.jacobians, "with_histograms": update in self.histograms}


def evaluates_at_start(total: int, every: int) -> bool:
    """Whether a run of ``total`` updates, evaluated every ``every``, is also evaluated
    at update 0: only when it has another evaluation before its end to compare with."""
    return total > every
