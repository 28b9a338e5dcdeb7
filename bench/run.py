"""The per-venue benchmark: the aggregator daemon (files and one socket subscriber on), a
bare picows client that subscribes the same way and counts frames (the floor) and cryptofeed
(its own venv), each against bench/replay_server.py playing one venue on 127.0.0.1 with the
venue's subscription handshake and message formats. Runs are interleaved (run r of every
venue and contender before run r+1 of any); the figures are medians over runs.

    python bench/run.py --venues binance,okx,coinbase,kraken,bitfinex,gate [--runs 3]
                        [--count 100000] [--rate 10000] [--duration 4] [--transports tls]
                        [--contenders floor,aggregator,cryptofeed] [--base-at COMMIT]
                        [--daemon-at COMMIT] [--quick]

Per run, venue and contender:
  flood   N frames as fast as the contender reads: msgs/s = N / (time of the last message
          delivered to the contender's consumer - time the server wrote the first frame);
          CPU us/msg = (utime+stime of the contender process, /proc/<pid>/stat, from after
          subscribing to after the last message) / N; the aggregator's socket subscriber is
          measured separately (sub_cpu_us_per_msg), and the daemon's CPU is also split
          between its event loop's thread and its other threads (the file writer's), from
          /proc/<pid>/task/<tid>/stat; peak RSS = VmHWM of the contender at the end; records
          written = ticker lines in the daemon's files after it exits, against frames sent.
  rate    R frames/s for D s (paced): the same CPU figure, and latency = time the
          subscriber read the record (the floor read the frame, cryptofeed called back) -
          time the server wrote the frame's bytes, matched by frame index (carried in a
          size field, i.e. the record's bid_size). p50/p99/p99.9.

Writes bench/results.json and prints the tables. Every wait is bounded.
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
from benchlib import Child, cpu_seconds, daemon_config, machine, status_mb, thread_cpu  # noqa: E402
from report import summarise, tables  # noqa: E402
from venues import UNIFIED, VENUES, venue  # noqa: E402

# cryptofeed 3.x (Python 3.13); 2.4.x (Python 3.11) for a venue 3.x lacks
CF_VENVS = [Path(os.environ.get("BENCH_CF_VENV", "/tmp/cf3venv")),
            Path(os.environ.get("BENCH_CF2_VENV", "/tmp/cfvenv"))]  # fmt: skip
CF_SCRIPT = HERE / "cryptofeed_client.py"


async def start_server(
    tmp: Path, name: str, mode: str, tls: bool, a: argparse.Namespace
) -> tuple[Child, dict]:
    args = [
        *(PY, str(HERE / "replay_server.py"), "--venue", name, "--mode", mode),
        *("--count", str(a.count), "--rate", str(a.rate), "--duration", str(a.duration)),
        *("--send-times", str(tmp / "send_ns.bin"), "--max-seconds", str(a.max_seconds)),
        *("--tmp", str(tmp)),
    ]
    if tls:
        args.append("--tls")
    server = await Child.start("server", args, tmp / "server.log")
    info = await server.event("listening", 60)
    return server, info


def frames_expected(mode: str, a: argparse.Namespace) -> int:
    return a.count if mode == "flood" else int(a.rate * a.duration)


def latency(tmp: Path, recv_file: Path) -> dict:
    """Percentiles of (read time - send time) over the frames matched by index; a frame that
    several records carry (a merged channel repeats the index) counts at its first read."""
    send = array("q")
    send.frombytes((tmp / "send_ns.bin").read_bytes())
    raw = recv_file.read_bytes()
    half = len(raw) // 2
    idx, ts = array("q"), array("q")
    idx.frombytes(raw[:half])
    ts.frombytes(raw[half:])
    first: dict[int, int] = {}
    for i, t in zip(idx, ts, strict=True):
        if 0 <= i < len(send) and i not in first:
            first[i] = t
    lat = sorted((t - send[i]) / 1000 for i, t in first.items())
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
        seen: set[int] = set()
        into, out_ = [], []
        for i, r, t in zip(idx, rd, ts, strict=True):
            if 0 <= i < len(send) and i not in seen:
                seen.add(i)
                into.append((r - send[i]) / 1000)  # server wrote -> daemon read
                out_.append((t - r) / 1000)  # daemon read -> subscriber read
        into.sort()
        out_.sort()
        out["to_daemon_p50_us"], out["to_daemon_p99_us"] = pct(into, 50), pct(into, 99)
        out["to_sub_p50_us"], out["to_sub_p99_us"] = pct(out_, 50), pct(out_, 99)
    return out


# --- contenders ------------------------------------------------------------------------------


async def counted_pass(
    server: Child, client: Child, a: argparse.Namespace, settle: float
) -> dict[str, Any]:
    """One pass against a client that only counts frames: sent, received, CPU per frame
    sent, RSS."""
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
    return {
        "frames_sent": sent["sent"],
        "msgs": got,
        "msgs_per_s": round(got / max((done["t_last_ns"] - sent["t_first_ns"]) / 1e9, 1e-9)),
        "cpu_us_per_msg": round(cpu * 1e6 / max(sent["sent"], 1), 2),
        "peak_rss_mb": round(rss, 1),
    }


async def run_floor(
    tmp: Path, name: str, mode: str, tls: bool, a: argparse.Namespace, client_lib: str = "picows"
) -> dict:
    server, info = await start_server(tmp, name, mode, tls, a)
    n = frames_expected(mode, a)
    args = [PY, str(HERE / "floor_client.py"), info["ws_url"], "--venue", name,
            "--client", client_lib, "--count", str(n),
            "--max-seconds", str(a.max_seconds)]  # fmt: skip
    if info["cert"]:
        args += ["--cafile", info["cert"]]
    if mode == "rate":
        args += ["--latency-out", str(tmp / "recv.bin")]
    client = await Child.start("floor", args, tmp / "floor.log")
    out = await counted_pass(server, client, a, settle=0.0)
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


def venue_config(root: Path, name: str, info: dict) -> Path:
    """The daemon's config: the venue on the replay server (its one kind of market, a
    derivatives venue's markets_url being that kind's list), the files and socket sinks."""
    v, http = venue(name), info["http_url"]
    return daemon_config(root, [
        f"[exchanges.{v.exchange or name}]",
        'mode = "ws"',
        # (spot is the default: a daemon of a commit before `kinds` reads the same config)
        *([f"kinds = {json.dumps([v.kind])}"] if v.kind != "spot" else []),
        f"symbols = {json.dumps(list(v.symbols))}",
        f'ws_url = "{info["ws_url"]}"',
        f'rest_url = "{http}{v.rest_prefix}"',
        f'markets_url = "{http}{v.markets_path}"',
        "stale_after = 60.0",
        "fallback = false",
    ])  # fmt: skip


async def run_aggregator(
    tmp: Path,
    name: str,
    mode: str,
    tls: bool,
    a: argparse.Namespace,
    pure: bool = False,
    tree: Path | None = None,
) -> dict:
    server, info = await start_server(tmp, name, mode, tls, a)
    n = frames_expected(mode, a)
    cfg = venue_config(tmp, name, info)
    env = {"SSL_CERT_FILE": info["cert"]} if info["cert"] else {}
    if pure:
        env["AGGREGATOR_PURE_PYTHON"] = "1"
    daemon = await Child.start(
        "aggregator", [PY, "-m", "aggregator", "run", "-c", str(cfg)], tmp / "daemon.log",
        env=env, cwd=tree or a.daemon_tree,
    )  # fmt: skip
    sub_args = [PY, str(HERE / "subscriber.py"), str(tmp / "agg.sock"), "--count", str(n),
                "--max-seconds", str(a.max_seconds)]  # fmt: skip
    if mode == "rate":
        sub_args += ["--latency-out", str(tmp / "recv.bin"), "--index-field",
                     venue(name).index_field]  # fmt: skip
        if venue(name).index_scale:
            sub_args += ["--index-scale", json.dumps(venue(name).index_scale)]
    sub = await Child.start("subscriber", sub_args, tmp / "subscriber.log")
    try:
        await sub.event("connected", 60)
        await server.event("subscribed", 60)
        await asyncio.sleep(0.5)  # the daemon settles (status records, markets cache)
        dpid, spid = daemon.proc.pid, sub.proc.pid
        d0, s0, t0 = cpu_seconds(dpid), cpu_seconds(spid), thread_cpu(dpid)
        spy = None
        if a.profile:  # py-spy over the window, the daemon's native frames too
            a.profile.mkdir(parents=True, exist_ok=True)
            spy = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).parent / "py-spy"), "record", "--native", "--rate", "500",
                "--format", "raw", "-o", str(a.profile / f"{name}-{mode}.txt"), "-p", str(dpid),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            await asyncio.sleep(1.0)  # (py-spy attaches)
        server.send("go")
        sent = await server.event("done", a.max_seconds)
        done = await sub.event("done", a.max_seconds)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            await asyncio.wait_for(spy.wait(), 30)
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
    got, nsent = done["count"], max(sent["sent"], 1)
    written, last_recv = ticker_lines(tmp / "data")
    out = {
        "frames_sent": sent["sent"],
        "msgs": written,
        # the daemon's rate: records made (ts_recv of the last one) since the first frame sent
        "msgs_per_s": round(written / max((last_recv - sent["t_first_ns"]) / 1e9, 1e-9)),
        # end to end: records read by the socket subscriber (fewer when it was conflated)
        "sub_msgs": got,
        "sub_msgs_per_s": round(got / max((done["t_last_ns"] - sent["t_first_ns"]) / 1e9, 1e-9)),
        "cpu_us_per_msg": round((d1 - d0) * 1e6 / nsent, 2),
        "loop_cpu_us_per_msg": round(loop_cpu * 1e6 / nsent, 2),
        "threads_cpu_us_per_msg": round(threads_cpu * 1e6 / nsent, 2),
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


async def run_pure(tmp: Path, name: str, mode: str, tls: bool, a: argparse.Namespace) -> dict:
    return await run_aggregator(tmp, name, mode, tls, a, pure=True)


async def run_base(tmp: Path, name: str, mode: str, tls: bool, a: argparse.Namespace) -> dict:
    """The daemon of --base-at, in the same run as the tree's: a before/after pair."""
    return await run_aggregator(tmp, name, mode, tls, a, tree=a.base_tree)


