"""Derivatives across the daemon: the kinds config, one adapter per (venue, kind), status
records and filters that tell the kinds apart."""

from __future__ import annotations

import gzip
import io
import json
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from aggregator import filters
from aggregator.adapters.registry import codec_class
from aggregator.config import kind_of, loads
from aggregator.errors import AggregatorError, ConfigError
from aggregator.filters import FilterError
from aggregator.records import Derivative, Status, Ticker
from aggregator.sim import VenueSim

from .ports import free_port
from .test_daemon import read_socket, short_dir, spawn, wait_for

FIXTURES = Path(__file__).parent / "fixtures" / "ws-derivatives"


def test_kind_of_reads_the_symbol_form() -> None:
    assert kind_of("BTC/USDT") == "spot"
    assert kind_of("BTC/USDT:USDT") == "perp"
    assert kind_of("BTC/USD:BTC") == "perp"
    assert kind_of("BTC/USDT:USDT-261225") == "future"


def test_kinds_config_makes_one_feed_per_kind_with_its_symbols() -> None:
    cfg = loads(
        """
[exchanges.gate]
kinds = ["spot", "perp"]
symbols = ["BTC/USDT", "BTC/USDT:USDT", "ETH/USDT:USDT"]
""",
        check_paths=False,
    )
    (ex,) = cfg.exchanges
    spot, perp = ex.feeds()
    assert (spot.kind, spot.symbols) == ("spot", ("BTC/USDT",))
    assert (perp.kind, perp.symbols) == ("perp", ("BTC/USDT:USDT", "ETH/USDT:USDT"))
    assert spot.stale_after == 30.0  # spot's default, unchanged
    assert perp.stale_after == codec_class("gate", "perp").STALE_AFTER
    # a kind with no symbol listed follows all its markets; the config's stale_after rules
    cfg = loads(
        '[exchanges.gate]\nkinds = ["perp"]\nstale_after = 7\n',
        check_paths=False,
    )
    (perp,) = cfg.exchanges[0].feeds()  # (gate's spot adapter not run)
    assert (perp.kind, perp.symbols, perp.stale_after) == ("perp", (), 7.0)
    # existing configs: one spot feed, the config itself
    (ex,) = loads('[exchanges.binance]\nsymbols = ["BTC/USDT"]\n', check_paths=False).exchanges
    assert ex.feeds() == (ex,) and ex.kind == "spot"


@pytest.mark.parametrize(
    ("body", "expect"),
    [
        ('kinds = ["swap"]', "exchanges.binance.kinds: expected kinds among spot"),
        ('kinds = ["option"]', "binance has no adapter for 'option' markets"),
        ('kinds = ["spot", "spot"]', "lists a kind twice"),
        ("kinds = []", "expected at least one kind"),
        ('symbols = ["BTC/USDT:USDT"]', "'BTC/USDT:USDT' is a perp symbol, but kinds = ['spot']"),
        ('symbols = ["BTC:USDT"]', "expected unified symbols"),
    ],
)
def test_bad_kinds_are_config_errors_naming_the_key(body: str, expect: str) -> None:
    with pytest.raises(ConfigError, match=r"exchanges\.binance") as e:
        loads(f"[exchanges.binance]\n{body}\n", check_paths=False)
    assert expect in str(e.value)
    with pytest.raises(ConfigError, match="bitstamp has no adapter for 'perp' markets"):
        loads('[exchanges.bitstamp]\nkinds = ["perp"]\n', check_paths=False)


def test_status_records_of_two_kinds_of_one_venue_keep_apart() -> None:
    spot = Status("binance", "live", None, None, 1, 1)
    perp = Status("binance", "live", None, None, 1, 1, kind="perp")
    perp_conn = Status("binance", "live", None, 2, 1, 1, kind="perp")
    assert spot.key() == ("status", "binance", "")  # as before kinds
    assert len({spot.key(), perp.key(), perp_conn.key()}) == 3
    assert msgspec.json.decode(msgspec.json.encode(perp))["kind"] == "perp"


def test_filters_take_kinds() -> None:
    checked = filters.check(kinds=["perp"])
    assert checked.lists()["kinds"] == ["perp"]
    assert "kinds" not in filters.check(types=["ticker"]).lists()
    f = checked.filter()
    assert f is not None
    spot = Ticker("binance", "BTC/USDT", "BTCUSDT")
    perp = Derivative("binance", "BTC/USDT:USDT", "BTCUSDT", kind="perp")
    status = Status("binance", "live", kind="perp")
    assert [f.match(r) for r in (spot, perp, status)] == [False, True, True]
    with pytest.raises(FilterError, match="kinds: unknown kind 'swap'"):
        filters.check(kinds=["swap"])


