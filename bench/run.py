"""The benchmark: the aggregator daemon, a bare WebSocket client (the floor) and, when it
can be installed and pointed at a local server, cryptofeed, against bench/replay_server.py
on 127.0.0.1. Runs are interleaved (run r of every contender before run r+1 of any), R runs
each; the figures are medians over runs.

    python bench/run.py [--runs 3] [--count 200000] [--rate 20000] [--duration 10]
                        [--transports plain,tls] [--contenders floor,aggregator,cryptofeed]

Per run and contender:
  flood   N frames as fast as the contender reads: msgs/s = N / (time of the last message
          delivered to the contender's consumer - time the server wrote the first frame);
          CPU us/msg = (utime+stime of the contender process, /proc/<pid>/stat, from after
          subscribing to after the last message) / N; the aggregator's socket subscriber is
          measured separately (sub_cpu_us_per_msg), and the daemon's CPU is also split
          between its event loop's thread and its other threads (the file writer's), from
          /proc/<pid>/task/<tid>/stat ("loop / threads"); peak RSS = VmHWM of the contender at the
          end; records written = ticker lines in the daemon's files after it exits.
  rate    R frames/s for D s: latency = time the subscriber read the record (or the floor
          read the frame) - time the server wrote the frame's bytes, matched by frame index
          (carried in the bid quantity, i.e. the record's bid_size). p50/p99/p99.9.

Writes bench/results.json and prints a table. Every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gzip
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PY = sys.executable
sys.path.insert(0, str(HERE))
from benchlib import (  # noqa: E402
    UNIFIED,
    Child,
    cpu_seconds,
    machine,
    status_mb,
    thread_cpu,
    write_config,
)

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT"]
CF_VENV = Path(os.environ.get("BENCH_CF_VENV", "/tmp/cfvenv"))


async def start_server(
    tmp: Path, mode: str, tls: bool, a: argparse.Namespace
) -> tuple[Child, dict]:
    args = [
        *(PY, str(HERE / "replay_server.py"), "--mode", mode, "--symbols", str(len(SYMBOLS))),
        *("--count", str(a.count), "--rate", str(a.rate), "--duration", str(a.duration)),
        *("--send-times", str(tmp / "send_ns.bin"), "--max-seconds", str(a.max_seconds)),
    ]
    if tls:
        args.append("--tls")
    server = await Child.start("server", args, tmp / "server.log")
    info = await server.event("listening", 60)
    return server, info


def frames_expected(mode: str, a: argparse.Namespace) -> int:
    return a.count if mode == "flood" else int(a.rate * a.duration)


def latency(tmp: Path, recv_file: Path) -> dict:
    send = array("q")
    send.frombytes((tmp / "send_ns.bin").read_bytes())
    raw = recv_file.read_bytes()
    half = len(raw) // 2
    idx, ts = array("q"), array("q")
    idx.frombytes(raw[:half])
    ts.frombytes(raw[half:])
    lat = sorted((t - send[i]) / 1000 for i, t in zip(idx, ts, strict=True) if 0 <= i < len(send))
    if not lat:
        return {"matched": 0}

    def pct(xs: list[float], p: float) -> float:
        return round(xs[min(len(xs) - 1, int(p / 100 * len(xs)))], 1)

    out = {"matched": len(lat), "sent": len(send), "p50_us": pct(lat, 50), "p99_us": pct(lat, 99),
           "p999_us": pct(lat, 99.9), "max_us": round(lat[-1], 1)}  # fmt: skip
    daemon = Path(str(recv_file) + ".daemon")
    if daemon.exists():  # the aggregator's records say when it read each frame: split there
        rd = array("q")
        rd.frombytes(daemon.read_bytes())
        pairs = [(send[i], r, t) for i, r, t in zip(idx, rd, ts, strict=True) if 0 <= i < len(send)]
        into = sorted((r - s) / 1000 for s, r, _ in pairs)  # server wrote -> daemon read
        out_ = sorted((t - r) / 1000 for _, r, t in pairs)  # daemon read -> subscriber read
        out["to_daemon_p50_us"], out["to_daemon_p99_us"] = pct(into, 50), pct(into, 99)
        out["to_sub_p50_us"], out["to_sub_p99_us"] = pct(out_, 50), pct(out_, 99)
    return out


# --- contenders ------------------------------------------------------------------------------


async def counted_pass(
    server: Child, client: Child, a: argparse.Namespace, settle: float, per_frame_sent: bool
) -> dict[str, Any]:
    """One pass against a client that only counts frames: sent, received, CPU, RSS.

    CPU is divided by the frames received, or by the frames sent when the client cannot see
    every frame (cryptofeed drops the channels it did not subscribe to).
    """
    try:
        await server.event("subscribed", 60)
        if settle:
            await asyncio.sleep(settle)
        pid = client.proc.pid
        cpu0 = cpu_seconds(pid)
        server.send("go")
        sent = await server.event("done", a.max_seconds)
        done = await client.event("done", a.max_seconds)
        cpu = cpu_seconds(pid) - cpu0
        rss = status_mb(pid, "VmHWM")
    finally:
        await client.stop()
        server.send("stop")
        await server.stop()
    got = done["count"]
    per = sent["sent"] if per_frame_sent else got
    return {
        "frames_sent": sent["sent"],
        "msgs": got,
        "msgs_per_s": round(got / max((done["t_last_ns"] - sent["t_first_ns"]) / 1e9, 1e-9)),
        "cpu_us_per_msg": round(cpu * 1e6 / max(per, 1), 2),
        "peak_rss_mb": round(rss, 1),
    }


async def run_floor(
    tmp: Path, mode: str, tls: bool, a: argparse.Namespace, client_lib: str = "picows"
) -> dict:
    server, info = await start_server(tmp, mode, tls, a)
    n = frames_expected(mode, a)
    args = [PY, str(HERE / "floor_client.py"), info["ws_url"], "--symbols", ",".join(SYMBOLS),
            "--client", client_lib, "--count", str(n),
            "--max-seconds", str(a.max_seconds)]  # fmt: skip
    if info["cert"]:
        args += ["--cafile", info["cert"]]
    if mode == "rate":
        args += ["--latency-out", str(tmp / "recv.bin")]
    client = await Child.start("floor", args, tmp / "floor.log")
    out = await counted_pass(server, client, a, settle=0.0, per_frame_sent=False)
    if mode == "rate":
        out["latency"] = latency(tmp, tmp / "recv.bin")
    return out


def ticker_lines(data_dir: Path) -> tuple[int, int]:
    """Ticker records in the daemon's files, and the largest ts_recv among them."""
    n = last = 0
    for f in data_dir.rglob("*.jsonl*"):
        raw = gzip.decompress(f.read_bytes()) if f.suffix == ".gz" else f.read_bytes()
        for line in raw.splitlines():
            if b'"type":"ticker"' in line:
                n += 1
                last = max(last, json.loads(line)["ts_recv"])
    return n, last


