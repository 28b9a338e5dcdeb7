"""Machine-side faults: the disk fills up or turns read-only, the daemon is killed mid-write,
stopped under full load, asked to reopen its files while they rotate, and started on a socket
a live daemon holds or a dead one left behind; its data directory is removed, replaced by a
file, or a file in it unlinked, and a second daemon starts on the directory it lost.

What must hold, counted record by record: nothing the hub accepted is lost by the file sink
(records on disk + the drops the daemon reported == records published), except for SIGKILL,
where at most the last unflushed second may be missing and a torn line is repaired. On a disk
fault the daemon keeps running and serving the socket, reports the condition (log line,
status record, /metrics) once, holds a bounded backlog, and resumes when the fault clears.
Memory stays bounded (peak RSS reported); no expected condition puts a traceback in the log.

The disk faults run the daemon in a private mount namespace on a small tmpfs (jig.py), so
ENOSPC and EROFS are real, even for root, and the host's mounts are never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import shutil
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from aggregator.sim import VenueSim
from tests.chaos.conftest import Chaos, peak_rss_mb
from tests.chaos.daemon import exit_counts
from tests.chaos.machine import (
    RSS_LIMIT_MB,
    Daemon,
    Machine,
    Sampler,
    Subscriber,
    accepts,
    contiguous,
    data_bytes,
    http_get,
    lines_matching,
    machine_config,
    metrics_port,
    no_traceback,
    start,
    whole_lines,
)
from tests.test_daemon import VENUES, Proc, data_lines, short_dir, spawn, wait_for

RATE = 1000  # simulated updates/s per venue: a few hundred records/s for our symbols
FULL = 5000  # the simulators' full speed
DISK = 4 << 20  # the tmpfs under the data directory
BACKLOG = 500  # files.queue_size in the disk faults: reached a second or two into a fault
GRACE = 4.0  # daemon.shutdown_grace in tests/test_daemon.py's config
FILES = 'aggregator_sink_dropped_total{sink="files"}'


async def venues(names: list[str], rate: float) -> dict[str, VenueSim]:
    sims = {v: VenueSim(v, rate=rate, seed=i) for i, v in enumerate(names)}
    for s in sims.values():
        await s.start()
    return sims


@pytest.fixture
async def sims() -> AsyncIterator[dict[str, VenueSim]]:
    """binance and kraken at a few hundred records/s each."""
    started = await venues(["binance", "kraken"], RATE)
    yield started
    for s in started.values():
        await s.stop()


def on_disk(lines: dict[str, list[dict]]) -> int:
    return sum(len(v) for v in lines.values())


# --- disk full, read-only ------------------------------------------------------------------


async def disk_fault(chaos: Chaos, sims: dict[str, VenueSim], fault: str) -> None:
    """Run, break the disk (``fill`` or ``ro``), keep it broken, repair it, stop, count."""
    undo, errno_text = {"fill": ("free", "No space left on device"), "ro": ("rw", "Read-only")}[
        fault
    ]
    root = short_dir()
    config = machine_config(root, sims, files={"queue_size": BACKLOG}, metrics=True)
    before, during, after = chaos.duration(1.5), chaos.duration(2.5), chaos.duration(1.0)
    size = DISK + int(before + during + after) * (512 << 10)  # never full by itself
    m = await Machine.start(root, config, size)
    sampler: Sampler | None = None
    sub: Subscriber | None = None
    try:
        port = await metrics_port(m.log)
        sampler = Sampler(port, ("aggregator_files_", FILES))
        sub = await Subscriber(root / "agg.sock", keep=False).start()
        await wait_for(lambda: sub.count > 100)
        t_ok = time.monotonic()
        await asyncio.sleep(before)

        t_fault = time.monotonic()
        did = await m.ask(fault)
        await wait_for(lambda: sub.statuses("files"), timeout=10)
        t_seen = time.monotonic()
        await asyncio.sleep(during)
        await wait_for(lambda: sampler.last(FILES) > 0, timeout=30)  # the backlog overflowed
        t_clear = time.monotonic()
        in_fault = sampler.samples[-1][1]
        assert m.jig.returncode is None, m.log.text()
        health = await http_get(port, "/health")

        recovery_s = (await m.ask(undo))["recovery_s"]
        await wait_for(lambda: len(sub.statuses("files")) >= 2, timeout=10)
        await asyncio.sleep(after)
        rss = peak_rss_mb(m.pid)
        m.signal(signal.SIGTERM)
        rc = await m.wait()
        await m.ask("collect", dest=str(root / "copy"))
    finally:
        if sampler is not None:
            await sampler.stop()
        if sub is not None:
            await sub.close()
        await m.close()
    log = m.log.text()
    assert rc == 0, log[-3000:]
    no_traceback(log)

    # Served the socket all along: the subscriber's rate during the fault vs before it.
    ratio = sub.rate(t_seen, t_clear) / sub.rate(t_ok, t_fault)
    assert ratio > 0.5, (ratio, sub.rate(t_ok, t_fault))

    # Said so once, in the log, as status records, on /metrics.
    assert len(re.findall(r"files: cannot write .*" + errno_text, log)) == 1, log[-3000:]
    assert log.count("backlog full") == 1
    assert log.count("writing again after") == 1
    error, live = sub.statuses("files")[:2]
    assert (error.state, live.state) == ("error", "live"), sub.statuses("files")
    assert error.detail is not None and error.detail.startswith("cannot write ")
    assert errno_text in error.detail and f"keeping up to {BACKLOG} records" in error.detail
    assert in_fault["aggregator_files_failing"] >= 2
    assert in_fault["aggregator_files_write_errors_total"] > 0
    assert in_fault[FILES] > 0  # the bound was reached: the oldest were dropped
    backlog_peak = sampler.peak("aggregator_files_backlog")
    assert backlog_peak <= BACKLOG  # never more than the bound
    assert in_fault["aggregator_files_backlog"] >= BACKLOG / 2  # and kept while it overflowed
    assert sampler.last("aggregator_files_failing") == 0
    assert " 503 " in health[0] and "files: cannot write" in health[1], health
    assert rss < RSS_LIMIT_MB

    # Counted: on disk + reported dropped == published, and the drops are the ones reported.
    published, written, dropped = exit_counts(log)
    lines = data_lines(root / "copy")
    assert on_disk(lines) == written
    assert written + dropped == published
    assert live.detail is not None
    reported = int(re.search(r"; (\d+) records dropped", live.detail)[1])  # type: ignore[index]
    assert reported == dropped > 0
    for venue in sims:
        seqs = [r["seq"] for r in lines[venue]]
        assert seqs == sorted(seqs)  # what was kept is in order; the gap is the drops
    assert [r["state"] for r in lines["files"]] == ["error", "live"]

    chaos.record(
        f"machine: {'disk full' if fault == 'fill' else 'read-only data directory'}",
        faults=(
            f"tmpfs {size >> 20} MiB filled ({did['bytes'] >> 10} KiB filler)"
            if fault == "fill"
            else f"tmpfs remounted read-only (after {did['hups']} SIGHUP to close the files)"
        )
        + f" for {t_clear - t_fault:.1f} s; 2 venues x {RATE}/s",
        accepted=published,
        written=written,
        dropped=dropped,
        recovery_s=recovery_s,
        rate_ratio=ratio,
        peak_rss_mb=rss,
        notes=f"backlog peak {backlog_peak:.0f} of {BACKLOG}; detected in "
        f"{t_seen - t_fault:.2f} s; socket kept serving",
    )


async def test_disk_full(chaos: Chaos, sims: dict[str, VenueSim]) -> None:
    await disk_fault(chaos, sims, "fill")


async def test_data_directory_read_only(chaos: Chaos, sims: dict[str, VenueSim]) -> None:
    await disk_fault(chaos, sims, "ro")


# --- SIGKILL mid-write, restart -----------------------------------------------------------


async def test_sigkill_mid_write_then_restart(chaos: Chaos, sims: dict[str, VenueSim]) -> None:
    flush = 1.0  # the default files.flush_interval: "the last unflushed second"
    root = short_dir()
    config = machine_config(root, sims, files={"flush_interval": flush})
    d = await start(root, config)
    sub = await Subscriber(root / "agg.sock").start()
    try:
        await wait_for(lambda: sub.count > 100)
        await asyncio.sleep(chaos.duration(2.0) + random.uniform(0, flush))
        rss = peak_rss_mb(d.pid)
        t_kill = time.time_ns()
        d.signal(signal.SIGKILL)
        await d.wait()
        assert sub.till_eof is not None
        await asyncio.wait_for(sub.till_eof, 5)
    finally:
        await sub.close()

    # What the kill left: whole lines, maybe one torn line per file.
    torn: dict[Path, int] = {}
    kept: dict[str, set[int]] = {}
    for f in sorted((root / "data").rglob("*.jsonl")):
        raw = f.read_bytes()
        whole = raw[: raw.rfind(b"\n") + 1]
        if len(whole) < len(raw):
            torn[f] = len(raw) - len(whole)
        for line in whole.splitlines():
            r = data_record(line)
            kept.setdefault(r[0], set()).add(r[1])
    real_tears = len(torn)

    # Compare with what the subscriber saw: the files hold a prefix of it, per venue.
    missing = []
    for venue in sims:
        saw = [s for s in sub.seen if s.exchange == venue]
        assert saw, venue
        first = saw[0].seq
        on = sorted(q for q in kept.get(venue, ()) if q >= first)
        assert on and contiguous(on), venue  # no hole in what was written
        missing += [s for s in saw if s.seq > on[-1]]
        assert all(s.seq in kept[venue] for s in saw if s.seq <= on[-1])
    missing_s = (t_kill - min(s.ts_recv for s in missing)) / 1e9 if missing else 0.0
    assert missing_s <= flush + 1.0, missing_s  # only the last unflushed second (+ slack)

    # A kill rarely lands inside a write; where none did, leave what one leaves: half a line.
    if not torn:
        active = max((root / "data" / "binance").glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
        half = sub.last_line[:40]
        with open(active, "ab") as tail:
            tail.write(half)
        torn[active] = len(half)
    whole_lines = sum(len(v) for v in kept.values())

    size = data_bytes(root / "data") - sum(torn.values())  # once repaired
    t_back = time.monotonic()
    d2 = await start(root, config)  # also takes over the socket the kill left
    await wait_for(lambda: data_bytes(root / "data") > size)
    recovery_s = time.monotonic() - t_back  # restart to the first new line on disk
    await asyncio.sleep(chaos.duration(1.0))
    rss = max(rss, peak_rss_mb(d2.pid))
    d2.signal(signal.SIGTERM)
    assert await d2.wait() == 0, d2.log.text()
    log = d2.log.text()
    no_traceback(log)
    for f, n in torn.items():
        assert f"cut a partial line of {n} bytes from {f}" in log, log
    assert "removing stale socket" in log

    published, written, dropped = exit_counts(log)
    lines = data_lines(root / "data")  # every line whole and valid JSON
    assert on_disk(lines) == whole_lines + written
    assert written == published and dropped == 0
    for venue in sims:
        assert [r["state"] for r in lines[venue] if r["type"] == "status"].count("starting") == 2
    assert rss < RSS_LIMIT_MB
    chaos.record(
        "machine: SIGKILL mid-write, restart",
        faults=f"SIGKILL at 2 venues x {RATE}/s, flush_interval {flush:g} s; restart",
        # the first run's records as the subscriber saw them, then the second run's
        accepted=len(sub.seen) + published,
        written=len(sub.seen) - len(missing) + written,
        dropped=len(missing),
        recovery_s=recovery_s,
        peak_rss_mb=rss,
        notes=f"lost the last {missing_s:.2f} s ({len(missing)} records the socket had sent); "
        f"{len(torn)} torn line(s) cut ({real_tears} left by the kill itself)",
    )


def data_record(line: bytes) -> tuple[str, int]:
    m = re.search(rb'"exchange":"([^"]+)".*"seq":(\d+)', line)
    assert m, line
    return m[1].decode(), int(m[2])


# --- SIGTERM under full load --------------------------------------------------------------


async def test_sigterm_under_full_load(chaos: Chaos) -> None:
    sims = await venues(list(VENUES), FULL)
    root = short_dir()
    subs: list[Subscriber] = []
    try:
        d = await start(root, machine_config(root, sims))
        subs = [await Subscriber(root / "agg.sock", keep=False).start() for _ in range(3)]
        await wait_for(lambda: all(s.count > 1000 for s in subs))
        t0 = time.monotonic()
        await asyncio.sleep(chaos.duration(2.0))
        rate = subs[0].rate(t0, time.monotonic())
        rss = peak_rss_mb(d.pid)
        t_term = time.monotonic()
        d.signal(signal.SIGTERM)
        rc = await d.wait(GRACE + 5)
        took = time.monotonic() - t_term
        for s in subs:  # the daemon closed them
            assert s.till_eof is not None
            await asyncio.wait_for(s.till_eof, 5)
    finally:
        for s in subs:
            await s.close()
        for sim in sims.values():
            await sim.stop()
    log = d.log.text()
    assert rc == 0, log[-3000:]  # within shutdown_grace, else the daemon exits 1
    no_traceback(log)
    published, written, dropped = exit_counts(log)
    lines = data_lines(root / "data")
    assert on_disk(lines) == written == published and dropped == 0
    for venue, recs in lines.items():
        assert contiguous([r["seq"] for r in recs]), venue
        assert recs[-1]["type"] == "status" and recs[-1]["state"] == "stopped"
    assert not (root / "agg.sock").exists()
    assert rss < RSS_LIMIT_MB
    stopped = float(re.findall(r"stopped in ([\d.]+)s", log)[-1])
    chaos.record(
        "machine: SIGTERM under full load",
        faults=f"SIGTERM at {len(sims)} venues x {FULL}/s, 3 socket subscribers",
        accepted=published,
        written=on_disk(lines),
        dropped=dropped,
        peak_rss_mb=rss,
        notes=f"exit 0 in {took:.2f} s (daemon: stopped in {stopped:.2f} s, grace {GRACE:g} s); "
        f"{rate:.0f} records/s to each subscriber",
    )


# --- SIGHUP during rotation -----------------------------------------------------------------


async def test_sighup_during_rotation(chaos: Chaos) -> None:
    sims = await venues(["binance", "kraken"], 3000)
    root = short_dir()
    try:
        config = machine_config(root, sims, files={"flush_interval": 0.1}, max_bytes="16KiB")
        d = await start(root, config)
        await wait_for(lambda: len(list((root / "data").rglob("*.jsonl.gz"))) >= 2)
        hups = 0
        end = time.monotonic() + chaos.duration(3.0)
        while time.monotonic() < end and hups < 10_000:
            d.signal(signal.SIGHUP)
            hups += 1
            await asyncio.sleep(random.uniform(0.02, 0.15))
        rss = peak_rss_mb(d.pid)
        d.signal(signal.SIGTERM)
        rc = await d.wait()
    finally:
        for sim in sims.values():
            await sim.stop()
    log = d.log.text()
    assert rc == 0, log[-3000:]
    no_traceback(log)
    # the OS may merge two. The log writes a burst as its first line, then the last line
    # held back, ending in "(repeated N times)": N lines held
    hup_lines = [x for x in log.splitlines() if "SIGHUP: reopening files" in x]
    held = [re.search(r"\(repeated (\d+) times?\)", x) for x in hup_lines]
    counted = sum(int(m.group(1)) if m else 1 for m in held)
    assert hups // 2 <= counted <= hups and len(hup_lines) <= 2 + chaos.duration(3.0) / 10
    published, written, dropped = exit_counts(log)
    lines = data_lines(root / "data")  # no torn line in any file, plain or gzip
    assert on_disk(lines) == written == published and dropped == 0
    for venue in sims:
        assert contiguous([r["seq"] for r in lines[venue]]), venue  # none lost, none twice
    parts = list((root / "data").rglob("*.jsonl*"))
    assert not list((root / "data").rglob("*.tmp"))
    assert len(parts) >= 20  # it did rotate, constantly
    assert rss < RSS_LIMIT_MB
    chaos.record(
        "machine: SIGHUP during rotation",
        faults=f"{hups} SIGHUP while files rotate at 16 KiB (2 venues x 3000/s)",
        accepted=published,
        written=on_disk(lines),
        dropped=dropped,
        peak_rss_mb=rss,
        notes=f"{len(parts)} files (gzip); no line lost, torn or doubled",
    )


# --- the socket path in use, or stale ----------------------------------------------------------


async def test_socket_in_use_then_stale(chaos: Chaos, sims: dict[str, VenueSim]) -> None:
    root = short_dir()
    sock = root / "agg.sock"
    config = machine_config(root, sims)
    a = await start(root, config)
    sub = await Subscriber(sock, keep=False).start()
    try:
        t_sub = time.monotonic()
        await wait_for(lambda: sub.count > 100)
        await asyncio.sleep(chaos.duration(1.0))
        t0, n0 = time.monotonic(), sub.count

        # A second daemon on the same config: refused at the socket, the first untouched.
        b = await spawn("run", "-c", str(config), cwd=root)
        rc_b = await b.wait()
        refused_s = time.monotonic() - t0
        # One on the same data directory through another socket: refused by its lock.
        other = root / "other.toml"
        other.write_text(config.read_text().replace(str(sock), str(root / "other.sock")))
        c = await spawn("run", "-c", str(other), cwd=root)
        rc_c = await c.wait()
        await asyncio.sleep(chaos.duration(1.0))
        ratio = sub.rate(t0, time.monotonic()) / sub.rate(t_sub, t0)
        assert a.proc.proc.returncode is None
        assert sub.count > n0 + 100  # the first kept serving
        rss_a = peak_rss_mb(a.pid)
        a.signal(signal.SIGTERM)
        assert await a.wait() == 0, a.log.text()
    finally:
        await sub.close()
        if a.proc.proc.returncode is None:
            await a.kill()
    for proc, rc, expect in (
        (b, rc_b, f"socket '{sock}' is in use by a running daemon"),
        (c, rc_c, f"data directory '{root / 'data'}' is in use by another running daemon"),
    ):
        assert rc == 1, proc.log()
        assert expect in proc.log()
        no_traceback(proc.log())
        assert len(proc.log().strip().splitlines()) <= 3, proc.log()
    assert sock.exists() is False  # the first removed its own socket at exit, no one else
    published, written, dropped = exit_counts(a.log.text())
    lines = data_lines(root / "data")
    assert on_disk(lines) == written == published and dropped == 0
    chaos.record(
        "machine: socket in use by a live daemon",
        faults="a second daemon on the same config, a third on the same data directory",
        accepted=published,
        written=on_disk(lines),
        dropped=dropped,
        rate_ratio=ratio,
        peak_rss_mb=rss_a,
        notes=f"both refused (exit 1, one line each) in {refused_s:.2f} s; first unaffected",
    )

    # Stale: a daemon killed with SIGKILL leaves its socket; the next one takes it over.
    before = on_disk(data_lines(root / "data"))
    d = await start(root, config)
    sub = await Subscriber(sock, keep=False).start()
    try:
        await wait_for(lambda: sub.count > 100)
        d.signal(signal.SIGKILL)
        await d.wait()
        assert sock.exists() and not accepts(sock)
        t_dead = time.monotonic()
        survived = whole_lines(root / "data")
        e = await start(root, config)
        took_over_s = time.monotonic() - t_dead
        sub2 = await Subscriber(sock, keep=False).start()
        try:
            await wait_for(lambda: sub2.count > 0)
            recovery_s = time.monotonic() - t_dead
            await asyncio.sleep(chaos.duration(1.0))
            rss = peak_rss_mb(e.pid)
            e.signal(signal.SIGTERM)
            assert await e.wait() == 0, e.log.text()
        finally:
            await sub2.close()
    finally:
        await sub.close()
    log = e.log.text()
    no_traceback(log)
    assert f"removing stale socket {sock}" in log
    published, written, dropped = exit_counts(log)
    lines = data_lines(root / "data")
    assert on_disk(lines) == survived + written and written == published and dropped == 0
    assert survived > before
    chaos.record(
        "machine: stale socket of a SIGKILLed daemon",
        faults="SIGKILL, then a new daemon on the same socket path",
        accepted=published,
        written=on_disk(lines) - survived,
        dropped=dropped,
        recovery_s=recovery_s,
        peak_rss_mb=rss,
        notes=f"socket taken over in {took_over_s:.2f} s (start to accepting)",
    )


# --- the data directory removed, replaced by a file, a file unlinked --------------------------

DIR_FLUSH = 0.5  # files.flush_interval in these scenarios: detection must come within it


@contextlib.contextmanager
def paused(d: Daemon) -> Iterator[None]:
    """The daemon stopped (SIGSTOP) while the test changes its files, so that `rm -rf`, which
    unlinks file by file, is one event to it: a flush between two unlinks would see, and
    report, the first file go before the directory. Its writer may be stopped mid-flush."""
    d.signal(signal.SIGSTOP)
    try:
        yield
    finally:
        d.signal(signal.SIGCONT)


async def health(port: int) -> int:
    """The status code /health answers now."""
    return int((await http_get(port, "/health"))[0].split()[1])


async def until_health(port: int, code: int, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while await health(port) != code:
            await asyncio.sleep(0.1)


async def dir_fault(chaos: Chaos, sims: dict[str, VenueSim], fault: str) -> None:
    """Run, remove the data directory (``removed``), or put a file in its place for a while
    (``file``), or unlink one venue's open file (``unlinked``); stop; count."""
    root = short_dir()
    data = root / "data"
    files: dict[str, object] = {"flush_interval": DIR_FLUSH}
    if fault == "file":
        files["queue_size"] = BACKLOG  # reached while the file is there: the oldest go
    config = machine_config(root, sims, files=files, metrics=True)
    d = await start(root, config)
    sub = await Subscriber(root / "agg.sock", keep=False).start()
    sampler: Sampler | None = None
    refused: Proc | None = None
    try:
        port = await metrics_port(d.log)
        sampler = Sampler(port, ("aggregator_files_", FILES))
        await wait_for(lambda: sub.count > 100)
        await asyncio.sleep(chaos.duration(1.5))
        victim = max((data / "binance").glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
        if fault == "unlinked":
            victim.unlink()  # one call: the daemon runs on, as it would
        else:
            with paused(d):
                shutil.rmtree(data)
                if fault == "file":
                    data.write_bytes(b"not the daemon's\n")
        t_fault = time.monotonic()
        await wait_for(lambda: sub.statuses("files"), timeout=10)
        detected_s = time.monotonic() - t_fault
        if fault == "file":
            await asyncio.sleep(chaos.duration(2.0))  # retried every second meanwhile
            held = sampler.samples[-1][1]
            code, body = await http_get(port, "/health")
            assert " 503 " in code and "is not a directory" in body, (code, body)
            assert data.read_bytes() == b"not the daemon's\n"  # left as it was
            data.unlink()
            t_fault = time.monotonic()
        await wait_for(lambda: data_bytes(data) > 0 and len(sub.statuses("files")) >= 2)
        recovery_s = time.monotonic() - t_fault
        await wait_for(
            lambda: (
                sampler.last("aggregator_files_vanished_total") == 1
                and sampler.last("aggregator_files_failing") == 0
            )
        )
        await until_health(port, 200)
        if fault == "removed":  # taken again: a second daemon on it is refused
            other = root / "other.toml"
            text = config.read_text().replace(str(root / "agg.sock"), str(root / "b.sock"))
            other.write_text(text)
            refused = await spawn("run", "-c", str(other), cwd=root)
            assert await refused.wait() == 1, refused.log()
        await asyncio.sleep(chaos.duration(1.0))
        rss = peak_rss_mb(d.pid)
        d.signal(signal.SIGTERM)
        rc = await d.wait()
    finally:
        if sampler is not None:
            await sampler.stop()
        await sub.close()
        if d.proc.proc.returncode is None:
            await d.kill()
    log = d.log.text()
    assert rc == 0, log[-3000:]
    no_traceback(log)
    if refused is not None:
        assert f"data directory '{data}' is in use by another running daemon" in refused.log()

    # Said once: one log line, one status record at each end of the episode.
    what = {"removed": "was removed", "file": "was removed and a file put in its place"}
    said = lines_matching(
        log, lambda x: f"files: {data}" in x or f"files: data directory '{data}' was" in x
    )
    assert len(said) == 1, said
    assert what.get(fault, f"{victim} was removed") in said[0], said
    error, live = sub.statuses("files")
    assert (error.state, live.state) == ("error", "live")
    assert error.detail is not None and live.detail is not None
    assert error.detail in said[0]
    if fault == "file":
        assert "; it is not a directory; not writing there" in error.detail
        assert held["aggregator_files_failing"] >= 2
        assert BACKLOG / 2 <= sampler.peak("aggregator_files_backlog") <= BACKLOG
        assert held[FILES] > 0  # the bound was reached: the oldest were dropped
    else:
        assert detected_s <= DIR_FLUSH + 0.5, detected_s  # within a flush (and a scrap)

    # Counted: what is on disk is what the daemon says it wrote; the rest it says it dropped.
    published, written, dropped = exit_counts(log)
    lines = data_lines(data)
    assert on_disk(lines) == written and written + dropped == published
    reported = int(re.search(r"(\d+) records dropped", live.detail)[1])  # type: ignore[index]
    assert reported == dropped > 0
    assert [r["state"] for r in lines["files"]] == ["error", "live"]
    assert rss < RSS_LIMIT_MB
    faults = {
        "removed": "data directory removed (rm -rf)",
        "file": "data directory removed and a file put in its place for 2 s",
        "unlinked": "binance's open file unlinked",
    }[fault]
    chaos.record(
        {
            "removed": "machine: data directory removed",
            "file": "machine: data directory replaced by a file",
            "unlinked": "machine: data file unlinked",
        }[fault],
        faults=f"{faults}; 2 venues x {RATE}/s, flush_interval {DIR_FLUSH:g} s",
        accepted=published,
        written=on_disk(lines),
        dropped=dropped,
        recovery_s=recovery_s,
        peak_rss_mb=rss,
        notes=f"detected in {detected_s:.2f} s; dropped: this run's lines that went with it"
        + (f", and the oldest past the backlog of {BACKLOG}" if fault == "file" else "")
        + "; recreated"
        + (" and locked again (a second daemon refused)" if fault == "removed" else ""),
    )


async def test_data_directory_removed(chaos: Chaos, sims: dict[str, VenueSim]) -> None:
    await dir_fault(chaos, sims, "removed")


async def test_data_directory_replaced_by_a_file(chaos: Chaos, sims: dict[str, VenueSim]) -> None:
    await dir_fault(chaos, sims, "file")


async def test_data_file_unlinked(chaos: Chaos, sims: dict[str, VenueSim]) -> None:
    await dir_fault(chaos, sims, "unlinked")


async def test_second_daemon_on_a_recreated_data_directory(
    chaos: Chaos, sims: dict[str, VenueSim]
) -> None:
    """A loses its data directory; B starts on the same path first, makes it and locks it. A
    never writes there (it says so and keeps its records), and takes the directory once B has
    gone; each daemon's records on disk are the ones it says it wrote."""
    root = short_dir()
    data = root / "data"
    config = machine_config(root, sims, files={"flush_interval": DIR_FLUSH})
    b_config = root / "b.toml"
    text = config.read_text().replace(str(root / "agg.sock"), str(root / "b.sock"))
    b_config.write_text(text.replace("[daemon]\n", '[daemon]\ninstance_id = "b"\n', 1))
    a = await start(root, config)
    b: Daemon | None = None
    try:
        await asyncio.sleep(chaos.duration(1.0))
        with paused(a):
            shutil.rmtree(data)
            b = await start(root, b_config)
            await wait_for(lambda: data_bytes(data) > 0)
        t_back = time.monotonic()
        await a.log.line(r"in use by another running daemon; not writing there")
        refused_s = time.monotonic() - t_back
        await asyncio.sleep(chaos.duration(2.0))
        during = data_lines(data)  # B's files only
        assert a.proc.proc.returncode is None
        b.signal(signal.SIGTERM)
        assert await b.wait() == 0, b.log.text()
        t_gone = time.monotonic()
        await a.log.line(r"files: writing again after")
        took_back_s = time.monotonic() - t_gone
        await asyncio.sleep(chaos.duration(1.0))
        rss = peak_rss_mb(a.pid)
        a.signal(signal.SIGTERM)
        assert await a.wait() == 0, a.log.text()
    finally:
        for d in (a, b):
            if d is not None and d.proc.proc.returncode is None:
                await d.kill()
    assert all(r.get("instance") == "b" for recs in during.values() for r in recs)
    log = a.log.text()
    no_traceback(log)
    no_traceback(b.log.text())
    assert len(lines_matching(log, lambda x: "was removed" in x)) == 1
    assert len(lines_matching(log, lambda x: "in use by another running daemon" in x)) == 1
    published, written, dropped = exit_counts(log)
    b_published, b_written, b_dropped = exit_counts(b.log.text())
    lines = data_lines(data)
    by_a = sum(1 for recs in lines.values() for r in recs if r.get("instance") != "b")
    by_b = sum(1 for recs in lines.values() for r in recs if r.get("instance") == "b")
    assert (by_a, by_b) == (written, b_written)
    assert written + dropped == published and b_written == b_published and b_dropped == 0
    chaos.record(
        "machine: a second daemon on a recreated data directory",
        faults="A's data directory removed while it is stopped; B starts there first; "
        f"B stopped after {chaos.duration(2.0):g} s",
        accepted=published,
        written=by_a,
        dropped=dropped,
        recovery_s=took_back_s,
        peak_rss_mb=rss,
        notes=f"A refused the new directory in {refused_s:.2f} s and wrote none of its "
        f"{by_b} lines' files; took it back {took_back_s:.2f} s after B exited",
    )
