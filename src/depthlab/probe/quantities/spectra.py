"""Singular values of the Jacobians a signal goes through on its way up (Glorot & Bengio
2010, section 4.2: the layer Jacobian's mean singular value is about 0.8 with the
normalized initialization and 0.5 with the standard one, for tanh on Shapeset); how they
are found, in bounded time and memory, is :mod:`depthlab.probe.jacobian`'s.

- the layer Jacobian diag(φ'(s)) W of each linear entry below the output (2-D inputs, or
  3-D per position): the mean, min and max of each example's singular values, averaged
  over the examples (or, for a large layer, the max and the count of its largest ones);
- the input Jacobian of the top entry below the output, ∂(its activation or output)/∂x
  (x the probe input, or the first floating-point entry output when the inputs are
  integers, such as token ids): mean (complete spectra) and max; histogram over [0, max].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from depthlab.probe.quantities.base import Need, Quantity, Reading
from depthlab.probe.stats import read

if TYPE_CHECKING:
    from depthlab.probe.entry import Entry

JACOBIAN_SV = "jacobian_sv"
JACOBIAN_SV_MEAN = "jacobian_sv_mean"
JACOBIAN_SV_MIN = "jacobian_sv_min"
JACOBIAN_SV_MAX = "jacobian_sv_max"
JACOBIAN_SV_COUNT = "jacobian_sv_count"
INPUT_JACOBIAN_SV = "input_jacobian_sv"
INPUT_JACOBIAN_SV_MEAN = "input_jacobian_sv_mean"
INPUT_JACOBIAN_SV_MAX = "input_jacobian_sv_max"
INPUT_JACOBIAN_SV_HIST = "input_jacobian_sv"


class LayerJacobian(Quantity):
    name = "layer_jacobian"
    needs = frozenset({Need.LAYER_JACOBIAN})
    stats = (JACOBIAN_SV_MEAN, JACOBIAN_SV_MIN, JACOBIAN_SV_MAX, JACOBIAN_SV_COUNT)

    def measure(self, entry: Entry) -> Reading | None:
        spectrum = entry.layer_spectrum
        return Reading(spectrum.stats(JACOBIAN_SV)) if spectrum is not None and spectrum.values.numel() else None


class InputJacobian(Quantity):
    name = "input_jacobian"
    needs = frozenset({Need.INPUT_JACOBIAN})
    stats = (INPUT_JACOBIAN_SV_MEAN, INPUT_JACOBIAN_SV_MAX)
    histograms = (INPUT_JACOBIAN_SV_HIST,)

    def measure(self, entry: Entry) -> Reading | None:
        spectrum = entry.input_spectrum
        if spectrum is None or not spectrum.values.numel():  # None, or no singular value (an input without features)
            return None
        stats = {key: value for key, value in spectrum.stats(INPUT_JACOBIAN_SV).items() if key in self.stats}
        return Reading(stats, {INPUT_JACOBIAN_SV_HIST: (spectrum.values, (0.0, read(spectrum.values.max())))})
