"""Scale: the daemon with all 42 venues configured, every market of each, against local venues.

    python bench/scale.py [--rates 2500,10000] [--runs 1] [--warmup 10] [--duration 30]
                          [--out bench/scale.json] [--keep]

Three processes besides this driver, all on 127.0.0.1:
  sims        (this script, --role sims) one aggregator.sim.VenueSim per venue that has a
              simulated dialect (24 streaming venues, and luno, polled over REST), and one
              HTTP server playing the recorded REST responses of the 17 venues that have no
              simulator (tests/rest_replay.py: static bodies, so those venues yield one record
              per market and then nothing new, since REST polling emits only changes);
  daemon      `python -m aggregator run -c cfg`: every venue of the registry, mode "ws" where
              it streams, else "rest", no `symbols` key (= every market the venue lists; the
              sims serve the markets snapshots shipped in aggregator/data/markets/), the files
              sink and the Unix socket on, every other key at its default;
  subscriber  (--role subscriber) one connection to the daemon's socket, reads every line.

Rate: --rates are aggregate price updates/s over all streaming sims, split evenly (each
VenueSim's `rate` = R / 24, round-robin over its markets; an update is one frame, Binance-like
venues add a 24 h ticker frame every 10th update).

Latency: the sims are a VenueSim subclass that writes the update's time into its bid size
(bid_size = (time_us mod 1e9) / 1000, so microseconds survive every dialect that renders sizes
with >= 3 decimals) at the moment the update is made, right before its frames are queued; the
subscriber reads bid_size back from the record: latency = subscriber read time - that stamp
(the sim's queue and send, the daemon, the socket). Venues whose dialect transforms the size
(a book level multiple) give implausible values and are listed apart (not in p50/p99). The
sim's own queueing (enqueue -> frame handed to aiohttp) is measured apart. Also reported:
ts_recv -> the subscriber's read, and ts_event (the venue's ms timestamp, where its frames
carry one) -> read. The daemon-internal delay (a frame's read to its line's write to the
socket) comes from the daemon's own histogram, aggregator_socket_delay_seconds on its
/metrics, scraped at the window's start and end: the bucket bounds that hold its p50 and
p99 (each record counted at its batch's oldest), with the cyclic collector's passes in the
window from the same scrapes.

Window: after --warmup s, CPU (utime+stime of the daemon, /proc/<pid>/stat), records read by
the subscriber, and latencies are taken over --duration s; RSS is VmHWM (peak) and VmRSS at
the window's end, and VmRSS again (with smaps_rollup) after the window with the sims paused
for QUIET_S, nothing in flight: what the daemon holds for its markets and connections.
--trace-memory adds bench/memtrace.py's report at that point (tracemalloc sites, Python's
and the C heap's figures); --symbols-per-connection sets how many markets a connection
carries, to split what the connections cost from what the markets do. Every wait is
bounded. Writes bench/scale.json and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(REPO))
from benchlib import (  # noqa: E402
    Child,
    cpu_seconds,
    cpu_split,
    daemon_config,
    fmt,
    machine,
    median,
    pct,
    status_mb,
    table,
)

PY = sys.executable
WRAP_US = 1_000_000_000  # the stamp wraps every 1000 s
PLAUSIBLE_US = (-2_000, 60_000_000)  # a stamp latency outside this is not a stamp
QUIET_S = 3.0  # after the window, the sims paused: what the daemon holds with nothing in flight


# --- the sims process ------------------------------------------------------------------------


def markets_bodies(n: int) -> dict[str, bytes]:
    """Every venue's markets answer: the shipped snapshot, grown to ``n`` markets (when n is
    more than it lists) for the venues a VenueSim plays."""
    from aggregator.adapters.registry import ADAPTERS
    from aggregator.sim.dialects import simulated
    from aggregator.symbols import snapshot_path

    from inflate import inflate

    sims = set(simulated())
    bodies = {v: snapshot_path(v).read_bytes() for v in sorted(ADAPTERS)}
    return {v: inflate(v, b, n) if n and v in sims else b for v, b in bodies.items()}


def venue_plan(bodies: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    """Every venue: its mode, whether a VenueSim plays it, and its market count."""
    from aggregator.adapters.registry import codec_class, modes
    from aggregator.sim.dialects import simulated

    sims = set(simulated())
    plan = {}
    for v, body in bodies.items():
        markets = codec_class(v).markets_from(body).markets
        plan[v] = {
            "mode": "ws" if "ws" in modes(v) else "rest",
            "server": "sim" if v in sims else "replay",
            "markets": len(markets),
        }
    return plan


async def sims_role(a: argparse.Namespace) -> None:
    from aggregator.sim import VenueSim

    class StampSim(VenueSim):
        """A VenueSim that stamps each update's time in its bid size and times its queue."""

        queue_delays: list[int]

        def _step(self, q: Any) -> None:
            super()._step(q)
            q.bid_size = (time.time_ns() // 1000 % WRAP_US) / 1000

        def _send(self, c: Any, frame: str | bytes) -> None:
            with contextlib.suppress(asyncio.QueueFull):
                c.queue.put_nowait((time.monotonic_ns(), frame))

        async def _sender(self, c: Any) -> None:
            delays = self.queue_delays
            with contextlib.suppress(ConnectionError, RuntimeError):
                while True:
                    t, frame = await c.queue.get()
                    if isinstance(frame, bytes):
                        await c.ws.send_bytes(frame)
                    else:
                        await c.ws.send_str(frame)
                    self.sent += 1
                    if len(delays) < 2_000_000:
                        delays.append(time.monotonic_ns() - t)

    from tests.rest_replay import RestReplay

    bodies = markets_bodies(a.markets)
    plan = venue_plan(bodies)
    streaming = [v for v, p in plan.items() if p["server"] == "sim" and p["mode"] == "ws"]
    per_venue = a.rate / max(len(streaming), 1)
    sims: dict[str, StampSim] = {}
    for v, p in plan.items():
        if p["server"] == "sim":
            # a REST-polled sim (luno) still moves its prices: a few updates/s
            rate = per_venue if p["mode"] == "ws" else 10.0
            sim = StampSim(v, rate=rate, seed=1, markets_body=bodies[v])
            sim.queue_delays = []
            sims[v] = sim
    replay = RestReplay([v for v, p in plan.items() if p["server"] == "replay"])
    for sim in sims.values():
        await sim.start()
    await replay.start()
    endpoints = {v: s.endpoints() for v, s in sims.items()}
    endpoints.update({v: replay.endpoints(v) for v in replay.venues})
    print(json.dumps({"event": "listening", "endpoints": endpoints, "plan": plan,
                      "rate_per_streaming_venue": per_venue}), flush=True)  # fmt: skip
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    try:
        async with asyncio.timeout(a.max_seconds):
            while line := await stdin.readline():
                cmd = line.decode().strip()
                if cmd == "stats":
                    print(json.dumps({"event": "stats", "t_ns": time.time_ns(),
                                      "sent": {v: s.sent for v, s in sims.items()},
                                      "requests": {v: s.requests for v, s in sims.items()},
                                      "connections": {v: s.connections for v, s in sims.items()},
                                      "replay_requests": {v: len(p.requests) for v, p in
                                                          replay.venues.items()}}),
                          flush=True)  # fmt: skip
                elif cmd == "mark":
                    for s in sims.values():
                        s.queue_delays.clear()
                elif cmd == "queue":
                    d = sorted(x for s in sims.values() for x in s.queue_delays)
                    print(json.dumps({"event": "queue", "n": len(d),
                                      "p50_us": (pct(d, 50) or 0) / 1000,
                                      "p99_us": (pct(d, 99) or 0) / 1000}), flush=True)  # fmt: skip
                elif cmd == "pause":
                    for s in sims.values():
                        s.rate = 0.0
                    print(json.dumps({"event": "paused"}), flush=True)
                elif cmd == "stop":
                    break
    except TimeoutError:
        pass
    for sim in sims.values():
        await sim.stop()
    await replay.stop()


# --- the subscriber process ------------------------------------------------------------------


async def subscriber_role(a: argparse.Namespace) -> None:
    import orjson

    async with asyncio.timeout(60):
        while True:  # the socket appears when the daemon listens
            try:
                reader, writer = await asyncio.open_unix_connection(a.socket, limit=1 << 22)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                await asyncio.sleep(0.1)
    print(json.dumps({"event": "connected"}), flush=True)
    loop = asyncio.get_running_loop()
    marks: list[int] = []
    stop = asyncio.Event()
    state: dict[str, Any] = {"status_report": None}

    async def control() -> None:
        stdin = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
        while line := await stdin.readline():
            cmd = line.decode().strip()
            if cmd == "mark":
                marks.append(time.time_ns())
                if len(marks) == 2:
                    writer.write(b'{"op":"status"}\n')
                print(json.dumps({"event": "marked", "n": len(marks)}), flush=True)
            elif cmd == "stop":
                break
        stop.set()

    ctl = asyncio.ensure_future(control())
    # per record read in the window: venue, stamp latency, ts_recv->read, ts_event->read
    per_venue: dict[str, dict[str, Any]] = {}
    subscribed: dict[str, int] = {}  # venue -> symbols, from "subscribed" status records
    states: dict[str, str] = {}
    conflated = total = 0
    buf = b""
    read: asyncio.Future[bytes] | None = None
    try:
        async with asyncio.timeout(a.max_seconds):
            while not stop.is_set():
                read = asyncio.ensure_future(reader.read(1 << 20))
                done, _ = await asyncio.wait({read, ctl}, return_when=asyncio.FIRST_COMPLETED)
                if read not in done:
                    break
                chunk = read.result()
                if not chunk:
                    break
                t = time.time_ns()
                in_window = len(marks) == 1
                lines = (buf + chunk).split(b"\n")
                buf = lines.pop()
                for line in lines:
                    total += 1
                    if b'"type":"ticker"' not in line:
                        if b'"event":"conflated"' in line:
                            conflated += 1
                            continue
                        r = orjson.loads(line)
                        if r.get("type") == "status":
                            states[r["exchange"]] = r["state"]
                            if r["state"] == "subscribed":
                                n = int((r.get("detail") or "0").split()[0])
                                key = f"{r['exchange']}#{r.get('conn')}"
                                subscribed[key] = n
                        elif r.get("type") == "status_report":
                            state["status_report"] = r
                        continue
                    if not in_window:
                        continue
                    r = orjson.loads(line)
                    v = per_venue.setdefault(
                        r["exchange"], {"n": 0, "stamp": [], "recv": [], "event": [],
                                        "symbols": set()}
                    )  # fmt: skip
                    v["n"] += 1
                    v["symbols"].add(r["symbol"])
                    bs = r.get("bid_size")
                    if bs is not None:
                        lat = (t // 1000 - round(bs * 1000)) % WRAP_US
                        if lat > WRAP_US // 2:
                            lat -= WRAP_US
                        v["stamp"].append(lat)
                    v["recv"].append((t - r["ts_recv"]) / 1000)
                    if r.get("ts_event"):
                        v["event"].append((t - r["ts_event"]) / 1000)
    except TimeoutError:
        pass
    if read is not None and not read.done():
        read.cancel()
        await asyncio.gather(read, return_exceptions=True)
    if len(marks) < 2:
        marks.append(time.time_ns())
    with contextlib.suppress(TimeoutError):  # the status report, asked at the second mark
        async with asyncio.timeout(3):
            while state["status_report"] is None:
                line = await reader.readline()
                if not line:
                    break
                if b'"status_report"' in line:
                    state["status_report"] = orjson.loads(line)
    window_s = (marks[1] - marks[0]) / 1e9 if len(marks) >= 2 else None
    out: dict[str, Any] = {"event": "done", "window_s": window_s, "lines": total,
                           "conflated_notices": conflated, "venues": {}}  # fmt: skip
    streaming = set(a.stream_venues.split(","))
    stamp_ok: list[float] = []
    recv_all: list[float] = []
    event_all: list[float] = []
    for venue, v in sorted(per_venue.items()):
        st = sorted(v["stamp"])
        ok = [x for x in st if PLAUSIBLE_US[0] <= x <= PLAUSIBLE_US[1]]
        plausible = len(ok) >= 0.99 * len(st) if st else False
        rc, ev = sorted(v["recv"]), sorted(v["event"])
        out["venues"][venue] = {
            "records": v["n"],
            "symbols_seen": len(v["symbols"]),
            "stamp_plausible": plausible,
            "stamp_p50_us": pct(ok, 50) if plausible else None,
            "stamp_p99_us": pct(ok, 99) if plausible else None,
            "recv_p50_us": pct(rc, 50),
            "event_p50_us": pct(ev, 50),
        }
        if plausible and venue in streaming:  # REST records carry the age of the last poll
            stamp_ok += ok
        recv_all += rc
        event_all += ev
    stamp_ok.sort()
    recv_all.sort()
    event_all.sort()
    out["latency"] = {
        "stamp_n": len(stamp_ok),
        "stamp_p50_us": pct(stamp_ok, 50),
        "stamp_p99_us": pct(stamp_ok, 99),
        "stamp_p999_us": pct(stamp_ok, 99.9),
        "recv_n": len(recv_all),
        "recv_p50_us": pct(recv_all, 50),
        "recv_p99_us": pct(recv_all, 99),
        "event_n": len(event_all),
        "event_p50_us": pct(event_all, 50),
        "event_p99_us": pct(event_all, 99),
    }
    out["subscribed_symbols"] = subscribed
    out["last_states"] = states
    rep = state["status_report"]
    if rep:
        out["status_report"] = {
            "healthy": rep.get("healthy"),
            "reasons": rep.get("reasons"),
            "published": rep.get("published"),
            "loop_lag": rep.get("loop_lag"),
            "venues": {
                x["exchange"]: {k: x.get(k) for k in ("mode", "state", "records", "rate",
                                                       "reconnects", "parse_errors")}
                for x in rep.get("venues", [])
            },
        }  # fmt: skip
    print(json.dumps(out), flush=True)
    ctl.cancel()
    writer.close()


# --- the driver ------------------------------------------------------------------------------


def write_config(
    root: Path, plan: dict, endpoints: dict, per_connection: int = 0, metrics: int = 0
) -> Path:
    lines = ["[metrics]", f'listen = "127.0.0.1:{metrics}"'] if metrics else []
    for v, p in plan.items():
        lines += [f"[exchanges.{v}]", f'mode = "{p["mode"]}"']  # no symbols: every market
        if per_connection and p["mode"] == "ws":
            lines.append(f"max_symbols_per_connection = {per_connection}")
        lines += [f'{k} = "{u}"' for k, u in endpoints[v].items()]
    return daemon_config(root, lines)


def pin(daemon: int, *others: int) -> None:
    """Every thread of the daemon on the last CPU, every thread of the others elsewhere."""
    cpus = sorted(os.sched_getaffinity(0))
    for pid, where in ((daemon, {cpus[-1]}), *((p, set(cpus[:-1])) for p in others)):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(int(tid), where)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def scrape(port: int) -> dict[tuple[str, tuple], float]:
    """The daemon's /metrics now: (name, labels) -> value."""
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as r:
        text = await r.text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def internal(m0: dict, m1: dict) -> dict[str, Any]:
    """Over the window, from the daemon's own metrics: the delay from a frame's read to its
    line's write to the subscriber (aggregator_socket_delay_seconds: the bucket bounds that
    hold the p50, p99 and p99.9, each record counted at its batch's oldest), and the cyclic
    collector's passes (how many, seconds in all, per generation)."""
    name = "aggregator_socket_delay_seconds_bucket"
    cum = sorted((float(dict(k[1])["le"]), m1[k] - m0.get(k, 0.0)) for k in m1 if k[0] == name)
    n = cum[-1][1] if cum else 0.0

    def q(x: float) -> float | None:
        return next((b * 1e3 for b, c in cum if c >= x * n), None) if n else None

    def gen(metric: str, g: int) -> float:
        k = (metric, (("generation", str(g)),))
        return round(m1.get(k, 0.0) - m0.get(k, 0.0), 4)

    return {
        "records": int(n),
        "p50_ms_at_most": q(0.5), "p99_ms_at_most": q(0.99), "p999_ms_at_most": q(0.999),
        "buckets_ms": [(b * 1e3, int(c)) for b, c in cum],
        "gc_passes": [gen("aggregator_gc_passes_total", g) for g in range(3)],
        "gc_seconds": [gen("aggregator_gc_pause_seconds_total", g) for g in range(3)],
    }  # fmt: skip


async def one_run(tmp: Path, rate: float, a: argparse.Namespace) -> dict[str, Any]:
    me = str(Path(__file__).resolve())
    bound = a.warmup + a.duration + a.max_seconds
    sims = await Child.start("sims", [PY, me, "--role", "sims", "--rate", str(rate),
                                      "--markets", str(a.markets),
                                      "--max-seconds", str(bound + 60)],
                             tmp / "sims.log", cwd=REPO)  # fmt: skip
    daemon = sub = None
    try:
        ready = await sims.event("listening", 60)
        plan, endpoints = ready["plan"], ready["endpoints"]
        port = free_port()
        cfg = write_config(tmp, plan, endpoints, a.symbols_per_connection, port)
        traced = tmp / "memtrace.json"
        run = ["run", "-c", str(cfg)]
        cmd = ([PY, str(HERE / "memtrace.py"), str(traced), *run] if a.trace_memory >= 0
               else [PY, "-m", "aggregator", *run])  # fmt: skip
        daemon = await Child.start("daemon", cmd, tmp / "daemon.log", cwd=REPO,
                                   env={"MEMTRACE_FRAMES": str(a.trace_memory)})  # fmt: skip
        ws_venues = ",".join(v for v, p in plan.items() if p["mode"] == "ws")
        sub = await Child.start(
            "subscriber",
            [PY, me, "--role", "subscriber", str(tmp / "agg.sock"), "--stream-venues", ws_venues,
             "--max-seconds", str(bound + 30)],
            tmp / "subscriber.log",
        )  # fmt: skip
        await sub.event("connected", 60)
        await asyncio.sleep(a.warmup)
        sims.send("stats")
        st0 = await sims.event("stats", 30)
        sims.send("mark")
        sub.send("mark")
        if a.pin:  # the daemon alone on the last CPU, the rest on the others
            pin(daemon.pid, sub.pid, sims.pid)
        m0 = await scrape(port)
        rss0 = status_mb(daemon.pid, "VmRSS")
        d0, u0, t0 = cpu_seconds(daemon.pid), cpu_split(daemon.pid), time.monotonic()
        w0 = time.time()
        s0 = cpu_seconds(sims.pid)
        await sub.event("marked", 10)
        spy = None
        if a.profile is not None:  # py-spy over the window, the daemon's native frames too
            spy = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).parent / "py-spy"), "record", "--native", "--rate", "250",
                "--format", "raw", "-o", str(a.profile), "-p", str(daemon.pid),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
        await asyncio.sleep(a.duration)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            await asyncio.wait_for(spy.wait(), 30)
        d1, u1, t1 = cpu_seconds(daemon.pid), cpu_split(daemon.pid), time.monotonic()
        w1 = time.time()
        s1 = cpu_seconds(sims.pid)
        hwm, rss = status_mb(daemon.pid, "VmHWM"), status_mb(daemon.pid, "VmRSS")
        m1 = await scrape(port)
        sub.send("mark")
        sims.send("stats")
        st1 = await sims.event("stats", 30)
        sims.send("queue")
        queue = await sims.event("queue", 30)
        # memory with nothing in flight: the sims pause, the daemon drains
        sims.send("pause")
        await sims.event("paused", 30)
        await asyncio.sleep(QUIET_S)
        rss_quiet, smaps = status_mb(daemon.pid, "VmRSS"), smaps_mb(daemon.pid)
        memtrace = await trace_of(daemon.pid, traced) if a.trace_memory >= 0 else None
        await sub.event("marked", 10)
        sub.send("stop")
        done = await sub.event("done", 60)
    finally:
        rc = await daemon.stop(signal.SIGTERM, 30) if daemon else None
        if sub:
            await sub.stop()
        sims.send("stop")
        await sims.stop(None, 30)
    wall = t1 - t0
    cpu = d1 - d0
    records = sum(v["records"] for v in done["venues"].values())
    sent = sum(st1["sent"].values()) - sum(st0["sent"].values())
    subscribed: dict[str, int] = {}
    for key, n in done["subscribed_symbols"].items():
        venue = key.split("#")[0]
        subscribed[venue] = subscribed.get(venue, 0) + n
    venues = {}
    for v, p in plan.items():
        seen = done["venues"].get(v, {})
        rep = (done.get("status_report") or {}).get("venues", {}).get(v, {})
        venues[v] = {
            **p,
            "subscribed_symbols": subscribed.get(v),
            "records_in_window": seen.get("records", 0),
            "symbols_seen_in_window": seen.get("symbols_seen", 0),
            "state_at_end": rep.get("state"),
            "records_total": rep.get("records"),
            "reconnects": rep.get("reconnects"),
            "parse_errors": rep.get("parse_errors"),
            "stamp_plausible": seen.get("stamp_plausible"),
            "stamp_p50_us": seen.get("stamp_p50_us"),
            "stamp_p99_us": seen.get("stamp_p99_us"),
        }
    log = (tmp / "daemon.log").read_text(errors="replace")
    published = [x for x in log.splitlines() if "published=" in x]
    return {
        "rate_updates_per_s": rate,
        "rate_per_streaming_venue": ready["rate_per_streaming_venue"],
        "window_s": round(wall, 3),
        "window_wall": [round(w0, 3), round(w1, 3)],  # (to set memtrace's collections against)
        "internal": internal(m0, m1),
        "frames_sent_by_sims": sent,
        "frames_sent_per_s": round(sent / wall, 1),
        "records_read": records,
        "records_per_s": round(records / wall, 1),
        "daemon_cpu_s": round(cpu, 3),
        "daemon_utime_s": round(u1[0] - u0[0], 3),
        "daemon_stime_s": round(u1[1] - u0[1], 3),
        "cpu_pct_of_core": round(100 * cpu / wall, 1),
        "cpu_us_per_record": round(cpu * 1e6 / max(records, 1), 2),
        "sims_cpu_pct_of_core": round(100 * (s1 - s0) / wall, 1),
        "daemon_peak_rss_mb": round(hwm, 1),
        "daemon_rss_end_mb": round(rss, 1),
        "daemon_rss_window_start_mb": round(rss0, 1),
        "daemon_rss_quiet_mb": round(rss_quiet, 1),
        "daemon_smaps_rollup_quiet_mb": smaps,
        "latency": done["latency"],
        "sim_queue": {k: queue[k] for k in ("n", "p50_us", "p99_us")},
        "conflated_notices": done["conflated_notices"],
        "venues_configured": len(plan),
        "venues_with_records_in_window": sum(1 for v in venues.values() if v["records_in_window"]),
        "symbols_configured": sum(p["markets"] for p in plan.values()),
        "stamp_implausible_venues": sorted(
            v for v, x in venues.items() if x["records_in_window"] and x["stamp_plausible"] is False
        ),
        "daemon_healthy": (done.get("status_report") or {}).get("healthy"),
        "daemon_reasons": (done.get("status_report") or {}).get("reasons"),
        "loop_lag": (done.get("status_report") or {}).get("loop_lag"),
        "daemon_exit_code": rc,
        "daemon_counts": published[-1].split("published=", 1)[1] if published else None,
        # the files sink's own lines, where any record was not written (what, and when)
        "files_log": [x for x in log.splitlines() if "files:" in x or "shutdown" in x][-20:]
        if published and "dropped=0" not in published[-1]
        else [],
        "venues": venues,
        **({"memtrace": memtrace} if memtrace else {}),
    }


