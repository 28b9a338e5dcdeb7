"""Fan-out: the daemon's cost of 1, 10, 100 socket subscribers.

    python bench/fanout.py [--subs 1,10,100] [--runs 3] [--mode rate] [--rate 2000,10000,20000]
                           [--duration 10] [--count 200000] [--out bench/fanout.json]

Per run and N: bench/replay_server.py (plain ws://, Binance, 5 markets) feeds the real daemon
(a subprocess, `python -m aggregator run -c cfg`, files and Unix socket sinks on);
--sub-procs subscriber processes (this script, --role subscriber; default 2, one per vCPU
here) open N connections in all to the daemon's Unix socket with asyncio and only count, per
connection, newline-terminated lines, ticker records and `conflated` notices (byte counting,
no JSON parsing), so N subscribers cost them little.

  rate   --rate frames/s for --duration s (default 20,000/s for 10 s; a comma list of rates
         runs each, interleaved)
  flood  --count frames as fast as the daemon reads

Measured per run: daemon CPU (utime+stime, /proc/<pid>/stat) from just before the server's
first frame to 1.2 s after the subscribers saw their last line (one files.flush_interval, so
the last file write is in), divided by the frames sent: us/frame; the same over the window's
wall time: % of one core; ticker records delivered per connection (min / median), conflation
notices (sum over connections) and connections that got one; the daemon's peak RSS (VmHWM);
the subscriber processes' own CPU (summed). Ratio = CPU(N) / CPU(1) of the same run r,
median over runs. N values are interleaved (run r of every N, in a rotated order, before run
r+1) and the figures are medians over runs. Every wait is bounded (--max-seconds). Writes
bench/fanout.json and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from benchlib import (  # noqa: E402
    UNIFIED,
    Child,
    cpu_seconds,
    cpu_split,
    fmt,
    machine,
    median,
    status_mb,
    table,
    write_config,
)

PY = sys.executable
TICKER = b'"type":"ticker"'
CONFLATED = b'"event":"conflated"'


# --- the subscriber process ------------------------------------------------------------------


class Counter(asyncio.Protocol):
    """One connection: counts lines, ticker records and conflated notices in the raw bytes."""

    def __init__(self, shared: dict[str, float]) -> None:
        self.shared = shared
        self.lines = self.tickers = self.conflated = self.bytes = 0
        self.t_first = self.t_last = 0
        self.tail = b""
        self.closed = False

    def data_received(self, data: bytes) -> None:
        now = time.time_ns()
        self.bytes += len(data)
        self.lines += data.count(b"\n")
        # a token split over two reads is counted once: in the seam of the last read's tail
        # and this one's head (the tokens are longer than any of their overlaps)
        tail, head = self.tail, data[: len(CONFLATED) - 1]
        seam = tail + head
        self.tickers += (
            data.count(TICKER) + seam.count(TICKER) - tail.count(TICKER) - head.count(TICKER)
        )
        self.conflated += (
            data.count(CONFLATED) + seam.count(CONFLATED) - tail.count(CONFLATED)
            - head.count(CONFLATED)
        )  # fmt: skip
        self.tail = (
            (tail + data)[-(len(CONFLATED) - 1) :]
            if len(data) < len(CONFLATED)
            else data[-(len(CONFLATED) - 1) :]
        )
        if not self.t_first:
            self.t_first = now
        self.t_last = now
        self.shared["last"] = time.monotonic()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True


async def subscriber(a: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    shared: dict[str, float] = {"last": 0.0}
    conns: list[tuple[asyncio.BaseTransport, Counter]] = []
    async with asyncio.timeout(30):
        while len(conns) < a.n:  # the socket appears when the daemon listens
            try:
                conns.append(await loop.create_unix_connection(lambda: Counter(shared), a.socket))
            except (FileNotFoundError, ConnectionRefusedError):
                await asyncio.sleep(0.05)
    print(json.dumps({"event": "connected", "n": len(conns)}), flush=True)
    counters = [c for _, c in conns]
    deadline = time.monotonic() + a.max_seconds
    while time.monotonic() < deadline:  # bounded: --max-seconds
        await asyncio.sleep(0.05)
        if all(c.tickers >= a.count for c in counters):
            break
        if shared["last"] and time.monotonic() - shared["last"] > a.idle:
            break  # silence after data: what a conflated subscriber sees at the end
        if all(c.closed for c in counters):
            break
    per = [
        {"tickers": c.tickers, "lines": c.lines, "conflated": c.conflated, "bytes": c.bytes,
         "t_first_ns": c.t_first, "t_last_ns": c.t_last, "closed": c.closed}
        for c in counters
    ]  # fmt: skip
    print(json.dumps({"event": "done", "per_conn": per}), flush=True)
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(a.max_seconds):
            await stdin.read()
    for t, _ in conns:
        t.close()


# --- the driver ------------------------------------------------------------------------------


async def one_run(tmp: Path, n: int, rate: float, a: argparse.Namespace) -> dict[str, Any]:
    frames = a.count if a.mode == "flood" else int(rate * a.duration)
    server = await Child.start(
        "server",
        [PY, str(HERE / "replay_server.py"), "--mode", a.mode,
         "--count", str(a.count), "--rate", str(rate), "--duration", str(a.duration),
         "--max-seconds", str(a.max_seconds + 60)],
        tmp / "server.log",
    )  # fmt: skip
    daemon = None
    subs: list[Child] = []
    try:
        info = await server.event("listening", 60)
        cfg = write_config(tmp, info)
        daemon = await Child.start("daemon", [PY, "-m", "aggregator", "run", "-c", str(cfg)],
                                   tmp / "daemon.log", cwd=REPO)  # fmt: skip
        procs = max(1, min(a.sub_procs, n))
        for i in range(procs):  # the n connections, spread over the processes
            k = n // procs + (1 if i < n % procs else 0)
            subs.append(await Child.start(
                f"subscriber{i}",
                [PY, str(Path(__file__).resolve()), "--role", "subscriber", str(tmp / "agg.sock"),
                 "--n", str(k), "--count", str(frames), "--max-seconds", str(a.max_seconds)],
                tmp / f"subscriber{i}.log",
            ))  # fmt: skip
        for sub in subs:
            await sub.event("connected", 60)
        await server.event("subscribed", 60)
        await asyncio.sleep(0.5)  # the daemon settles (status records, markets cache)
        u0, k0 = cpu_split(daemon.pid)
        d0, t0 = cpu_seconds(daemon.pid), time.monotonic()
        s0 = sum(cpu_seconds(sub.pid) for sub in subs)
        server.send("go")
        sent = await server.event("done", a.max_seconds)
        dones = [await sub.event("done", a.max_seconds + 10) for sub in subs]
        await asyncio.sleep(1.2)  # one files.flush_interval: the last file write is counted
        d1, t1 = cpu_seconds(daemon.pid), time.monotonic()
        s1 = sum(cpu_seconds(sub.pid) for sub in subs)
        u1, k1 = cpu_split(daemon.pid)
        hwm, rss = status_mb(daemon.pid, "VmHWM"), status_mb(daemon.pid, "VmRSS")
        sub_hwm = max(status_mb(sub.pid, "VmHWM") for sub in subs)
    finally:
        rc = await daemon.stop(signal.SIGTERM, 30) if daemon else None
        for sub in subs:
            await sub.stop()
        server.send("stop")
        await server.stop()
    per = [c for done in dones for c in done["per_conn"]]
    tickers = sorted(c["tickers"] for c in per)
    log = (tmp / "daemon.log").read_text(errors="replace")
    published = [x for x in log.splitlines() if "published=" in x]
    wall = t1 - t0
    return {
        "subscribers": n,
        "connected": len(per),
        "frames_sent": sent["sent"],
        "send_secs": round(sent["secs"], 3),
        "rate": rate if a.mode == "rate" else None,
        "daemon_cpu_s": round(d1 - d0, 3),
        "daemon_utime_s": round(u1 - u0, 3),
        "daemon_stime_s": round(k1 - k0, 3),
        "window_s": round(wall, 3),
        "cpu_us_per_frame": round((d1 - d0) * 1e6 / max(sent["sent"], 1), 2),
        "cpu_pct_of_core": round(100 * (d1 - d0) / wall, 1),
        "delivered_min": tickers[0] if tickers else 0,
        "delivered_median": statistics.median(tickers) if tickers else 0,
        "delivered_max": tickers[-1] if tickers else 0,
        "complete_conns": sum(1 for x in tickers if x >= sent["sent"]),
        "conflated_notices": sum(c["conflated"] for c in per),
        "conflated_conns": sum(1 for c in per if c["conflated"]),
        "closed_conns": sum(1 for c in per if c["closed"]),
        "last_read_after_first_send_s": round(
            (max(c["t_last_ns"] for c in per) - sent["t_first_ns"]) / 1e9, 3
        )
        if per
        else None,
        "daemon_peak_rss_mb": round(hwm, 1),
        "daemon_rss_end_mb": round(rss, 1),
        "sub_procs": len(subs),
        "sub_cpu_us_per_frame": round((s1 - s0) * 1e6 / max(sent["sent"], 1), 2),
        "sub_peak_rss_mb": round(sub_hwm, 1),
        "daemon_exit_code": rc,
        "daemon_counts": published[-1].split("published=", 1)[1] if published else None,
    }


KEYS = ("cpu_us_per_frame", "daemon_utime_s", "daemon_stime_s", "cpu_pct_of_core",
        "delivered_min", "delivered_median",
        "conflated_notices", "conflated_conns", "daemon_peak_rss_mb", "daemon_rss_end_mb",
        "sub_cpu_us_per_frame", "frames_sent", "complete_conns")  # fmt: skip


async def amain(a: argparse.Namespace) -> dict[str, Any]:
    subs = [int(x) for x in a.subs.split(",") if x]
    rates = [float(x) for x in a.rate.split(",") if x] if a.mode == "rate" else [0.0]
    cases = [(rate, n) for rate in rates for n in subs]
    raw: dict[tuple[float, int], list[dict]] = {c: [] for c in cases}
    for r in range(a.runs):
        order = cases[r % len(cases) :] + cases[: r % len(cases)]  # rotated: no fixed position
        for rate, n in order:
            tmp = Path(tempfile.mkdtemp(prefix=f"fan{n}-", dir="/tmp"))
            t = time.monotonic()
            try:
                async with asyncio.timeout(a.max_seconds * 2 + 180):
                    res = await one_run(tmp, n, rate, a)
            except Exception as e:
                res = {"subscribers": n, "rate": rate, "error": repr(e)[:500], "dir": str(tmp)}
            res["run"] = r + 1
            raw[(rate, n)].append(res)
            print(f"run {r + 1}/{a.runs} rate={rate:g} N={n:<4} {time.monotonic() - t:5.1f}s "
                  f"{json.dumps(res)}", file=sys.stderr, flush=True)  # fmt: skip
            if "error" not in res and not a.keep:
                shutil.rmtree(tmp, ignore_errors=True)
    base = min(subs)
    summary: list[dict] = []
    for rate, n in cases:
        ok = [x for x in raw[(rate, n)] if "error" not in x]
        s: dict[str, Any] = {"rate": rate if a.mode == "rate" else None, "subscribers": n,
                             "runs_ok": len(ok), "runs": len(raw[(rate, n)])}  # fmt: skip
        for k in KEYS:
            s[k] = median([x.get(k) for x in ok])
        ratios = []
        for x in ok:  # CPU(N) / CPU(base) of the same run r and rate
            b = next((y for y in raw[(rate, base)] if y["run"] == x["run"] and "error" not in y),
                     None)  # fmt: skip
            if b and b["daemon_cpu_s"] > 0:
                ratios.append(x["daemon_cpu_s"] / b["daemon_cpu_s"])
        s["cpu_ratio_vs_base"] = round(statistics.median(ratios), 2) if ratios else None
        s["cpu_ratio_per_run"] = [round(x, 2) for x in ratios]
        summary.append(s)
    return {
        "machine": machine(),
        "settings": {
            "runs": a.runs,
            "subscribers": subs,
            "mode": a.mode,
            "rates": rates,
            "duration_s": a.duration,
            "flood_frames": a.count,
            "subscriber_processes": a.sub_procs,
            "symbols": UNIFIED,
            "transport": "plain ws://",
            "ratio_base": base,
        },
        "summary": summary,
        "raw": [x for c in cases for x in raw[c]],
    }


def render(results: dict) -> str:
    cols = ["frames/s", "subs", "runs ok", "daemon cpu us/frame", "cpu % of core",
            "CPU(N)/CPU(1)", "delivered/sub min", "delivered/sub median", "frames sent",
            "conflation notices", "conflated subs", "daemon peak RSS MB",
            "sub cpu us/frame"]  # fmt: skip
    rows = []
    for s in results["summary"]:
        rows.append([fmt(s["rate"], 0) if s["rate"] else "flood", str(s["subscribers"]),
                     f"{s['runs_ok']}/{s['runs']}", fmt(s["cpu_us_per_frame"]),
                     fmt(s["cpu_pct_of_core"], 1), fmt(s["cpu_ratio_vs_base"]),
                     fmt(s["delivered_min"], 0), fmt(s["delivered_median"], 0),
                     fmt(s["frames_sent"], 0), fmt(s["conflated_notices"], 0),
                     fmt(s["conflated_conns"], 0), fmt(s["daemon_peak_rss_mb"], 1),
                     fmt(s["sub_cpu_us_per_frame"])])  # fmt: skip
    return table(cols, rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--subs", default="1,10,100", help="subscriber counts (the first smallest "
                    "is the ratio's base)")  # fmt: skip
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mode", choices=["rate", "flood"], default="rate")
    ap.add_argument("--rate", default="20000", help="rate: frames/s; a comma list runs each "
                    "(e.g. 2000,20000)")  # fmt: skip
    ap.add_argument("--duration", type=float, default=10.0, help="rate: seconds")
    ap.add_argument("--count", type=int, default=200_000, help="flood: frames")
    ap.add_argument("--sub-procs", type=int, default=2,
                    help="subscriber processes the connections are spread over")  # fmt: skip
    ap.add_argument("--max-seconds", type=float, default=120.0, help="bound on each wait")
    ap.add_argument("--out", default=str(HERE / "fanout.json"))
    ap.add_argument("--keep", action="store_true", help="keep each run's temporary directory")
    # internal: the subscriber process
    ap.add_argument("--role", choices=["driver", "subscriber"], default="driver",
                    help=argparse.SUPPRESS)  # fmt: skip
    ap.add_argument("socket", nargs="?", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--idle", type=float, default=3.0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.role == "subscriber":
        try:
            import uvloop

            uvloop.run(subscriber(a))
        except ImportError:
            asyncio.run(subscriber(a))
        return
    results = asyncio.run(amain(a))
    Path(a.out).write_text(json.dumps(results, indent=1) + "\n")
    print(render(results))
    print(f"\nwritten: {a.out}")


if __name__ == "__main__":
    main()
