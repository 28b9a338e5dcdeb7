"""Who owns a Unix socket path: a lock beside it, held for the daemon's life.

A daemon takes ``<path>.lock`` (``flock``, exclusive) before it binds the path and keeps it
until it has removed its socket. A socket file is stale only if its lock can be taken: a
daemon that has bound but not yet listened refuses connections, and a check by connecting
alone would take it for dead and unlink its socket. The kernel releases the lock of a
process that dies however it dies, so the socket a SIGKILLed daemon leaves is taken over.
A daemon of an older version holds no lock: with the lock taken, a socket that accepts a
connection is still refused as live. A path that is not a socket is never removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import socket
import stat
from pathlib import Path

from ..errors import AggregatorError

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 1.0  # seconds a connection to a socket may take before it counts as live
LOCK_TRIES = 3  # a lock file replaced while we lock it is locked again, this many times


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def _in_use(path: Path) -> AggregatorError:
    return AggregatorError(f"socket {str(path)!r} is in use by a running daemon")


def take_lock(path: Path) -> int:
    """Lock ``<path>.lock`` (created if missing) for the socket ``path``: its descriptor.
    A lock another process holds means a live daemon owns the path."""
    lock = lock_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise AggregatorError(f"cannot use socket path {str(path)!r}: {e.strerror}") from None
    for _ in range(LOCK_TRIES):
        try:
            # read-only: flock needs no more, and a file left by another user stays usable
            fd = os.open(lock, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        except OSError as e:
            raise AggregatorError(f"cannot open lock {str(lock)!r}: {e.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise _in_use(path) from None
            raise AggregatorError(f"cannot lock {str(lock)!r}: {e.strerror}") from None
        # the daemon before us removes its lock file as it stops: if it did while we opened
        # it, we hold a lock on a file no one else will see; lock the one there now
        with contextlib.suppress(FileNotFoundError):
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                return fd
        os.close(fd)
    raise AggregatorError(f"cannot lock {str(lock)!r}: it keeps being replaced")


def release_lock(path: Path, fd: int) -> None:
    """Remove the lock file (while still holding it: no one can lock it meanwhile), then
    let the lock go."""
    with contextlib.suppress(OSError):
        if os.stat(lock_path(path)).st_ino == os.fstat(fd).st_ino:
            os.unlink(lock_path(path))
    os.close(fd)


async def claim(path: Path) -> int:
    """Make ``path`` ours to bind: take its lock, then remove a stale socket there.
    Returns the lock's descriptor (``release_lock`` it once the socket is removed);
    AggregatorError if a live daemon owns the path or it is not a socket."""
    fd = take_lock(path)
    try:
        await _remove_stale(path)
    except BaseException:
        release_lock(path, fd)
        raise
    return fd


async def _remove_stale(path: Path) -> None:
    """With the lock held: remove the socket a dead daemon left (one of an older version,
    holding no lock, that still accepts connections is live)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise AggregatorError(f"cannot use socket path {str(path)!r}: {e.strerror}") from None
    if not stat.S_ISSOCK(st.st_mode):
        raise AggregatorError(f"{str(path)!r} exists and is not a socket; not replacing it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            await asyncio.get_running_loop().sock_connect(probe, str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        log.warning("removing stale socket %s", path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return
    except TimeoutError:
        pass  # it exists and accepts slowly: someone is there
    except OSError as e:
        raise AggregatorError(f"cannot check socket {str(path)!r}: {e.strerror}") from None
    finally:
        probe.close()
    raise _in_use(path)
