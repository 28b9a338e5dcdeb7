"""Markets lists: a failed request retried with backoff while the cache or snapshot serves,
missing symbols named against the list they were looked up in, malformed rows skipped and
counted, and ambiguous entries (one id or symbol claimed by two markets) left out.

The venue's markets endpoint is a local HTTP server that answers from a script; the
WebSocket side is the venue's simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from aggregator.adapters.base import Codec
from aggregator.adapters.http import Http
from aggregator.adapters.markets import Markets
from aggregator.adapters.registry import ADAPTERS, DERIVATIVES, codec_class
from aggregator.adapters.runner import Adapter
from aggregator.config import ExchangeConfig, loads
from aggregator.errors import ConfigError, ParseError
from aggregator.records import Status, Ticker
from aggregator.sim import VenueSim
from aggregator.symbols import Market, MarketTable, snapshot_path

EXTRA = "QQQ/USDT"  # listed by the venue, not in the shipped snapshot


def binance_markets(extra: bool = True) -> bytes:
    """The shipped Binance snapshot, with one more market (QQQUSDT) when ``extra``."""
    doc = json.loads(snapshot_path("binance").read_bytes())
    if extra:
        row = dict(next(s for s in doc["symbols"] if s["symbol"] == "BTCUSDT"))
        row.update(symbol="QQQUSDT", baseAsset="QQQ")
        doc["symbols"].append(row)
    return json.dumps(doc).encode()


class MarketsServer:
    """The markets endpoint: answers from ``script`` in turn (its last answer for ever),
    noting when each request came."""

    def __init__(self, script: list[tuple[int, str, bytes]]) -> None:
        self.script = script
        self.times: list[float] = []
        self.runner: web.AppRunner | None = None
        self.url = ""
        self.stopping = asyncio.Event()  # ends a stalled answer, which cleanup() waits for

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/api/v3/exchangeInfo"

    async def stop(self) -> None:
        self.stopping.set()
        if self.runner is not None:
            await self.runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.times.append(time.monotonic())
        status, kind, body = self.script[min(len(self.times), len(self.script)) - 1]
        if kind == "stall":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), 5)
        return web.Response(status=status, body=body, content_type=kind)


HTML = (200, "text/html", b"<html><body>maintenance</body></html>")
JSON = "application/json"


class Run:
    def __init__(self, adapter: Adapter, out: list[Ticker | Status], server: MarketsServer):
        self.adapter = adapter
        self.out = out
        self.server = server

    def details(self) -> list[str]:
        return [r.detail or "" for r in self.out if isinstance(r, Status)]

    def symbols(self) -> set[str]:
        return {r.symbol for r in self.out if isinstance(r, Ticker)}

    async def until(self, cond: Callable[[], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not cond():
                await asyncio.sleep(0.02)


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    tasks: list[asyncio.Task[None]] = []
    servers: list[Any] = []

    async def _start(script: list[tuple[int, str, bytes]], **kw: Any) -> Run:
        sim = VenueSim("binance", rate=200, seed=3, markets_body=binance_markets())
        await sim.start()
        server = MarketsServer(script)
        await server.start()
        servers.extend([sim, server])
        settings: dict[str, Any] = dict(
            venue="binance",
            symbols=("BTC/USDT", EXTRA),
            stale_after=5.0,
            backoff_initial=0.1,
            backoff_max=0.2,
            markets_retry_max=0.4,
            open_timeout=2.0,
            request_timeout=0.5,
            **sim.endpoints(),
        )
        settings["markets_url"] = server.url
        settings.update(kw)
        out: list[Ticker | Status] = []
        cfg = ExchangeConfig(**settings)
        adapter = Adapter(codec_class("binance"), cfg, out.append, tmp_path / "state")
        tasks.append(asyncio.create_task(adapter.run()))
        return Run(adapter, out, server)

    yield _start
    for t in tasks:
        t.cancel()
        await asyncio.gather(t, return_exceptions=True)
    for s in servers:
        await s.stop()


# --- a failed markets request ---------------------------------------------------------


async def test_a_failing_markets_request_is_retried_with_backoff_while_the_snapshot_serves(
    start, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "aggregator")
    fails = 6
    script = [(503, "text/html", b"<html>busy</html>")] * fails + [(200, JSON, binance_markets())]
    run = await start(script)
    # Meanwhile: the snapshot serves (BTC/USDT streams), said once in the log and a status.
    await run.until(lambda: "BTC/USDT" in run.symbols())
    await run.until(lambda: EXTRA in run.symbols())  # the venue's list, once it loaded
    times = run.server.times
    assert len(times) == fails + 1
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Capped exponential backoff with jitter in [d/2, d]: d = 0.1, 0.2, 0.4, 0.4, ... A loaded
    # machine (the suite's workers share the CPUs) may retry up to `late` after d; without
    # the cap the sixth gap would be 1.6-3.2 s, past even that.
    late = 1.0
    for i, gap in enumerate(gaps):
        d = min(0.4, 0.1 * 2**i)
        assert d / 2 - 0.02 <= gap <= d + late, (i, gaps)
    assert max(gaps[3:]) <= 0.4 + late  # the cap holds
    failed = [r for r in caplog.records if "markets endpoint failed" in r.getMessage()]
    assert len(failed) == 1  # once, not per retry
    assert "markets snapshot shipped with the package" in failed[0].getMessage()
    assert any("using the markets snapshot" in d for d in run.details())
    assert any("loaded after 6 failed requests" in r.getMessage() for r in caplog.records)
    # The retry stopped: markets_refresh (a day) is the period again.
    await asyncio.sleep(1.0)
    assert len(run.server.times) == fails + 1


@pytest.mark.parametrize(
    "failure",
    [
        (500, JSON, b'{"code":-1000,"msg":"internal"}'),  # an HTTP error
        HTML,  # an HTML page with status 200
        (200, JSON, binance_markets()[:600]),  # truncated JSON
        (200, JSON, b'{"code":-1121,"msg":"Invalid symbol."}'),  # an error object, not a list
        (200, JSON, b"[1, 2"),  # malformed JSON
        (200, "stall", b""),  # no answer within request_timeout
        (429, JSON, b"{}"),  # rate limited
    ],
    ids=["http-500", "html-200", "truncated", "error-object", "malformed", "timeout", "429"],
)
async def test_every_kind_of_failed_request_is_retried(start, failure) -> None:
    run = await start([failure, (200, JSON, binance_markets())])
    await run.until(lambda: EXTRA in run.symbols())
    assert len(run.server.times) == 2
    assert any("using the markets snapshot" in d for d in run.details())


async def test_a_refused_connection_is_retried_from_the_cache(start, tmp_path: Path) -> None:
    first = await start([(200, JSON, binance_markets(extra=False))])  # fills the cache
    await first.until(lambda: "BTC/USDT" in first.symbols())
    cache = tmp_path / "state" / "markets" / "binance.json"
    doc = json.loads(cache.read_bytes())
    doc["fetched_at"] -= 2 * 86400  # stale: the venue is asked again
    cache.write_bytes(json.dumps(doc).encode())
    refused = MarketsServer([(200, JSON, binance_markets())])
    await refused.start()
    url = refused.url
    await refused.stop()  # nothing listens there now
    run = await start([(200, JSON, binance_markets())], markets_url=url)
    await run.until(
        lambda: any("using the cached markets list" in d for d in run.details()), timeout=5
    )
    await run.until(lambda: "BTC/USDT" in run.symbols())
    assert not any("snapshot" in d for d in run.details())


# --- "not listed" only against the venue's own list ----------------------------------


async def test_a_symbol_missing_from_the_snapshot_is_not_called_unlisted(start) -> None:
    run = await start([HTML, HTML, (200, JSON, binance_markets())])
    await run.until(lambda: EXTRA in run.symbols())
    details = run.details()
    assert f"not in the shipped markets snapshot; retrying the venue's list: {EXTRA}" in details
    assert not any("not listed by the venue" in d for d in details)


async def test_a_symbol_missing_from_both_is_unlisted_once_the_venues_list_loads(start) -> None:
    run = await start([HTML, (200, JSON, binance_markets(extra=False))])
    want = f"not listed by the venue, skipped: {EXTRA}"
    await run.until(lambda: want in run.details())
    details = run.details()
    first_snapshot = details.index(
        f"not in the shipped markets snapshot; retrying the venue's list: {EXTRA}"
    )
    assert first_snapshot < details.index(want)
    # The stream may open after the list loaded (a loaded machine): its tickers, then.
    await run.until(lambda: "BTC/USDT" in run.symbols())
    assert run.symbols() == {"BTC/USDT"}


# --- ambiguous entries -------------------------------------------------------------------


def test_two_rows_with_one_id_are_both_left_out() -> None:
    t = MarketTable(
        [Market("BTC/USDT", "BTCUSDT"), Market("BTCUP/USDT", "BTCUSDT"), Market("ETH/USDT", "E")]
    )
    assert t.lookup("BTCUSDT") is None
    assert "BTC/USDT" not in t.by_symbol and "BTCUP/USDT" not in t.by_symbol
    assert [m.symbol for m in t.markets] == ["ETH/USDT"]
    assert t.ambiguous == ["BTCUSDT (BTC/USDT) and BTCUSDT (BTCUP/USDT)"]


def test_two_ids_that_unify_to_one_symbol_are_both_left_out() -> None:
    t = MarketTable([Market("BTC/USDT", "BTC-USDT"), Market("BTC/USDT", "BTCUSDT")])
    assert len(t) == 0 and t.lookup("BTC-USDT") is None and t.lookup("BTCUSDT") is None
    assert t.ambiguous == ["BTC-USDT (BTC/USDT) and BTCUSDT (BTC/USDT)"]


def test_an_alias_that_is_another_markets_id_leaves_both_out() -> None:
    a = Market("BTC/USD", "BTC/USD", ("BTC/USD", "XXBTZUSD", "XBTUSD"))
    b = Market("XBT2/USD", "XBT2/USD", ("XBT2/USD", "XBTUSD"))
    c = Market("ETH/USD", "ETH/USD", ("ETH/USD", "XETHZUSD"))
    t = MarketTable([a, b, c])
    for i in (*a.all_ids(), *b.all_ids()):
        assert t.lookup(i) is None
    assert t.lookup("XETHZUSD") is c


def test_a_row_repeated_as_is_is_one_market() -> None:
    m = Market("BTC/USDT", "BTCUSDT")
    t = MarketTable([m, m])
    assert t.markets == (m,) and t.lookup("BTCUSDT") is m and not t.ambiguous


def test_markets_share_one_string_per_text_and_index_symbols_when_asked() -> None:
    """A venue's thousands of markets hold one "USDT", and venues share their symbols: each
    text is one string object however many answers it was decoded from."""

    def fresh(text: str) -> str:
        return "".join(list(text))  # a string object of its own, as a decoder makes

    a = Market(fresh("ETH/USDT"), fresh("ETHUSDT"), (fresh("ETH-USDT"),), "ETH", fresh("USDT"))
    b = Market(fresh("ETH/USDT"), fresh("ETHUSDT"), (fresh("ETH-USDT"),), "ETH", fresh("USDT"))
    c = Market("BTC/USDT", "BTCUSDT", base_id="BTC", quote_id=fresh("USDT"))
    assert a == b and a.symbol is b.symbol and a.native is b.native and a.ids[0] is b.ids[0]
    assert a.quote_id is b.quote_id is c.quote_id
    t = MarketTable([c, a])
    assert "by_symbol" not in vars(t)  # the codecs look markets up by id only
    selected, missing = t.select(("ETH/USDT", "XRP/USDT"))
    assert selected.markets == (a,) and missing == ["XRP/USDT"]
    assert t.by_symbol == {"BTC/USDT": c, "ETH/USDT": a} and t.lookup("ETH-USDT") is a


async def test_a_refresh_that_keeps_the_selection_keeps_one_table(tmp_path: Path) -> None:
    """A refreshed list with the same markets is not kept beside the table in use (a
    daemon would otherwise hold two tables of every market after its first refresh); a
    list that changes the selection is returned."""
    same, grown = binance_markets(extra=False), binance_markets()
    server = MarketsServer([(200, JSON, same)] * 3 + [(200, JSON, grown)])
    await server.start()
    cfg = ExchangeConfig(venue="binance", markets_url=server.url, markets_refresh=0.05)
    log = logging.LoggerAdapter(logging.getLogger("test"), {})
    http = Http(2.0)
    try:
        async with http.open():
            markets = Markets(codec_class("binance"), cfg, tmp_path, http.fetch, _no_status, log)
            first = await markets.first()
            changed = asyncio.ensure_future(markets.changed(first))
            async with asyncio.timeout(10):
                while len(server.times) < 3:  # two refreshes with the same list
                    await asyncio.sleep(0.01)
            gc.collect()
            alive = [t for t in gc.get_objects() if isinstance(t, MarketTable) and len(t)]
            assert alive == [first]
            new = await asyncio.wait_for(changed, 10)
            assert EXTRA in new.by_symbol and EXTRA not in first.by_symbol
    finally:
        await server.stop()


def _no_status(state: str, detail: str | None) -> None:
    pass


def kraken_pair(wsname: str, altname: str) -> dict[str, Any]:
    return {"altname": altname, "wsname": wsname, "base": "X", "quote": "Z", "status": "online"}


def test_kraken_xbt_and_btc_rows_of_one_symbol_never_name_each_other() -> None:
    body = json.dumps(
        {
            "error": [],
            "result": {
                "XXBTZUSD": kraken_pair("XBT/USD", "XBTUSD"),
                "BTCUSD": kraken_pair("BTC/USD", "BTCUSD"),  # unifies to BTC/USD too
                "XETHZUSD": kraken_pair("ETH/USD", "ETHUSD"),
            },
        }
    ).encode()
    t = codec_class("kraken").markets_from(body)
    assert "BTC/USD" not in t.by_symbol
    for i in ("XXBTZUSD", "XBTUSD", "BTCUSD", "BTC/USD", "XBT/USD"):
        assert t.lookup(i) is None
    assert t.by_symbol["ETH/USD"].native == "ETH/USD"
    assert len(t.ambiguous) == 1
    assert t.ambiguous == ["BTC/USD [XXBTZUSD, XBTUSD] (BTC/USD) and BTC/USD [BTCUSD] (BTC/USD)"]


# Every codec's shipped list: each venue's spot one, and each derivatives one ("venue-kind").
FEEDS = sorted(ADAPTERS) + sorted(f"{v}-{k}" for v, k in DERIVATIVES)


def feed_codec(feed: str) -> type[Codec]:
    venue, _, kind = feed.partition("-")
    return codec_class(venue, kind or "spot")


@pytest.mark.parametrize("venue", FEEDS)
def test_every_id_of_a_snapshot_names_the_market_of_its_own_row(venue: str) -> None:
    """With every venue's shipped list: legit aliases of one market stay, and every id looks
    up the market of the row it came from, never another's."""
    cls = feed_codec(venue)
    t = cls.markets_from(snapshot_path(venue).read_bytes())
    assert not t.ambiguous
    for m in t.markets:
        for i in m.all_ids():
            assert t.lookup(i) is m
        assert t.by_symbol[m.symbol] is m


