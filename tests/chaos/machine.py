"""Helpers for the machine-side faults: the daemon on a disk of its own, its log read as it
runs, a socket subscriber that keeps what it saw, /metrics scraped, records counted.

The daemon is run as in tests/test_daemon.py (its config, `spawn`, `data_lines`); a disk
fault needs a file system the test may fill and remount, which `Machine` gets from a private
mount namespace (see jig.py): a user namespace where the kernel allows one, else root's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gzip
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from aggregator.sim import VenueSim
from tests.test_daemon import Proc, spawn, wait_for

from .daemon import Sections, chaos_config

JIG = Path(__file__).with_name("jig.py")
RSS_LIMIT_MB = 200.0  # the daemon's peak RSS in any scenario (it runs at about 40-50 MB)


# --- config ---------------------------------------------------------------------------------


def machine_config(
    root: Path,
    sims: dict[str, VenueSim],
    *,
    files: dict[str, Any] | None = None,
    metrics: bool = False,
    **extra: str,
) -> Path:
    """tests/test_daemon.py's config, with [files] keys set and /metrics on a free port."""
    sections: Sections = {"files": [f"{k} = {json.dumps(v)}" for k, v in (files or {}).items()]}
    if metrics:
        sections["metrics"] = ['listen = "127.0.0.1:0"']
    return chaos_config(root, sims, sections, **extra)


# --- the daemon's log, read while it runs --------------------------------------------------


class LogPump:
    """Reads a process's stderr as it comes (a long run never fills the pipe)."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.data = bytearray()
        self._task = asyncio.create_task(self._pump(stream))

    async def _pump(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self.data += chunk

    def text(self) -> str:
        return self.data.decode(errors="replace")

    async def line(self, pattern: str, timeout: float = 15.0) -> re.Match[str]:
        """The first match of ``pattern`` in the log, waiting for it."""
        rx = re.compile(pattern)
        async with asyncio.timeout(timeout):
            while (m := rx.search(self.text())) is None:
                if self._task.done():
                    raise AssertionError(f"log ended without {pattern!r}:\n{self.text()}")
                await asyncio.sleep(0.02)
        return m

    async def finish(self, timeout: float = 5.0) -> str:
        async with asyncio.timeout(timeout):
            await self._task
        return self.text()


# --- daemons ---------------------------------------------------------------------------


class Daemon:
    """A daemon started by `spawn` (tests/test_daemon.py), its log pumped."""

    def __init__(self, proc: Proc, config: Path) -> None:
        self.proc = proc
        self.config = config
        assert proc.proc.stderr is not None
        self.log = LogPump(proc.proc.stderr)

    @property
    def pid(self) -> int:
        return self.proc.proc.pid

    def signal(self, sig: int) -> None:
        self.proc.proc.send_signal(sig)

    async def wait(self, timeout: float = 15.0) -> int:
        async with asyncio.timeout(timeout):
            rc = await self.proc.proc.wait()
        self.proc.stderr = (await self.log.finish()).encode()
        return rc

    async def kill(self) -> None:
        if self.proc.proc.returncode is None:
            self.proc.proc.kill()
        await self.wait()


async def start(root: Path, config: Path) -> Daemon:
    """Run the daemon on ``config``; return once its socket accepts connections."""
    proc = await spawn("run", "-c", str(config), cwd=root)
    d = Daemon(proc, config)
    try:
        await wait_for(lambda: accepts(root / "agg.sock") or proc.proc.returncode is not None)
    except TimeoutError:
        await d.kill()
        raise AssertionError(f"daemon did not start:\n{d.log.text()}") from None
    if proc.proc.returncode is not None:
        await d.wait()
        raise AssertionError(f"daemon exited at start:\n{d.log.text()}")
    return d


def accepts(path: Path) -> bool:
    """The Unix socket at ``path`` accepts a connection."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()


