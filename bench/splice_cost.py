"""The cost of one subscriber write, by copy (send) or by reference (the socket sink's
fan-out: tee and splice), with 100 Unix socket pairs and a reader process draining them.

    python bench/splice_cost.py [--sizes 2048,4096,8192,16384,32768,65536] [--rounds 300]

Per size and way: the writing process's CPU (utime+stime) over `rounds` batches to 100
sockets, divided by the writes; the ways alternate, size by size. Every wait is bounded.
"""

from __future__ import annotations

import argparse
import os
import resource
import selectors
import signal
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from aggregator.sinks.fanout import Fanout, close_target

N = 100


def reader(socks: list[socket.socket], need: int, max_seconds: float) -> None:
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    total, deadline = 0, time.monotonic() + max_seconds
    while total < need and time.monotonic() < deadline:
        for key, _ in sel.select(1.0):
            data = key.fileobj.recv(1 << 20)  # type: ignore[union-attr]
            if not data:
                os._exit(1)
            total += len(data)
    os._exit(0 if total == need else 2)


class Target:
    def __init__(self, sock: socket.socket, fan: Fanout) -> None:
        self.sock, self.splice_to = sock, fan.target(sock.fileno())

    def write(self, data: bytes) -> None:  # what a socket did not take: blocking, as a buffer
        self.sock.setblocking(True)
        self.sock.sendall(data)
        self.sock.setblocking(False)


def one(size: int, rounds: int, way: str, max_seconds: float) -> float:
    pairs = [socket.socketpair() for _ in range(N)]
    pid = os.fork()
    if pid == 0:
        for a, _ in pairs:
            a.close()
        reader([b for _, b in pairs], N * size * rounds, max_seconds)
    for _, b in pairs:
        b.close()
    fan = Fanout.open()
    assert fan is not None, "fan-out by reference is not available here"
    targets = [Target(a, fan) for a, _ in pairs]
    for a, _ in pairs:
        a.setblocking(way == "copy")
    data = os.urandom(size)
    signal.alarm(int(max_seconds) + 5)  # bounded, whatever happens
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(rounds):
        if way == "copy":
            for a, _ in pairs:
                a.sendall(data)
        else:
            fan.send(data, targets)
        time.sleep(0.001)  # batches, not one stream
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    _, status = os.waitpid(pid, 0)
    signal.alarm(0)
    for t in targets:
        close_target(t.splice_to)
    for a, _ in pairs:
        a.close()
    fan.close()
    assert os.waitstatus_to_exitcode(status) == 0, "the reader did not get every byte"
    cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
    return cpu / (rounds * N) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="2048,4096,8192,16384,32768,65536")
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--max-seconds", type=float, default=60.0)
    a = ap.parse_args()
    print("| batch bytes | copy: us per subscriber write | by reference |")
    print("|---|---|---|")
    for size in map(int, a.sizes.split(",")):
        copy = one(size, a.rounds, "copy", a.max_seconds)
        ref = one(size, a.rounds, "splice", a.max_seconds)
        print(f"| {size:,} | {copy:.1f} | {ref:.1f} |", flush=True)


if __name__ == "__main__":
    main()
