"""An exclusive lock on a run directory, held for the life of a run.

Two runs writing one run directory (a requeued batch job started while the old one still
runs, a second terminal) would evaluate the same points twice and interleave their
journal records. :func:`botorch_joint.optimize` therefore takes an exclusive
``fcntl.flock`` on ``run_dir/run.lock`` before it reads or writes anything there, and
holds it until it returns. The lock belongs to the open file, so the operating system
releases it when the process ends, however it ends (``SIGKILL`` included): a stale lock
file never blocks a resume. While a run holds the lock, the file names it (host, pid,
start time), and a second run is refused with that in its message.

``flock`` works on local file systems and on NFS (Linux emulates it with NFS byte-range
locks). On a file system that has no locks (some Lustre mounts) the run goes on with a
warning: then keep to one run per directory yourself.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import socket
import time
import warnings
from pathlib import Path
from typing import Any

from botorch_joint.errors import UsageError

LOCK_FILE = "run.lock"

__all__ = ["LOCK_FILE", "RunDirectoryLockedError", "RunLock"]


class RunDirectoryLockedError(UsageError, RuntimeError):
    """Another run holds the run directory; the message names it (host, pid, start)."""


#: descriptors of locks held by this process, closed in forked children so that a
#: child (a fork-started worker pool) never keeps the lock alive after the run ends
_HELD: set[int] = set()


def _close_in_child() -> None:
    for fd in list(_HELD):
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_in_child)


def _describe(info: dict[str, Any]) -> str:
    parts = [f"pid {info.get('pid', '?')} on host {info.get('host', '?')}"]
    if info.get("started"):
        parts.append(f"started {info['started']}")
    if info.get("attempt"):
        parts.append(f"run attempt {info['attempt']}")
    return ", ".join(parts)


def _holder(fd: int) -> str:
    """Who holds the lock, from the file's content (the holder writes it just after locking)."""
    for _ in range(20):
        with contextlib.suppress(OSError, ValueError):
            text = os.pread(fd, 65536, 0).decode()
            if text.strip():
                return _describe(json.loads(text))
        time.sleep(0.05)
    return "another process (it has not written its details yet)"


class RunLock:
    """An exclusive lock on ``run_dir`` (see the module docstring).

    Use :meth:`acquire`; :meth:`release` (or the end of the process) gives it back.

    Attributes:
        path: the lock file.
        info: what the holder wrote into it (host, pid, start time, attempt).
    """

    def __init__(self, path: Path, fd: int | None, info: dict[str, Any]) -> None:
        self.path = path
        self._fd = fd
        self.info = info

    @classmethod
    def acquire(cls, run_dir: str | os.PathLike, attempt: str = "") -> RunLock:
        """Lock ``run_dir`` (created if missing) for this process.

        Args:
            run_dir: the run directory.
            attempt: an id of this run attempt, written into the lock file.

        Raises:
            RunDirectoryLockedError: another process holds the lock.
        """
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / LOCK_FILE
        info = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "attempt": attempt,
        }
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            warnings.warn(
                f"cannot lock {run_dir} on this platform: make sure no other run uses it",
                stacklevel=3,
            )
            return cls(path, None, info)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise RunDirectoryLockedError(
                f"{run_dir} is in use by another run: {holder} (lock file {path}). Two runs "
                "in one directory would evaluate the same points twice and mix their "
                "records. Wait for that run to end or stop it (the lock goes with its "
                "process, even after a kill), or give this run another run_dir"
            ) from None
        except OSError as exc:  # a file system without locks
            os.close(fd)
            warnings.warn(
                f"cannot lock {run_dir} ({exc}): this file system does not support "
                "flock; make sure no other run uses the directory",
                stacklevel=3,
            )
            return cls(path, None, info)
        _HELD.add(fd)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
        except OSError:
            pass  # the lock holds without the note; a refused run just cannot name us
        return cls(path, fd, info)

    def release(self) -> None:
        """Give the lock back (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        _HELD.discard(fd)
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # no stale note for the next reader
        os.close(fd)  # closing the last descriptor releases the flock

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"RunLock({str(self.path)!r}, {_describe(self.info)})"