@functools.cache
def namespace_command() -> list[str]:
    """How to get a private mount namespace here, or a failure saying why there is none."""
    if shutil.which("unshare") is None:
        pytest.fail("machine faults need `unshare` (util-linux) to mount a private tmpfs")
    tried = []
    candidates = [["unshare", "--user", "--map-root-user", "--mount"]]
    if os.geteuid() == 0:
        candidates.append(["unshare", "--mount"])
    for cmd in candidates:
        r = subprocess.run([*cmd, "true"], capture_output=True, text=True, timeout=10)
        if r.returncode == 0:
            return cmd
        tried.append(f"`{' '.join(cmd)}`: {r.stderr.strip() or r.returncode}")
    pytest.fail(
        "machine faults need a private tmpfs, but no mount namespace is allowed here: "
        + "; ".join(tried)
        + " (enable unprivileged user namespaces, or run as root)"
    )


class Machine:
    """The daemon in a private mount namespace, its data directory a tmpfs of ``size`` bytes."""

    def __init__(self, proc: asyncio.subprocess.Process, root: Path) -> None:
        self.jig = proc
        self.root = root
        assert proc.stderr is not None
        self.log = LogPump(proc.stderr)
        self.pid = 0
        self.rc: int | None = None

    @classmethod
    async def start(cls, root: Path, config: Path, size: int) -> Machine:
        daemon = [sys.executable, "-m", "aggregator", "run", "-c", str(config)]
        proc = await asyncio.create_subprocess_exec(
            *namespace_command(),
            sys.executable,
            str(JIG),
            "--data",
            str(root / "data"),
            "--size",
            str(size),
            "--",
            *daemon,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=root,
        )
        m = cls(proc, root)
        try:
            first = await m._read()
            if "pid" not in first:
                raise AssertionError(f"the jig failed: {first}\n{m.log.text()}")
            m.pid = first["pid"]
            await wait_for(lambda: accepts(root / "agg.sock") or m.jig.returncode is not None)
            if m.jig.returncode is not None or not accepts(root / "agg.sock"):
                raise AssertionError(f"daemon did not start:\n{m.log.text()}")
        except BaseException:
            await m.close()
            raise
        return m

    async def _read(self) -> dict[str, Any]:
        assert self.jig.stdout is not None
        async with asyncio.timeout(30):
            line = await self.jig.stdout.readline()
        if not line:
            raise AssertionError(f"the jig exited:\n{self.log.text()}")
        return json.loads(line)

    async def ask(self, op: str, **args: Any) -> dict[str, Any]:
        assert self.jig.stdin is not None
        self.jig.stdin.write(json.dumps({"op": op, **args}).encode() + b"\n")
        await self.jig.stdin.drain()
        answer = await self._read()
        if "error" in answer:
            raise AssertionError(f"{op}: {answer['error']}\n{self.log.text()[-3000:]}")
        return answer

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    async def wait(self, timeout: float = 15.0) -> int:
        self.rc = (await self.ask("wait", timeout=timeout))["rc"]
        return self.rc

    async def close(self) -> None:
        """End the jig (which kills the daemon if it still runs) and read the rest of the log."""
        if self.jig.stdin is not None and not self.jig.stdin.is_closing():
            self.jig.stdin.close()
        try:
            async with asyncio.timeout(15):
                await self.jig.wait()
        except TimeoutError:
            self.jig.kill()
            await self.jig.wait()
        with contextlib.suppress(TimeoutError):
            await self.log.finish()


# --- a socket subscriber ---------------------------------------------------------------------


@dataclass
class Seen:
    """One record as a subscriber got it."""

    at: float  # monotonic arrival
    type: str
    exchange: str
    seq: int
    ts_recv: int
    state: str | None = None
    detail: str | None = None


