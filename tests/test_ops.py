"""Operations: /metrics and /health, JSON logs and repeats, `status`, `tail --table`.

The daemon runs as a subprocess against simulated venues (as in test_daemon); `status` and
`tail --table` run under a pseudo-terminal (pexpect), as a person would run them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pexpect
import pytest
from prometheus_client.parser import text_string_to_metric_families

from aggregator.config import loads
from aggregator.errors import ConfigError
from aggregator.logs import JsonFormatter, RepeatFilter, TextFormatter
from aggregator.sim import VenueSim
from aggregator.sinks.socket import parse_request

from .ports import free_port
from .test_daemon import VENUES, Proc, short_dir, spawn, wait_for, write_config

REPO = Path(__file__).parent.parent
LOG_KEYS = {"ts", "level", "logger", "msg"}


@pytest.fixture
async def venues() -> AsyncIterator[dict[str, VenueSim]]:
    started = {v: VenueSim(v, rate=200, seed=i) for i, v in enumerate(VENUES)}
    for s in started.values():
        await s.start()
    yield started
    for s in started.values():
        await s.stop()


async def start(
    root: Path, sims: dict[str, VenueSim], port: int, *args: str, stale: float = 60.0
) -> Proc:
    """The daemon with metrics on ``port`` and one venue disabled in the config."""
    config = write_config(root / "aggregator.toml", root, sims)
    with config.open("a") as f:
        f.write(
            f'[metrics]\nlisten = "127.0.0.1:{port}"\nstale_after = {stale}\n'
            "[exchanges.gemini]\nenabled = false\n"
        )
    proc = await spawn("run", "-c", str(config), *args, cwd=root)
    try:
        await wait_for((root / "agg.sock").exists)
    except TimeoutError:
        proc.proc.kill()
        await proc.wait()
        raise AssertionError(f"daemon did not start:\n{proc.log()}") from None
    return proc


async def stop(proc: Proc) -> None:
    if proc.proc.returncode is None:
        proc.proc.send_signal(signal.SIGTERM)
    assert await proc.wait() == 0, proc.log()


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with http.get(url, timeout=aiohttp.ClientTimeout(total=5)) as resp:
        return resp.status, await resp.text()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and labels; the text must be valid exposition."""
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def by_exchange(values: dict, name: str) -> dict[str, float]:
    return {dict(k[1])["exchange"]: v for k, v in values.items() if k[0] == name}


# --- metrics ----------------------------------------------------------------------------


