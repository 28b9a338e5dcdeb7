"""The daemon under chaos: started as a process against simulated venues, measured, stopped.

A scenario starts VenueSims and the daemon (`python -m aggregator run`) with the file and
socket sinks, injects its fault for a window, and stops the daemon with SIGTERM. What it
measures comes from the records on disk (each record's ts_recv, the daemon's clock), from
the daemon's own report (`{"op":"status"}` on its socket) and from /proc.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import resource
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aggregator.sim import VenueSim
from aggregator.venues import VENUES

from ..test_daemon import (
    Proc,
    connect_socket,
    data_lines,
    short_dir,
    spawn,
    wait_for,
    write_config,
)
from .conftest import peak_rss_mb

# Price updates per second over all of a simulated venue's markets; with the symbols of the
# daemon tests' config, each venue streams about 110 records/s: far from any limit of the
# machine, so a rate that falls is the fault's doing.
RATES = {"binance": 400.0, "kraken": 1000.0, "coinbaseexchange": 900.0}
RSS_BOUND_MB = 200.0  # the daemon's peak resident set under any fault
MIN_RATIO = 0.9  # others' record rate under a fault vs without

Sections = dict[str, list[str]]


def raise_open_files(want: int = 4096) -> int:
    """Raise this process's soft limit on open files (the daemon inherits it); the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return max(soft, target)


def chaos_config(root: Path, sims: dict[str, VenueSim], sections: Sections, **extra: str) -> Path:
    """The daemon tests' config (``extra`` as tests/test_daemon.py's write_config takes it),
    with the given lines at the top of their sections, replacing a key already there; a
    section the config lacks is added."""
    path = write_config(root / "aggregator.toml", root, sims, **extra)
    lines = path.read_text().splitlines()
    for section, added in sections.items():
        header = f"[{section}]"
        keys = {x.split("=", 1)[0].strip() for x in added}
        kept, current = [], None
        for x in lines:
            if x.startswith("["):
                current = x
            elif current == header and x.split("=", 1)[0].strip() in keys:
                continue  # replaced
            kept.append(x)
        if header not in kept:
            kept.append(header)
        at = kept.index(header) + 1
        lines = kept[:at] + added + kept[at:]
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Outcome:
    """What a stopped daemon left: its exit code, log, counts and records."""

    rc: int
    log: str
    published: int
    written: int
    dropped: int
    records: dict[str, list[dict[str, Any]]]
    peak_rss_mb: float

    @property
    def on_disk(self) -> int:
        return sum(len(v) for v in self.records.values())

    def check(self) -> None:
        """What must hold after any scenario: exit 0, every accepted record on disk, no
        traceback, memory bounded."""
        assert self.rc == 0, self.log[-3000:]
        assert "Traceback" not in self.log, self.log[-5000:]
        assert self.published == self.written == self.on_disk, (
            self.published,
            self.written,
            self.on_disk,
        )
        assert self.dropped == 0
        assert self.peak_rss_mb < RSS_BOUND_MB


EXIT_LINE = re.compile(r"published=(\d+) written=(\d+) dropped=(\d+)")


def exit_counts(log: str) -> tuple[int, int, int]:
    """published, written, dropped from the daemon's last line (`published=N written=N ...`)."""
    found = EXIT_LINE.findall(log)
    assert found, f"no exit counts in the log:\n{log[-3000:]}"
    published, written, dropped = map(int, found[-1])
    return published, written, dropped


