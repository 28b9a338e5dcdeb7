"""Helpers shared by bench/fanout.py and bench/scale.py: child processes with JSON-line
events, /proc counters, the machine, percentiles and a Markdown table.

(A copy of the few helpers of bench/run.py these scripts need, so they do not depend on
that file's internals.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import signal
import statistics
from pathlib import Path
from typing import Any

CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (fields 14 and 15 of /proc/<pid>/stat), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def thread_cpu(pid: int) -> dict[int, float]:
    """utime + stime of each thread of a process (/proc/<pid>/task/<tid>/stat), in seconds."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):  # the thread ended meanwhile
            continue
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / CLK
    return out


def cpu_split(pid: int) -> tuple[float, float]:
    """(utime, stime) of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK, int(fields[12]) / CLK


def status_mb(pid: int, key: str) -> float:
    """A kB line of /proc/<pid>/status (VmHWM, VmRSS, ...) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError):
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split(":", 1)[1].strip()
    load = ""
    with contextlib.suppress(OSError):
        load = Path("/proc/loadavg").read_text().strip()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "mem_total": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_at_start": load,
    }


def pct(sorted_values: list[float], p: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]


def median(values: list[Any]) -> float | None:
    vals = [v for v in values if isinstance(v, int | float)]
    return statistics.median(vals) if vals else None


def table(cols: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c)
              for i, c in enumerate(cols)]  # fmt: skip

    def line(r: list[str]) -> str:
        return "| " + " | ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)) + " |"

    return "\n".join(
        [line(cols), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows]
    )


def fmt(v: Any, digits: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return str(v)


class Child:
    """A subprocess with JSON-line events on stdout, a pipe on stdin, stderr to a file."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, log: Path) -> None:
        self.name, self.proc, self.log = name, proc, log

    @classmethod
    async def start(cls, name: str, args: list[str], log: Path, env: dict | None = None,
                    cwd: Path | None = None) -> Child:  # fmt: skip
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=open(log, "wb"),  # noqa: SIM115 - the child owns it
            env={**os.environ, **(env or {})},
            cwd=cwd,
            limit=1 << 24,
        )
        return cls(name, proc, log)

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def event(self, name: str, timeout: float) -> dict:
        async with asyncio.timeout(timeout):
            while True:
                line = await self.proc.stdout.readline()  # type: ignore[union-attr]
                if not line:
                    raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
                with contextlib.suppress(ValueError):
                    ev = json.loads(line)
                    if ev.get("event") == "error":
                        raise RuntimeError(f"{self.name}: {ev}")
                    if ev.get("event") == name:
                        return ev

    def send(self, line: str) -> None:
        with contextlib.suppress(Exception):
            self.proc.stdin.write(line.encode() + b"\n")  # type: ignore[union-attr]

    async def stop(self, sig: int | None = signal.SIGTERM, timeout: float = 15.0) -> int:
        with contextlib.suppress(Exception):
            self.proc.stdin.close()  # type: ignore[union-attr]
        if sig is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)
        try:
            async with asyncio.timeout(timeout):
                return await self.proc.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            return await self.proc.wait()


UNIFIED = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "DOGE/USDT"]


def daemon_config(root: Path, exchanges: list[str]) -> Path:
    """The daemon's config in root: its state, the files and Unix socket sinks, then these
    lines of [exchanges.*] sections."""
    lines = [
        "[daemon]",
        f'state_dir = "{root / "state"}"',
        "shutdown_grace = 10.0",
        "[files]",
        f'dir = "{root / "data"}"',
        "[socket]",
        f'path = "{root / "agg.sock"}"',
        *exchanges,
    ]
    cfg = root / "aggregator.toml"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def write_config(root: Path, info: dict) -> Path:
    """The daemon's config: Binance on the replay server, the files and Unix socket sinks."""
    http = info["http_url"]
    return daemon_config(
        root,
        [
            "[exchanges.binance]",
            'mode = "ws"',
            f"symbols = {json.dumps(UNIFIED)}",
            f'ws_url = "{info["ws_url"]}"',
            f'rest_url = "{http}"',
            f'markets_url = "{http}/api/v3/exchangeInfo"',
            "stale_after = 60.0",
            "fallback = false",
        ],
    )
