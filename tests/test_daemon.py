"""The daemon as a process: real signals, real files, a real socket, simulated venues.

Venues are simulated on 127.0.0.1 in the test process; the daemon runs as a subprocess
(`python -m aggregator`) with a config pointing at them.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import gzip
import heapq
import json
import os
import re
import resource
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aggregator.sim import VenueSim

VENUES = {
    "binance": ["BTC/USDT", "ETH/USDT", "SOL/USDT"],
    "coinbaseexchange": ["BTC/USD", "ETH/USD"],
    "kraken": ["BTC/USD", "ETH/USD"],
}
REQUIRED = {"type", "exchange", "symbol", "ts_recv", "seq"}


_SHORT_DIRS: list[Path] = []


@atexit.register
def _remove_short_dirs() -> None:
    for d in _SHORT_DIRS:
        shutil.rmtree(d, ignore_errors=True)


def short_dir() -> Path:
    """A short directory for Unix sockets (their paths are limited to 107 bytes), removed
    when the test process exits."""
    _SHORT_DIRS.append(Path(tempfile.mkdtemp(prefix="agg-", dir="/tmp")))
    return _SHORT_DIRS[-1]


def write_config(path: Path, root: Path, sims: dict[str, VenueSim], **extra: str) -> Path:
    lines = [
        "[daemon]",
        f'state_dir = "{root / "state"}"',
        "shutdown_grace = 4.0",
        f"watchdog_stale = {extra.get('watchdog_stale', '60.0')}",
        "[files]",
        f'dir = "{root / "data"}"',
        f'max_bytes = "{extra.get("max_bytes", "64MiB")}"',
        "flush_interval = 0.2",
        "[socket]",
        f'path = "{root / "agg.sock"}"',
        "[exchange_defaults]",
        "stale_after = 5.0",
        "backoff_initial = 0.1",
        "backoff_max = 1.0",
    ]
    if "socket_tcp" in extra:
        lines.insert(lines.index("[socket]") + 1, f'tcp = "{extra["socket_tcp"]}"')
    for venue, sim in sims.items():
        lines.append(f"[exchanges.{venue}]")
        lines.append(f"symbols = {json.dumps(VENUES[venue])}")
        for k, v in sim.endpoints().items():
            lines.append(f'{k} = "{v}"')
    path.write_text("\n".join(lines) + "\n")
    return path


class Proc:
    def __init__(self, proc: asyncio.subprocess.Process, root: Path) -> None:
        self.proc = proc
        self.root = root
        self.stderr = b""

    async def wait(self, timeout: float = 15.0) -> int:
        async with asyncio.timeout(timeout):
            _, err = await self.proc.communicate()
        self.stderr += err
        return self.proc.returncode  # type: ignore[return-value]

    def log(self) -> str:
        return self.stderr.decode()


async def spawn(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    files_limit: int | None = None,
) -> Proc:
    def limit() -> None:
        if files_limit is not None:
            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            resource.setrlimit(resource.RLIMIT_NOFILE, (files_limit, hard))

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aggregator",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        preexec_fn=limit,
    )
    return Proc(proc, cwd or Path.cwd())


async def wait_for(cond, timeout: float = 15.0, every: float = 0.05) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(every)


def data_lines(data_dir: Path) -> dict[str, list[dict]]:
    """Every record in every file (plain and gzip), by exchange; each line must be JSON.

    An exchange's tickers and status records are in files apart, each directory's names in
    time order: each kind is read in that order, and the two merged by ``seq`` (a merge of
    runs, so records out of order within the files stay out of order)."""
    runs: dict[tuple[str, Path], list[dict]] = {}
    for f in sorted(data_dir.rglob("*.jsonl*")):
        raw = gzip.decompress(f.read_bytes()) if f.suffix == ".gz" else f.read_bytes()
        assert raw == b"" or raw.endswith(b"\n"), f"{f} ends with a partial line"
        for line in raw.splitlines():
            rec = json.loads(line)
            assert rec.keys() >= REQUIRED
            runs.setdefault((rec["exchange"], f.parent), []).append(rec)
    out: dict[str, list[dict]] = {}
    for exchange in dict.fromkeys(ex for ex, _ in runs):
        kinds = [run for (ex, _), run in runs.items() if ex == exchange]
        out[exchange] = list(heapq.merge(*kinds, key=lambda r: r["seq"]))
    return out


def counts_from_log(log: str) -> tuple[int, int]:
    line = [x for x in log.splitlines() if "published=" in x][-1]
    fields = dict(kv.split("=") for kv in line.split() if "=" in kv)
    return int(fields["published"]), int(fields["written"])


@pytest.fixture
async def sims() -> AsyncIterator[dict[str, VenueSim]]:
    started = {v: VenueSim(v, rate=300, seed=i) for i, v in enumerate(VENUES)}
    for s in started.values():
        await s.start()
    yield started
    for s in started.values():
        await s.stop()


async def start_daemon(
    root: Path, sims: dict[str, VenueSim], files_limit: int | None = None, **extra: str
) -> Proc:
    config = write_config(root / "aggregator.toml", root, sims, **extra)
    proc = await spawn("run", "-c", str(config), cwd=root, files_limit=files_limit)
    sock = root / "agg.sock"
    try:
        await wait_for(sock.exists)
        _, writer = await connect_socket(sock)  # listening, not only bound
        writer.close()
    except TimeoutError:
        proc.proc.kill()
        await proc.wait()
        raise AssertionError(f"daemon did not start:\n{proc.log()}") from None
    return proc


async def connect_socket(
    path: Path, timeout: float = 15.0
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect once the daemon listens: it binds the path before it listens (sockpath.py),
    and in between, longer on a loaded machine, a connection is refused."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                return await asyncio.open_unix_connection(str(path))
            except ConnectionRefusedError:
                await asyncio.sleep(0.05)


async def read_socket(path: Path, n: int, subscribe: dict | None = None) -> list[dict]:
    """n lines of the daemon's socket; with a request, n lines from its answer on (a client
    gets every record until its subscribe line is read: those are skipped)."""
    reader, writer = await connect_socket(path)
    if subscribe:
        writer.write(json.dumps(subscribe).encode() + b"\n")
    out: list[dict] = []
    answer = {"subscribe": "ack", "status": "status_report", "ping": "pong"}.get(
        subscribe.get("op", "") if subscribe else ""
    )
    async with asyncio.timeout(15):
        while len(out) < n:
            msg = json.loads(await reader.readline())
            if answer is not None and not out and msg.get("type") not in (answer, "error"):
                continue  # before the request was read
            out.append(msg)
    writer.close()
    return out


# --- tests ----------------------------------------------------------------------------


async def test_sigterm_under_load_exits_0_and_writes_every_record(sims) -> None:
    for s in sims.values():
        s.rate = 5000  # full speed
    root = short_dir()
    proc = await start_daemon(root, sims)
    records = await read_socket(root / "agg.sock", 200)
    assert {r["exchange"] for r in records} >= {"binance"}
    await asyncio.sleep(2)
    t0 = time.monotonic()
    proc.proc.send_signal(signal.SIGTERM)
    rc = await proc.wait()
    took = time.monotonic() - t0
    assert rc == 0, proc.log()
    assert took < 5.0
    assert "Traceback" not in proc.log()
    published, written = counts_from_log(proc.log())
    lines = data_lines(root / "data")
    assert published == written == sum(len(v) for v in lines.values())
    assert set(lines) == set(VENUES)
    assert not (root / "agg.sock").exists()
    for venue, recs in lines.items():
        tickers = [r for r in recs if r["type"] == "ticker"]
        assert {r["symbol"] for r in tickers} == set(VENUES[venue])
        seqs = [r["seq"] for r in recs]
        assert seqs == sorted(seqs)
        assert recs[-1]["type"] == "status" and recs[-1]["state"] == "stopped"


async def test_kill_9_then_restart_repairs_and_resumes(sims) -> None:
    root = short_dir()
    proc = await start_daemon(root, sims)
    files = root / "data" / "binance"
    await wait_for(lambda: any(f.stat().st_size > 2000 for f in files.glob("*.jsonl")))
    proc.proc.kill()
    await proc.wait()
    (active,) = sorted(files.glob("*.jsonl"))
    with open(active, "ab") as f:  # what a crash mid-write leaves: a partial last line
        f.write(b'{"type":"ticker","exchange":"binance","sym')
    size = active.stat().st_size
    proc = await start_daemon(root, sims)
    await wait_for(lambda: active.stat().st_size > size + 500)
    proc.proc.send_signal(signal.SIGTERM)
    assert await proc.wait() == 0, proc.log()
    assert "partial line of 42 bytes" in proc.log()
    lines = data_lines(root / "data")  # every line parses, none partial
    states = [r["state"] for r in lines["binance"] if r["type"] == "status"]
    assert states.count("starting") == 2


async def test_sighup_reopens_files(sims) -> None:
    root = short_dir()
    proc = await start_daemon(root, sims)
    files = root / "data" / "kraken"
    await wait_for(lambda: any(f.stat().st_size > 0 for f in files.glob("*.jsonl")))
    await asyncio.sleep(0.5)
    (active,) = files.glob("*.jsonl")
    rotated = active.with_name("rotated.old")
    active.rename(rotated)  # what logrotate does
    proc.proc.send_signal(signal.SIGHUP)
    await wait_for(lambda: active.exists() and active.stat().st_size > 0)
    proc.proc.send_signal(signal.SIGTERM)
    assert await proc.wait() == 0, proc.log()
    published, written = counts_from_log(proc.log())
    old = rotated.read_bytes().splitlines()
    new = active.read_bytes().splitlines()
    assert old and new
    assert all(json.loads(x) for x in old + new)
    total = sum(len(v) for v in data_lines(root / "data").values()) + len(old)
    assert total == written == published


async def test_a_low_open_files_limit_is_raised(sims) -> None:
    from aggregator.app import FILES_LIMIT

    root = short_dir()
    proc = await start_daemon(root, sims, files_limit=256)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    want = FILES_LIMIT if hard == resource.RLIM_INFINITY else min(FILES_LIMIT, hard)

    def soft() -> int:
        limits = Path(f"/proc/{proc.proc.pid}/limits").read_text().splitlines()
        (line,) = [x for x in limits if x.startswith("Max open files")]
        return int(line.split()[3])

    try:
        await wait_for(lambda: soft() == want)
    finally:
        proc.proc.send_signal(signal.SIGTERM)
        code = await proc.wait()
    assert code == 0, proc.log()
    if want > 256:
        assert f"open files limit raised from 256 to {want}" in proc.log()


async def test_socket_serves_live_records_with_filters(sims) -> None:
    root = short_dir()
    proc = await start_daemon(root, sims)
    try:
        await asyncio.sleep(1.0)
        sub = {
            "op": "subscribe",
            "exchanges": ["kraken"],
            "symbols": ["ETH/USD"],
            "types": ["ticker"],
        }
        got = await read_socket(root / "agg.sock", 60, sub)  # (from the ack on)
        assert got[0]["type"] == "ack" and "snapshot_end" in [r["type"] for r in got]
        tickers = [r for r in got if r["type"] == "ticker"]
        assert tickers and all(
            r["exchange"] == "kraken" and r["symbol"] == "ETH/USD" for r in tickers
        )
        # the tail command, as a user runs it
        tail = await spawn("tail", "--socket", str(root / "agg.sock"), "-e", "binance", "-n", "5")
        out, err = await asyncio.wait_for(tail.proc.communicate(), 15)
        assert tail.proc.returncode == 0, err.decode()
        recs = [json.loads(x) for x in out.decode().splitlines()]
        recs = [r for r in recs if r["type"] in ("ticker", "status")]
        assert len(recs) == 5 and all(r["exchange"] == "binance" for r in recs)
    finally:
        proc.proc.send_signal(signal.SIGTERM)
        assert await proc.wait() == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def socket_clients(path: Path) -> int:
    """The daemon's count of socket clients, asked on a connection of its own (counted)."""
    reader, writer = await asyncio.open_unix_connection(str(path), limit=1 << 20)
    try:
        writer.write(b'{"op":"status"}\n')
        async with asyncio.timeout(10):
            while (msg := json.loads(await reader.readline()))["type"] != "status_report":
                pass
        return msg["sinks"]["socket"]["clients"] - 1
    finally:
        writer.close()