@functools.cache
def cryptofeed_for(name: str) -> tuple[Path, str] | str:
    """(the venv's python, "cryptofeed <version> (Python <version>)") of the first venv
    whose cryptofeed has the venue's feed, else why none can run."""
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import cryptofeed_client as c, "
            f"importlib.metadata as m; getattr(c.exchanges, c.FEEDS[{name!r}]); "
            "print(m.version('cryptofeed'), sys.version.split()[0])")  # fmt: skip
    why = []
    for venv in CF_VENVS:
        py = venv / "bin" / "python"
        if not py.exists():
            why.append(f"no venv at {venv}")
            continue
        r = subprocess.run([str(py), "-c", code], capture_output=True, text=True, timeout=60)
        if r.returncode == 0:
            cf, pyv = r.stdout.split()
            return py, f"cryptofeed {cf} (Python {pyv})"
        why.append(f"{venv}: " + (r.stderr.strip().splitlines() or ["failed"])[-1])
    return "not run: " + "; ".join(why)


async def run_cryptofeed(tmp: Path, name: str, mode: str, tls: bool, a: argparse.Namespace) -> dict:
    found = cryptofeed_for(name)
    if isinstance(found, str):
        return {"error": found}
    if not tls:
        return {"error": "not run: cryptofeed accepts only wss:// addresses"}
    server, info = await start_server(tmp, name, mode, tls, a)
    args = [str(found[0]), str(CF_SCRIPT), name, info["ws_url"], info["http_url"],
            "--symbols", ",".join(venue(name).cryptofeed_symbols),
            "--count", str(frames_expected(mode, a)),
            "--max-seconds", str(a.max_seconds)]  # fmt: skip
    if mode == "rate":
        args += ["--latency-out", str(tmp / "recv.bin")]
    # its HTTP and WebSocket clients trust SSL_CERT_FILE; its symbols cache goes in tmp
    env = {"SSL_CERT_FILE": info["cert"], "REQUESTS_CA_BUNDLE": info["cert"],
           "XDG_CACHE_HOME": str(tmp / "cache")}  # fmt: skip
    client = await Child.start("cryptofeed", args, tmp / "cryptofeed.log", env=env)
    out = await counted_pass(server, client, a, settle=0.5)
    out["version"] = found[1]
    if mode == "rate":
        out["latency"] = latency(tmp, tmp / "recv.bin")
    return out