def smaps_mb(pid: int) -> dict[str, float]:
    """The resident set split by kind (/proc/<pid>/smaps_rollup): Rss, Anonymous, ..., MiB."""
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "kB" and parts[1] != "0":
            out[parts[0].rstrip(":")] = round(int(parts[1]) / 1024, 1)
    return out


async def trace_of(pid: int, path: Path) -> dict[str, Any]:
    """The traced daemon's memory report (bench/memtrace.py), asked for by SIGUSR2."""
    os.kill(pid, signal.SIGUSR2)
    async with asyncio.timeout(120):
        while not path.exists():  # noqa: ASYNC110 - another process writes it: polled
            await asyncio.sleep(0.2)
    return json.loads(path.read_text())


SUMMARY = ("frames_sent_per_s", "records_per_s", "cpu_pct_of_core", "cpu_us_per_record",
           "sims_cpu_pct_of_core", "daemon_peak_rss_mb", "daemon_rss_end_mb",
           "daemon_rss_quiet_mb", "conflated_notices", "venues_with_records_in_window")  # fmt: skip
LAT = ("stamp_p50_us", "stamp_p99_us", "stamp_p999_us", "recv_p50_us", "recv_p99_us",
       "event_p50_us", "event_p99_us")  # fmt: skip


async def amain(a: argparse.Namespace) -> dict[str, Any]:
    rates = [float(x) for x in a.rates.split(",") if x]
    raw: dict[float, list[dict]] = {r: [] for r in rates}
    for r in range(a.runs):
        order = rates[r % len(rates) :] + rates[: r % len(rates)]
        for rate in order:
            tmp = Path(tempfile.mkdtemp(prefix="scale-", dir="/tmp"))
            t = time.monotonic()
            try:
                async with asyncio.timeout(a.warmup + a.duration + a.max_seconds + 180):
                    res = await one_run(tmp, rate, a)
            except Exception as e:
                res = {"rate_updates_per_s": rate, "error": repr(e)[:800], "dir": str(tmp)}
            res["run"] = r + 1
            raw[rate].append(res)
            brief = {k: v for k, v in res.items() if k != "venues"}
            print(f"run {r + 1}/{a.runs} rate={rate:g} {time.monotonic() - t:5.1f}s "
                  f"{json.dumps(brief)}", file=sys.stderr, flush=True)  # fmt: skip
            if "error" not in res and not a.keep:
                shutil.rmtree(tmp, ignore_errors=True)
    summary = []
    for rate in rates:
        ok = [x for x in raw[rate] if "error" not in x]
        s: dict[str, Any] = {"rate_updates_per_s": rate, "runs_ok": len(ok), "runs": a.runs}
        for k in SUMMARY:
            s[k] = median([x.get(k) for x in ok])
        for k in LAT:
            s[k] = median([x["latency"].get(k) for x in ok])
        for k in ("p50_ms_at_most", "p99_ms_at_most"):
            s[f"internal_{k}"] = median([x["internal"][k] for x in ok])
        s["sim_queue_p50_us"] = median([x["sim_queue"]["p50_us"] for x in ok])
        s["sim_queue_p99_us"] = median([x["sim_queue"]["p99_us"] for x in ok])
        summary.append(s)
    plan = venue_plan(markets_bodies(a.markets))
    return {
        "machine": machine(),
        "settings": {"runs": a.runs, "rates": rates, "warmup_s": a.warmup,
                     "duration_s": a.duration, "venues": len(plan),
                     "markets_per_simulated_venue": a.markets or "snapshot",
                     "symbols_configured": sum(p["markets"] for p in plan.values())},
        "symbols_per_venue": {v: p["markets"] for v, p in plan.items()},
        "summary": summary,
        "raw": [x for r in rates for x in raw[r]],
    }  # fmt: skip