@dataclass
class Subscriber:
    """Receives everything from the daemon's socket and counts it; keeps every record it saw
    (``keep``) or only the status records; ``till_eof`` tells when the daemon closed the
    connection."""

    path: Path
    keep: bool = True
    seen: list[Seen] = field(default_factory=list)
    count: int = 0
    last_line: bytes = b""
    arrivals: list[float] = field(default_factory=list)  # monotonic, one per 100 records
    till_eof: asyncio.Task[None] | None = None

    async def start(self) -> Subscriber:
        reader, self._writer = await asyncio.open_unix_connection(str(self.path), limit=1 << 20)
        self.till_eof = asyncio.create_task(self._read(reader))
        return self

    async def _read(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError):
            while line := await reader.readline():
                self.count += 1
                self.last_line = line
                now = time.monotonic()
                if self.count % 100 == 0:
                    self.arrivals.append(now)
                if self.keep or line.startswith(b'{"type":"status"'):
                    r = json.loads(line)
                    if r["type"] in ("ticker", "status"):
                        self.seen.append(
                            Seen(
                                now,
                                r["type"],
                                r["exchange"],
                                r["seq"],
                                r["ts_recv"],
                                r.get("state"),
                                r.get("detail"),
                            )
                        )

    def rate(self, t0: float, t1: float) -> float:
        """Records per second received between two monotonic times."""
        n = sum(1 for t in self.arrivals if t0 <= t < t1) * 100
        return n / (t1 - t0) if t1 > t0 else 0.0

    def statuses(self, exchange: str) -> list[Seen]:
        return [s for s in self.seen if s.type == "status" and s.exchange == exchange]

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()
        if self.till_eof is not None:
            self.till_eof.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.till_eof


# --- /metrics --------------------------------------------------------------------------


async def metrics_port(log: LogPump) -> int:
    return int((await log.line(r"metrics on http://127\.0\.0\.1:(\d+)/metrics"))[1])


async def http_get(port: int, path: str) -> tuple[str, str]:
    """(status line, body) of GET ``path`` on the daemon's metrics port."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        async with asyncio.timeout(5):
            body = (await reader.read()).decode()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    head, _, text = body.partition("\r\n\r\n")
    return head.split("\r\n", 1)[0], text


async def scrape(port: int, prefixes: tuple[str, ...] = ("",)) -> dict[str, float]:
    """/metrics as {"name{labels}": value}, the names starting with one of ``prefixes``."""
    head, text = await http_get(port, "/metrics")
    assert head.startswith(("HTTP/1.1 200", "HTTP/1.0 200")), head
    out = {}
    for line in text.splitlines():
        if line.startswith(prefixes) and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


class Sampler:
    """Scrapes /metrics every ``every`` seconds in the background; keeps every sample of the
    metrics named with one of ``prefixes``."""

    def __init__(self, port: int, prefixes: tuple[str, ...], every: float = 0.2) -> None:
        self.port = port
        self.prefixes = prefixes
        self.samples: list[tuple[float, dict[str, float]]] = []
        self._task = asyncio.create_task(self._run(every))

    async def _run(self, every: float) -> None:
        while True:
            with contextlib.suppress(OSError, AssertionError, TimeoutError):
                self.samples.append((time.monotonic(), await scrape(self.port, self.prefixes)))
            await asyncio.sleep(every)

    def peak(self, name: str, since: float = 0.0) -> float:
        return max((m.get(name, 0.0) for t, m in self.samples if t >= since), default=0.0)

    def last(self, name: str) -> float:
        return self.samples[-1][1].get(name, 0.0) if self.samples else 0.0

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


# --- counting ----------------------------------------------------------------------------


def whole_lines(data_dir: Path) -> int:
    """Newline-terminated lines in every data file (what a kill left, before any repair)."""
    n = 0
    for f in data_dir.rglob("*.jsonl*"):
        raw = gzip.decompress(f.read_bytes()) if f.suffix == ".gz" else f.read_bytes()
        n += raw.count(b"\n")
    return n


def data_bytes(data_dir: Path) -> int:
    return sum(f.stat().st_size for f in data_dir.rglob("*.jsonl"))


def contiguous(seqs: list[int]) -> bool:
    """Every number from the first to the last, once."""
    s = sorted(seqs)
    return s == list(range(s[0], s[0] + len(s))) if s else True


def no_traceback(log: str) -> None:
    assert "Traceback" not in log, log[-5000:]


def lines_matching(log: str, pred: Callable[[str], bool]) -> list[str]:
    return [x for x in log.splitlines() if pred(x)]


async def sleep_until(t: float) -> None:
    await asyncio.sleep(max(0.0, t - time.monotonic()))


def sigterm(target: Daemon | Machine) -> float:
    """Send SIGTERM; return when (monotonic)."""
    target.signal(signal.SIGTERM)
    return time.monotonic()
