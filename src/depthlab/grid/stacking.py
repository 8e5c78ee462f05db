"""Which runs of a grid train together in one stack (depthlab.training.stacked_runs).

``--stacking`` of ``depthlab reproduce`` and ``depthlab sweep`` (a :class:`Stacking`):

- ``never``: every run trains alone;
- ``always``: runs that can share a stack (same data set, hidden widths, activation,
  batch size and device, each on the fused step's rules) train in stacks; the others alone;
- ``auto`` (the default): stacked where stacking is measured to be faster, else alone
  (:func:`stacking_pays`).

Where there are fewer groups of compatible runs than workers, each group is split so that
every worker gets a stack (a worker's CPUs share one stack's batched products); a stack is
split again, where it trains, into stacks as large as memory allows.
"""

from __future__ import annotations

from collections.abc import Sequence

from depthlab.config import TrainConfig
from depthlab.grid.spec import RunSpec, Stacking
from depthlab.nets.activations import ACTIVATIONS
from depthlab.training.costs import COSTS
from depthlab.training.fused import NATIVE_MAX_BATCH, native_kernels_for
from depthlab.training.kernels import NativeUnavailable
from depthlab.training.stacked_runs import stack_key, stack_unsupported_reason

AUTO_MIN_STACK = 16
AUTO_MAX_PARAMETERS = 65_000
"""``auto`` stacks runs that would take depthlab's native kernels alone only when there
are at least :data:`AUTO_MIN_STACK` of them, of at most :data:`AUTO_MAX_PARAMETERS`
parameters each: the native kernels run a network of more, or fewer networks, at least
as fast one after another on one thread or two (measured with ``python
benchmarks/bench_stacked.py --sizes --threads 1`` and ``--threads 2``; the figures are in
the README). Runs that take torch operations alone (minibatches of
more than 96, a GPU, no C compiler) gain from any stack."""


def plan_stacks(specs: Sequence[RunSpec], stacking: str, workers: int = 1) -> list[list[RunSpec]]:
    """The groups the runner trains, in the order of ``specs`` (by each group's first run):
    one run alone, or several to stack. ``stacking`` as in the module docstring."""
    if Stacking.parse(stacking) is Stacking.NEVER:
        return [[spec] for spec in specs]
    groups: dict[object, list[RunSpec]] = {}
    for index, spec in enumerate(specs):
        key = index if stack_unsupported_reason(spec.config) else stack_key(spec.config)
        groups.setdefault(key, []).append(spec)
    share = -(-workers // max(1, len(groups)))  # fewer groups than workers: each split to keep every worker busy
    planned = []
    for group in groups.values():
        parts = max(1, min(share, len(group) // 2))  # no stack of one where a run can pair up
        size = -(-len(group) // parts)
        planned += [group[start:start + size] for start in range(0, len(group), size)]
    return planned


def stacking_pays(stacking: str, configs: Sequence[TrainConfig], parameters: int) -> bool:
    """Whether the runs of ``configs`` (one stack's, networks of ``parameters`` parameters
    each) train as one stack: always under ``always``, under ``auto`` as
    :data:`AUTO_MAX_PARAMETERS` says."""
    stacking = Stacking.parse(stacking)
    if len(configs) < 2 or stacking is Stacking.NEVER:
        return False
    if stacking is Stacking.ALWAYS or not all(_alone_on_native_kernels(config) for config in configs):
        return True
    return len(configs) >= AUTO_MIN_STACK and parameters <= AUTO_MAX_PARAMETERS


def _alone_on_native_kernels(config: TrainConfig) -> bool:
    """Whether the run of ``config`` alone takes depthlab's native kernels
    (:class:`depthlab.training.fused.FusedSGD`)."""
    if config.device != "cpu" or config.batch_size > NATIVE_MAX_BATCH:
        return False
    try:
        native_kernels_for(ACTIVATIONS.get(config.activation), COSTS.get(config.cost))
    except NativeUnavailable:
        return False
    return True