def render(results: dict) -> str:
    cols = ["updates/s (sims)", "runs ok", "frames/s sent", "records/s read",
            "daemon cpu % core", "cpu us/record", "peak RSS MB", "RSS end MB",
            "e2e p50 us", "e2e p99 us", "ts_recv->read p50 us", "internal p50/p99 ms (<=)",
            "sim queue p50 us",
            "conflated", "venues w/ records"]  # fmt: skip
    rows = [[fmt(s["rate_updates_per_s"], 0), f"{s['runs_ok']}/{s['runs']}",
             fmt(s["frames_sent_per_s"], 0), fmt(s["records_per_s"], 0),
             fmt(s["cpu_pct_of_core"], 1), fmt(s["cpu_us_per_record"]),
             fmt(s["daemon_peak_rss_mb"], 1), fmt(s["daemon_rss_end_mb"], 1),
             fmt(s["stamp_p50_us"], 0), fmt(s["stamp_p99_us"], 0), fmt(s["recv_p50_us"], 0),
             f"{fmt(s['internal_p50_ms_at_most'])} / {fmt(s['internal_p99_ms_at_most'])}",
             fmt(s["sim_queue_p50_us"], 0), fmt(s["conflated_notices"], 0),
             fmt(s["venues_with_records_in_window"], 0)]
            for s in results["summary"]]  # fmt: skip
    return table(cols, rows)


