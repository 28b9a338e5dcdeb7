"""Loopback ports for servers that tests start as separate processes.

A port taken with ``bind(0)`` and released comes from the kernel's ephemeral range, which
is also where every outgoing connection gets its local port. Between the release and the
child's own ``bind``, a connection (a nats-server route dialling its peers, a client of an
earlier test) can take it, and the child exits with "address already in use". Ports below
the ephemeral range are never handed out by the kernel on its own, so a port chosen there,
checked free and never given out twice in this process, stays free for the child.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_given: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_LOW = 10_000
_HIGH = _ephemeral_low()  # exclusive
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
