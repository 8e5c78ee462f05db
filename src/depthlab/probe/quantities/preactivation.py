"""The output s of each entry (what its activation, if any, is applied to, before the
normalizations and additions that may come between): mean and standard deviation;
histogram over ±max|s|. Var[s] is the q of mean-field theory (Poole et al. 2016), which
:mod:`depthlab.theory.comparison` sets beside its prediction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from depthlab.probe.quantities.base import Need, Quantity, Reading
from depthlab.probe.stats import read

if TYPE_CHECKING:
    from depthlab.probe.entry import Entry

PREACTIVATION_MEAN = "preactivation_mean"
PREACTIVATION_STD = "preactivation_std"
PREACTIVATION_HIST = "preactivation"


class Preactivations(Quantity):
    name = "preactivation"
    needs = frozenset({Need.OUTPUT})
    stats = (PREACTIVATION_MEAN, PREACTIVATION_STD)
    histograms = (PREACTIVATION_HIST,)

    def measure(self, entry: Entry) -> Reading | None:
        s = entry.output
        if s is None:
            return None
        return Reading({PREACTIVATION_MEAN: read(s.mean()), PREACTIVATION_STD: read(s.std())},
                       {PREACTIVATION_HIST: (s, None)})