RUNNERS = {
    "floor": run_floor,  # picows, the daemon's stream client
    "floor-websockets": functools.partial(run_floor, client_lib="websockets"),
    "floor-aiohttp": functools.partial(run_floor, client_lib="aiohttp"),
    "aggregator": run_aggregator,
    "aggregator-pure": run_pure,  # AGGREGATOR_PURE_PYTHON=1: no compiled path
    "aggregator-base": run_base,  # the daemon of --base-at
    "cryptofeed": run_cryptofeed,
}


def daemon_tree(commit: str | None) -> Path:
    """Where the daemon runs from: the working tree, or a commit exported (git archive) to a
    temporary directory with its compiled part built, so a baseline can be measured while
    the tree changes."""
    if not commit:
        return REPO
    out = Path(tempfile.mkdtemp(prefix=f"bench-tree-{commit[:10]}-"))
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit], check=True,
                             capture_output=True, timeout=120).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True, timeout=120)
    subprocess.run([PY, "setup.py", "build_ext", "--inplace", "-q"], cwd=out, check=True,
                   capture_output=True, timeout=600)  # fmt: skip
    return out


async def one(c: str, name: str, t: str, mode: str, a: argparse.Namespace) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix=f"b{c[0]}-", dir="/tmp"))
    try:
        async with asyncio.timeout(a.max_seconds + 120):
            out = await RUNNERS[c](tmp, name, mode, t == "tls", a)
    except Exception as e:
        out = {"error": repr(e)[:500], "dir": str(tmp)}
    if ("error" not in out or not any(tmp.iterdir())) and not a.keep:  # keep what failed
        shutil.rmtree(tmp, ignore_errors=True)
    return out


