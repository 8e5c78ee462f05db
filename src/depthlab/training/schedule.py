"""When to probe: dense early, sparse late.

Statistics change fastest in the first updates (Glorot & Bengio 2010, Figures 2–3 use a
log-like time axis early on), so probes are taken at update 0, at 1, 2, 5, 10, 20, 50, …
below ``every``, then every ``every`` updates, and at the last update. Jacobian spectra,
which cost an SVD per layer and example, are taken at initialization (where the paper
reports them), every fifty probe intervals, and at the end.
"""

from __future__ import annotations


def probe_updates(total: int, every: int) -> list[int]:
    """The sorted updates at which to probe a run of ``total`` updates.

    >>> probe_updates(3000, 1000)
    [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 3000]
    """
    steps = {0, total}
    decade = 1
    while decade < every:
        steps.update(m * decade for m in (1, 2, 5) if m * decade < min(every, total))
        decade *= 10
    steps.update(range(every, total + 1, every))
    return sorted(s for s in steps if s <= total)


JACOBIAN_STRIDE = 50


def jacobian_updates(total: int, every: int) -> set[int]:
    """The probe updates that also measure Jacobian spectra.

    >>> sorted(jacobian_updates(120_000, 1000))
    [0, 50000, 100000, 120000]
    """
    return {0, total, *range(JACOBIAN_STRIDE * every, total + 1, JACOBIAN_STRIDE * every)}
