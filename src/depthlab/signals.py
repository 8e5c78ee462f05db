"""Stopping on a signal: Ctrl-C (SIGINT), SIGTERM (what schedulers, ``timeout`` and Ray
send) and SIGHUP (a closed terminal) are one thing, a request to stop.

Inside the training loop (:func:`stop_requests`) a first signal asks every run to stop
after its current update (it checkpoints and is marked interrupted); a second Ctrl-C
stops at once. Elsewhere (:func:`interrupts`) each one stops at once, as Python's own Ctrl-C
does. Either way the process exits with 128 + the signal's number (130, 143, 129). A
signal the process was started ignoring (``nohup``'s SIGHUP) stays ignored.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def exit_code(signum: int) -> int:
    """The shell's exit status of a process a signal stopped: 128 + its number."""
    return 128 + signum


def stopped_exit_code(interrupt: KeyboardInterrupt) -> int:
    """The exit status for ``interrupt``: its signal's (:class:`Stopped`), else Ctrl-C's."""
    return exit_code(interrupt.signum if isinstance(interrupt, Stopped) else signal.SIGINT)


class Stopped(KeyboardInterrupt):
    """A stop at once on the signal ``signum`` (a KeyboardInterrupt, so whatever cleans
    up after Ctrl-C cleans up after it too)."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return exit_code(self.signum)


class StopRequest:
    """Whether a signal asked the loop to stop, and which (``signum``, None: none)."""

    def __init__(self) -> None:
        self.signum: int | None = None

    @property
    def requested(self) -> bool:
        return self.signum is not None


def _raise(signum, frame):
    raise Stopped(signum)


@contextmanager
def _handling(handler) -> Iterator[None]:
    """``handler`` for every stop signal not ignored, in the main thread (signals reach
    no other); the previous handlers afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    for signum, before in previous.items():
        if before is not signal.SIG_IGN:
            signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, before in previous.items():
            if before is not signal.SIG_IGN:
                signal.signal(signum, before if before is not None else signal.SIG_DFL)


@contextmanager
def interrupts() -> Iterator[None]:
    """Every stop signal raises :class:`Stopped` at once (SIGTERM and SIGHUP as Ctrl-C)."""
    with _handling(_raise):
        yield


@contextmanager
def stop_requests() -> Iterator[StopRequest]:
    """A first stop signal asks the loop to stop (the request's ``signum`` says which);
    a second Ctrl-C raises :class:`Stopped` at once. A repeated SIGTERM or SIGHUP changes
    nothing: the run is stopping already (a scheduler may send it to every process of a
    job, and a sweep passes it on to its workers)."""
    stop = StopRequest()

    def request(signum, frame):
        if stop.requested and signum == signal.SIGINT:
            raise Stopped(signum)
        stop.signum = stop.signum or signum

    with _handling(request):
        yield stop