async def run_aggregator(tmp: Path, mode: str, tls: bool, a: argparse.Namespace) -> dict:
    server, info = await start_server(tmp, mode, tls, a)
    n = frames_expected(mode, a)
    cfg = write_config(tmp, info)
    env = {"SSL_CERT_FILE": info["cert"]} if info["cert"] else {}
    daemon = await Child.start(
        "aggregator", [PY, "-m", "aggregator", "run", "-c", str(cfg)], tmp / "daemon.log",
        env=env, cwd=REPO,
    )  # fmt: skip
    sub_args = [PY, str(HERE / "subscriber.py"), str(tmp / "agg.sock"), "--count", str(n),
                "--max-seconds", str(a.max_seconds)]  # fmt: skip
    if mode == "rate":
        sub_args += ["--latency-out", str(tmp / "recv.bin")]
    sub = await Child.start("subscriber", sub_args, tmp / "subscriber.log")
    try:
        await sub.event("connected", 60)
        await server.event("subscribed", 60)
        await asyncio.sleep(0.5)  # the daemon settles (status records, markets cache)
        dpid, spid = daemon.proc.pid, sub.proc.pid
        d0, s0, t0 = cpu_seconds(dpid), cpu_seconds(spid), thread_cpu(dpid)
        server.send("go")
        sent = await server.event("done", a.max_seconds)
        done = await sub.event("done", a.max_seconds)
        s1 = cpu_seconds(spid)  # (it parses what it kept from here on)
        await asyncio.sleep(1.2)  # one files.flush_interval (1 s): the last write is counted
        d1, t1 = cpu_seconds(dpid), thread_cpu(dpid)
        # the event loop's thread, and the others (the file writer's, in the default executor)
        loop_cpu = t1.get(dpid, 0.0) - t0.get(dpid, 0.0)
        threads_cpu = sum(c - t0.get(tid, 0.0) for tid, c in t1.items() if tid != dpid)
        rss, sub_rss = status_mb(dpid, "VmHWM"), status_mb(spid, "VmHWM")
    finally:
        rc = await daemon.stop(signal.SIGTERM, 30)
        await sub.stop()
        server.send("stop")
        await server.stop()
    log = (tmp / "daemon.log").read_text()
    published = [x for x in log.splitlines() if "published=" in x]
    got = done["count"]
    written, last_recv = ticker_lines(tmp / "data")
    out = {
        "frames_sent": sent["sent"],
        "msgs": written,
        # the daemon's rate: records made (ts_recv of the last one) since the first frame sent
        "msgs_per_s": round(written / max((last_recv - sent["t_first_ns"]) / 1e9, 1e-9)),
        # end to end: records read by the socket subscriber (fewer when it was conflated)
        "sub_msgs": got,
        "sub_msgs_per_s": round(got / max((done["t_last_ns"] - sent["t_first_ns"]) / 1e9, 1e-9)),
        "cpu_us_per_msg": round((d1 - d0) * 1e6 / max(sent["sent"], 1), 2),
        "loop_cpu_us_per_msg": round(loop_cpu * 1e6 / max(sent["sent"], 1), 2),
        "threads_cpu_us_per_msg": round(threads_cpu * 1e6 / max(sent["sent"], 1), 2),
        "sub_cpu_us_per_msg": round((s1 - s0) * 1e6 / max(got, 1), 2),
        "peak_rss_mb": round(rss, 1),
        "sub_peak_rss_mb": round(sub_rss, 1),
        "records_written": written,
        "conflated_notices": done.get("conflated_notices", 0),
        "exit_code": rc,
        "daemon_counts": published[-1].split("published=", 1)[1] if published else None,
    }
    if mode == "rate":
        out["latency"] = latency(tmp, tmp / "recv.bin")
    return out


