"""What a probe quantity is: a per-entry reduction that says what it needs from the probe
pass and which statistics and histograms it emits (after the quantities of Cockpit and
the extensions of BackPACK, which declare theirs the same way).

A quantity's :meth:`Quantity.measure` reads one :class:`depthlab.probe.entry.Entry` (one
call of a weighted layer in the pass) and returns a :class:`Reading`: statistics by name,
and the values to histogram by name (with their fixed range, or None for ±max|value|).
It imports no torch: everything it reads is on the entry, and the pass computes only
what the chosen quantities :attr:`~Quantity.needs`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from depthlab.registry import Choice

if TYPE_CHECKING:
    from depthlab.probe.entry import Entry


class Need(Choice, kind="probe need"):
    """What a quantity needs from a probe pass."""

    ACTIVATION = "activation"
    """The activation the call's output went through: u and a = φ(u) (``entry.activation_input``,
    ``entry.activation_output``)."""
    OUTPUT = "output"
    """The call's output s and ∂C/∂s (``entry.output``, ``entry.output_grad``)."""
    WEIGHTS = "weights"
    """W, ∂C/∂W and ∂C/∂b (``entry.weight``, ``entry.weight_grad``, ``entry.bias_grad``)."""
    PREVIOUS_WEIGHTS = "previous weights"
    """W at the previous measure (``entry.previous_weight``): kept from one measure to the next."""
    LAYER_JACOBIAN = "layer jacobian"
    """φ'(s) on the first examples, and the layer Jacobian's spectrum (``entry.layer_spectrum``)."""
    INPUT_JACOBIAN = "input jacobian"
    """The spectrum of the top entry's output with respect to the input (``entry.input_spectrum``)."""


JACOBIANS = frozenset({Need.LAYER_JACOBIAN, Need.INPUT_JACOBIAN})
"""The dear needs: a quantity needing one is skipped by ``measure(with_jacobians=False)``
and by a probe with ``jacobian_examples=0``."""

Sample = tuple[Any, "tuple[float, float] | None"]
"""Values to histogram (a tensor) and their fixed range (None: ±max|value|)."""


class Reading(NamedTuple):
    """What a quantity measured on one entry: statistics and the values to histogram. A
    statistic is a float, or, for values reduced on a device (a GPU), a 0-d tensor
    (:func:`depthlab.probe.stats.read`) that the probe reads with all the others of the
    measure in one transfer (:func:`depthlab.probe.stats.settle`)."""

    stats: Mapping[str, Any]
    samples: Mapping[str, Sample] = MappingProxyType({})


class Quantity:
    """A probe quantity (see the module docstring). A subclass sets :attr:`name` (its name
    in :data:`depthlab.probe.quantities.QUANTITIES`), :attr:`needs`, the :attr:`stats` and
    :attr:`histograms` it may emit, and :meth:`measure`."""

    name: ClassVar[str]
    needs: ClassVar[frozenset[Need]] = frozenset()
    stats: ClassVar[tuple[str, ...]] = ()
    histograms: ClassVar[tuple[str, ...]] = ()

    def measure(self, entry: Entry) -> Reading | None:
        """The reading of one entry, or None where the quantity does not apply to it."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<probe quantity {self.name}>"
