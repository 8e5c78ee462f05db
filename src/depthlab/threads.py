"""The threads depthlab trains on, and how they wait: chosen so that a run on a shared
machine (a laptop with a browser open, a shared node, a study's own pool) slows in
proportion to the cores it gets, never by 10×.

The matrix work of a step (depthlab's native kernels, and torch's own operations) runs on
one OpenMP thread team: torch's GNU OpenMP runtime, which the kernels share (they link
the same ``libgomp.so.1``). Its threads meet at a barrier after every layer. By default a
thread that reaches the barrier first *spins* for a while (300,000 iterations) before it
sleeps; on a machine whose cores are all busy, the thread it waits for is often parked by
the scheduler, and the spinner burns its own time slice doing nothing, many times per
update. Measured with ``benchmarks/bench_contention.py`` (the README's *On a busy
machine* has the table), a small net on two cores beside 1, 2 and 4 processes busy on a
core each: the default wait kept 0.34, 0.27 and 0.12 of the run's speed alone, a passive
wait (a waiting thread sleeps at once) 1.00, 0.49 and 0.21, a fair share of the cores
being about 2/(N+1); one thread 1.00, 0.71 and 0.37. On a quiet machine the three are
within the noise of each other for that net, and two threads pay for a large one.

So depthlab sets :data:`WAIT_POLICY` where the user set neither ``OMP_WAIT_POLICY`` nor
``GOMP_SPINCOUNT`` (a user's own choice is kept). OpenMP reads them once, when torch
loads it: ``import depthlab`` (and the ``depthlab`` command) sets them before it imports
torch; a program that imports torch first keeps OpenMP's default, and
:func:`wait_policy_applied` says so.

The thread count: torch's own (one per physical core) for a run alone, and each worker
of a pool its share of the cores this process may run on (:func:`share`), so that the
workers of a study never ask for more threads than there are cores; ``--threads``
chooses (:func:`using`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from depthlab.errors import DepthlabError

WAIT_POLICY = {"OMP_WAIT_POLICY": "PASSIVE"}
"""The OpenMP variables depthlab sets where the user set none of :data:`USER_CHOICES`."""
USER_CHOICES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
"""The variables by which a user chooses how OpenMP threads wait: any one set, depthlab
sets nothing."""

_applied: bool | None = None


def choose_wait_policy() -> bool:
    """Set :data:`WAIT_POLICY` in this process's environment (inherited by its workers)
    unless the user chose one; return whether OpenMP will wait so, False where torch was
    imported before (its runtime has read the environment already)."""
    global _applied
    if _applied is None:
        if not any(key in os.environ for key in USER_CHOICES):
            if "torch" in sys.modules:
                _applied = False
                return _applied
            os.environ.update(WAIT_POLICY)
        _applied = True
    return _applied


def wait_policy_applied() -> bool | None:
    """Whether OpenMP waits as the environment says (depthlab's choice or the user's);
    None before :func:`choose_wait_policy` ran."""
    return _applied


def available_cores() -> int:
    """The cores this process may run on (its affinity: a container's or ``taskset``'s
    limit, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def share(workers: int) -> int:
    """Threads for each of ``workers`` processes training side by side here: the cores
    shared evenly, at least one each."""
    return max(1, available_cores() // max(1, workers))


def check_threads(threads: int | None, local: bool = True) -> int | None:
    """``threads`` itself (None: depthlab chooses), or one line naming the value and the
    range: at least 1, and at most :func:`available_cores` for work on this machine
    (``local``; a Ray task's node may have more)."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1 \
            or (local and threads > available_cores()):
        limit = f"1 to {available_cores()} (the cores here)" if local else "1 or more"
        raise DepthlabError(f"threads {threads!r} must be a whole number from {limit}")
    return threads


@contextlib.contextmanager
def using(threads: int | None) -> Iterator[int]:
    """Train on ``threads`` threads in this process for the block (None: as it is, torch's
    default being one per physical core), and give back the count it had."""
    import torch

    before = torch.get_num_threads()
    if check_threads(threads) is not None:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
