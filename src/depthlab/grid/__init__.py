"""A grid of training runs, as studies and sweeps both train one.

A grid is a list of :class:`RunSpec` (a name and a config). :mod:`depthlab.grid.runner`
trains it (resumable, in parallel, indifferent to divergence; on a :class:`Backend`),
in the stacks :mod:`depthlab.grid.stacking` plans (as a :class:`Stacking` says).
Importing this package imports no torch; importing the runner does.
"""

from depthlab.grid.spec import Backend, RunSpec, Stacking, check_backend

__all__ = ["Backend", "RunSpec", "Stacking", "check_backend"]