CF_SCRIPT = HERE / "cryptofeed_client.py"


def cryptofeed_status() -> str | None:
    """None when cryptofeed can run here, else why not."""
    py = CF_VENV / "bin" / "python"
    if not py.exists():
        return f"not installable: no venv at {CF_VENV} (see bench/README.md for the attempt)"
    r = subprocess.run([str(py), "-c", "import cryptofeed"], capture_output=True, text=True,
                       timeout=60)  # fmt: skip
    if r.returncode:
        return "not installable: " + (r.stderr.strip().splitlines() or ["import failed"])[-1]
    if not CF_SCRIPT.exists():
        return "installed, but no local-endpoint client (bench/cryptofeed_client.py) yet"
    return None


async def run_cryptofeed(tmp: Path, mode: str, tls: bool, a: argparse.Namespace) -> dict:
    server, info = await start_server(tmp, mode, tls, a)
    n = frames_expected(mode, a)
    args = [str(CF_VENV / "bin" / "python"), str(CF_SCRIPT), info["ws_url"], info["http_url"],
            "--symbols", ",".join(UNIFIED), "--count", str(n),
            "--max-seconds", str(a.max_seconds)]  # fmt: skip
    if mode == "rate":
        args += ["--latency-out", str(tmp / "recv.bin")]
    # requests (markets) trusts REQUESTS_CA_BUNDLE, websockets (ssl default context) SSL_CERT_FILE
    env = (
        {"SSL_CERT_FILE": info["cert"], "REQUESTS_CA_BUNDLE": info["cert"]} if info["cert"] else {}
    )
    client = await Child.start("cryptofeed", args, tmp / "cryptofeed.log", env=env)
    out = await counted_pass(server, client, a, settle=0.5, per_frame_sent=True)
    if mode == "rate":
        out["latency"] = latency(tmp, tmp / "recv.bin")
    return out


RUNNERS = {
    "floor": run_floor,  # picows, the daemon's stream client
    "floor-websockets": functools.partial(run_floor, client_lib="websockets"),
    "floor-aiohttp": functools.partial(run_floor, client_lib="aiohttp"),
    "aggregator": run_aggregator,
    "cryptofeed": run_cryptofeed,
}


# --- summary ---------------------------------------------------------------------------------


def median(values: list) -> float | None:
    vals = [v for v in values if isinstance(v, int | float)]
    return round(statistics.median(vals), 2) if vals else None


def summarise(runs: list[dict]) -> dict:
    flood = [r["flood"] for r in runs if "flood" in r and "error" not in r["flood"]]
    rate = [r["rate"] for r in runs if "rate" in r and "error" not in r["rate"]]
    errors = sorted({r[m]["error"] for r in runs for m in r if "error" in r[m]})
    out: dict = {"runs": len(runs), "ok_flood_runs": len(flood), "ok_rate_runs": len(rate)}
    if errors:
        out["errors"] = errors
    for key in ("msgs_per_s", "cpu_us_per_msg", "loop_cpu_us_per_msg", "threads_cpu_us_per_msg",
                "sub_cpu_us_per_msg", "peak_rss_mb", "records_written", "msgs", "frames_sent",
                "sub_msgs", "sub_msgs_per_s", "conflated_notices"):  # fmt: skip
        if any(key in f for f in flood):
            out[key] = median([f.get(key) for f in flood])
    lats = [r.get("latency", {}) for r in rate]
    for key in ("p50_us", "p99_us", "p999_us", "max_us"):
        if any(key in x for x in lats):
            out[f"latency_{key}"] = median([x.get(key) for x in lats])
    if rate:
        out["latency_rate_cpu_us_per_msg"] = median([x.get("cpu_us_per_msg") for x in rate])
        out["latency_rate_peak_rss_mb"] = median([x.get("peak_rss_mb") for x in rate])
    return out