async def _connected(family: int, address: str | tuple[str, int]) -> socket.socket:
    """A socket connected to ``address``: the daemon listens on TCP a moment after its Unix
    socket (which start_daemon waits for), so a refusal is retried, for 10 s at most."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, address)
            return sock
        except ConnectionRefusedError:
            sock.close()
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.05)


async def test_half_closed_subscribers_keep_receiving_until_they_close(sims) -> None:
    """`nc -N` on the Unix socket and on TCP: the subscribe line, then shutdown(SHUT_WR);
    records keep coming for 2 s, until each closes; then the daemon has no client left."""
    root = short_dir()
    port = free_port()
    proc = await start_daemon(root, sims, socket_tcp=f"127.0.0.1:{port}")
    try:
        loop = asyncio.get_running_loop()
        conns = []
        for family, address in (
            (socket.AF_UNIX, str(root / "agg.sock")),
            (socket.AF_INET, ("127.0.0.1", port)),
        ):
            sock = await _connected(family, address)
            await loop.sock_sendall(sock, b'{"op":"subscribe","exchanges":["binance"]}\n')
            sock.shutdown(socket.SHUT_WR)
            conns.append(sock)
        got = [bytearray() for _ in conns]
        until = loop.time() + 2.0
        async with asyncio.timeout(10):
            while loop.time() < until:
                for sock, buf in zip(conns, got, strict=True):
                    chunk = await loop.sock_recv(sock, 1 << 16)
                    assert chunk, "the daemon closed a half-closed subscriber"
                    buf += chunk
        assert await socket_clients(root / "agg.sock") == 2
        for sock, buf in zip(conns, got, strict=True):
            sock.close()
            lines = [json.loads(x) for x in buf.split(b"\n")[:-1]]  # (the last may be cut)
            # the filter holds from the ack on (before its line is read, a client gets all)
            lines = lines[[m["type"] for m in lines].index("ack") :]
            tickers = [m for m in lines if m["type"] == "ticker"]
            assert len(tickers) > 100 and {t["exchange"] for t in tickers} == {"binance"}
        async with asyncio.timeout(10):
            while await socket_clients(root / "agg.sock"):
                await asyncio.sleep(0.1)
    finally:
        proc.proc.send_signal(signal.SIGTERM)
        assert await proc.wait() == 0, proc.log()


async def test_second_daemon_on_the_same_socket_is_refused(sims) -> None:
    root = short_dir()
    proc = await start_daemon(root, sims)
    try:
        config = root / "aggregator.toml"
        other = await spawn("run", "-c", str(config), cwd=root)
        rc = await other.wait()
        assert rc != 0
        assert "in use" in other.log()
        assert (root / "agg.sock").exists()  # the first daemon keeps its socket
    finally:
        proc.proc.send_signal(signal.SIGTERM)
        assert await proc.wait() == 0


# What a daemon that has bound its socket but not yet listened holds: the lock beside the
# path, flock'd, and a socket bound to the path (refusing connections until listen()).
BOUND_NOT_LISTENING = """
import fcntl, os, socket, sys, time
path = sys.argv[1]
fd = os.open(path + ".lock", os.O_RDONLY | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.bind(path)
print("bound", flush=True)
time.sleep(60)
"""


async def test_a_socket_bound_but_not_yet_listening_is_not_taken_over(sims) -> None:
    root = short_dir()
    sock = root / "agg.sock"
    config = write_config(root / "aggregator.toml", root, sims)
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", BOUND_NOT_LISTENING, str(sock), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert holder.stdout is not None
        assert await asyncio.wait_for(holder.stdout.readline(), 10) == b"bound\n"
        inode = sock.stat().st_ino
        other = await spawn("run", "-c", str(config), cwd=root)
        try:
            rc = await other.wait()
        finally:
            if other.proc.returncode is None:  # it started: the socket was taken over
                other.proc.kill()
                await other.wait()
        assert rc == 1, other.log()
        assert f"socket '{sock}' is in use by a running daemon" in other.log()
        assert "Traceback" not in other.log()
        assert sock.stat().st_ino == inode  # its socket left in place
        assert not list(root.rglob("*.jsonl"))  # refused before the files are touched
    finally:
        holder.kill()
        await holder.wait()
    # that process died without removing its socket: stale, taken over

    def accepts() -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            return probe.connect_ex(str(sock)) == 0

    proc = await spawn("run", "-c", str(config), cwd=root)
    try:
        await wait_for(accepts)
        got = await read_socket(sock, 5)
        assert len(got) == 5
    finally:
        proc.proc.send_signal(signal.SIGTERM)
        assert await proc.wait() == 0, proc.log()
    assert f"removing stale socket {sock}" in proc.log()
    assert not sock.exists() and not (root / "agg.sock.lock").exists()


async def test_systemd_notify_ready_watchdog_stopping(sims) -> None:
    root = short_dir()
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(root / "notify"))
    notify.setblocking(False)
    config = write_config(root / "aggregator.toml", root, sims, watchdog_stale="1.5")
    env = {"NOTIFY_SOCKET": str(root / "notify"), "WATCHDOG_USEC": "400000"}
    proc = await spawn("run", "-c", str(config), cwd=root, env=env)
    loop = asyncio.get_running_loop()
    messages: list[str] = []

    async def receive() -> str:
        messages.append((await loop.sock_recv(notify, 4096)).decode())
        return messages[-1]

    async def until(word: str) -> None:
        async with asyncio.timeout(15):
            while word not in await receive():
                pass

    await until("READY=1")
    await until("WATCHDOG=1")
    # No ticker from any venue: the watchdog is withheld (systemd would restart us).
    for s in sims.values():
        s.faults.silent = True
    await asyncio.sleep(2.0)
    while True:  # drop what was sent before the data stopped
        try:
            notify.recv(4096)
        except BlockingIOError:
            break
    withheld: list[str] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(1.5):
            while True:
                withheld.append(await receive())
    assert not any("WATCHDOG=1" in m for m in withheld), withheld
    for s in sims.values():
        s.faults.silent = False
    await until("WATCHDOG=1")  # fresh data again
    proc.proc.send_signal(signal.SIGTERM)
    await until("STOPPING=1")
    assert await proc.wait() == 0
    notify.close()


def run_cli(*args: str, cwd: Path | None = None, stdin: str | None = None):
    import subprocess

    return subprocess.run(
        [sys.executable, "-m", "aggregator", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        input=stdin,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("body", "expect"),
    [
        ("[files]\nperiod = 'week'\n", "files.period: expected 'hour' or 'day'"),
        ("[files]\nflush_interval = 'fast'\n", "files.flush_interval: expected a number"),
        ("[socket]\nmode = 660\n", "socket.mode: expected a string"),
        ("[daemon]\nfoo = 1\n", "daemon.foo: unknown key"),
        ("[exchanges.binance]\nsymbol = ['BTC/USDT']\n", "exchanges.binance.symbol: unknown key"),
        ("[exchanges.binance]\nsymbols = ['BTCUSDT']\n", "expected unified symbols"),
        ("[exchanges.ftx]\n", "exchanges.ftx: exchange 'ftx' is closed"),
        ("[exchanges.bitbay]\n", "renamed to zonda"),
        ("[exchanges.nosuch]\n", "unknown exchange 'nosuch'"),
        ("[exchanges.binance]\nmode = 'fix'\n", "expected 'ws' or 'rest'"),
        ("[exchanges.binance]\nws_url = 'http://x'\n", "expected a URL starting with ws://"),
        ("[files]\ndir = '/proc/nope'\n", "files.dir: cannot create directory"),
        ("[files\n", "not valid TOML"),
    ],
)
def test_bad_config_exits_2_naming_the_key(tmp_path: Path, body: str, expect: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(f"[daemon]\nstate_dir = '{tmp_path}/state'\n" * ("[daemon]" not in body) + body)
    for args in (["check", str(cfg)], ["run", "-c", str(cfg)]):
        r = run_cli(*args, cwd=tmp_path)
        assert r.returncode == 2, r.stderr
        assert expect in r.stderr
        assert "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


def test_line_numbers_in_config_errors(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[daemon]\n\n[files]\nperiod = 'hour'\nqueue_size = -1\n")
    r = run_cli("check", str(cfg), cwd=tmp_path)
    assert f"{cfg}:5: files.queue_size" in r.stderr


def test_old_id_is_mapped_with_a_warning(tmp_path: Path) -> None:
    cfg = tmp_path / "ok.toml"
    cfg.write_text(
        f"[daemon]\nstate_dir = '{tmp_path}/s'\n[files]\ndir = '{tmp_path}/d'\n"
        f"[socket]\npath = '{tmp_path}/a.sock'\n[exchanges.coinbasepro]\nsymbols = ['BTC/USD']\n"
    )
    r = run_cli("check", str(cfg), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "'coinbasepro' is now 'coinbaseexchange'" in r.stderr
    assert "coinbaseexchange (ws)" in r.stdout


def test_shipped_configs_are_valid(tmp_path: Path) -> None:
    repo = Path(__file__).parent.parent
    for name in ("demo.toml", "aggregator.toml"):
        r = run_cli("check", str(repo / "config" / name), cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    packaged = repo / "aggregator" / "data" / "demo.toml"
    assert packaged.read_bytes() == (repo / "config" / "demo.toml").read_bytes()


def test_exchanges_lists_all_2019_ids() -> None:
    r = run_cli("exchanges")
    assert r.returncode == 0
    rows = [line.split()[:2] for line in r.stdout.splitlines()[1:]]
    ids = {row[0] for row in rows}
    status = dict((row[0], row[1]) for row in rows)
    from aggregator.venues import all_2019_ids

    assert set(all_2019_ids()) <= ids and len(all_2019_ids()) == 124
    assert status["okex"] == "renamed" and status["ftx"] == "closed"
    assert status["kraken"] == "trading" and status["okx"] == "trading"


def test_normalize_reads_recorded_payloads() -> None:
    fixtures = Path(__file__).parent / "fixtures"
    ws = json.loads((fixtures / "ws" / "kraken.json").read_text())[0]["messages"]
    r = run_cli("normalize", "kraken", "--ws", stdin="\n".join(json.dumps(m) for m in ws))
    assert r.returncode == 0, r.stderr
    recs = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["bid"] for x in recs] == [63297.7, 63297.7]
    assert recs[0]["symbol"] == "BTC/USD"
    rest = json.loads((fixtures / "rest" / "coinbaseexchange.json").read_text())[0]
    r = run_cli(
        "normalize",
        "coinbasepro",
        "--rest",
        "--symbol",
        "BTC/USDT",
        stdin=json.dumps(rest["httpResponse"]),
    )
    assert r.returncode == 0, r.stderr
    (rec,) = [json.loads(x) for x in r.stdout.splitlines()]
    assert rec["exchange"] == "coinbaseexchange" and rec["last"] == 73367.8
    r = run_cli("normalize", "coinbaseexchange", "--rest", stdin=json.dumps(rest["httpResponse"]))
    assert r.returncode == 1 and "--symbol" in r.stderr
    r = run_cli("normalize", "binance", "--ws", stdin="not json\n")
    assert r.returncode == 1 and "line 1" in r.stderr


async def test_demo_writes_files_and_serves_the_socket(tmp_path: Path) -> None:
    root = short_dir()
    sock = root / "demo.sock"
    proc = await spawn(
        "demo",
        "--duration",
        "6",
        "--data-dir",
        str(root / "demo"),
        "--socket",
        str(sock),
        cwd=tmp_path,
    )
    await wait_for(sock.exists)
    got = await read_socket(sock, 50)
    assert {r["type"] for r in got} <= {"ticker", "status"}
    rc = await proc.wait(30)
    assert rc == 0, proc.log()
    assert "Traceback" not in proc.log()
    lines = data_lines(root / "demo" / "data")
    assert set(lines) == {"binance", "coinbase", "coinbaseexchange", "kraken"}
    for venue, recs in lines.items():
        assert sum(r["type"] == "ticker" for r in recs) > 10, venue
    published, written = counts_from_log(proc.log())
    assert published == written == sum(len(v) for v in lines.values())


async def test_demo_sigterm_at_full_speed(tmp_path: Path) -> None:
    root = short_dir()
    sock = root / "demo.sock"
    proc = await spawn(
        "demo",
        "--rate",
        "5000",
        "--data-dir",
        str(root / "demo"),
        "--socket",
        str(sock),
        cwd=tmp_path,
    )
    await wait_for(sock.exists)
    await read_socket(sock, 2000)
    t0 = time.monotonic()
    proc.proc.send_signal(signal.SIGTERM)
    rc = await proc.wait(30)
    assert rc == 0, proc.log()
    assert time.monotonic() - t0 < 5.0
    published, written = counts_from_log(proc.log())
    lines = data_lines(root / "demo" / "data")
    assert published == written == sum(len(v) for v in lines.values())
    assert published > 2000


async def test_demo_all_streams_every_simulated_venue(tmp_path: Path) -> None:
    from aggregator.adapters.registry import modes
    from aggregator.sim.dialects import simulated

    expected = {v for v in simulated() if "ws" in modes(v)}
    root = short_dir()
    proc = await spawn(
        "demo",
        "--all",
        "--duration",
        "8",
        "--data-dir",
        str(root / "demo"),
        "--socket",
        str(root / "demo.sock"),
        cwd=tmp_path,
    )
    assert await proc.wait(40) == 0, proc.log()
    assert "Traceback" not in proc.log()
    lines = data_lines(root / "demo" / "data")
    missing = [v for v in expected if not any(r["type"] == "ticker" for r in lines.get(v, []))]
    assert not missing, f"no tickers from {missing}\n{proc.log()[-3000:]}"
    for venue in expected:
        states = [r["state"] for r in lines[venue] if r["type"] == "status"]
        assert "subscribed" in states and "live" in states, (venue, states)
        assert "error" not in states, (venue, [r for r in lines[venue] if r["type"] == "status"])
    for venue in ("binance", "okx", "deribit"):  # derivatives too, with their own fields
        perps = [r for r in lines[venue] if r["type"] == "ticker" and r["kind"] == "perp"]
        assert perps and any(r["mark"] is not None for r in perps), venue


# --- signals in bursts -------------------------------------------------------------------

REPEATED = re.compile(r"\(repeated (\d+) times?\)")


def grouped(log: str, text: str) -> tuple[int, int]:
    """The log's lines holding ``text`` and how many events they stand for: a burst is its
    first line, then, once it is over, the last held back with ``(repeated N times)``."""
    lines = [x for x in log.splitlines() if text in x]
    return len(lines), sum(int(m.group(1)) if (m := REPEATED.search(x)) else 1 for x in lines)


def check_every_record_on_disk(proc: Proc, root: Path, elsewhere: int = 0) -> int:
    """After an orderly stop: every record published is in the data files (or ``elsewhere``:
    files renamed away); how many."""
    published, written = counts_from_log(proc.log())
    on_disk = sum(len(v) for v in data_lines(root / "data").values()) + elsewhere
    assert published == written == on_disk, (published, written, on_disk)
    return on_disk


class StalledNats:
    """A NATS server that accepts connections and never answers: the daemon's NATS sink
    drains towards it at shutdown for as long as it may (its share of the grace)."""

    def __init__(self) -> None:
        self.held: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> StalledNats:
        async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.held.append(writer)

        self.server = await asyncio.start_server(hold, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for w in self.held:
            w.close()
        assert self.server is not None
        self.server.close()

    def config(self, config: Path, grace: float) -> None:
        """Point the daemon's config at it, with this shutdown grace."""
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        text = config.read_text().replace("shutdown_grace = 4.0", f"shutdown_grace = {grace}")
        text += f'[nats]\nenabled = true\nservers = ["nats://127.0.0.1:{port}"]\n'
        config.write_text(text + "connect_timeout = 30.0\n")


@pytest.mark.parametrize(
    "first, second",
    [
        (signal.SIGTERM, signal.SIGTERM),
        (signal.SIGINT, signal.SIGTERM),
        (signal.SIGTERM, signal.SIGINT),
    ],
)
@pytest.mark.parametrize("held", [False, True], ids=["quick", "held"])
async def test_two_signals_within_a_second_are_one_orderly_stop(sims, first, second, held) -> None:
    """Supervisors such as `timeout` send the signal twice: the second, 10 ms later, is the
    same request, not a forced exit, whether it comes while the daemon drains (held: the
    NATS sink waits 2.5 s for a server that never answers) or once it has drained."""
    root = short_dir()
    async with StalledNats() as nats:
        config = write_config(root / "aggregator.toml", root, sims)
        if held:
            nats.config(config, grace=4.0)
        proc = await spawn("run", "-c", str(config), cwd=root)
        try:
            await wait_for((root / "agg.sock").exists)
            await read_socket(root / "agg.sock", 50)
            proc.proc.send_signal(first)
            await asyncio.sleep(0.01)
            proc.proc.send_signal(second)
            assert await proc.wait() == 0, proc.log()
        finally:
            if proc.proc.returncode is None:
                proc.proc.kill()
                await proc.wait()
    log = proc.log()
    assert "second signal" not in log and "Traceback" not in log
    assert f"stopping: {first.name}" in log
    if held:
        assert f"{second.name} within 1 s of the first signal: the same request" in log
    assert check_every_record_on_disk(proc, root) > 50
    assert not (root / "agg.sock").exists()


@pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT])
async def test_a_second_signal_a_second_later_forces_the_exit(sims, second) -> None:
    """The shutdown is held (the NATS sink drains towards a server that never answers, for
    up to 8.5 s of a 10 s grace): a signal 1.5 s after the first exits at once, with 1."""
    root = short_dir()
    async with StalledNats() as nats:
        config = write_config(root / "aggregator.toml", root, sims)
        nats.config(config, grace=10.0)
        proc = await spawn("run", "-c", str(config), cwd=root)
        try:
            await wait_for((root / "agg.sock").exists)
            await read_socket(root / "agg.sock", 50)
            assert nats.held  # the daemon is connecting to it
            proc.proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(1.5)
            assert proc.proc.returncode is None  # still draining
            t0 = time.monotonic()
            proc.proc.send_signal(second)
            assert await proc.wait() == 1, proc.log()
            assert time.monotonic() - t0 < 3.0
        finally:
            if proc.proc.returncode is None:
                proc.proc.kill()
                await proc.wait()
    log = proc.log()
    assert f"second signal ({second.name}): exiting now, without draining" in log
    assert "the same request" not in log and "Traceback" not in log