async def test_the_warning_names_the_ambiguous_ids_once(start, caplog) -> None:
    doc = json.loads(binance_markets())
    row = dict(next(s for s in doc["symbols"] if s["symbol"] == "ETHUSDT"))
    row.update(symbol="BTCUSDT", baseAsset="ETH")  # BTCUSDT again, as ETH/USDT
    doc["symbols"].append(row)
    caplog.set_level(logging.INFO, "aggregator")
    run = await start([(200, JSON, json.dumps(doc).encode())], symbols=("BTC/USDT", "ETH/USDT"))
    await run.until(lambda: any("ambiguous" in d for d in run.details()))
    warned = [r.getMessage() for r in caplog.records if "ambiguous" in r.getMessage()]
    assert len(warned) == 1
    assert "BTCUSDT (BTC/USDT) and BTCUSDT (ETH/USDT)" in warned[0]


# --- the config key --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "expected a number of seconds > 0"),
        ('"5m"', "expected a number of seconds, got a string"),
        ("0.1", "expected a value >= backoff_initial"),
    ],
)
def test_markets_retry_max_is_validated(value: str, message: str) -> None:
    text = f"[exchanges.binance]\nbackoff_initial = 1.0\nmarkets_retry_max = {value}\n"
    with pytest.raises(ConfigError) as e:
        loads(text, check_paths=False)
    assert "exchanges.binance.markets_retry_max" in str(e.value)
    assert message in str(e.value)


