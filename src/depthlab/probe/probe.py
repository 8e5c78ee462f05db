"""Per-layer statistics of a network on a fixed probe set, as Glorot & Bengio (2010)
monitor them (section 2.3: 300 test examples, Figures 2–10) and Nielsen (2015, ch. 5)
measures learning speed.

Every measure gives rows {"update", "layer", "stat", "value"}. The statistics, per layer
(C is loss_fn on the whole probe set, s the layer's pre-activation, a = φ(s)):

- hidden layers: ``activation_mean``, ``activation_std``, ``activation_p2``,
  ``activation_p50``, ``activation_p98`` (percentiles), ``saturated_fraction`` (the
  activation's ``saturation_rule``);
- every layer: ``preactivation_mean``, ``preactivation_std``; ``backprop_grad_std`` and
  ``backprop_grad_norm`` of ∂C/∂s; ``weight_grad_std``, ``weight_grad_norm`` of ∂C/∂W;
  ``bias_grad_norm`` ‖∂C/∂b‖ (Nielsen's learning speed); ``weight_norm`` ‖W‖;
  ``update_ratio`` ‖W_t − W_t'‖ / ‖W_t'‖ / (t − t') since the previous measure t';
- linear hidden layers: ``jacobian_sv_mean``, ``jacobian_sv_min``, ``jacobian_sv_max`` of
  the layer's Jacobian diag(φ'(s)) W (see depthlab.probe.jacobian);
- the top hidden layer: ``input_jacobian_sv_mean``, ``input_jacobian_sv_max`` of ∂a/∂x.

Histograms {"update", "layer", "quantity", "edges", "counts"} of the quantities
``activation`` (over the activation's fixed ``value_range``; values beyond it count in
the end bins), ``preactivation``, ``backprop_grad``, ``weight_grad`` (over ±max|value|)
and ``input_jacobian_sv`` (over [0, max]).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from depthlab.errors import DepthlabError
from depthlab.probe.hooks import (
    LayerTensors,
    ProbedLayer,
    find_layers,
    preserved_state,
    probe_pass,
)
from depthlab.probe.jacobian import (
    chain_jacobian,
    input_jacobian,
    layer_jacobians,
    spectrum_stats,
)
from depthlab.probe.stats import activation_stats, histogram
from depthlab.store.probes import ProbeLog


class Probe:
    """Measures a model layer by layer on a fixed probe set (``inputs``, ``targets``).

    Each :meth:`measure` runs one forward/backward pass of
    C = ``loss_fn(model(inputs), targets)``, in eval mode unless ``train_mode``, and leaves
    the parameters, their ``.grad``, the buffers, the modules' modes and the global RNG as
    they were. ``layers`` names the Linear/Conv modules to probe (default: all of them);
    Jacobian spectra use the first ``jacobian_examples`` probe examples (0: none).
    """

    def __init__(self, model: nn.Module, inputs: Tensor, targets: Tensor,
                 loss_fn: Callable[[Tensor, Tensor], Tensor], layers: Sequence[str] | None = None,
                 jacobian_examples: int = 2, train_mode: bool = False, bins: int = 100):
        if jacobian_examples < 0:
            raise DepthlabError(f"jacobian_examples {jacobian_examples} is negative (0 turns Jacobians off)")
        if len(inputs) != len(targets):
            raise DepthlabError(f"the probe set has {len(inputs)} inputs but {len(targets)} targets")
        self.model, self.inputs, self.targets, self.loss_fn = model, inputs, targets, loss_fn
        self.layers: list[ProbedLayer] = find_layers(model, layers)
        self.jacobian_examples = min(jacobian_examples, len(inputs))
        self.train_mode, self.bins = train_mode, bins
        self.log = ProbeLog()
        self._previous: tuple[int, list[Tensor]] | None = None

    @property
    def module_names(self) -> dict[str, str]:
        """Layer name ("layer 1", …, "output") → the module's qualified name in the model."""
        return {layer.name: layer.module_name for layer in self.layers}

    def measure(self, update: int, with_jacobians: bool = True) -> list[dict[str, Any]]:
        """Measure every statistic at training update ``update``; return the new rows (the
        rows and histograms are also added to :attr:`log`, a :class:`ProbeLog`).
        ``with_jacobians=False`` skips the Jacobian spectra, by far the dearest part."""
        if self._previous is not None and update <= self._previous[0]:
            raise DepthlabError(f"probe update {update} is not after the previous measure at update "
                                f"{self._previous[0]}")
        with preserved_state(self.model, self.train_mode):
            seen = probe_pass(self.model, self.layers, self.inputs, self.targets, self.loss_fn,
                              self.jacobian_examples if with_jacobians else 0)
            jacobians = {layer.name: layer_jacobians(t.slope, layer.module.weight.detach())
                         for layer, t in zip(self.layers, seen) if layer.is_linear and t.slope is not None}
            top_spectrum = self._input_spectrum(seen, jacobians) if with_jacobians else None
        rows, histograms = [], []
        for index, (layer, t) in enumerate(zip(self.layers, seen)):
            stats, hists = self._layer_measures(layer, t, update, index)
            if layer.name in jacobians and torch.isfinite(jacobians[layer.name]).all():
                spectrum = spectrum_stats(torch.linalg.svdvals(jacobians[layer.name]))
                stats |= {f"jacobian_sv_{name}": value for name, value in spectrum.items()}
            if top_spectrum is not None and layer.name == top_spectrum[0]:
                sv = top_spectrum[1]
                spectrum = spectrum_stats(sv)
                stats |= {"input_jacobian_sv_mean": spectrum["mean"], "input_jacobian_sv_max": spectrum["max"]}
                hists["input_jacobian_sv"] = histogram(sv, (0.0, sv.max().item()), self.bins)
            rows += [{"update": update, "layer": layer.name, "stat": stat, "value": value}
                     for stat, value in stats.items()]
            histograms += [{"update": update, "layer": layer.name, "quantity": quantity, "edges": edges,
                            "counts": counts}
                           for quantity, (edges, counts) in hists.items()]
        self._previous = (update, [layer.module.weight.detach().clone() for layer in self.layers])
        self.log.add(rows, histograms)
        return rows

    def state_dict(self) -> dict[str, Any]:
        """What the next measure depends on (the previous update and weights, for the update
        ratio), so that a resumed run measures what an uninterrupted one would."""
        return {"previous": self._previous}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._previous = state["previous"]

    def histograms_at(self, update: int) -> list[dict[str, Any]]:
        """The histograms measured at ``update``."""
        return self.log.histograms_at(update)

    def series(self, stat: str, layer: str) -> tuple[np.ndarray, np.ndarray]:
        """Updates and values of one statistic of one layer over the measures so far."""
        return self.log.series(stat, layer)

    def _layer_measures(self, layer: ProbedLayer, t: LayerTensors, update: int,
                        index: int) -> tuple[dict[str, float], dict[str, tuple[list[float], list[int]]]]:
        stats, hists = {}, {}
        if t.activation is not None:
            stats |= activation_stats(t.activation_input, t.activation, layer.activation)
            hists["activation"] = histogram(t.activation, layer.activation.value_range, self.bins)
        weight = layer.module.weight.detach()
        s, grad_s, grad_w = t.pre_activation, t.grad_pre_activation, t.grad_weight
        stats |= {
            "preactivation_mean": s.mean().item(),
            "preactivation_std": s.std().item(),
            "backprop_grad_std": grad_s.std().item(),
            "backprop_grad_norm": grad_s.norm().item(),
            "weight_grad_std": grad_w.std().item(),
            "weight_grad_norm": grad_w.norm().item(),
            "weight_norm": weight.norm().item(),
        }
        if t.grad_bias is not None:
            stats["bias_grad_norm"] = t.grad_bias.norm().item()
        if self._previous is not None:
            previous_update, previous_weights = self._previous
            before = previous_weights[index]
            stats["update_ratio"] = ((weight - before).norm() / before.norm()).item() / (update - previous_update)
        hists["preactivation"] = histogram(s, bins=self.bins)
        hists["backprop_grad"] = histogram(grad_s, bins=self.bins)
        hists["weight_grad"] = histogram(grad_w, bins=self.bins)
        return stats, hists

    def _input_spectrum(self, seen: list[LayerTensors], jacobians: dict[str, Tensor]) -> tuple[str, Tensor] | None:
        """The top hidden layer's name and the singular values of ∂a/∂x there: the product
        of the layer Jacobians when the hidden layers form a plain chain (each layer's
        input is the activation below, the first's the flattened probe input), otherwise
        ``torch.func.jacrev`` on the model in eval mode."""
        hidden = [k for k, layer in enumerate(self.layers) if layer.name != "output"]
        if not hidden or not self.jacobian_examples:
            return None
        below = self.layers[:hidden[-1] + 1]
        outputs = [t.pre_activation if t.activation is None else t.activation for t in seen]
        inputs = [self.inputs.reshape(len(self.inputs), -1)] + outputs[:len(below) - 1]
        if all(layer.name in jacobians and x is not None and torch.equal(t.layer_input, x)
               for layer, t, x in zip(below, seen, inputs)):
            jacobian = chain_jacobian([jacobians[layer.name] for layer in below])
        else:
            self.model.eval()  # the caller's preserved_state restores the modes
            top = below[-1].activation_module or below[-1].module
            jacobian = input_jacobian(self.model, top, self.inputs[:self.jacobian_examples])
        if not torch.isfinite(jacobian).all():  # a diverging network: no spectrum to speak of
            return None
        return below[-1].name, torch.linalg.svdvals(jacobian)