def test_a_kind_table_sets_that_kind_s_endpoints_and_is_checked() -> None:
    body = """
[exchanges.binance]
kinds = ["spot", "perp"]
ws_url = "ws://127.0.0.1:1/ws"
[exchanges.binance.perp]
ws_url = "ws://127.0.0.1:2"
stale_after = 3
"""
    spot, perp = loads(body, check_paths=False).exchanges[0].feeds()
    assert (spot.ws_url, perp.ws_url, perp.stale_after) == (
        "ws://127.0.0.1:1/ws",
        "ws://127.0.0.1:2",
        3.0,
    )
    assert perp.markets_url == ""  # spot's URLs are not the perps': the codec's
    with pytest.raises(ConfigError, match=r"exchanges\.binance\.perp\.symbols: expected one of"):
        loads(body + 'symbols = ["X/Y:Y"]\n', check_paths=False)
    with pytest.raises(ConfigError, match="a table for 'future', which is not in kinds"):
        loads(body + "[exchanges.binance.future]\nmode = 'ws'\n", check_paths=False)


async def test_spot_and_perps_of_one_venue_side_by_side(tmp_path: Path) -> None:
    """A daemon with binance spot and perps from two local servers: records, status records
    and files of each kind apart, markets cached per kind, the socket filtering by kind, the
    reader taking one kind; an orderly stop."""
    port = free_port()
    spot_sim = VenueSim("binance", rate=300, seed=1)
    perp_sim = VenueSim("binance", rate=300, seed=2, kind="perp")
    root = short_dir()
    await spot_sim.start()
    await perp_sim.start()
    try:
        perp_urls = "\n".join(f'{k} = "{v}"' for k, v in perp_sim.endpoints().items())
        spot_urls = "\n".join(f'{k} = "{v}"' for k, v in spot_sim.endpoints().items())
        config = root / "aggregator.toml"
        config.write_text(
            f'[daemon]\nstate_dir = "{root / "state"}"\n'
            f'[files]\ndir = "{root / "data"}"\nflush_interval = 0.2\n'
            f'[socket]\npath = "{root / "agg.sock"}"\n'
            f'[metrics]\nlisten = "127.0.0.1:{port}"\n'
            "[exchanges.binance]\n"
            'kinds = ["spot", "perp"]\n'
            'symbols = ["BTC/USDT", "ETH/USDT", "BTC/USDT:USDT", "ETH/USDT:USDT"]\n'
            f"backoff_initial = 0.1\n{spot_urls}\n"
            f"[exchanges.binance.perp]\n{perp_urls}\n"
        )
        proc = await spawn("run", "-c", str(config), cwd=root)
        try:
            await wait_for((root / "agg.sock").exists)
            perp_only = {"op": "subscribe", "kinds": ["perp"], "types": ["ticker", "status"]}
            got = await read_socket(root / "agg.sock", 40, perp_only)
            assert got[0]["type"] == "ack" and got[0]["kinds"] == ["perp"]
            records = [r for r in got if r["type"] in ("ticker", "status")]
            assert records and all(r["kind"] == "perp" for r in records)
            tickers = [r for r in records if r["type"] == "ticker"]
            assert {r["symbol"] for r in tickers} <= {"BTC/USDT:USDT", "ETH/USDT:USDT"}
            status = await read_socket(root / "agg.sock", 1, {"op": "status"})
            report = {(v["exchange"], v["kind"]): v["state"] for v in status[0]["venues"]}
            assert set(report) == {("binance", "spot"), ("binance", "perp")}
            await wait_for(lambda: set(report_of(root)) == {"spot", "perp"}, timeout=10)
            async with aiohttp.ClientSession() as http:
                base = f"http://127.0.0.1:{port}"
                async with http.get(base + "/health") as resp:
                    health = await resp.json()
                async with http.get(base + "/metrics") as resp:
                    metrics = await resp.text()
            assert set(health["venues"]) == {"binance", "binance:perp"}, health
            assert 'aggregator_venue_up{exchange="binance",kind="perp"} 1.0' in metrics
        finally:
            proc.proc.send_signal(signal.SIGTERM)
            rc = await proc.wait()
        assert rc == 0 and "Traceback" not in proc.log(), proc.log()
    finally:
        await spot_sim.stop()
        await perp_sim.stop()
    data = root / "data" / "binance"
    spot_lines = lines_in(data.glob("binance-*.jsonl*"))
    perp_lines = lines_in((data / "perp").glob("binance-perp-*.jsonl*"))
    assert spot_lines and perp_lines
    assert {r["kind"] for r in spot_lines} == {"spot"} and "mark" not in spot_lines[0]
    assert {r["symbol"] for r in perp_lines} == {"BTC/USDT:USDT", "ETH/USDT:USDT"}
    assert any(r["mark"] is not None and r["funding_ts"] is not None for r in perp_lines)
    assert [r["seq"] for r in perp_lines] == sorted(r["seq"] for r in perp_lines)
    perp_status = lines_in((data / "perp" / "status").glob("*.jsonl*"))
    spot_status = lines_in((data / "status").glob("*.jsonl*"))
    assert {r["kind"] for r in perp_status} == {"perp"} and {r["kind"] for r in spot_status} == {
        "spot"
    }
    assert perp_status[-1]["state"] == spot_status[-1]["state"] == "stopped"
    assert (root / "state" / "markets" / "binance.json").exists()
    assert (root / "state" / "markets" / "binance-perp.json").exists()
    from aggregator.reader import read

    table = read(root / "data", kinds=["perp"])
    assert set(table["kind"].to_pylist()) == {"perp"} and table.num_rows == len(perp_lines)
    assert read(root / "data", kinds="spot").num_rows == len(spot_lines)