COUNTS = ("msgs_per_s", "sub_msgs_per_s", "records_written")
COLUMNS = [
    ("msgs/s", "msgs_per_s"),
    ("cpu us/msg", "cpu_us_per_msg"),
    ("loop / threads", "loop_threads"),
    ("sub msgs/s", "sub_msgs_per_s"),
    ("sub cpu us/msg", "sub_cpu_us_per_msg"),
    ("p50 us", "latency_p50_us"),
    ("p99 us", "latency_p99_us"),
    ("p99.9 us", "latency_p999_us"),
    ("peak RSS MB", "peak_rss_mb"),
    ("records written", "records_written"),
]


def cell(s: dict, k: str) -> str:
    if k == "loop_threads":  # the daemon's CPU split: its event loop, its other threads
        loop, threads = s.get("loop_cpu_us_per_msg"), s.get("threads_cpu_us_per_msg")
        return "-" if loop is None or threads is None else f"{loop:g} / {threads:g}"
    v = s.get(k)
    if v is None:
        return "-"
    return f"{v:,.0f}" if k in COUNTS else f"{v:g}"


def table(results: dict) -> str:
    cols = ["contender", "transport"] + [c for c, _ in COLUMNS]
    rows = []
    for name, by_t in results["contenders"].items():
        if isinstance(by_t, str):
            rows.append([name, "-", by_t] + [""] * (len(cols) - 3))
            continue
        for transport, s in by_t.items():
            rows.append([name, transport] + [cell(s, k) for _, k in COLUMNS])
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    line = lambda r: "| " + " | ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join(
        [line(cols), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows]
    )


async def amain(a: argparse.Namespace) -> dict:
    contenders = [c for c in a.contenders.split(",") if c]
    transports = [t for t in a.transports.split(",") if t]
    skipped: dict[str, str] = {}
    if "cryptofeed" in contenders:
        why = cryptofeed_status()
        if why:
            skipped["cryptofeed"] = why
            contenders.remove("cryptofeed")
    raw: dict = {c: {t: [] for t in transports} for c in contenders}
    modes = [m for m in ("flood", "rate") if m in a.modes.split(",")]
    for r in range(a.runs):
        for t in transports:
            for c in contenders:  # interleaved: run r of each contender, then run r+1
                run: dict = {}
                for mode in modes:
                    if c == "cryptofeed" and t == "plain":
                        run[mode] = {
                            "error": "not run: cryptofeed accepts only wss:// addresses "
                            "(ValueError: Invalid address, must be a wss address)"
                        }
                        continue
                    tmp = Path(tempfile.mkdtemp(prefix=f"b{c[0]}-", dir="/tmp"))
                    t0 = time.monotonic()
                    try:
                        async with asyncio.timeout(a.max_seconds + 120):
                            run[mode] = await RUNNERS[c](tmp, mode, t == "tls", a)
                    except Exception as e:
                        run[mode] = {"error": repr(e)[:500], "dir": str(tmp)}
                    took = time.monotonic() - t0
                    print(f"run {r + 1}/{a.runs} {c:<10} {t:<5} {mode:<5} {took:5.1f}s "
                          f"{json.dumps(run[mode])}", file=sys.stderr, flush=True)  # fmt: skip
                    if "error" not in run[mode] and not a.keep:
                        shutil.rmtree(tmp, ignore_errors=True)
                raw[c][t].append(run)
    results = {
        "machine": machine(),
        "settings": {
            "runs": a.runs,
            "flood_frames": a.count,
            "rate": a.rate,
            "rate_duration_s": a.duration,
            "symbols": UNIFIED,
            "transports": transports,
        },
        "contenders": {c: {t: summarise(raw[c][t]) for t in transports} for c in contenders},
        "raw": raw,
    }
    results["contenders"].update(skipped)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--count", type=int, default=200_000, help="flood: frames per run")
    ap.add_argument("--rate", type=float, default=20_000.0, help="latency runs: frames/s")
    ap.add_argument("--duration", type=float, default=10.0, help="latency runs: seconds")
    ap.add_argument("--transports", default="tls,plain")
    ap.add_argument("--contenders", default="floor,aggregator,cryptofeed")
    ap.add_argument("--modes", default="flood,rate")
    ap.add_argument("--max-seconds", type=float, default=120.0, help="bound on each wait")
    ap.add_argument("--out", default=str(HERE / "results.json"))
    ap.add_argument("--keep", action="store_true", help="keep the runs' temporary directories")
    a = ap.parse_args()
    results = asyncio.run(amain(a))
    Path(a.out).write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    print(f"\nwritten: {a.out}")


if __name__ == "__main__":
    main()