async def amain(a: argparse.Namespace) -> dict:
    venues = [v for v in a.venues.split(",") if v]
    transports = [t for t in a.transports.split(",") if t]
    modes = [m for m in ("flood", "rate") if m in a.modes.split(",")]
    base = [c for c in a.contenders.split(",") if c]
    pure = {v for v in a.pure.split(",") if v}
    who = {v: base + (["aggregator-pure"] if v in pure and "aggregator" in base else [])
           for v in venues}  # fmt: skip
    raw: dict = {v: {c: {t: [] for t in transports} for c in who[v]} for v in venues}
    host = machine()  # its load average before the runs
    for r in range(a.runs):  # interleaved: run r of every venue and contender, then run r+1
        for v in venues:
            for t in transports:
                for c in who[v]:
                    run: dict = {}
                    for mode in modes:
                        t0 = time.monotonic()
                        run[mode] = await one(c, v, t, mode, a)
                        print(f"run {r + 1}/{a.runs} {v:<8} {c:<15} {t:<5} {mode:<5} "
                              f"{time.monotonic() - t0:5.1f}s {json.dumps(run[mode])}",
                              file=sys.stderr, flush=True)  # fmt: skip
                    raw[v][c][t].append(run)
    return {
        "machine": {**host, "loadavg_at_end": machine()["loadavg_at_start"]},
        "settings": {
            "runs": a.runs,
            "flood_frames": a.count,
            "rate": a.rate,
            "rate_duration_s": a.duration,
            "symbols": UNIFIED,
            "transports": transports,
            "daemon_at": a.daemon_at or "working tree",
            "base_at": a.base_at,
        },
        "venues": {
            v: {c: {t: summarise(raw[v][c][t]) for t in transports} for c in who[v]} for v in venues
        },
        "raw": raw,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--venues", default=",".join(VENUES))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--count", type=int, default=100_000, help="flood: frames per run")
    ap.add_argument("--rate", type=float, default=10_000.0, help="paced runs: frames/s")
    ap.add_argument("--duration", type=float, default=4.0, help="paced runs: seconds")
    ap.add_argument("--transports", default="tls", help="tls, plain or both")
    ap.add_argument("--contenders", default="floor,aggregator,cryptofeed")
    ap.add_argument("--pure", default="",
                    help="venues also run with AGGREGATOR_PURE_PYTHON=1 (a daemon of --daemon-at "
                         "or --base-at that had the compiled Binance path)")  # fmt: skip
    ap.add_argument("--modes", default="flood,rate")
    ap.add_argument("--daemon-at", help="run the daemon of this commit (default: the tree)")
    ap.add_argument("--base-at", help="the daemon of this commit as contender aggregator-base")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: 1 run, 5,000-frame floods, 1 s paced")  # fmt: skip
    ap.add_argument("--max-seconds", type=float, default=120.0, help="bound on each wait")
    ap.add_argument("--out", default=str(HERE / "results.json"))
    ap.add_argument("--keep", action="store_true", help="keep the runs' temporary directories")
    ap.add_argument("--profile", type=Path, default=None,
                    help="sample the daemon with py-spy (native) over each run's window into "
                         "DIR/<venue>-<mode>.txt (collapsed stacks; its CPU figures are then "
                         "not comparable)")  # fmt: skip
    a = ap.parse_args()
    if a.quick:
        a.runs, a.count, a.duration, a.max_seconds = 1, 5_000, 1.0, 60.0
    unknown = set(a.venues.split(",")) - set(VENUES)
    if unknown:
        ap.error(f"unknown venues {sorted(unknown)}; known: {', '.join(VENUES)}")
    a.daemon_tree = daemon_tree(a.daemon_at)
    a.base_tree = daemon_tree(a.base_at) if a.base_at else None
    try:
        results = asyncio.run(amain(a))
    finally:
        if a.daemon_tree != REPO:
            shutil.rmtree(a.daemon_tree, ignore_errors=True)
    Path(a.out).write_text(json.dumps(results, indent=1) + "\n")
    print(tables(results))
    print(f"\nwritten: {a.out}")


if __name__ == "__main__":
    main()