def report_of(root: Path) -> dict[str, str]:
    """The kinds with a live status record on file so far, and that state."""
    found = {}
    for f in (root / "data" / "binance").rglob("status/*.jsonl"):
        for r in lines_in([f]):
            if r["state"] == "live":
                found[r["kind"]] = r["state"]
    return found


def lines_in(files: Iterable[Path]) -> list[dict[str, Any]]:
    out = []
    for f in sorted(files):
        raw = gzip.decompress(f.read_bytes()) if f.suffix == ".gz" else f.read_bytes()
        out += [json.loads(line) for line in raw.splitlines()]
    return out


def test_normalize_reads_derivatives_captures_with_their_kind(tmp_path: Path) -> None:
    from aggregator.normalize import normalize

    frames = json.loads((FIXTURES / "okx.json").read_text())[0]["messages"]
    capture = "".join(json.dumps(m) + "\n" for m in frames)  # cryptofeed's {recv_ts, frame}
    rows = {"code": "0", "msg": "", "data": []}
    for t, inst, uly, settle, expiry in (
        ("SWAP", "UNI-USD-SWAP", "UNI-USD", "UNI", ""),
        ("FUTURES", "BTC-USD-220527", "BTC-USD", "BTC", "1653638400000"),
    ):
        rows["data"].append(  # type: ignore[attr-defined]
            {"instType": t, "instId": inst, "uly": uly, "settleCcy": settle, "ctVal": "10"}
            | {"ctType": "inverse", "expTime": expiry, "state": "live"}
        )
    markets = tmp_path / "instruments.json"
    markets.write_text(json.dumps(rows))
    out, err = io.StringIO(), io.StringIO()
    rc = normalize("okx", "ws", None, tmp_path, io.StringIO(capture), out, err, markets, "future")
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert rc == 1, err.getvalue()  # UNI-USD-SWAP is not a future: counted, not a record
    assert {r["symbol"] for r in records} == {"BTC/USD:BTC-220527"}
    assert {r["kind"] for r in records} == {"future"} and records[0]["ts_recv"] > 0
    assert "UNI-USD-SWAP (1)" in err.getvalue()
    with pytest.raises(AggregatorError, match="bitstamp has no adapter for 'perp' markets"):
        normalize("bitstamp", "ws", None, tmp_path, io.StringIO(""), out, err, None, "perp")


def test_status_table_metrics_and_health_name_the_kind() -> None:
    from aggregator.metrics import family
    from aggregator.status import table

    rows = [
        {"exchange": "binance", "kind": "spot", "state": "live"},
        {"exchange": "binance", "kind": "perp", "state": "stale"},
    ]
    lines = table(rows)
    assert lines[1].startswith("binance ") and lines[2].startswith("binance perp ")
    # a family whose samples are of spot (no kind) and perp adapters: kind empty for spot
    f = family("x_total", "counter", "x", [({"exchange": "binance"}, 1), (_perp, 2)])
    assert [s.labels for s in f.samples] == [
        {"exchange": "binance", "kind": ""},
        {"exchange": "binance", "kind": "perp"},
    ]


_perp = {"exchange": "binance", "kind": "perp"}