# --- malformed rows ----------------------------------------------------------------------


def _containers(doc: Any, rows: list[Any]) -> tuple[str, Any, list[Any]]:
    """Where the response keeps its rows: ("list", the list), ("items", the object whose
    entries are the rows), ("keys", the object whose keys are the rows) or ("columns", the
    column that holds each row's first field); with the rows' keys or indices."""
    found: list[tuple[str, Any, list[Any]]] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            if node == rows:
                found.append(("list", node, list(range(len(node)))))
            elif rows and isinstance(rows[0], tuple) and node == [r[0] for r in rows]:
                found.append(("columns", node, list(range(len(node)))))
            for x in node:
                walk(x)
        elif isinstance(node, dict):
            if [list(kv) for kv in node.items()] == [list(r) for r in rows if isinstance(r, tuple)]:
                found.append(("items", node, list(node)))
            elif list(node) == rows:
                found.append(("keys", node, list(node)))
            for x in node.values():
                walk(x)

    walk(doc)
    if not found and len(rows) == 1 and rows[0] == doc:
        found.append(("single", doc, [None]))
    assert found, "the rows are not found in the response"
    return found[0]


def _made(cls: Any, row: Any) -> list[Market]:
    made = cls.market_of(row)
    return [] if made is None else [made] if isinstance(made, Market) else list(made)


