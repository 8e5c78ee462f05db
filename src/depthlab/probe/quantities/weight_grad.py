"""The weights of each entry and their gradients, over all its weight tensors: std and
norm of ∂C/∂W (Glorot & Bengio 2010, Figure 9: the weight gradients' spread per layer),
‖W‖, and ‖∂C/∂b‖ over its biases (Nielsen 2015, chapter 5: a layer's "learning speed");
histogram of ∂C/∂W over ±max|∂C/∂W| (Glorot & Bengio's Figure 8). A frozen weight
(``requires_grad=False``) gets them too: ∂C/∂W is defined whether or not W trains (see
:class:`depthlab.probe.probe.FrozenAsVariables`); weights used where autograd records
nothing get ‖W‖ only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from depthlab.probe.quantities.base import Need, Quantity, Reading
from depthlab.probe.stats import read

if TYPE_CHECKING:
    from depthlab.probe.entry import Entry

WEIGHT_GRAD_STD = "weight_grad_std"
WEIGHT_GRAD_NORM = "weight_grad_norm"
WEIGHT_NORM = "weight_norm"
BIAS_GRAD_NORM = "bias_grad_norm"
WEIGHT_GRAD_HIST = "weight_grad"


class WeightGradients(Quantity):
    name = "weight_grad"
    needs = frozenset({Need.WEIGHTS})
    stats = (WEIGHT_GRAD_STD, WEIGHT_GRAD_NORM, WEIGHT_NORM, BIAS_GRAD_NORM)
    histograms = (WEIGHT_GRAD_HIST,)

    def measure(self, entry: Entry) -> Reading:
        if not entry.weight_grads:  # weights used out of autograd's sight: the probe's summary says so
            return Reading({WEIGHT_NORM: read(entry.weight.norm())})
        grad = entry.weight_grad
        stats = {WEIGHT_GRAD_STD: read(grad.std()), WEIGHT_GRAD_NORM: read(grad.norm()), WEIGHT_NORM: read(entry.weight.norm())}
        if entry.bias_grad is not None:
            stats[BIAS_GRAD_NORM] = read(entry.bias_grad.norm())
        return Reading(stats, {WEIGHT_GRAD_HIST: (grad, None)})
