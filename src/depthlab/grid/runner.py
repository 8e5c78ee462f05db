"""Run a grid of training runs: resumable, in parallel, and indifferent to divergence.

A grid is a list of :class:`~depthlab.grid.RunSpec` (a name and a config). Each spec
trains into ``<root>/runs/<name>``. Running a grid again keeps every finished run
(completed or diverged), resumes an interrupted one from its checkpoint and restarts one
that died before its first checkpoint (only what depthlab train wrote there is cleared:
:attr:`~depthlab.store.RunDir.died_before_checkpoint`; a folder holding anything else is
refused). A run that diverges is recorded as such and the grid goes on with the next.

Two backends (a :class:`~depthlab.grid.Backend`) run the grid: ``local`` processes on
this machine, or ``ray``, where each run is a Ray task asking for its CPUs (and a GPU when
its device is one) and writing into the same run directory, which must then be on storage
every node sees. Each run sets its own thread count, so a run gives the same numbers on
either backend.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from pathlib import Path

from depthlab.errors import DepthlabError
from depthlab.grid.progress import GridProgress, planned_updates
from depthlab.grid.spec import Backend, RunSpec, Stacking, check_backend
from depthlab.grid.stacking import plan_stacks, stacking_pays
from depthlab.limits import parameter_count
from depthlab.signals import Stopped
from depthlab.store import RunDir, run_state
from depthlab.store.queries import changed_settings
from depthlab.threads import check_threads, share, using
from depthlab.training.stacked_runs import train_stacked
from depthlab.training.trainer import load_data, resume, train


def _execute(group: list[RunSpec], paths: dict[str, Path], threads: int | None,
             stacking: Stacking = Stacking.NEVER) -> list[tuple[str, str, int | None]]:
    """Train or resume a group of runs on ``threads`` threads (None: as this process is
    set): one alone, or several as stacks when :func:`~depthlab.grid.stacking.stacking_pays`;
    return each run's (name, status, the signal that stopped it or None)."""
    with using(threads):
        return _execute_group(group, paths, stacking)


def _execute_group(group: list[RunSpec], paths: dict[str, Path], stacking: Stacking) \
        -> list[tuple[str, str, int | None]]:
    data = load_data(group[0].config) if len(group) > 1 else None
    if data is not None:
        widths = [data.input_dim, *group[0].config.hidden_widths, data.num_outputs]
        if stacking_pays(stacking, [spec.config for spec in group], parameter_count(widths)):
            results = train_stacked([(spec.config, paths[spec.name]) for spec in group], data=data, progress=False)
            return [(spec.name, result.status, result.stopped_by) for spec, result in zip(group, results)]
    statuses = []
    for spec in group:
        path = paths[spec.name]
        if run_state(path) == "resumable":
            result = resume(path, progress=False, data=data)
        else:
            result = train(spec.config, out=path, data=data, progress=False)
        statuses.append((spec.name, result.status, result.stopped_by))
        if result.status == "interrupted":  # the signal stops the group, not only this run
            break
    return statuses


PR_SET_PDEATHSIG = 1
"""Linux prctl(2) option: the signal a process gets when its parent ends."""
ORPHAN_GRACE = 60.0
"""Seconds an orphaned worker has to checkpoint its run and stop before it ends itself."""


def _die_with_parent(parent: int) -> None:
    """A worker's initializer: end the worker when the sweep's process ``parent`` ends,
    however it ends (a SIGKILL too). It gets SIGTERM then (Linux ``PR_SET_PDEATHSIG``, or a
    watcher thread that sees its parent change where prctl is missing), so a run in
    training checkpoints and stops as interrupted; after :data:`ORPHAN_GRACE` seconds it
    ends itself whatever it is doing."""
    told = False
    try:
        told = ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0
    except (OSError, AttributeError):  # not Linux
        pass
    if os.getppid() != parent:  # the parent ended before the prctl took hold
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        if not told:
            os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(ORPHAN_GRACE)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _execute_in_worker(group: list[RunSpec], paths: dict[str, Path], threads: int, stacking: Stacking,
                       parent: int) -> list[tuple[str, str, int | None]]:
    """:func:`_execute` in a pool worker; a worker whose parent ended meanwhile (its runs
    stopped and checkpointed) has no one to answer and ends at once."""
    statuses = _execute(group, paths, threads, stacking)
    if os.getppid() != parent:
        os._exit(1)
    return statuses


