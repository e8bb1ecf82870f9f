"""One writer per project folder: an exclusive ``flock`` on ``folder/lock``.

flock belongs to the open file: the kernel drops it when the holder closes the file or dies
(SIGKILL, power loss), so a dead writer's lock is free again without any staleness heuristics. The
holder's pid, host and start time are written into the file only so that a refused opener can be
told who holds it. A second open in the same process opens the file again and is refused the
same way. A child made by fork() (multiprocessing workers) shares the open file and with it the
lock, so the child closes its copy at once (os.register_at_fork): a worker outliving its parent's
release() must not keep the project locked. flock is advisory and, on some network file
systems, local to one host.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import socket
import stat
import weakref
from pathlib import Path

from .errors import ValidationError

__all__ = ["ProjectLock"]

_MAX_HOLDER_BYTES = 4096
_HELD: weakref.WeakSet[ProjectLock] = weakref.WeakSet()


def _drop_in_forked_child() -> None:
    for lock in list(_HELD):
        lock._fd, fd = None, lock._fd
        if fd is not None:
            os.close(fd)  # the parent's copy keeps the flock


os.register_at_fork(after_in_child=_drop_in_forked_child)


class ProjectLock:
    """``with ProjectLock(folder):`` keeps every other writer out of the project folder."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / "lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> ProjectLock:
        """Take the lock or raise ValidationError naming the process that holds it."""
        if self._fd is not None:
            return self
        try:
            # O_CLOEXEC: a child process (a video decoder, a notebook kernel's subprocess) must not
            # inherit the fd, or it would keep the project locked after we closed it
            # O_NOFOLLOW: a folder from someone else may hold a link named "lock" to a file of yours
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        except OSError as e:
            raise ValidationError(f"project {self.folder}: cannot open {self.path} ({e.strerror})") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ValidationError(f"project {self.folder}: {self.path} is not a regular file")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe_holder(fd)
            os.close(fd)
            raise ValidationError(
                f"project {self.folder} is open for writing by {holder}; "
                "open it with readonly=True, or close it there"
            ) from None
        except OSError as e:
            os.close(fd)
            raise ValidationError(f"project {self.folder}: cannot lock {self.path} ({e.strerror})") from None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode() + b"\n", 0)
        except OSError:
            pass  # the lock is what keeps writers out; the holder note is only for messages
        self._fd = fd
        _HELD.add(self)
        return self

    def release(self) -> None:
        """Give the lock up (closing the file drops the flock)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            _HELD.discard(self)
            os.close(fd)

    def __enter__(self) -> ProjectLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()


def _describe_holder(fd: int) -> str:
    """'pid 1234 on host x since ...' from the lock file, which nobody vouches for."""
    try:
        raw = os.pread(fd, _MAX_HOLDER_BYTES, 0)
        info = json.loads(raw.decode("utf-8"))
        pid, host, since = info["pid"], info["host"], info["since"]
        if type(pid) is not int or not isinstance(host, str) or not isinstance(since, str):
            raise TypeError
    except (OSError, ValueError, TypeError, KeyError):
        # the holder has not written its note yet, or the file holds something else
        return "another process (holder not recorded)"
    return f"pid {pid} on host {host[:100]} since {since[:40]}"
