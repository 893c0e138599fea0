"""The one-scheduler-per-machine lock: ``<data dir>/scheduler.lock``.

Only the process holding this lock runs schedules; the window and ``lhdesk scheduler run`` use the
same file and the same function, so there is one truth. The lock is an OS advisory lock on the open
file (``flock`` on POSIX, ``msvcrt.locking`` on Windows): the kernel releases it when the process
dies, even by SIGKILL, so a crashed scheduler never leaves a stale lock behind. The holder writes
its pid into the file so that a second process can say who runs the schedules.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

LOCK_FILENAME = "scheduler.lock"
# Windows locks byte ranges and a locked range cannot be read by others: lock a byte far past the
# pid text, so that `lock_owner_pid` can still read it.
_WIN_LOCK_OFFSET = 1 << 30


def lock_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / LOCK_FILENAME


def _try_lock(handle: IO[bytes]) -> bool:
    if sys.platform == "win32":
        import msvcrt

        handle.seek(_WIN_LOCK_OFFSET)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        finally:
            handle.seek(0)
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _unlock(handle: IO[bytes]) -> None:
    if sys.platform == "win32":
        import msvcrt

        handle.seek(_WIN_LOCK_OFFSET)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class SchedulerLock:
    """A held scheduler lock. Release it with :meth:`release` (or use it as a context manager)."""

    def __init__(self, path: Path, handle: IO[bytes]) -> None:
        self.path = path
        self._handle: IO[bytes] | None = handle

    @property
    def held(self) -> bool:
        return self._handle is not None

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is None:
            return
        try:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            _unlock(handle)
        finally:
            handle.close()
        log.debug("released scheduler lock %s", self.path)

    def __enter__(self) -> SchedulerLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire_lock(data_dir: Path | str) -> SchedulerLock | None:
    """Take the scheduler lock without waiting; None when another process (or handle) holds it."""
    path = lock_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    # "a+b" creates the file without truncating the pid a holder may have written.
    handle = open(path, "a+b")  # noqa: SIM115 - the handle lives as long as the lock
    if not _try_lock(handle):
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n".encode())
    handle.flush()
    os.fsync(handle.fileno())
    log.debug("took scheduler lock %s (pid %d)", path, os.getpid())
    return SchedulerLock(path, handle)


def lock_owner_pid(data_dir: Path | str) -> int | None:
    """The pid of the process that holds the scheduler lock, or None when nobody holds it.

    Returns None also when the holder has not written its pid yet (a window of microseconds).
    """
    path = lock_path(data_dir)
    try:
        handle = open(path, "a+b")  # noqa: SIM115 - closed below
    except OSError:
        return None
    try:
        if _try_lock(handle):
            _unlock(handle)
            return None
        handle.seek(0)
        text = handle.read(32).decode("ascii", "replace").strip()
    finally:
        handle.close()
    return int(text) if text.isdigit() else None
