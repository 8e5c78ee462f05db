"""The relative change of each entry's weights per update since the previous measure:
‖W_t − W_t'‖ / ‖W_t'‖ / (t − t'), t' the previous measure's update (about 1e-3 is the
usual healthy size; :mod:`depthlab.report.diagnosis` flags a layer far from it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from depthlab.probe.quantities.base import Need, Quantity, Reading
from depthlab.probe.stats import read

if TYPE_CHECKING:
    from depthlab.probe.entry import Entry

UPDATE_RATIO = "update_ratio"


class UpdateRatio(Quantity):
    name = "update_ratio"
    needs = frozenset({Need.WEIGHTS, Need.PREVIOUS_WEIGHTS})
    stats = (UPDATE_RATIO,)

    def measure(self, entry: Entry) -> Reading | None:
        before, weight = entry.previous_weight, entry.weight
        if before is None or before.shape != weight.shape:
            return None
        change = weight.dist(before) / before.norm()
        return Reading({UPDATE_RATIO: read(change.double() / (entry.update - entry.previous_update))})