def venue_table(results: dict) -> str:
    ok = [x for x in results["raw"] if "error" not in x]
    if not ok:
        return ""
    last = ok[-1]
    cols = ["venue", "mode", "server", "symbols listed", "subscribed (daemon)",
            "symbols seen", "records in window", "state", "e2e p50 us"]  # fmt: skip
    rows = [[v, x["mode"], x["server"], str(x["markets"]), fmt(x["subscribed_symbols"]),
             str(x["symbols_seen_in_window"]), fmt(x["records_in_window"]),
             str(x["state_at_end"]),
             "rest (poll)" if x["mode"] == "rest" else
             fmt(x["stamp_p50_us"], 0) if x["stamp_plausible"] else
             ("n/a" if x["stamp_plausible"] is None else "not a stamp")]
            for v, x in last["venues"].items()]  # fmt: skip
    return f"per venue (run {last['run']}, {last['rate_updates_per_s']:g} updates/s):\n" + table(
        cols, rows
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rates", default="2500,10000",
                    help="aggregate updates/s over the streaming sims, comma list")  # fmt: skip
    ap.add_argument("--runs", type=int, default=1, help="runs per rate, interleaved")
    ap.add_argument("--warmup", type=float, default=10.0, help="seconds before the window")
    ap.add_argument("--duration", type=float, default=30.0, help="the measured window, seconds")
    ap.add_argument("--max-seconds", type=float, default=120.0, help="bound on each wait")
    ap.add_argument(
        "--markets",
        type=int,
        default=0,
        help="grow each simulated venue's market list to this many (bench/inflate.py);"
        " 0: the shipped snapshots",
    )
    ap.add_argument(
        "--trace-memory",
        type=int,
        default=-1,
        metavar="FRAMES",
        help="run the daemon under bench/memtrace.py and add its memory report at the"
        " window's end to each run: tracemalloc with this many frames per allocation (RSS"
        " figures of such a run include tracing's own cost), or 0: the allocators' figures"
        " only, untraced; -1 (default): the plain daemon",
    )
    ap.add_argument(
        "--symbols-per-connection",
        type=int,
        default=0,
        help="max_symbols_per_connection for every streaming venue (the simulators take any"
        " number): what the connections cost, apart from the markets; 0: each venue's limit",
    )
    ap.add_argument("--profile", type=Path, default=None,
                    help="sample the daemon with py-spy (native, 250/s) over the window into this"
                    " file (raw, folded stacks; the last run's)")  # fmt: skip
    ap.add_argument("--pin", action="store_true",
                    help="the daemon alone on the last CPU, the simulators and the subscriber on"
                    " the others (what the daemon does with a core to itself)")  # fmt: skip
    ap.add_argument("--out", default=str(HERE / "scale.json"))
    ap.add_argument("--keep", action="store_true", help="keep each run's temporary directory")
    # internal: the sims and subscriber processes
    ap.add_argument("--role", choices=["driver", "sims", "subscriber"], default="driver",
                    help=argparse.SUPPRESS)  # fmt: skip
    ap.add_argument("socket", nargs="?", help=argparse.SUPPRESS)
    ap.add_argument("--rate", type=float, default=2500.0, help=argparse.SUPPRESS)
    ap.add_argument("--stream-venues", default="", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.role in ("sims", "subscriber"):
        import uvloop

        uvloop.run(sims_role(a) if a.role == "sims" else subscriber_role(a))
        return
    results = asyncio.run(amain(a))
    Path(a.out).write_text(json.dumps(results, indent=1) + "\n")
    print(render(results))
    print()
    print(venue_table(results))
    print(f"\nwritten: {a.out}")


if __name__ == "__main__":
    main()
