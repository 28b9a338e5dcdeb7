"""The file sink against real files in tmp_path: naming, rotation, gzip, repair, errors."""

from __future__ import annotations

import asyncio
import errno
import fcntl
import gzip
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from aggregator.config import FilesConfig
from aggregator.errors import AggregatorError
from aggregator.hub import Hub
from aggregator.records import Record, Status, Ticker, dumps
from aggregator.sinks.datadir import DataDir
from aggregator.sinks.fileio import gzip_file
from aggregator.sinks.files import FileSink

from .batches import publishing_in_batches

pytestmark = pytest.mark.timeout(15)

HOUR = 3600 * 10**9
LOGGER = "aggregator.sinks.files"


def make_cfg(tmp_path: Path, **kw: object) -> FilesConfig:
    kw.setdefault("flush_interval", 0.1)
    return FilesConfig(dir=tmp_path, **kw)  # type: ignore[arg-type]


def tick(exchange: str, ts: int, seq: int = 0) -> Ticker:
    return Ticker(
        exchange=exchange,
        symbol="BTC/USDT",
        native="BTCUSDT",
        bid=100.5,
        ask=100.75,
        ts_event=ts - 1000,
        ts_recv=ts,
        seq=seq,
    )


def offer(sink: FileSink, *records: Record) -> bytes:
    out = b""
    for r in records:
        line = dumps(r)
        sink.offer(r, line)
        out += line
    return out


def hour_start() -> int:
    return time.time_ns() // HOUR * HOUR