RAY_CPUS_PER_RUN = 1
"""The CPUs (and torch threads) each Ray task asks for where ``threads`` is not given."""


def run_specs(specs: Sequence[RunSpec], root: Path, workers: int = 1, progress: bool = True,
              backend: str = "local", address: str | None = None, stacking: str = "auto",
              threads: int | None = None) -> dict[str, RunDir]:
    """Run every spec that is not finished yet; return all runs by name.

    ``stacking`` groups the runs into stacks (:mod:`depthlab.grid.stacking`: ``auto``,
    ``always`` or ``never``); a group (a stack, or one run) is the unit of work.
    ``local``: with ``workers > 1`` groups go to that many processes, each with
    ``threads`` threads (None: its share of the cores, :func:`depthlab.threads.share`);
    they end with this process however it ends (:func:`_die_with_parent`), and one that
    dies is one line; with one worker, here, on ``threads`` (None: as this process is set).
    ``ray``: one Ray task per group asking for ``threads`` CPUs (None:
    :data:`RAY_CPUS_PER_RUN`) and training on as many threads, on the cluster at
    ``address`` (None: a Ray instance started here with ``workers`` CPUs). ``progress``: bars
    counting the grid's updates (:class:`~depthlab.grid.progress.GridProgress`).
    """
    backend = check_backend(backend, address)
    threads = check_threads(threads, local=backend is not Backend.RAY)
    stacking = Stacking.parse(stacking)
    root = Path(root).resolve()  # a Ray worker elsewhere writes to the same absolute paths
    paths = check_specs(specs, root)
    todo = plan_stacks([s for s in specs if run_state(paths[s.name]) != "finished"], stacking, workers)
    bars = GridProgress(todo, paths, planned_updates(specs) if progress else {}, workers, enabled=progress)

    def done(statuses: list[tuple[str, str, int | None]]) -> None:
        stopped = [signum for _, status, signum in statuses if status == "interrupted"]
        if stopped:  # a signal reached the runs: stop as it says, keep what is done
            raise Stopped(stopped[0]) if stopped[0] else KeyboardInterrupt
        bars.finished([name for name, _, _ in statuses])

    try:
        bars.start()
        if backend is Backend.RAY:
            _run_on_ray(todo, paths, workers, address, stacking, done, threads or RAY_CPUS_PER_RUN)
        elif workers <= 1:
            for group in todo:
                done(_execute(group, paths, threads, stacking))
        else:
            threads = threads or share(workers)
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                     initializer=_die_with_parent, initargs=(os.getpid(),)) as pool:
                # At most one group per worker is handed over at a time: a Ctrl-C then leaves no
                # queued run that a worker would start and train to the end.
                queue = iter(todo)

                def submit(group: list[RunSpec]) -> Future:
                    return pool.submit(_execute_in_worker, group, paths, threads, stacking, os.getpid())

                running = {submit(group) for group in islice(queue, workers)}
                try:
                    while running:
                        finished, running = wait(running, timeout=WORKER_CHECK_SECONDS, return_when=FIRST_COMPLETED)
                        if not finished and any(worker.exitcode is not None for worker in _workers(pool)):
                            raise BrokenProcessPool  # the pool did not see it (a worker spawned as it waited)
                        for future in finished:
                            done(future.result())
                            running |= {submit(group) for group in islice(queue, 1)}
                except BrokenProcessPool:
                    for worker in _workers(pool):  # SIGTERM: the others checkpoint and stop, their runs resume
                        worker.terminate()  # (one that has just ended, or the pool ended, is passed over)
                    raise DepthlabError("a worker process of the sweep ended abruptly (killed, or out of memory): "
                                        "run the same command again to resume its runs") from None
                except KeyboardInterrupt as stop:
                    if isinstance(stop, Stopped) and stop.signum != signal.SIGINT:
                        for worker in multiprocessing.active_children():  # Ctrl-C reaches them from the terminal
                            os.kill(worker.pid, stop.signum)
                    pool.shutdown(wait=True, cancel_futures=True)  # running runs checkpoint and stop
                    raise
    finally:
        bars.close()
    return {name: RunDir(path) for name, path in paths.items()}


