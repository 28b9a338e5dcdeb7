"""Fan-out by reference: one batch's bytes to many sockets with one copy.

A subscriber's write costs the kernel a copy of the bytes into the socket. With many
subscribers of a busy stream that copy is most of the daemon's cost: 100 subscribers of
20,000 records/s are 620 MB/s of copies (bench/README.md, fan-out). Here a batch is written
once into a pipe, duplicated into each subscriber's own pipe by tee(2), which copies page
references, not bytes, and moved from there into its socket by splice(2) (the kernel's
Unix and TCP sockets take pipe pages as they are). The work is one C call per batch
(``splice_fanout``), with the GIL released.

It is used for a batch of at least SPLICE_MIN bytes that two or more subscribers take
whole, for each subscriber whose transport holds nothing unsent: what its socket does not
take is written through its transport, after the part that went, as any write would be.
Below that size the two extra system calls cost more than the copy they save.

``Fanout.open()`` checks that the kernel moves bytes this way (a socket pair gets a test
batch); if not, or without the compiled module, the socket sink writes as before.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import resource
import socket
from collections.abc import Sequence
from typing import Protocol

log = logging.getLogger(__name__)

SPLICE_MIN = 16_384  # bytes: a smaller batch is written the usual way (bench/README.md)
CHUNK = 65_536  # the compiled call's chunk: every pipe holds at least this much
_FLAGS = os.O_NONBLOCK | os.O_CLOEXEC

try:
    from ._splice import splice_fanout
except ImportError:  # (no compiler where it was installed: plain writes)
    splice_fanout = None


SpliceTo = tuple[int, int, int]  # (socket, pipe read end, pipe write end): what a send takes


class Target(Protocol):
    """A subscriber as the fan-out sees it."""

    splice_to: SpliceTo | tuple[()] | None  # made once, by Fanout.target

    def write(self, data: bytes) -> None:
        """Write through its transport."""


def _room_for_pipe() -> bool:
    """Whether two more descriptors leave half of the process's allowance free: subscribers'
    pipes must not take what files, venues and new subscribers need (outside systemd, whose
    unit raises it, the allowance is often 1,024)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return True
    try:
        used = len(os.listdir("/proc/self/fd"))
    except OSError:
        return False
    return used + 2 <= soft // 2


def _pipe() -> tuple[int, int] | None:
    """A non-blocking pipe that holds a chunk, or None."""
    if not _room_for_pipe():
        return None
    try:
        r, w = os.pipe2(_FLAGS)
    except OSError:
        return None  # (out of file descriptors, or pipe pages: plain writes)
    if fcntl.fcntl(w, fcntl.F_GETPIPE_SZ) < CHUNK:  # (a user over pipe-user-pages-soft)
        os.close(r)
        os.close(w)
        return None
    return r, w


class Fanout:
    """The source pipe and /dev/null, shared by every batch; pipes of subscribers."""

    def __init__(self, src: tuple[int, int], null: int) -> None:
        self.src = src
        self.null = null

    @classmethod
    def open(cls) -> Fanout | None:
        """A working fan-out, or None (said in the log at debug level, with why)."""
        if splice_fanout is None:
            log.debug("socket: fan-out by copy: the compiled module is not built")
            return None
        src = _pipe()
        if src is None:
            log.debug("socket: fan-out by copy: no pipe")
            return None
        fan = cls(src, os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC))
        why = fan._check()
        if why:
            log.debug("socket: fan-out by copy: %s", why)
            fan.close()
            return None
        return fan

    def _check(self) -> str | None:
        """Why a test batch does not arrive whole through two socket pairs, or None."""
        data = bytes(range(256)) * (CHUNK // 128 + 3)  # more than one chunk
        pairs = [socket.socketpair() for _ in range(2)]
        targets = [self.target(a.fileno()) for a, _ in pairs]
        try:
            if () in targets:
                return "no pipe"
            for a, b in pairs:
                a.setblocking(False)
                b.setblocking(False)
                a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, len(data) * 2)
            done = splice_fanout(data, *self.src, self.null, targets)
            got = []
            for _, b in pairs:
                chunks = []
                with contextlib.suppress(BlockingIOError):
                    while chunk := b.recv(len(data)):
                        chunks.append(chunk)
                got.append(b"".join(chunks))
            if done != [len(data)] * 2 or got != [data] * 2:
                return f"a test batch did not arrive whole ({done}, {list(map(len, got))})"
            return None
        except OSError as e:
            return f"splice: {e.strerror or e}"
        finally:
            for a, b in pairs:
                a.close()
                b.close()
            for t in targets:
                close_target(t)

    def target(self, fd: int) -> SpliceTo | tuple[()]:
        """What a send to socket ``fd`` takes: the socket with its own new pipe; () when no
        pipe can be made (the subscriber then gets plain writes, and is not asked again)."""
        p = _pipe() if fd >= 0 else None
        return (fd, *p) if p else ()

    def send(self, data: bytes, targets: Sequence[Target]) -> int:
        """``data`` to every target, each of which has a pipe and nothing unsent; what a
        socket did not take goes through its transport. Returns the targets that took all."""
        done = splice_fanout(data, *self.src, self.null, [t.splice_to for t in targets])
        n, whole = len(data), 0
        for t, d in zip(targets, done, strict=True):
            if d == n:
                whole += 1
            else:
                t.write(data[d:] if d else data)
        return whole

    def close(self) -> None:
        for fd in (*self.src, self.null):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.src, self.null = (-1, -1), -1


def close_target(target: SpliceTo | tuple[()] | None) -> None:
    """Close a target's pipe (its socket is its transport's)."""
    for fd in (target or ())[1:]:
        with contextlib.suppress(OSError):
            os.close(fd)