async def test_nats_subjects_of_derivatives_reach_a_subscriber_of_their_kind() -> None:
    """A NATS sink publishing spot and perp records of one venue, and subscribers to the
    subjects `subscribe -k perp` and `subscribe` (no filter) would ask for."""
    import nats

    from aggregator.config import NatsConfig
    from aggregator.hub import Hub
    from aggregator.records import Record, dumps
    from aggregator.sinks.nats import NatsSink
    from aggregator.subscribe import subjects

    from .nats_server import NatsServer, remove

    srv = NatsServer()
    await srv.start()
    try:
        nc = await nats.connect(srv.url)
        got: dict[str, list[str]] = {"perp": [], "all": []}
        for name, wanted in (("perp", subjects("md", kinds=["perp"])), ("all", subjects("md"))):

            async def cb(msg: Any, name: str = name) -> None:
                got[name].append(msg.subject)

            for subject in wanted:
                await nc.subscribe(subject, cb=cb)
        await nc.flush()
        sink = NatsSink(NatsConfig(enabled=True, servers=(srv.url,)), "agg-t")
        hub = Hub()
        hub.add_sink(sink)
        records: list[Record] = [
            Ticker("binance", "BTC/USDT", "BTCUSDT", bid=1.0, ts_recv=1, seq=1),
            Derivative("binance", "BTC/USDT:USDT", "BTCUSDT", 1.0, ts_recv=2, seq=1, kind="perp"),
            Status("binance", "live", ts_recv=3, seq=2, kind="perp"),
            Status("binance", "live", ts_recv=4, seq=2),
        ]
        await sink.start()
        try:
            hub.publish_batch(records, [dumps(r) for r in records], "binance")
            await wait_for(lambda: len(got["all"]) == 4 and len(got["perp"]) == 2, timeout=5)
        finally:
            await sink.stop()
            await nc.close()
    finally:
        await srv.kill()
        remove([srv])
    assert sorted(got["perp"]) == ["md.status.binance.perp", "md.ticker.binance.perp.BTC-USDT:USDT"]
    assert sorted(got["all"]) == [
        "md.status.binance",
        "md.status.binance.perp",
        "md.ticker.binance.BTC-USDT",
        "md.ticker.binance.perp.BTC-USDT:USDT",
    ]


def test_the_client_decodes_derivatives_and_numbers_each_kind_apart() -> None:
    from aggregator.client.gaps import GapTracker
    from aggregator.client.wire import decode, subscribe_line
    from aggregator.records import dumps

    perp = Derivative("binance", "BTC/USDT:USDT", "BTCUSDT", 1.0, seq=7, kind="perp", mark=2.0)
    back = decode(json.loads(dumps(perp)))
    assert isinstance(back, Derivative) and back == perp
    spot = decode(json.loads(dumps(Ticker("binance", "BTC/USDT", "BTCUSDT", seq=3))))
    assert type(spot) is Ticker and back is not None
    assert json.loads(subscribe_line(kinds=["perp"]) or b"") == {
        "op": "subscribe",
        "kinds": ["perp"],
    }
    gaps = GapTracker(exact=True)
    assert gaps.snapshot([spot, back]) == []
    # the spot adapter's 4 and the perp adapter's 8 follow their own: no gap, no restart
    later: list[Ticker | Status] = [
        Ticker("binance", "BTC/USDT", "BTCUSDT", seq=4),
        Status("binance", "live", seq=8, kind="perp"),
    ]
    assert [gaps.record(r) for r in later] == [None, None]


def test_tail_table_shows_each_kind_s_state() -> None:
    from rich.console import Console

    from aggregator.live import Board

    board = Board()
    board.update({"type": "status", "exchange": "binance", "state": "live"})
    board.update({"type": "status", "exchange": "binance", "state": "stale", "kind": "perp"})
    for symbol in ("BTC/USDT", "BTC/USDT:USDT"):
        quote = {"bid": 1.0, "ask": 2.0, "last": 1.5, "ts_recv": 1}
        board.update({"type": "ticker", "exchange": "binance", "symbol": symbol} | quote)
    console = Console(width=120, record=True)
    console.print(board.render(stale=5.0, now_ns=2))
    lines = console.export_text().splitlines()
    assert any("BTC/USDT " in x and " live " in x for x in lines)
    assert any("BTC/USDT:USDT" in x and " stale " in x for x in lines)


def test_the_live_page_names_a_derivatives_adapter_s_kind() -> None:
    from aggregator.config import ConsolidatedConfig
    from aggregator.consolidated import ConsolidatedView
    from aggregator.web.server import WebServer

    report = {
        "healthy": True,
        "uptime": 1.0,
        "venues": [
            {"exchange": "binance", "kind": "spot", "state": "live"},
            {"exchange": "binance", "kind": "perp", "state": "live"},
        ],
    }
    view = ConsolidatedView(ConsolidatedConfig(enabled=True), {}, lambda r: None, None)
    page = WebServer("127.0.0.1:1", view, lambda: report)
    shared = json.loads(b"{" + page._shared() + b"}")  # (members of the page's state)
    assert [v["exchange"] for v in shared["venues"]] == ["binance", "binance perp"]