async def test_a_burst_of_sighups_is_one_log_line_with_a_count_and_files_reopened(sims) -> None:
    root = short_dir()
    proc = await start_daemon(root, sims)
    files = root / "data" / "kraken"
    await wait_for(lambda: any(f.stat().st_size > 0 for f in files.glob("*.jsonl")))
    (active,) = files.glob("*.jsonl")
    rotated = active.with_name("rotated.old")
    active.rename(rotated)  # what logrotate does, then it sends SIGHUP (here 50 times)
    for _ in range(50):
        proc.proc.send_signal(signal.SIGHUP)
        await asyncio.sleep(0.002)
    await wait_for(lambda: active.exists() and active.stat().st_size > 0)
    await asyncio.sleep(1.5)  # past the burst's reopen
    proc.proc.send_signal(signal.SIGTERM)
    assert await proc.wait() == 0, proc.log()
    lines, signals = grouped(proc.log(), "SIGHUP: reopening files")
    assert 1 <= lines <= 2, proc.log()
    assert 25 <= signals <= 50  # the OS merges a signal sent while one is pending
    old = len(rotated.read_bytes().splitlines())
    assert old and check_every_record_on_disk(proc, root, elsewhere=old) > old


async def test_a_burst_of_connections_past_max_clients_is_one_log_line_with_a_count(
    sims,
) -> None:
    root = short_dir()
    config = write_config(root / "aggregator.toml", root, sims)
    config.write_text(config.read_text().replace("[socket]\n", "[socket]\nmax_clients = 2\n"))
    proc = await spawn("run", "-c", str(config), cwd=root)
    sock = root / "agg.sock"
    try:
        await wait_for(sock.exists)
        served = [await connect_socket(sock) for _ in range(2)]
        for reader, _ in served:
            await reader.readline()  # accepted, records coming

        # at most 50 connecting at once, below the listen backlog (100): a Unix socket's
        # connect past a full backlog fails with EAGAIN, which asyncio takes for a connection
        # under way and then reads an unconnected socket (EINVAL), a client's bug, not ours
        gate = asyncio.Semaphore(50)

        async def refused() -> bytes:
            async with gate:
                reader, writer = await asyncio.open_unix_connection(str(sock))
                try:
                    return await reader.readline()
                finally:
                    writer.close()

        try:
            answers = await asyncio.gather(*(refused() for _ in range(200)))
        finally:
            for _, writer in served:
                writer.close()
        assert all(b"too many clients (max_clients=2)" in a for a in answers)
    finally:
        proc.proc.send_signal(signal.SIGTERM)
        assert await proc.wait() == 0, proc.log()
    lines, refusals = grouped(proc.log(), "refused a connection past max_clients=2")
    assert lines <= 2 and refusals == 200, proc.log()
