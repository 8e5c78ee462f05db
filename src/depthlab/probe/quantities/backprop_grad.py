"""The back-propagated gradient ∂C/∂s of each entry's output s, C the cost on the whole
probe set: standard deviation and norm; histogram over ±max|∂C/∂s|. Glorot & Bengio
(2010), section 4.2.2 and Figure 7: with the standard initialization its variance shrinks
from the top layer down, with the normalized one it keeps its size."""

from __future__ import annotations

from typing import TYPE_CHECKING

from depthlab.probe.quantities.base import Need, Quantity, Reading
from depthlab.probe.stats import read

if TYPE_CHECKING:
    from depthlab.probe.entry import Entry

BACKPROP_GRAD_STD = "backprop_grad_std"
BACKPROP_GRAD_NORM = "backprop_grad_norm"
BACKPROP_GRAD_HIST = "backprop_grad"


class BackpropGradients(Quantity):
    name = "backprop_grad"
    needs = frozenset({Need.OUTPUT})
    stats = (BACKPROP_GRAD_STD, BACKPROP_GRAD_NORM)
    histograms = (BACKPROP_GRAD_HIST,)

    def measure(self, entry: Entry) -> Reading | None:
        grad = entry.output_grad
        if grad is None:
            return None
        return Reading({BACKPROP_GRAD_STD: read(grad.std()), BACKPROP_GRAD_NORM: read(grad.norm())},
                       {BACKPROP_GRAD_HIST: (grad, None)})
