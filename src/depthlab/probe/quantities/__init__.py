"""The probe's quantities, one family per module, and their registry.

:data:`QUANTITIES` holds every quantity a :class:`depthlab.probe.Probe` measures by
default, in the order of its rows: a quantity registered there (``QUANTITIES.register(
MyQuantity())``, see :class:`Quantity`) is measured by every probe made afterwards,
stored, drawn in the run report and written to TensorBoard with no other change. The
name constants are the one spelling of each statistic and histogram: readers import them.

Nothing here imports torch.
"""

from depthlab.probe.quantities.activation import (
    ACTIVATION_HIST,
    ACTIVATION_MEAN,
    ACTIVATION_P2,
    ACTIVATION_P98,
    ACTIVATION_STD,
    SATURATED_FRACTION,
    Activations,
)
from depthlab.probe.quantities.backprop_grad import (
    BACKPROP_GRAD_HIST,
    BACKPROP_GRAD_NORM,
    BACKPROP_GRAD_STD,
    BackpropGradients,
)
from depthlab.probe.quantities.base import JACOBIANS, Need, Quantity, Reading
from depthlab.probe.quantities.preactivation import (
    PREACTIVATION_HIST,
    PREACTIVATION_MEAN,
    PREACTIVATION_STD,
    Preactivations,
)
from depthlab.probe.quantities.spectra import (
    INPUT_JACOBIAN_SV_HIST,
    INPUT_JACOBIAN_SV_MAX,
    INPUT_JACOBIAN_SV_MEAN,
    JACOBIAN_SV_COUNT,
    JACOBIAN_SV_MAX,
    JACOBIAN_SV_MEAN,
    JACOBIAN_SV_MIN,
    InputJacobian,
    LayerJacobian,
)
from depthlab.probe.quantities.update_ratio import UPDATE_RATIO, UpdateRatio
from depthlab.probe.quantities.weight_grad import (
    BIAS_GRAD_NORM,
    WEIGHT_GRAD_HIST,
    WEIGHT_GRAD_NORM,
    WEIGHT_GRAD_STD,
    WEIGHT_NORM,
    WeightGradients,
)
from depthlab.registry import Registry

QUANTITIES: Registry[Quantity] = Registry("probe quantity", [
    Activations(), Preactivations(), BackpropGradients(), WeightGradients(), UpdateRatio(), LayerJacobian(),
    InputJacobian(),
])

__all__ = [
    "ACTIVATION_HIST", "ACTIVATION_MEAN", "ACTIVATION_P2", "ACTIVATION_P98", "ACTIVATION_STD", "BACKPROP_GRAD_HIST",
    "BACKPROP_GRAD_NORM", "BACKPROP_GRAD_STD", "BIAS_GRAD_NORM", "INPUT_JACOBIAN_SV_HIST", "INPUT_JACOBIAN_SV_MAX",
    "INPUT_JACOBIAN_SV_MEAN", "JACOBIANS", "JACOBIAN_SV_COUNT", "JACOBIAN_SV_MAX", "JACOBIAN_SV_MEAN",
    "JACOBIAN_SV_MIN", "PREACTIVATION_HIST", "PREACTIVATION_MEAN", "PREACTIVATION_STD", "QUANTITIES",
    "SATURATED_FRACTION", "UPDATE_RATIO", "WEIGHT_GRAD_HIST", "WEIGHT_GRAD_NORM", "WEIGHT_GRAD_STD", "WEIGHT_NORM",
    "Need", "Quantity", "Reading",
]