WORKER_CHECK_SECONDS = 1.0
"""How often a local sweep checks that each of its worker processes lives. The pool's
own watch misses a worker that dies when it was started while the watch was waiting
(CPython's ProcessPoolExecutor spawns a worker after waking its watch), and would then
wait for ever on the others."""


def _workers(pool: ProcessPoolExecutor) -> list[multiprocessing.Process]:
    """The pool's worker processes (a private attribute of the executor; none if it moved)."""
    return list((getattr(pool, "_processes", None) or {}).values())


def _run_on_ray(todo: Sequence[list[RunSpec]], paths: dict[str, Path], workers: int, address: str | None,
                stacking: Stacking, done, cpus: int) -> None:
    """Every group a Ray task; a Ctrl-C cancels them (a started run stops at its last
    checkpoint, as when a cluster stops: the next sweep resumes it)."""
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        try:
            with _environment(RAY_CONNECT_TRIES if address else {}):
                ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                         log_to_driver=False, logging_level="ERROR")
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise _unreached(address, error) from None
    task = ray.remote(_execute)
    pending = {}
    try:
        for group in todo:
            gpus = 1 if group[0].config.device.startswith("cuda") else 0
            ref = task.options(num_cpus=cpus, num_gpus=gpus, name=group[0].name).remote(group, paths, cpus, stacking)
            pending[ref] = group[0].name
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            name = pending.pop(ready[0])
            done(_ray_result(ray, ready[0], name))
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref)
        raise
    finally:
        if started_here:
            ray.shutdown()


def _unreached(address: str | None, error: Exception) -> DepthlabError:
    """The one line for a Ray cluster ``ray.init`` could not join: its first line, or, when
    the cluster asked for a token (Ray's token authentication) this process lacks, that."""
    chain = [error]
    while chain[-1].__cause__ or chain[-1].__context__:
        chain.append(chain[-1].__cause__ or chain[-1].__context__)
    if any("AuthenticationError" in str(e) or "InvalidAuthToken" in str(e) for e in chain):
        reason = ("it asks for an authentication token this process does not give: set RAY_AUTH_MODE and the token "
                  "(RAY_AUTH_TOKEN or ~/.ray/auth_token) as on the cluster")
    else:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return DepthlabError(f"cannot reach the Ray cluster at {address or 'a local instance'}: {reason}")


RAY_CONNECT_TRIES = {"RAY_gcs_server_port_wait_time_s": "1"}
"""Ray's own tries at a cluster's address (about 40 s each when something that is not Ray
answers there; Ray's default is 20): a live head answers the first."""


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    """Environment variables set to ``values`` (where not set already) for the block."""
    added = {key: value for key, value in values.items() if key not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def _ray_result(ray, ref, name: str) -> list[tuple[str, str, int | None]]:
    """A finished task's [(name, status, signal)] (``name``: its group's first run); its failure
    as one line: the run's own error (a bad data file, say) as locally, a lost worker or
    node as a run to resume."""
    from ray.exceptions import RayError, RayTaskError

    try:
        return ray.get(ref)
    except RayTaskError as error:
        cause = error.cause if isinstance(getattr(error, "cause", None), Exception) else error
        if isinstance(cause, DepthlabError):
            raise cause from None
        raise DepthlabError(f"run {name} failed on Ray: {str(cause).strip().splitlines()[-1]}") from None
    except RayError as error:
        raise DepthlabError(f"the Ray cluster lost run {name} ({type(error).__name__}): run the same command again "
                            "to resume it") from None


def check_specs(specs: Sequence[RunSpec], root: Path) -> dict[str, Path]:
    """Each spec's run directory under ``root/runs``; refuse to reuse a stored run made
    under another configuration (another budget written to the same folder, say): its
    numbers would be reported as this spec's. Writes nothing."""
    paths = {spec.name: Path(root) / "runs" / spec.name for spec in specs}
    for spec in specs:
        changed = changed_settings(RunDir(paths[spec.name]), spec.config)
        if changed:
            raise DepthlabError(f"{paths[spec.name]} holds a run made with other settings ({', '.join(changed)}); "
                                "write this study to another --out, or remove that folder")
    return paths
