"""One update captured once and replayed: CUDA graphs for the training loop's steppers.

An update of a 5×1000 net on minibatches of 10 launches some 60 small kernels; on a GPU
the host's time to launch them, not the device's work, bounds it. A CUDA graph records
the kernels of one update once and launches all of them with one call afterwards
(``torch.cuda.CUDAGraph``; PyTorch's "CUDA Graphs" notes describe the pattern followed
here: warm up on a side stream, capture, replay on static input buffers).

:class:`GraphedStepper` wraps a loop's stepper (:class:`depthlab.training.step.Stepper`):

- every update copies its minibatch into static input buffers (made at the first update,
  and made again when a minibatch's shape changes);
- the first :data:`WARM_UP` updates run as they are (on a side stream under CUDA, so the
  libraries' lazy set-up is not captured);
- the next one is captured, and that update and every later one is a replay; the cost
  the replay writes into its static output is cloned for the loop, which reads the costs
  at its boundaries only;
- a stepper whose :meth:`graph_key` changes (a state the graph cannot see, such as an
  optimizer's hyper-parameters held as Python numbers) is captured again at its next
  update.

Which steppers can be captured is declared by each (``graphable``, with ``why`` when
not): the fused step on torch operations, the stack (:class:`~depthlab.training.stacked.StackedSGD`,
whose freezing of a member changes its rates in place, which the graph sees) and the
autograd step with torch.optim.SGD (plain, momentum or Nesterov) on a net without dropout.
Not: the fused step on depthlab's native kernels (CPU only), other torch.optim rules
(Adam, RMSProp and AdaGrad count their steps in Python or host tensors), dropout.

How a graph is made is injected (:data:`GRAPH_MAKERS`, by device type): under CUDA
:class:`CudaGraphs`; :class:`EagerGraphs` is a stand-in that runs the same wrapper logic
without a GPU (its "capture" records the function, its "replay" calls it on the static
buffers), which is how the wrapper is tested on the CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Protocol

import torch
from torch import Tensor

WARM_UP = 3
"""Updates taken as they are before the capture (PyTorch's notes warm up a few
iterations on a side stream so lazily made state — cuBLAS handles, optimizer buffers — is
not recorded in the graph)."""


class GraphMaker(Protocol):
    """How :class:`GraphedStepper` warms up and captures: ``warm_up(work)`` runs ``work``
    now; ``capture(work)`` records it without running it and returns what replays it."""

    def warm_up(self, work: Callable[[], None]) -> None: ...

    def capture(self, work: Callable[[], None]) -> Callable[[], None]: ...


class CudaGraphs:
    """CUDA graphs on ``device``: warm-up on a side stream, capture into a
    ``torch.cuda.CUDAGraph``, replay. Each capture has its own memory pool, freed with
    the graph a new capture replaces (graphs sharing a pool must be replayed in the order
    they were captured, which a replaced graph would not be)."""

    def __init__(self, device: torch.device):
        self.device = device
        self.captures = 0

    def warm_up(self, work: Callable[[], None]) -> None:
        main = torch.cuda.current_stream(self.device)
        side = torch.cuda.Stream(self.device)
        side.wait_stream(main)
        with torch.cuda.stream(side):
            work()
        main.wait_stream(side)

    def capture(self, work: Callable[[], None]) -> Callable[[], None]:
        torch.cuda.synchronize(self.device)  # once per capture: the warm-up's work is done
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            work()
        self.captures += 1
        return graph.replay


class EagerGraphs:
    """A stand-in for :class:`CudaGraphs` that needs no GPU: ``capture`` records the
    function (running nothing, as a capture runs nothing) and its replay calls it. It
    counts its captures."""

    def __init__(self, device: torch.device | None = None):
        self.captures = self.warm_ups = 0

    def warm_up(self, work: Callable[[], None]) -> None:
        self.warm_ups += 1
        work()

    def capture(self, work: Callable[[], None]) -> Callable[[], None]:
        self.captures += 1
        return work


GRAPH_MAKERS: dict[str, type] = {"cuda": CudaGraphs}
"""The graph maker of each device type that has one; ``--graphs`` is on by default there."""


class Graphable(Protocol):
    """What :class:`GraphedStepper` asks of a stepper besides ``step`` and ``freeze``."""

    @property
    def graphable(self) -> str | None:
        """None when an update can be captured, else why not."""

    def graph_key(self) -> Hashable:
        """The state an update depends on that a graph cannot see (held in Python);
        when it changes, the update is captured again."""


class GraphedStepper:
    """``stepper``'s updates, captured once by ``maker`` and replayed (module docstring).
    ``freeze`` passes through: the steppers that can be captured freeze a member in place."""

    def __init__(self, stepper, maker: GraphMaker, warm_up: int = WARM_UP):
        self.stepper, self.maker, self.warm_up = stepper, maker, warm_up
        self.x: Tensor | None = None
        self.y: Tensor | None = None
        self.cost: Tensor | None = None
        self.replay: Callable[[], None] | None = None
        self.key: Hashable = None
        self.warmed = 0

    def step(self, x: Tensor, y: Tensor) -> Tensor:
        self._load(x, y)
        key = self.stepper.graph_key()
        if key != self.key:
            self.key, self.replay = key, None
        if self.replay is None:
            if self.warmed < self.warm_up:
                self.warmed += 1
                self.maker.warm_up(self._update)
                return self.cost.clone()  # on the loop's stream, which waited for the warm-up's
            self.replay = self.maker.capture(self._update)
        self.replay()
        return self.cost.clone()

    def _load(self, x: Tensor, y: Tensor) -> None:
        """Copy the minibatch into the static buffers (new ones, and a new capture, when its
        shape or type changes)."""
        if self.x is None or self.x.shape != x.shape or self.x.dtype != x.dtype or self.y.shape != y.shape \
                or self.y.dtype != y.dtype or self.x.device != x.device:
            self.x, self.y = torch.empty_like(x), torch.empty_like(y)
            self.replay = None
        self.x.copy_(x)
        self.y.copy_(y)

    def _update(self) -> None:
        self.cost = self.stepper.step(self.x, self.y)

    def freeze(self, k: int) -> None:
        self.stepper.freeze(k)


def graphed(stepper, device: torch.device, wanted: bool | None) -> tuple[object, str | None]:
    """The stepper the loop takes on ``device`` — ``stepper``, or it wrapped in a
    :class:`GraphedStepper` — and None when it runs in graphs, else why not. ``wanted``:
    the run's ``graphs`` setting (None: wherever the device has graphs and the stepper can
    be captured; False: never)."""
    if wanted is False:
        return stepper, "off (--no-graphs)"
    maker = GRAPH_MAKERS.get(device.type)
    if maker is None:
        return stepper, f"the device is {device.type}"
    why = stepper.graphable
    if why is not None:
        return stepper, why
    return GraphedStepper(stepper, maker(device)), None
