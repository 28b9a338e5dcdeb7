"""Loopback ports for servers that tests start as separate processes.

A port taken with ``bind(0)`` and released comes from the kernel's ephemeral range, which
is also where every outgoing connection gets its local port. Between the release and the
child's own ``bind``, a connection (a nats-server route dialling its peers, a client of an
earlier test) can take it, and the child exits with "address already in use". Ports below
the ephemeral range are never handed out by the kernel on its own, so a port chosen there,
checked free and never given out twice in this process, stays free for the child.

Under pytest-xdist every worker is a process of its own, each with its own record of the
ports it gave: two workers checking the same free port would both take it. So the range
is cut into one slice per worker (PYTEST_XDIST_WORKER, "gw0"... of
PYTEST_XDIST_WORKER_COUNT), and a worker gives ports only from its slice.
"""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

_given: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _slice(low: int, high: int) -> tuple[int, int]:
    """This process's part of [low, high): all of it, or its xdist worker's share."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    if not (worker.startswith("gw") and worker[2:].isdigit() and count.isdigit()):
        return low, high
    index, workers = int(worker[2:]), max(int(count), 1)
    size = (high - low) // workers
    return low + index * size, low + (index + 1) * size


_LOW, _HIGH = _slice(10_000, _ephemeral_low())  # _HIGH exclusive
_next = random.Random().randrange(_LOW, _HIGH) if _HIGH - _LOW > 1000 else 0


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A free loopback TCP port outside the ephemeral range, not given out before."""
    global _next
    if not _next:  # no room below the ephemeral range on this machine: the kernel's choice
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])
    for _ in range(_HIGH - _LOW):
        port, _next = _next, _next + 1 if _next + 1 < _HIGH else _LOW
        if port not in _given and _bindable(port):
            _given.add(port)
            return port
    raise RuntimeError(f"no free loopback port in {_LOW}-{_HIGH - 1}")