def stamp(ts: int, fmt: str = "%Y-%m-%dT%H") -> str:
    return datetime.fromtimestamp(ts // 10**9, UTC).strftime(fmt)


# Plain functions for file access: the tests are async, the checks need not be.
def read(path: Path | str) -> bytes:
    """A file's bytes, gunzipped when its name ends in .gz; b"" when it does not exist."""
    path = Path(path)
    if not path.exists():
        return b""
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def read_lines(path: Path | str) -> list[dict]:
    data = read(path)
    assert data == b"" or data.endswith(b"\n")
    return [orjson.loads(line) for line in data.splitlines()]


def names(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def exists(path: Path | str) -> bool:
    return os.path.exists(path)


def write(path: Path | str, data: bytes) -> None:
    Path(path).write_bytes(data)


async def until(cond: Callable[[], bool], within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def _started(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> tuple[FileSink, Hub, int]:
    """A files sink started under a hub, its log at INFO, and a time 5 s into this hour."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    sink = FileSink(make_cfg(tmp_path))
    hub = Hub()
    hub.add_sink(sink)
    await sink.start()
    return sink, hub, hour_start() + 5 * 10**9


async def test_two_exchanges_two_files_statuses_apart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink, hub, ts = await _started(tmp_path, caplog)
    expected: dict[str, bytes] = {"alpha": b"", "beta": b""}
    for seq in range(50):
        rec = tick("alpha" if seq % 2 else "beta", ts + seq, seq)
        hub.publish(rec)
        expected[rec.exchange] += dumps(rec)
    live = Status(exchange="beta", state="live", ts_recv=ts + 99, seq=50)
    hub.publish(live)
    await sink.stop()
    for ex, data in expected.items():
        path = tmp_path / ex / f"{ex}-{stamp(ts)}.0000.jsonl"
        assert read(path) == data
        assert all(rec["exchange"] == ex for rec in read_lines(path))
    assert names(tmp_path) == ["alpha", "beta"]
    assert names(tmp_path / "beta") == [f"beta-{stamp(ts)}.0000.jsonl", "status"]
    assert read(tmp_path / "beta" / "status" / f"beta-status-{stamp(ts)}.0000.jsonl") == dumps(live)
    assert (sink.accepted, sink.written, sink.dropped) == (51, 51, 0)
    assert "files: accepted=51 written=51 dropped=0" in caplog.messages


async def test_a_record_after_the_sink_stopped_is_counted_and_named_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever still publishes once the files sink stopped (a shutdown's straggler) is
    counted as dropped, one by one or in a batch, and the first such record is logged with
    its content, once, so that its publisher can be found."""
    sink, hub, ts = await _started(tmp_path, caplog)
    hub.publish(tick("alpha", ts, 1))
    await sink.stop()
    hub.publish(tick("alpha", ts + 1, 2))
    late: list[Record] = [tick("beta", ts + 2, 3), tick("beta", ts + 3, 4)]
    hub.publish_batch(late, [dumps(r) for r in late], "beta")
    assert (sink.accepted, sink.written, sink.dropped) == (1, 1, 3)
    said = [m for m in caplog.messages if "came after the sink stopped" in m]
    assert len(said) == 1 and '"exchange":"alpha"' in said[0] and '"seq":2' in said[0]


@pytest.mark.parametrize(
    ("period", "name"), [("hour", "x-2030-01-02T03.0000.jsonl"), ("day", "x-2030-01-02.0000.jsonl")]
)
async def test_period_name_from_ts_recv(tmp_path: Path, period: str, name: str) -> None:
    sink = FileSink(make_cfg(tmp_path, period=period))
    await sink.start()
    ts = int(datetime(2030, 1, 2, 3, 59, 59, tzinfo=UTC).timestamp()) * 10**9
    data = offer(sink, tick("x", ts), tick("x", ts + 10**9 - 1, 1))
    await sink.stop()
    assert names(tmp_path / "x") == [name]
    assert read(tmp_path / "x" / name) == data


async def test_next_hour_closes_and_gzips_previous(tmp_path: Path) -> None:
    sink = FileSink(make_cfg(tmp_path))
    await sink.start()
    h0 = hour_start()
    first = offer(sink, *(tick("x", h0 + i, i) for i in range(3)))
    await until(lambda: sink.written == 3)
    second = offer(sink, tick("x", h0 + HOUR, 3), tick("x", h0 + HOUR + 1, 4))
    old = tmp_path / "x" / f"x-{stamp(h0)}.0000.jsonl"
    await until(lambda: exists(f"{old}.gz") and not exists(old))
    assert read(f"{old}.gz") == first
    await sink.stop()
    new = f"x-{stamp(h0 + HOUR)}.0000.jsonl"
    assert read(tmp_path / "x" / new) == second
    assert names(tmp_path / "x") == sorted([f"{old.name}.gz", new])
    assert sink.files_rotated == 1


@pytest.mark.parametrize("compress", ["none", "gzip"])
async def test_size_rotation(tmp_path: Path, compress: str) -> None:
    h0 = hour_start()
    recs = [tick("x", h0 + i, 10 + i) for i in range(8)]  # equal-length lines
    size = len(dumps(recs[0]))
    sink = FileSink(make_cfg(tmp_path, max_bytes=3 * size + 1, compress=compress))
    await sink.start()
    offer(sink, *recs)
    await sink.stop()
    base = tmp_path / "x" / f"x-{stamp(h0)}"
    gz = ".gz" if compress == "gzip" else ""
    parts = [
        Path(f"{base}.0000.jsonl{gz}"),
        Path(f"{base}.0001.jsonl{gz}"),
        Path(f"{base}.0002.jsonl"),
    ]
    assert names(base.parent) == sorted(p.name for p in parts)
    assert [len(read_lines(p)) for p in parts] == [3, 3, 2]
    assert [r["seq"] for p in parts for r in read_lines(p)] == list(range(10, 18))
    assert sink.files_rotated == 2


async def test_flush_interval_without_stop(tmp_path: Path) -> None:
    sink = FileSink(make_cfg(tmp_path, flush_interval=0.3))
    await sink.start()
    try:
        ts = time.time_ns()
        data = offer(sink, *(tick("x", ts + i, i) for i in range(5)))
        path = tmp_path / "x" / f"x-{stamp(ts)}.0000.jsonl"
        t0 = time.monotonic()
        await until(lambda: read(path) == data, within=1.5)
        assert time.monotonic() - t0 < 1.0
        assert sink.written == 5
        await asyncio.sleep(0.5)  # the timer keeps running without records
        more = offer(sink, tick("x", ts + 9, 5))
        await until(lambda: read(path) == data + more, within=1.5)
    finally:
        await sink.stop()


async def test_repair_at_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    ts = time.time_ns()
    exdir = tmp_path / "x"
    kept = dumps(tick("x", ts, 0)) + dumps(tick("x", ts, 1))
    current = exdir / f"x-{stamp(ts)}.0000.jsonl"
    past = exdir / "x-2001-02-03T04.0000.jsonl"
    nolf = exdir / "x-2001-02-03T05.0000.jsonl"
    os.mkdir(exdir)
    write(current, kept + b'{"type":"ticker","exch')
    write(past, kept + b"{")
    write(nolf, b'{"type":"tic')
    write(exdir / "x-2001-02-03T06.0000.jsonl.gz.tmp", b"junk")

    sink = FileSink(make_cfg(tmp_path))
    await sink.start()
    more = offer(sink, tick("x", ts + 1, 2), tick("x", ts + 2, 3))
    await sink.stop()

    assert read(current) == kept + more
    assert [r["seq"] for r in read_lines(current)] == [0, 1, 2, 3]
    assert read(f"{past}.gz") == kept
    assert read(f"{nolf}.gz") == b""
    assert names(exdir) == sorted([current.name, f"{past.name}.gz", f"{nolf.name}.gz"])
    cuts = [m for m in caplog.messages if "cut a partial line" in m]
    assert len(cuts) == 3 and any("of 22 bytes" in m for m in cuts)


async def test_resume_newest_part(tmp_path: Path) -> None:
    ts = time.time_ns()
    base = tmp_path / "x" / f"x-{stamp(ts)}"
    os.mkdir(base.parent)
    old = dumps(tick("x", ts, 0))
    write(f"{base}.0000.jsonl", old)
    write(f"{base}.0001.jsonl", old)
    sink = FileSink(make_cfg(tmp_path))
    await sink.start()
    new = offer(sink, tick("x", ts, 1))
    await sink.stop()
    assert read(f"{base}.0001.jsonl") == old + new
    assert read(f"{base}.0000.jsonl.gz") == old
    assert names(base.parent) == [f"{base.name}.0000.jsonl.gz", f"{base.name}.0001.jsonl"]


async def test_files_named_the_older_way_are_closed_not_appended_to(tmp_path: Path) -> None:
    """Parts were once named x-H.jsonl, x-H.1.jsonl (which sorted before x-H.jsonl.gz):
    those of the current period are compressed at start and the next part is numbered
    after them, so that nothing is written twice under two names."""
    ts = time.time_ns()
    base = tmp_path / "x" / f"x-{stamp(ts)}"
    os.mkdir(base.parent)
    old = dumps(tick("x", ts, 0))
    write(f"{base}.jsonl", old)
    write(f"{base}.1.jsonl", old)
    sink = FileSink(make_cfg(tmp_path))
    await sink.start()
    new = offer(sink, tick("x", ts, 1))
    await sink.stop()
    await until(lambda: not exists(f"{base}.1.jsonl"))
    assert read(f"{base}.0002.jsonl") == new
    assert read(f"{base}.jsonl.gz") == old and read(f"{base}.1.jsonl.gz") == old


async def test_reopen_after_rename(tmp_path: Path) -> None:
    sink = FileSink(make_cfg(tmp_path))
    await sink.start()
    ts = time.time_ns()
    before = offer(sink, *(tick("x", ts + i, i) for i in range(3)))
    await until(lambda: sink.written == 3)
    path = tmp_path / "x" / f"x-{stamp(ts)}.0000.jsonl"
    rotated = path.with_name(path.name + ".1")
    os.rename(path, rotated)
    sink.reopen()
    after = offer(sink, tick("x", ts + 5, 3), tick("x", ts + 6, 4))
    await until(lambda: read(path) == after)
    await sink.stop()
    assert read(rotated) == before
    assert read(path) == after
    assert sink.files_rotated == 0


async def test_full_queue_counts_drops(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    sink = FileSink(make_cfg(tmp_path, queue_size=3))
    ts = time.time_ns()
    offer(sink, *(tick("x", ts + i, i) for i in range(10)))
    assert (sink.accepted, sink.dropped, sink.written) == (3, 7, 0)
    await sink.start()
    await sink.stop()
    assert [r["seq"] for r in read_lines(tmp_path / "x" / f"x-{stamp(ts)}.0000.jsonl")] == [0, 1, 2]
    assert (sink.accepted, sink.dropped, sink.written) == (3, 7, 3)
    assert "files: accepted=3 written=3 dropped=7" in caplog.messages


async def test_write_error_backlog_and_recovery(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A real failure that also stops root: the exchange directory's path is a file."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    blocker = tmp_path / "b"
    write(blocker, b"not a directory")
    statuses: list[Status] = []
    sink = FileSink(make_cfg(tmp_path, queue_size=4), statuses.append)
    await sink.start()
    try:
        ts = time.time_ns()
        offer(sink, *(tick("a", ts + i, i) for i in range(3)))
        await until(lambda: sink.written == 3)
        offer(sink, *(tick("b", ts + i, i) for i in range(3)))
        await until(lambda: any("cannot write" in m for m in caplog.messages))
        offer(sink, *(tick("b", ts + i, i) for i in range(3, 6)))  # backlog 6 > 4
        await until(lambda: sink.dropped == 2)
        assert sink.written == 3
        os.unlink(blocker)
        await until(lambda: sink.written == 7)
    finally:
        await sink.stop()
    assert [r["seq"] for r in read_lines(tmp_path / "b" / f"b-{stamp(ts)}.0000.jsonl")] == [
        2,
        3,
        4,
        5,
    ]
    assert [r["seq"] for r in read_lines(tmp_path / "a" / f"a-{stamp(ts)}.0000.jsonl")] == [0, 1, 2]
    assert (sink.accepted, sink.written, sink.dropped) == (9, 7, 2)
    assert sum("cannot write" in m for m in caplog.messages) == 1  # once per episode
    assert sum("backlog full (4 records)" in m for m in caplog.messages) == 1
    assert any(
        "writing again after" in m and "2 records dropped (b 2)" in m for m in caplog.messages
    )
    # the same, for consumers: one status record per transition, the sink as its subject
    assert [(s.exchange, s.state, s.seq) for s in statuses] == [
        ("files", "error", 1),
        ("files", "live", 2),
    ]
    assert statuses[0].detail is not None and statuses[0].detail.startswith("cannot write b: ")
    assert statuses[0].detail.endswith("keeping up to 4 records, then dropping the oldest")
    assert statuses[1].detail is not None and "2 records dropped (b 2)" in statuses[1].detail
    assert sink.stats()["write_errors"] == sink.write_errors >= 1
    assert sink.failing == [] and sink.backlog == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory")
async def test_read_only_directory_then_restored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    sink = FileSink(make_cfg(tmp_path, compress="none"))
    await sink.start()
    exdir = tmp_path / "x"
    try:
        h0 = hour_start()
        offer(sink, tick("x", h0, 0))
        await until(lambda: sink.written == 1)
        exdir.chmod(0o500)
        offer(sink, tick("x", h0 + HOUR, 1))  # a new file is needed: refused
        await until(lambda: any("cannot write" in m for m in caplog.messages))
        assert sink.written == 1
        exdir.chmod(0o700)
        await until(lambda: sink.written == 2)
    finally:
        exdir.chmod(0o700)
        await sink.stop()
    assert [r["seq"] for r in read_lines(exdir / f"x-{stamp(h0 + HOUR)}.0000.jsonl")] == [1]
    assert sink.dropped == 0


def files_of(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` by its relative name, gunzipped."""
    return {
        str(p.relative_to(directory)): read(p) for p in sorted(directory.rglob("*")) if p.is_file()
    }


async def publish_in_batches(hub: Hub, records: list[Record], sizes: list[int]) -> None:
    """In batches, letting the writer run between them."""
    for _ in publishing_in_batches(hub, records, sizes):
        await asyncio.sleep(0)


async def test_batches_write_what_records_one_by_one_write(tmp_path: Path) -> None:
    h0 = hour_start()
    records: list[Record] = [
        tick(("alpha", "beta", "gamma")[i % 3], h0 + (i // 400) * HOUR + i, i) for i in range(600)
    ]  # the last 200 in the next hour: the first files are rotated and gzipped
    records[10::50] = [Status(f"s{i}", "live", ts_recv=h0 + i, seq=i) for i in range(12)]
    runs = {}
    for how in ("one", "batch"):
        sink = FileSink(make_cfg(tmp_path / how, max_bytes=20_000))  # and rotated by size
        hub = Hub()
        hub.add_sink(sink)
        await sink.start()
        if how == "one":
            for i, r in enumerate(records):
                hub.publish(r)
                if i % 37 == 0:
                    await asyncio.sleep(0)
        else:
            await publish_in_batches(hub, records, [1, 36, 0, 200, 63, 300])
        await sink.stop()
        counts = (hub.published, sink.accepted, sink.written, sink.dropped, sink.files_rotated)
        runs[how] = (files_of(tmp_path / how), counts, list(hub.latest.items()))
    assert runs["batch"] == runs["one"]
    files, counts, _ = runs["one"]
    assert counts == (600, 600, 600, 0, counts[4]) and counts[4] >= 3
    assert sum(data.count(b"\n") for data in files.values()) == 600
    assert any(name.endswith(".jsonl.gz") for name in files)


async def test_batches_beyond_the_queue_drop_like_records_one_by_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Before the writer runs: a batch fills the queue and the rest of it is dropped."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    ts = time.time_ns()
    records: list[Record] = [tick("x", ts + i, i) for i in range(12)]
    runs = {}
    for how in ("one", "batch"):
        sink = FileSink(make_cfg(tmp_path / how, queue_size=5))
        hub = Hub()
        hub.add_sink(sink)
        if how == "one":
            for r in records:
                hub.publish(r)
        else:
            await publish_in_batches(hub, records, [3, 4, 5])  # fits, then 2 of 4, then none
        assert (sink.accepted, sink.dropped) == (5, 7)
        await sink.start()
        await sink.stop()
        runs[how] = (files_of(tmp_path / how), sink.accepted, sink.written, sink.dropped)
    assert runs["batch"] == runs["one"]
    written = read_lines(tmp_path / "batch" / "x" / f"x-{stamp(ts)}.0000.jsonl")
    assert [r["seq"] for r in written] == [0, 1, 2, 3, 4]  # the first that fit, as put keeps
    assert caplog.messages.count("files: accepted=5 written=5 dropped=7") == 2


async def test_an_adapters_batches_across_the_turn_of_the_hour(tmp_path: Path) -> None:
    """One venue's batches, its name given (the chunked path): a batch within an hour goes
    whole to that hour's file, one that spans the turn of the hour is split by hour, as
    records one by one are."""
    h0 = hour_start()
    records: list[Record] = [tick("alpha", h0 + HOUR - 50 + i, i) for i in range(100)]
    runs = {}
    for how in ("one", "batch"):
        sink = FileSink(make_cfg(tmp_path / how))
        hub = Hub()
        hub.add_sink(sink)
        await sink.start()
        if how == "one":
            for r in records:
                hub.publish(r)
        else:
            for chunk in (records[:30], records[30:70], records[70:]):  # the middle one spans
                hub.publish_batch(chunk, [dumps(r) for r in chunk], "alpha")
        await sink.stop()
        runs[how] = (files_of(tmp_path / how), sink.accepted, sink.written, sink.dropped)
    assert runs["batch"] == runs["one"]
    files = runs["one"][0]
    assert len(files) == 2  # the two hours
    assert sorted(data.count(b"\n") for data in files.values()) == [50, 50]


# --- write_all: whole lines or nothing ------------------------------------------------------

WRITE_UNDER_LIMIT = """
import os, resource, signal, sys
from aggregator.sinks.fileio import write_all
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over the limit: EFBIG, not death
path, limit, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
lines = [b"%05d %s\\n" % (i, b"x" * 40) for i in range(count)]  # 47 bytes each
fd = os.open(path, os.O_WRONLY | os.O_APPEND)
try:
    write_all(fd, lines)
    print("ok")
except OSError as e:
    print("error", e.errno)
"""


@pytest.mark.parametrize(
    ("limit", "count", "outcome"),
    [
        (10_000_000, 3000, "ok"),  # more lines than one writev takes: several calls
        (100 + 47 * 500 + 20, 3000, "error"),  # the limit inside a line: a short writev
        (100 + 47 * 500, 3000, "error"),  # the limit on a line's end
    ],
)
def test_write_all_writes_whole_lines_or_nothing(tmp_path: Path, limit: int, count: int,
                                                 outcome: str) -> None:  # fmt: skip
    """A write cut short by the file size limit (as by a full disk) leaves the file as it
    was before the call, not with part of the lines; a write that fits leaves them all."""
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"h" * 99 + b"\n")  # what was there before
    out = subprocess.run(
        [sys.executable, "-c", WRITE_UNDER_LIMIT, str(path), str(limit), str(count)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = path.read_bytes()
    if outcome == "ok":
        assert out.stdout.split() == ["ok"]
        assert data[100:] == b"".join(b"%05d %s\n" % (i, b"x" * 40) for i in range(count))
    else:
        assert out.stdout.split() == ["error", str(errno.EFBIG)]
        assert data == b"h" * 99 + b"\n"


# --- the data directory or a file removed or replaced while the daemon runs -------------------


class Watched:
    """A sink on ``tmp_path/data``, its status records kept, for the directory faults.

    The loop's executor, where the sink flushes, is made one thread wide, and the faults are
    made there (``between_flushes``): `rm -rf` unlinks file by file, and a flush between two
    unlinks would see, and report, the first file go before the directory."""

    def __init__(self, tmp_path: Path, **kw: object) -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(1, thread_name_prefix="writer"))
        self.root = tmp_path / "data"
        self.statuses: list[Status] = []
        self.sink = FileSink(make_cfg(self.root, **kw), self.statuses.append)
        self.offered = 0

    async def between_flushes(self, fault: Callable[[], object]) -> None:
        await asyncio.to_thread(fault)

    def offer(self, exchange: str, n: int, ts: int | None = None) -> None:
        ts = time.time_ns() if ts is None else ts
        offer(self.sink, *(tick(exchange, ts + i, self.offered + i) for i in range(n)))
        self.offered += n

    async def written(self, n: int) -> None:
        """Until ``n`` lines are written and nothing waits."""
        await until(lambda: self.sink.written == n and self.sink.queue_depth == 0)

    async def status(self, state: str, within: float = 3.0) -> float:
        """Seconds until a status record in ``state`` arrives."""
        t0 = time.monotonic()
        await until(lambda: any(s.state == state for s in self.statuses), within)
        return time.monotonic() - t0

    def details(self) -> list[tuple[str, str]]:
        return [(s.state, s.detail or "") for s in self.statuses]

    def on_disk(self) -> int:
        """Lines in every file under the data directory, counted."""
        if not self.root.is_dir():
            return 0
        return sum(len(read_lines(p)) for p in self.root.rglob("*.jsonl*") if p.is_file())


def locked_elsewhere(path: Path) -> bool:
    """Another open of ``path`` cannot take its lock (flock: per open, even in one process)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


async def test_data_directory_removed_is_recreated_relocked_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    w = Watched(tmp_path)
    sink = w.sink
    await sink.start()
    try:
        w.offer("a", 30)
        w.offer("b", 20)
        await w.written(50)
        before = w.on_disk()
        await w.between_flushes(lambda: shutil.rmtree(w.root))
        w.offer("a", 7)  # after the removal: written into the new directory
        detected = await w.status("error")
        assert detected < 0.1 + 0.2  # one flush interval, and the writer's turn
        await w.status("live")
        await w.written(57 - before)
        assert w.root.is_dir() and locked_elsewhere(w.root)  # recreated and locked again
        w.offer("b", 3)
        await w.written(60 - before)
    finally:
        await sink.stop()
    assert before == 50
    assert (sink.accepted, sink.written, sink.dropped) == (60, 10, 50)
    assert sink.written == w.on_disk() and sink.accepted == sink.written + sink.dropped
    assert sink.vanished == 1 and sink.stats()["vanished"] == 1
    [(_, error), (_, live)] = w.details()
    assert error.startswith(f"data directory '{w.root}' was removed (50 records of this run")
    assert error.endswith("recreated and locked again")
    assert "50 records dropped (a 30, b 20)" in live
    assert sum("was removed" in m for m in caplog.messages) == 1
    assert not any("cannot write" in m for m in caplog.messages)


async def test_data_directory_replaced_by_a_file_is_left_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The backlog keeps what it can (oldest dropped past queue_size), retried every second;
    the user's file is never touched; once it is gone the directory is made again."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    w = Watched(tmp_path, queue_size=10)
    sink = w.sink
    await sink.start()
    try:
        w.offer("a", 4)
        await w.written(4)

        def replace() -> None:
            shutil.rmtree(w.root)
            write(w.root, b"a user's file\n")

        await w.between_flushes(replace)
        w.offer("a", 6)
        await w.status("error")
        assert sink.failing == ["a"]
        w.offer("a", 8)  # 14 held back: the 4 oldest go
        await until(lambda: sink.dropped == 4 + 4)
        await asyncio.sleep(1.2)  # retried, still a file
        assert read(w.root) == b"a user's file\n" and sink.backlog == 10
        os.unlink(w.root)
        await w.status("live", within=3)
        await w.written(10)
    finally:
        await sink.stop()
    assert (sink.accepted, sink.written, sink.dropped) == (18, 10, 8)
    assert sink.written == w.on_disk()
    assert [r["seq"] for r in read_lines(next(w.root.rglob("*.jsonl")))] == list(range(8, 18))
    [(_, error), (_, live)] = w.details()
    assert error.startswith(f"data directory '{w.root}' was removed and a file put in its place")
    went = "(4 records of this run went with it, counted as dropped)"
    assert f"in its place {went}; it is not a directory; not writing there" in error
    assert "keeping up to 10 records" in error
    assert "8 records dropped (a 8)" in live
    assert sum("was removed" in m for m in caplog.messages) == 1
    assert sum("backlog full" in m for m in caplog.messages) == 1


@pytest.mark.parametrize("how", ["unlinked", "replaced"])
async def test_open_file_removed_is_counted_and_made_again(
    tmp_path: Path, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Its lines are gone: dropped, not written. A file put in its place is not ours: the
    next lines go to a new part."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    w = Watched(tmp_path)
    sink = w.sink
    await sink.start()
    ts = time.time_ns()
    path = w.root / "a" / f"a-{stamp(ts)}.0000.jsonl"
    try:
        w.offer("a", 5, ts)
        w.offer("b", 5, ts)
        await w.written(10)
        write(tmp_path / "other", b'{"theirs":1}\n')
        if how == "unlinked":
            await w.between_flushes(lambda: os.unlink(path))
        else:
            await w.between_flushes(lambda: os.rename(tmp_path / "other", path))
        w.offer("a", 3, ts + 10)
        await w.status("live")
        await w.written(8)
    finally:
        await sink.stop()
    assert (sink.accepted, sink.written, sink.dropped) == (13, 8, 5)
    theirs = 1 if how == "replaced" else 0
    assert sink.written == w.on_disk() - theirs
    new = path.with_name(f"a-{stamp(ts)}.0001.jsonl") if theirs else path
    assert [r["seq"] for r in read_lines(new)] == [10, 11, 12]
    if theirs:
        assert read(path) == b'{"theirs":1}\n'
    [(_, error), _] = w.details()
    assert error.startswith(f"{path} was removed")
    assert error.endswith("(5 records of this run went with it, counted as dropped)")
    assert sum(str(path) in m and "was removed" in m for m in caplog.messages) == 1


async def test_open_file_renamed_is_reopened_without_a_loss(tmp_path: Path) -> None:
    """As logrotate renames without a SIGHUP: the lines stay on disk, the next go to the path."""
    w = Watched(tmp_path, compress="none")
    sink = w.sink
    await sink.start()
    ts = time.time_ns()
    path = w.root / "a" / f"a-{stamp(ts)}.0000.jsonl"
    try:
        w.offer("a", 5, ts)
        await w.written(5)
        os.rename(path, path.with_name("rotated"))
        w.offer("a", 3, ts + 10)
        await until(lambda: len(read_lines(path)) == 3)
    finally:
        await sink.stop()
    assert (sink.written, sink.dropped, sink.vanished) == (8, 0, 0)
    assert len(read_lines(path.with_name("rotated"))) == 5
    assert w.statuses == []


async def test_a_second_sink_never_shares_the_recreated_directory(tmp_path: Path) -> None:
    """A recreates and relocks: B is refused. B first: A writes nothing there, keeps its
    records, and takes the directory once B is gone."""
    a = Watched(tmp_path, flush_interval=1.0)
    await a.sink.start()
    b = FileSink(make_cfg(a.root))
    try:
        a.offer("x", 3)
        await a.written(3)
        await a.between_flushes(lambda: shutil.rmtree(a.root))
        a.offer("x", 2)
        await a.status("live", within=4)
        with pytest.raises(AggregatorError, match="in use by another running daemon"):
            await b.start()

        await a.written(2)  # written at the flush that said "live": the next is a second away
        await a.between_flushes(lambda: shutil.rmtree(a.root))
        await b.start()  # B makes the directory and locks it before A looks
        b_ts = time.time_ns()
        offer(b, *(tick("x", b_ts + i, 100 + i) for i in range(4)))
        a.offer("x", 6)
        await until(lambda: b.written == 4 and len(a.statuses) >= 3)
        await asyncio.sleep(1.3)  # A retries, and is refused again
        assert a.sink.backlog == 6 and a.sink.failing == ["x"]
        assert [r["seq"] for p in a.root.rglob("*.jsonl") for r in read_lines(p)] == [
            100,
            101,
            102,
            103,
        ]  # B's, only
        await b.stop()
        await until(lambda: a.sink.written == 6, within=4)
        assert locked_elsewhere(a.root)
    finally:
        await b.stop()
        await a.sink.stop()
    states = [s for s, _ in a.details()]
    assert states == ["error", "live", "error", "live"]
    assert "another running daemon; not writing there" in a.details()[2][1]
    assert (a.sink.accepted, a.sink.written, a.sink.dropped) == (11, 6, 5)
    seqs = sorted(r["seq"] for p in a.root.rglob("*.jsonl") for r in read_lines(p))
    assert seqs == [5, 6, 7, 8, 9, 10, 100, 101, 102, 103]


def test_gzip_leaves_a_file_made_since_under_the_same_name(tmp_path: Path) -> None:
    """A compression queued before the directory was removed never takes the new file."""
    path = tmp_path / "x.jsonl"
    write(path, b"old\n")
    st = os.stat(path)
    os.unlink(path)
    time.sleep(0.01)
    write(path, b"new\n")  # maybe with the same inode number: the old one is free
    gzip_file(path, (st.st_dev, st.st_ino, st.st_ctime_ns))
    assert names(tmp_path) == ["x.jsonl"] and read(path) == b"new\n"
    st = os.stat(path)
    gzip_file(path, (st.st_dev, st.st_ino, st.st_ctime_ns))
    assert names(tmp_path) == ["x.jsonl.gz"] and read(f"{path}.gz") == b"new\n"


# --- the wall clock steps ------------------------------------------------------------------


@pytest.mark.parametrize("compress", ["gzip", "none"])
async def test_clock_step_back_files_by_ts_recv_and_never_rewrites_a_closed_file(
    tmp_path: Path, compress: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Back in an hour whose file was closed: gzipped, a new part; plain, appended to."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    step = [0]
    cfg = make_cfg(tmp_path, compress=compress)
    sink = FileSink(cfg, clock=lambda: time.time_ns() + step[0])
    await sink.start()
    h0 = hour_start()
    base = tmp_path / "x" / f"x-{stamp(h0)}"
    try:
        first = offer(sink, *(tick("x", h0 + i, i) for i in range(3)))
        await until(lambda: sink.written == 3)
        offer(sink, tick("x", h0 + HOUR, 3))  # the next hour: the first file closed (gzipped)
        await until(lambda: sink.files_rotated == 1)
        await until(lambda: compress == "none" or not exists(f"{base}.0000.jsonl"))
        step[0] = -HOUR  # NTP steps the clock back an hour: ts_recv is in h0 again
        await asyncio.sleep(0.3)
        back = offer(sink, tick("x", h0 + 10, 4), tick("x", h0 + 11, 5))
        await until(lambda: sink.written == 6)
        step[0] = 0  # and forward again
        await asyncio.sleep(0.3)
        later = offer(sink, tick("x", h0 + HOUR + 1, 6))
        await until(lambda: sink.written == 7)
    finally:
        await sink.stop()
    later_base = tmp_path / "x" / f"x-{stamp(h0 + HOUR)}"
    if compress == "gzip":
        assert read(f"{base}.0000.jsonl.gz") == first  # untouched
        assert read(f"{base}.0001.jsonl.gz") == back  # a new part of the earlier hour
        assert [r["seq"] for r in read_lines(f"{later_base}.0000.jsonl.gz")] == [3]
        assert read(f"{later_base}.0001.jsonl") == later
    else:
        assert read(f"{base}.0000.jsonl") == first + back
        assert [r["seq"] for r in read_lines(f"{later_base}.0000.jsonl")] == [3, 6]
    assert sorted(r["seq"] for p in (tmp_path / "x").iterdir() for r in read_lines(p)) == [
        *range(7)
    ]
    for p in (tmp_path / "x").iterdir():  # every file whole: each line parses, by its hour
        for r in read_lines(p):
            assert stamp(r["ts_recv"]) in p.name
    steps = [m for m in caplog.messages if "wall clock stepped" in m]
    assert len(steps) == 2, steps
    assert "stepped back 3600." in steps[0] and "stepped forward 3600." in steps[1]


async def test_back_to_a_period_closed_in_the_same_flush(tmp_path: Path) -> None:
    """A file closed and not yet gzipped (its job waits) is not appended to: a new part."""
    sink = FileSink(make_cfg(tmp_path))
    await sink.start()
    h0 = hour_start()
    try:  # one batch for the writer: h0, the next hour, h0 again (as after a step back)
        first = offer(sink, *(tick("x", h0 + i, i) for i in range(3)))
        offer(sink, tick("x", h0 + HOUR, 3))
        back = offer(sink, tick("x", h0 + 5, 4))
        await until(lambda: sink.written == 5)
    finally:
        await sink.stop()
    base = tmp_path / "x" / f"x-{stamp(h0)}"
    assert read(f"{base}.0000.jsonl.gz") == first
    assert read(f"{base}.0001.jsonl") == back
    assert [
        r["seq"] for r in read_lines(tmp_path / "x" / f"x-{stamp(h0 + HOUR)}.0000.jsonl.gz")
    ] == [3]


def test_directories_are_made_only_inside_the_locked_one(tmp_path: Path) -> None:
    """The path may change hands between a check and the next file made: whatever is made
    goes into the directory this daemon holds locked, never into one made since."""
    root = tmp_path / "data"
    held = DataDir(root)
    held.lock()
    try:
        os.rename(root, tmp_path / "moved")
        os.mkdir(root)  # as another daemon would, on the same path
        fd = held.subdir("x")
        try:
            assert os.path.samestat(os.fstat(fd), os.stat(tmp_path / "moved" / "x"))
        finally:
            os.close(fd)
        assert names(root) == []
        assert str(held.check()) == "moved away and a directory put in its place"
    finally:
        held.release()
