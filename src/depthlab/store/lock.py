"""One writer per folder: an exclusive OS lock (``flock``) on a ``.lock`` file inside a
run directory or a study folder, held by the process writing it.

The operating system releases the lock when its process ends, however it ends, so a
killed run never blocks its folder: a stale ``.lock`` file is simply locked again. A
second process asking for a held folder gets one line naming the holder's pid.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from depthlab.errors import DepthlabError

LOCK = ".lock"
"""The lock file's name inside the folder it guards."""


class FolderLock:
    """An exclusive lock on ``folder``, held from :meth:`acquire` to :meth:`release` (or
    the end of the process). ``what`` names the folder in the refusal."""

    def __init__(self, folder: str | Path, what: str = "folder"):
        self.folder, self.what = Path(folder), what
        self._file = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def acquire(self) -> FolderLock:
        """Take the lock, or raise a one-line DepthlabError naming the process holding it."""
        if self.held:
            return self
        path = self.folder / LOCK
        file = open(path, "a+")  # noqa: SIM115 - kept open while the lock is held
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "unknown"
            file.close()
            raise DepthlabError(f"{self.what} {self.folder} is in use by process {holder} (another depthlab run "
                                "or study writing it); wait for it to end or choose another --out") from None
        file.seek(0)
        file.truncate()
        file.write(f"{os.getpid()}\n")
        file.flush()
        self._file = file
        return self

    def release(self) -> None:
        """Let go of the lock (the ``.lock`` file stays: the next holder reuses it)."""
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