async def test_demo_metrics_move(tmp_path: Path) -> None:
    root = short_dir()
    port = free_port()
    proc = await spawn(
        "demo",
        "--duration",
        "40",
        "--metrics",
        f"127.0.0.1:{port}",
        "--data-dir",
        str(root / "demo"),
        "--socket",
        str(root / "demo.sock"),
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            await wait_for((root / "demo.sock").exists)
            await asyncio.sleep(1.5)
            status, text = await get(http, base + "/metrics")
            assert status == 200
            first = samples(text)
            await asyncio.sleep(2.0)
            second = samples((await get(http, base + "/metrics"))[1])
            status, body = await get(http, base + "/health")
            assert status == 200, body
            # the collector settles once the venues are up (app.SETTLE_AFTER): what exists
            # then is frozen out of its passes
            frozen = ("aggregator_gc_frozen_objects", ())
            settled = second
            for _ in range(40):
                if settled[frozen] > second[frozen]:
                    break
                await asyncio.sleep(0.5)
                settled = samples((await get(http, base + "/metrics"))[1])
    finally:
        proc.proc.send_signal(signal.SIGTERM)
        assert await proc.wait(30) == 0, proc.log()
    venues = {"binance", "coinbase", "coinbaseexchange", "kraken"}
    r1 = by_exchange(first, "aggregator_venue_records_total")
    r2 = by_exchange(second, "aggregator_venue_records_total")
    assert set(r2) == venues
    assert all(r2[v] > r1[v] > 0 for v in venues), (r1, r2)
    written = ("aggregator_sink_written_total", (("sink", "files"),))
    assert second[written] > first[written] > 0
    assert second[("aggregator_records_published_total", ())] > 0
    assert by_exchange(second, "aggregator_venue_up") == dict.fromkeys(venues, 1.0)
    assert all(
        a < 5 for a in by_exchange(second, "aggregator_venue_last_record_age_seconds").values()
    )
    live = ("aggregator_venue_state", (("exchange", "kraken"), ("state", "live")))
    assert second[live] == 1.0
    assert second[("aggregator_up", ())] == 1.0
    assert 0 <= second[("aggregator_event_loop_lag_seconds", ())] < 1.0
    assert ("aggregator_socket_clients", ()) in second
    assert second[("process_resident_memory_bytes", ())] > 10e6  # the process collector's
    assert second[("process_open_fds", ())] > 3
    assert ("aggregator_sink_queue_depth", (("sink", "files"),)) in second
    assert json.loads(body)["status"] == "ok"
    assert settled[frozen] > second[frozen] > 0, (second[frozen], settled[frozen])
    full = ("aggregator_gc_passes_total", (("generation", "2"),))
    assert settled[full] >= 2  # a settle is a full pass: at the start, and with the venues up
    paused = ("aggregator_gc_pause_seconds_total", (("generation", "2"),))
    longest = ("aggregator_gc_pause_longest_seconds", (("generation", "2"),))
    assert settled[paused] >= settled[longest] > 0
    assert "collector settled" in proc.log()


async def test_health_flips_when_a_venue_goes_silent_and_logs_are_json(venues) -> None:
    root = short_dir()
    port = free_port()
    proc = await start(root, venues, port, "--log-format", "json", stale=1.5)
    url = f"http://127.0.0.1:{port}/health"
    try:
        async with aiohttp.ClientSession() as http:

            async def until(code: int, timeout: float = 15.0) -> dict:
                async with asyncio.timeout(timeout):
                    while True:
                        with contextlib.suppress(aiohttp.ClientConnectionError):
                            status, body = await get(http, url)  # refused until it listens
                            if status == code:
                                return json.loads(body)
                        await asyncio.sleep(0.2)

            ok = await until(200)
            assert ok["venues"]["gemini"]["state"] == "disabled"  # known down by config
            assert ok["venues"]["kraken"]["fresh"] is True
            venues["kraken"].faults.silent = True
            bad = await until(503)
            assert bad["status"] == "fail"
            assert any(r.startswith("kraken:") for r in bad["reasons"]), bad
            assert not any(r.startswith(("binance", "gemini")) for r in bad["reasons"]), bad
            assert bad["venues"]["kraken"]["fresh"] is False
            await asyncio.sleep(5.0)  # past the adapter's stale_after: it reconnects, warns
            venues["kraken"].faults.silent = False
            await until(200, timeout=20)
    finally:
        await stop(proc)
    lines = proc.log().splitlines()
    assert lines
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(r.keys() >= LOG_KEYS for r in records)
    assert all(r["level"] in ("debug", "info", "warning", "error", "critical") for r in records)
    kraken = [r for r in records if r.get("exchange") == "kraken"]
    assert any(r["level"] == "warning" and "no data" in r["msg"] for r in kraken), kraken
    assert any("published=" in r["msg"] for r in records)


async def test_metrics_listen_in_use_stops_start_up(venues) -> None:
    root = short_dir()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = write_config(root / "aggregator.toml", root, venues)
        with config.open("a") as f:
            f.write(f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
        proc = await spawn("run", "-c", str(config), cwd=root)
        assert await proc.wait() == 1
    assert f"cannot serve metrics on 127.0.0.1:{port}" in proc.log()
    assert "Traceback" not in proc.log()
    assert not (root / "agg.sock").exists()


def test_metrics_config_is_checked() -> None:
    cfg = loads('[metrics]\nlisten = "127.0.0.1:9464"\nstale_after = 30\n', check_paths=False)
    assert cfg.metrics.listen == "127.0.0.1:9464" and cfg.metrics.stale_after == 30.0
    assert loads("", check_paths=False).metrics.listen == ""
    for body, expect in (
        ('[metrics]\nlisten = "0.0.0.0:9464"\n', "metrics.listen: expected '127.0.0.1:PORT'"),
        ("[metrics]\nstale_after = 0\n", "metrics.stale_after: expected a number"),
        ("[metrics]\nport = 1\n", "metrics.port: unknown key"),
        ('[daemon]\nlog_format = "xml"\n', "daemon.log_format: expected 'text' or 'json'"),
    ):
        with pytest.raises(ConfigError, match=re.escape(expect)):
            loads(body, check_paths=False)


# --- status and tail --table under a pseudo-terminal ------------------------------------


def run_in_pty(*args: str, timeout: float = 20.0) -> tuple[str, int]:
    out, rc = pexpect.run(
        sys.executable,
        args=["-m", "aggregator", *args],
        withexitstatus=True,
        timeout=timeout,
        encoding="utf-8",
        dimensions=(50, 160),
    )
    return out, rc


async def test_status_and_tail_table_show_every_venue(venues) -> None:
    root = short_dir()
    proc = await start(root, venues, free_port())
    sock = str(root / "agg.sock")
    try:
        await asyncio.sleep(1.5)
        out, rc = await asyncio.to_thread(run_in_pty, "status", "--socket", sock)
        assert rc == 0, out
        rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
        for venue in VENUES:
            assert rows[venue][2] == "live", out  # exchange, mode, state
            assert int(rows[venue][3]) > 0
        assert rows["gemini"][2] == "disabled"
        assert "daemon: healthy" in out
        assert "sink files:" in out and "sink socket:" in out

        child = pexpect.spawn(
            sys.executable,
            ["-m", "aggregator", "tail", "--table", "--socket", sock, "--duration", "30"],
            dimensions=(50, 160),
            encoding="utf-8",
            timeout=10,
        )
        try:
            expected = [f"{v}.*{s}" for v, symbols in VENUES.items() for s in symbols]
            for pattern in expected:  # each row: venue and symbol, drawn within seconds
                await asyncio.to_thread(child.expect, pattern)
            await asyncio.to_thread(child.expect, "live")
            child.sendintr()  # Ctrl-C
            await asyncio.to_thread(child.expect, pexpect.EOF)
        finally:
            child.close(force=True)
        assert child.exitstatus in (0, 130) or child.signalstatus == signal.SIGINT
    finally:
        await stop(proc)


def test_status_without_a_daemon_says_so(tmp_path: Path) -> None:
    out, rc = run_in_pty("status", "--socket", str(tmp_path / "none.sock"))
    assert rc == 1
    assert "cannot connect" in out and "is the daemon running?" in out
    assert "Traceback" not in out


def test_status_op_is_part_of_the_protocol() -> None:
    assert parse_request(b'{"op":"status"}') == {"op": "status"}
    with pytest.raises(ValueError, match="unknown key 'exchanges' in status"):
        parse_request(b'{"op":"status","exchanges":[]}')
    with pytest.raises(ValueError, match="'subscribe', 'ping' or 'status'"):
        parse_request(b'{"op":"stats"}')


# --- logs ---------------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _record(msg: str, *args: object, level: int = logging.WARNING, **extra: str):
    rec = logging.LogRecord("aggregator.adapters.runner", level, __file__, 1, msg, args, None)
    rec.__dict__.update(extra)
    return rec


def test_repeats_are_logged_once_a_minute_with_a_count() -> None:
    clock = _Clock()
    out = _Collect()
    f = RepeatFilter(out, window=60.0, clock=clock)
    out.addFilter(f)
    for i in range(5):
        out.handle(_record("connection %s: closed; reconnect in %.1fs", 0, i, exchange="kraken"))
        clock.now += 1
    out.handle(_record("connection %s: closed; reconnect in %.1fs", 0, 9, exchange="binance"))
    out.handle(_record("socket listening", level=logging.DEBUG))
    out.handle(_record("socket listening", level=logging.DEBUG))  # DEBUG: never held back
    assert out.lines == [
        "connection 0: closed; reconnect in 0.0s",
        "connection 0: closed; reconnect in 9.0s",
        "socket listening",
        "socket listening",
    ]
    assert f.held_total == 4
    clock.now += 60
    out.handle(_record("connection %s: closed; reconnect in %.1fs", 0, 7, exchange="kraken"))
    assert out.lines[-1] == "connection 0: closed; reconnect in 7.0s (repeated 4 times)"
    # repeats that stop: the count comes with the flush once the window is over
    out.handle(_record("connection %s: closed; reconnect in %.1fs", 0, 8, exchange="kraken"))
    out.handle(_record("connection %s: closed; reconnect in %.1fs", 0, 8, exchange="kraken"))
    assert f.flush() == 0  # the window is not over
    clock.now += 61
    assert f.flush() == 1
    assert out.lines[-1] == "connection 0: closed; reconnect in 8.0s (repeated 2 times)"
    clock.now += 61
    assert f.flush() == 0  # quiet keys are forgotten
    assert not f._keys
    out.handle(_record("disk full", exchange="kraken"))
    out.handle(_record("disk full", exchange="kraken"))
    assert f.flush(force=True) == 1  # at exit, whatever the window
    assert out.lines[-1] == "disk full (repeated 1 time)"


def test_json_and_text_formats_carry_the_exchange() -> None:
    rec = _record("no data for %.0fs", 30.0, exchange="binance", symbol="BTC/USDT")
    doc = json.loads(JsonFormatter().format(rec))
    assert doc.keys() == LOG_KEYS | {"exchange", "symbol"}
    assert doc["msg"] == "no data for 30s" and doc["exchange"] == "binance"
    assert doc["level"] == "warning" and doc["ts"].endswith("Z")
    text = TextFormatter(journald=True).format(rec)
    assert text == "WARNING aggregator.adapters.runner: binance BTC/USDT: no data for 30s"
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        rec = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    doc = json.loads(JsonFormatter().format(rec))
    assert "RuntimeError: boom" in doc["exc"] and "exchange" not in doc


# --- contrib --------------------------------------------------------------------------------


def rendered() -> str:
    """A scrape of a daemon built in-process (not started): every family, zero values."""
    from aggregator.app import Daemon
    from aggregator.metrics import render

    cfg = loads(
        "[exchanges.binance]\nsymbols = ['BTC/USDT']\n[exchanges.kraken]\nenabled = false\n",
        check_paths=False,
    )
    return render(Daemon(cfg).ops)


def test_exposition_is_valid_and_complete() -> None:
    values = samples(rendered())
    names = {name for name, _ in values}
    for name in (
        "aggregator_up",
        "aggregator_build_info",
        "aggregator_venue_records_total",
        "aggregator_venue_reconnects_total",
        "aggregator_venue_parse_errors_total",
        "aggregator_venue_rate_limited_total",
        "aggregator_venue_last_record_age_seconds",
        "aggregator_venue_up",
        "aggregator_venue_state",
        "aggregator_sink_queue_depth",
        "aggregator_sink_written_total",
        "aggregator_sink_dropped_total",
        "aggregator_socket_conflated_total",
        "aggregator_socket_clients",
        "aggregator_event_loop_lag_seconds",
        "aggregator_event_loop_lag_max_seconds",
        "aggregator_gc_passes_total",
        "aggregator_gc_pause_seconds_total",
        "aggregator_gc_pause_longest_seconds",
        "aggregator_gc_frozen_objects",
        "aggregator_socket_delay_seconds_bucket",
        "aggregator_socket_delay_seconds_count",
    ):
        assert name in names, name
    assert values[("aggregator_venue_state", (("exchange", "kraken"), ("state", "disabled")))] == 1
    assert ("aggregator_venue_up", (("exchange", "kraken"),)) not in values
    starting = ("aggregator_venue_state", (("exchange", "binance"), ("state", "starting")))
    assert values[starting] == 1
    assert {dict(k[1])["sink"] for k in values if k[0] == "aggregator_sink_written_total"} == {
        "files",
        "socket",
    }
    # the process collector's: memory, CPU, open files (and their limit)
    for name in ("resident_memory_bytes", "cpu_seconds_total", "open_fds", "max_fds"):
        assert values[(f"process_{name}", ())] > 0, name


def test_each_counter_of_an_adapter_reaches_its_metric_and_its_report_field() -> None:
    """The daemon reads an adapter's counters through stats(), a copy taken at once: each
    counter is its own metric and its own field of the status report (distinct values
    catch a crossed wire)."""
    from aggregator.adapters.emitter import VenueStats
    from aggregator.app import Daemon
    from aggregator.metrics import render

    cfg = loads("[exchanges.binance]\nsymbols = ['BTC/USDT']\n", check_paths=False)
    daemon = Daemon(cfg)
    (adapter,) = daemon.adapters
    counters = adapter.emitter.counters
    names = [f.name for f in dataclasses.fields(VenueStats) if f.name != "state"]
    for i, name in enumerate(names):
        setattr(counters, name, 10 + i)
    counters.state = "live"
    taken = adapter.stats()
    counters.records += 1
    assert (taken.records, adapter.stats().records) == (10, 11)  # a copy, not the counters
    metric = {
        "records": "aggregator_venue_records_total",
        "reconnects": "aggregator_venue_reconnects_total",
        "parse_errors": "aggregator_venue_parse_errors_total",
        "flagged": "aggregator_venue_flagged_total",
        "venue_errors": "aggregator_venue_errors_total",
        "rate_limited": "aggregator_venue_rate_limited_total",
    }
    assert sorted(metric) == sorted(names)
    (venue,) = daemon.ops.report()["venues"]
    values = samples(render(daemon.ops))
    now = adapter.stats()
    for name in names:
        assert venue[name] == getattr(now, name), name
        assert values[(metric[name], (("exchange", "binance"),))] == getattr(now, name), name
    assert venue["state"] == "live"
    assert values[("aggregator_venue_state", (("exchange", "binance"), ("state", "live")))] == 1


# PromQL words that are not metric names: functions (followed by "(") aside.
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and"}
PROMQL_WORDS |= {"or", "unless", "offset"}
# Series Prometheus makes itself for every target.
SCRAPE_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: strings, label matchers, ranges, grouping
    labels and functions left out."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", bare)
    bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", bare)
    words = set(re.findall(r"\b([A-Za-z_:][A-Za-z0-9_:]*)\b(?!\s*\()", bare))
    return words - PROMQL_WORDS - SCRAPE_SERIES


def test_metric_names_of_promql() -> None:
    expr = 'sum by (exchange) (rate(aggregator_venue_records_total{job="a"}[5m])) > 0'
    assert metric_names(expr) == {"aggregator_venue_records_total"}
    assert metric_names("process_open_fds / process_max_fds > 0.8") == {
        "process_open_fds",
        "process_max_fds",
    }


def test_grafana_dashboard_and_prometheus_config_use_exported_metrics() -> None:
    """Every series the dashboard and the alert rules read is in a scrape (the process
    collector's included)."""
    exported = {name for name, _ in samples(rendered())}
    dashboard = json.loads((REPO / "contrib" / "grafana" / "aggregator.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", []) if "expr" in t]
    alerts = (REPO / "contrib" / "prometheus" / "alerts.yml").read_text()
    rules = re.findall(r"^\s*expr:\s*(.+)$", alerts, re.MULTILINE)
    assert exprs and len(rules) >= 8
    used = {m for e in exprs + rules for m in metric_names(e)}
    assert {"process_resident_memory_bytes", "process_open_fds"} <= used
    assert used <= exported, used - exported
    scrape = (REPO / "contrib" / "prometheus" / "prometheus.yml").read_text()
    assert "/metrics" in scrape or "metrics_path" not in scrape
    assert "127.0.0.1:9464" in scrape


def test_the_collector_is_tuned_timed_and_settled() -> None:
    import gc

    from aggregator import collector

    before = gc.get_threshold()
    pauses = collector.Pauses(keep_over=0.0)  # every pass kept, with its time
    pauses.start()
    try:
        assert collector.tune(12_345) == before
        assert gc.get_threshold() == (12_345, *before[1:])
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        gc.collect(0)
        gc.collect(1)
        frozen = collector.settle()
        assert frozen == gc.get_freeze_count() > 0
        assert pauses.passes == [1, 1, 1]
        assert pauses.collected[0] >= 1  # the cycle
        assert all(s >= 0 for s in pauses.seconds) and pauses.longest[2] == pauses.seconds[2] > 0
        assert [g for _, g, _ in pauses.long] == [0, 1, 2]
    finally:
        pauses.stop()
        gc.unfreeze()
        gc.set_threshold(*before)
    gc.collect()
    assert pauses.passes == [1, 1, 1]  # stopped: no longer counted


def test_a_settle_again_frees_cycles_that_died_among_frozen_objects() -> None:
    import gc
    import weakref

    from aggregator import collector

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # type: ignore[attr-defined]
    gone = weakref.ref(a)
    try:
        collector.settle()  # the cycle is alive: frozen
        del a, b
        gc.collect()
        assert gone() is not None  # dead, but out of the collector's sight
        frozen = collector.settle(again=True)
        assert gone() is None and frozen == gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