@dataclass
class Daemon:
    """Simulated venues and the daemon reading them; ``start``, then ``stop``."""

    rates: dict[str, float]
    sections: Sections = field(default_factory=dict)
    root: Path = field(default_factory=short_dir)
    sims: dict[str, VenueSim] = field(default_factory=dict)
    proc: Proc | None = None
    _ctl: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = field(
        default=None, init=False, repr=False
    )

    @property
    def sock(self) -> Path:
        return self.root / "agg.sock"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.proc.pid

    async def start(self) -> Daemon:
        for i, (venue, rate) in enumerate(self.rates.items()):
            if venue not in self.sims:  # a scenario may bring its own (a replay, say)
                self.sims[venue] = VenueSim(venue, rate=rate, seed=i)
            await self.sims[venue].start()
        config = chaos_config(self.root, self.sims, self.sections)
        self.proc = await spawn("run", "-c", str(config), cwd=self.root)
        try:
            await wait_for(self.sock.exists)
            await self.until_live()
        except (TimeoutError, OSError):
            self.proc.proc.kill()
            await self.proc.wait()
            raise AssertionError(f"daemon did not start:\n{self.proc.log()}") from None
        return self

    async def status(self) -> dict[str, Any]:
        """The daemon's status report, asked on one connection kept for it (subscribed to
        nothing, so it counts as one quiet client throughout: a venue it does not run)."""
        if self._ctl is None:
            reader, writer = await connect_socket(self.sock)  # (bound before it listens)
            idle = next(v for v in VENUES if v not in self.rates)
            writer.write(b'{"op":"subscribe","exchanges":["%s"]}\n' % idle.encode())
            self._ctl = reader, writer
            await self._ctl_read("snapshot_end")
        self._ctl[1].write(b'{"op":"status"}\n')
        return await self._ctl_read("status_report")

    async def _ctl_read(self, kind: str) -> dict[str, Any]:
        assert self._ctl is not None
        async with asyncio.timeout(10):
            while True:
                line = await self._ctl[0].readline()
                assert line, "the daemon closed the status connection"
                msg = json.loads(line)
                if msg["type"] == kind:
                    return msg

    def _ctl_close(self) -> None:
        if self._ctl is not None:
            self._ctl[1].close()
            self._ctl = None

    async def venue(self, name: str) -> dict[str, Any]:
        report = await self.status()
        (v,) = [v for v in report["venues"] if v["exchange"] == name]
        return v

    async def until_live(self, timeout: float = 15.0) -> None:
        """Every venue has streamed a record."""
        async with asyncio.timeout(timeout):
            while True:
                report = await self.status()
                if all(v["records"] > 0 for v in report["venues"]):
                    return
                await asyncio.sleep(0.1)

    def reset_peak_rss(self) -> None:
        """Start measuring the peak resident set anew (Linux: clear_refs 5)."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    async def stop(self) -> Outcome:
        assert self.proc is not None
        peak = peak_rss_mb(self.pid)
        self._ctl_close()
        self.proc.proc.send_signal(signal.SIGTERM)
        rc = await self.proc.wait()
        for sim in self.sims.values():
            await sim.stop()
        log = self.proc.log()
        published, written, dropped = exit_counts(log)
        return Outcome(rc, log, published, written, dropped, data_lines(self.root / "data"), peak)

    async def kill(self) -> None:
        """After a failure: end the daemon and the venues, whatever their state."""
        self._ctl_close()
        if self.proc is not None and self.proc.proc.returncode is None:
            self.proc.proc.kill()
            with contextlib.suppress(Exception):
                await self.proc.wait()
        for sim in self.sims.values():
            with contextlib.suppress(Exception):
                await sim.stop()


# --- measures on the records ------------------------------------------------------------


def tickers(records: list[dict[str, Any]], t0: int = 0, t1: int | None = None) -> list[dict]:
    """The ticker records received (ts_recv) in [t0, t1)."""
    return [
        r
        for r in records
        if r["type"] == "ticker" and t0 <= r["ts_recv"] and (t1 is None or r["ts_recv"] < t1)
    ]


def rate(records: list[dict[str, Any]], t0: int, t1: int) -> float:
    """Tickers per second received in [t0, t1) (nanoseconds)."""
    return len(tickers(records, t0, t1)) / ((t1 - t0) / 1e9)


def statuses(records: list[dict[str, Any]], t0: int = 0, t1: int | None = None) -> list[dict]:
    return [
        r
        for r in records
        if r["type"] == "status" and t0 <= r["ts_recv"] and (t1 is None or r["ts_recv"] < t1)
    ]


def recovery(records: list[dict[str, Any]], cleared: int) -> float | None:
    """Seconds from ``cleared`` (ns) to the first ticker received after it."""
    after = tickers(records, cleared)
    return (after[0]["ts_recv"] - cleared) / 1e9 if after else None


def longest_gap(records: list[dict[str, Any]], t0: int, t1: int) -> float:
    """The longest time without a ticker in [t0, t1), in seconds."""
    times = [t0, *(r["ts_recv"] for r in tickers(records, t0, t1)), t1]
    return max(b - a for a, b in itertools.pairwise(times)) / 1e9
