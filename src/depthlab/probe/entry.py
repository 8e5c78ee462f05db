"""What a probe pass gives its quantities about one entry (one call of a weighted layer):
the call itself (its input, output and activation; :class:`depthlab.probe.capture.Call`)
and what the pass computed for it, each made the first time a quantity reads it. Every
tensor an entry gives is in float32, or the model's dtype where it is wider
(:func:`depthlab.probe.stats.wide`), whatever the model's dtype or autocast region."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import torch
from torch import Tensor

from depthlab.probe.capture import Call
from depthlab.probe.jacobian import Spectrum, layer_spectrum
from depthlab.probe.stats import wide


class Entry:
    """One entry of a probe pass at training update ``update``, named ``name`` (after the
    probe's layer naming). ``output_grad`` is ∂C/∂s (None where the pass did not compute
    it, or the cost does not depend on s through autograd), ``weight_grads`` and
    ``bias_grads`` ∂C/∂W and ∂C/∂b per parameter, ``slope`` φ'(s) on the first examples
    (linear entries below the output, when Jacobians are measured), ``previous`` the
    previous measure's update and weights, and ``spectrum_of_input`` what gives the input
    Jacobian's spectrum (the top entry below the output only)."""

    def __init__(self, name: str, call: Call, update: int, output_grad: Tensor | None = None,
                 weight_grads: list[Tensor] | None = None, bias_grads: list[Tensor] | None = None,
                 slope: Tensor | None = None, previous: tuple[int, list[Tensor]] | None = None,
                 spectrum_of_input: Callable[[], Spectrum | None] | None = None):
        self.name, self.call, self.update = name, call, update
        self.output_grad = wide(output_grad) if output_grad is not None else None
        self.slope = wide(slope) if slope is not None else None
        self.weight_grads, self.bias_grads = weight_grads or [], bias_grads or []
        self.previous_update, self._previous_weights = previous if previous is not None else (None, None)
        self._spectrum_of_input = spectrum_of_input

    @cached_property
    def output(self) -> Tensor | None:
        """s, detached (None where the call has no output in sight)."""
        return wide(self.call.s.detach()) if self.call.s is not None else None

    @cached_property
    def activation_input(self) -> Tensor | None:
        """u, what the call's activation was applied to (None without an activation)."""
        return wide(self.call.u.detach()) if self.call.u is not None else None

    @cached_property
    def activation_output(self) -> Tensor | None:
        """a = φ(u) (None without an activation)."""
        return wide(self.call.a.detach()) if self.call.a is not None else None

    @cached_property
    def weight(self) -> Tensor:
        """Every weight of the call in one vector, detached."""
        return _flat([w.detach() for w in self.call.weights])

    @cached_property
    def weight_grad(self) -> Tensor:
        """∂C/∂W of every weight of the call, in one vector (of a frozen weight too: the
        derivative is defined whether or not the weight trains)."""
        return _flat(self.weight_grads)

    @cached_property
    def bias_grad(self) -> Tensor | None:
        """∂C/∂b of every bias of the call, in one vector (None without biases)."""
        return _flat(self.bias_grads) if self.bias_grads else None

    @cached_property
    def previous_weight(self) -> Tensor | None:
        """The weights at the previous measure, in one vector (None at the first)."""
        return _flat(self._previous_weights) if self._previous_weights else None

    @cached_property
    def layer_spectrum(self) -> Spectrum | None:
        """The singular values of diag(φ'(s)) W per example (None without a slope: the pass
        gives none where φ'(s) or W is not finite, as a diverging network has no spectrum
        to speak of)."""
        if self.slope is None:
            return None
        return layer_spectrum(self.slope, wide(self.call.matrix.detach()))

    @cached_property
    def input_spectrum(self) -> Spectrum | None:
        """The singular values of ∂(top)/∂(input) per example, on the top entry below the
        output (None elsewhere, or where they cannot be found)."""
        return self._spectrum_of_input() if self._spectrum_of_input is not None else None


def _flat(tensors: list[Tensor]) -> Tensor:
    """One tensor's values, or several tensors' values in one vector (widened)."""
    return wide(tensors[0].flatten() if len(tensors) == 1 else torch.cat([t.flatten() for t in tensors]))