def _spoilt(cls: Any, kind: str, row: Any) -> list[tuple[str, Any]]:
    """Generic ways to spoil a row: null, a number, and for an object the first key without
    which it makes no market (the replacement of the row, or of an entry's value)."""
    if kind == "keys":
        return [("empty key", "")]
    ways: list[tuple[str, Any]] = [("null", None), ("number", 7)]
    obj = row[1] if kind == "items" else row
    if isinstance(obj, dict):
        for k in obj:
            less = {x: v for x, v in obj.items() if x != k}
            try:
                _made(cls, (row[0], less) if kind == "items" else less)
            except Exception:
                ways.append((f"without {k!r}", less))
                break
    return ways


@pytest.mark.parametrize("venue", FEEDS)
def test_one_malformed_row_is_skipped_and_counted(venue: str) -> None:
    """Each venue's shipped list with one row spoilt in a generic way: that row is skipped
    and counted, every other row loads."""
    cls = feed_codec(venue)
    body = snapshot_path(venue).read_bytes()
    whole = cls.markets_from(body)
    rows = list(cls.market_rows(body))
    kind, _, keys = _containers(json.loads(body), rows)
    if kind == "single":  # the list is that one row: spoiling it leaves no market
        for bad in (None, 7):
            with pytest.raises(ParseError, match="expected a JSON object"):
                cls.markets_from(json.dumps(bad).encode())
        return
    making = [i for i, r in enumerate(rows) if _made(cls, r)]
    i = making[len(making) // 2]  # a row that makes a market
    lost = {m.native for m in _made(cls, rows[i])}
    ways = _spoilt(cls, kind, rows[i])
    for how, bad in ways:
        doc = json.loads(body)
        _, container, _ = _containers(doc, rows)
        if kind == "keys":
            container[bad] = container.pop(keys[i])
        else:
            container[keys[i]] = bad
        if len(making) == 1:  # (a list of one market, FX_BTC_JPY say: none is left)
            with pytest.raises(ParseError, match=r"lists no market \(1 of"):
                cls.markets_from(json.dumps(doc).encode())
            continue
        table = cls.markets_from(json.dumps(doc).encode())
        assert (table.skipped, table.rows) == (1, len(rows)), how
        assert table.first_skipped, how
        assert {m.native for m in table.markets} == {m.native for m in whole.markets} - lost, how


async def test_skipped_rows_are_logged_once_per_load_and_in_a_status(start, caplog) -> None:
    doc = json.loads(binance_markets())
    rows = doc["symbols"]
    rows[3] = None
    del rows[5]["baseAsset"]
    caplog.set_level(logging.INFO, "aggregator")
    run = await start([(200, JSON, json.dumps(doc).encode())])
    await run.until(lambda: {"BTC/USDT", EXTRA} <= run.symbols())
    want = f"markets (from the venue): 2 of {len(rows)} rows skipped (malformed); first: null"
    warned = [r.getMessage() for r in caplog.records if "rows skipped" in r.getMessage()]
    assert len(warned) == 1 and warned[0].startswith(want)
    assert any(d.startswith(want) for d in run.details())
