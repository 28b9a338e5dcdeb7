"""The venues' public API changes since 2025, each followed by its codec and simulator.

Where no recording of a new format exists, the payloads here are written from the venue's
documentation and say so; everything runs in process (codecs, simulated dialects): fast.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import orjson
import pytest
from aiohttp import web

from aggregator.adapters.http import Http
from aggregator.adapters.registry import codec_class
from aggregator.adapters.stream import open_websocket
from aggregator.errors import ParseError, VenueError
from aggregator.records import BAD
from aggregator.sim.dialects import ConnState, dialect_class
from aggregator.symbols import Market, MarketTable, snapshot_path


def codec(venue: str) -> Any:
    """The venue's codec over its shipped markets list."""
    cls = codec_class(venue)
    return cls(cls.markets_from(snapshot_path(venue).read_bytes()))


def made_up(n: int, sep: str = "-") -> list[Market]:
    """``n`` markets of made-up coins (more than a shipped list holds), ids "C7-USD"."""
    return [Market(f"C{i}/USD", f"C{i}{sep}USD") for i in range(n)]


# --- gemini: the WebSocket API's bookTicker streams -----------------------------------------

# From the venue's stream reference (developer.gemini.com, WebSocket, Book Ticker).
GEMINI_BOOK_TICKER = (
    '{"u":1751505576085,"E":1751508438600117161,"s":"btcusd","b":"45000.50",'
    '"B":"1.25000000","a":"45001.00","A":"0.75000000"}'
)


def test_gemini_streams_the_book_ticker_of_the_websocket_api() -> None:
    c = codec("gemini")
    assert c.WS_URL == "wss://ws.gemini.com"
    btc = c.table.by_symbol["BTC/USD"]
    [sub] = c.subscribe([btc, c.table.by_symbol["ETH/USD"]])
    assert json.loads(sub) == {
        "id": 1,
        "method": "subscribe",
        "params": ["btcusd@bookTicker", "ethusd@bookTicker"],
    }
    [rec] = c.parse_ws(GEMINI_BOOK_TICKER, 7)
    assert (rec.symbol, rec.native) == ("BTC/USD", btc.native)
    assert (rec.bid, rec.bid_size, rec.ask, rec.ask_size) == (45000.5, 1.25, 45001.0, 0.75)
    assert rec.ts_event == 1751508438600117161  # nanoseconds, as sent
    assert (rec.last, rec.volume, rec.ts_recv) == (None, None, 7)
    # a market not followed makes no record
    assert codec_class("gemini")(MarketTable([])).parse_ws(GEMINI_BOOK_TICKER, 7) == []


def test_gemini_answers_and_errors() -> None:
    c = codec("gemini")
    assert c.parse_ws('{"id":"1","result":null}', 1) == []
    assert c.parse_ws('{"id":1,"status":200,"result":null}', 1) == []
    with pytest.raises(VenueError, match="400"):
        c.parse_ws('{"id":1,"status":400,"error":{"code":400,"msg":"invalid stream"}}', 1)
    # the archived feed's frames are not this API's: refused, not misread
    with pytest.raises(ParseError):
        c.parse_ws('{"type":"l2_updates","symbol":"BTCUSD","changes":[["buy","1","2"]]}', 1)


@pytest.mark.parametrize("bad", ["abc", "NaN", True, {"x": 1}])
def test_gemini_a_spoiled_price_nulls_that_field_only(bad: Any) -> None:
    doc = json.loads(GEMINI_BOOK_TICKER)
    doc["a"] = bad
    [rec] = codec("gemini").parse_ws(json.dumps(doc), 1)
    assert rec.ask is BAD and (rec.bid, rec.ask_size) == (45000.5, 0.75)
    rec.settle(None)
    assert rec.ask is None and rec.flags is not None and "bad_value" in rec.flags


def test_gemini_simulator_speaks_the_new_api_to_the_codec() -> None:
    dialect = dialect_class("gemini")()
    c = codec("gemini")
    wanted = list(c.table.markets)[:3]
    conn = ConnState()
    answers = [a for m in c.subscribe(wanted) for a in dialect.on_message(conn, orjson.loads(m))]
    assert [c.parse_ws(a, 1) for a in answers] == [[]]
    assert conn.subscribed == {m.native for m in wanted}
    refused = dialect.on_message(conn, {"id": 9, "method": "subscribe", "params": ["x@trade"]})
    with pytest.raises(VenueError):
        c.parse_ws(refused[0], 1)


# --- coinbase: about 50 products per subscribe message ----------------------------------------


def test_coinbase_splits_a_subscription_into_messages_of_50_products() -> None:
    c = codec("coinbase")
    wanted = made_up(120)
    sent = [json.loads(m) for m in c.subscribe(wanted)]
    tickers = [m for m in sent if m.get("channel") == "ticker"]
    assert [len(m["product_ids"]) for m in tickers] == [50, 50, 20]
    assert [i for m in tickers for i in m["product_ids"]] == [m.native for m in wanted]
    assert sent[-1] == {"type": "subscribe", "channel": "heartbeats"}
    # the simulator takes the codec's messages, and refuses one naming more than 50 products
    dialect, conn = dialect_class("coinbase")(), ConnState()
    real = list(c.table.markets)
    for m in c.subscribe(real):
        for answer in dialect.on_message(conn, json.loads(m)):
            assert c.parse_ws(answer, 1) == []
    assert {m.native for m in real} <= conn.subscribed
    [refused] = dialect.on_message(ConnState(), {**tickers[0], "product_ids": ["X"] * 51})
    assert json.loads(refused)["type"] == "error"


# --- okx, poloniex, binance: endpoints and pings ------------------------------------------------


def test_okx_streams_on_port_443_and_keeps_its_host_constants() -> None:
    okx = codec_class("okx")
    assert okx.WS_URL == "wss://ws.okx.com:443/ws/v5/public"
    # OKX US subclasses this codec with its own hosts: the class constants stay
    assert okx.REST_URL.startswith("https://") and okx.MARKETS_URL.startswith(okx.REST_URL)


def test_poloniex_pings_every_15_seconds() -> None:
    c = codec("poloniex")
    assert c.app_ping_interval == 15.0
    assert json.loads(c.app_ping()) == {"event": "ping"}


@pytest.mark.parametrize("venue", ["binance", "binanceus"])
def test_binance_never_uses_the_deprecated_all_market_streams(venue: str) -> None:
    """``!ticker@arr`` is deprecated: only per-symbol streams are subscribed, in every message."""
    c = codec(venue)
    streams = [s for m in c.subscribe(made_up(500, "")) for s in json.loads(m)["params"]]
    assert streams and not [s for s in streams if s.startswith("!") or "@arr" in s]


# --- upbit: no Origin header, ever ------------------------------------------------------------


async def test_upbit_requests_carry_no_origin_header() -> None:
    """Upbit limits requests with an Origin header to one per 10 s: neither the REST client
    nor the WebSocket client sends one (a local server records what arrives)."""
    seen: list[dict[str, str]] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append(dict(request.headers))
        if request.headers.get("Upgrade", "").lower() == "websocket":
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            await ws.close()
            return ws
        return web.json_response([])

    server = web.Application()
    server.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        c = codec("upbit")
        [req, *_] = c.rest_requests(f"http://127.0.0.1:{port}", list(c.table.markets)[:2])
        http = Http(timeout=5.0)
        async with http.open():
            await http.fetch(req.url)
        ws = await open_websocket(
            f"ws://127.0.0.1:{port}/websocket/v1",
            lambda _frame: None,
            c.subscribe(list(c.table.markets)[:1]),
            lambda: None,
            open_timeout=5.0,
            ping_interval=None,
            max_size=1 << 20,
        )
        await asyncio.wait_for(ws.wait_closed(), 5.0)
    finally:
        await runner.cleanup()
    assert len(seen) == 2 and seen[1].get("Upgrade", "").lower() == "websocket"
    assert not [h for h in seen if any(k.lower() == "origin" for k in h)]


def test_upbit_polls_every_ticker_of_a_quote_in_one_request() -> None:
    c = codec("upbit")
    krw = [m for m in c.table.markets if m.native.startswith("KRW-")][:3]
    urls = [r.url for r in c.rest_requests("https://api.upbit.com", krw)]
    tickers = [u for u in urls if "/v1/ticker" in u]
    assert tickers == ["https://api.upbit.com/v1/ticker/all?quote_currencies=KRW"]


# --- endpoints that moved: bithumb, gate, bitstamp, latoken, cex --------------------------------


def test_bithumb_speaks_the_new_generation() -> None:
    c = codec("bithumb")
    assert c.WS_URL == "wss://ws-api.bithumb.com/websocket/v1"
    assert c.MARKETS_URL.startswith("https://api.bithumb.com/v1/market/all")
    btc = c.table.by_symbol["BTC/KRW"]
    urls = [r.url for r in c.rest_requests("https://api.bithumb.com", [btc])]
    assert "https://api.bithumb.com/v1/ticker?markets=KRW-BTC" in urls
    sub = json.loads(c.subscribe([btc])[0])  # Upbit's quotation request
    assert {"type": "ticker", "codes": ["KRW-BTC"]} in sub


@pytest.mark.parametrize(
    ("venue", "attribute", "url"),
    [
        ("gate", "WS_URL", "wss://api.gateio.ws/ws/v4/"),
        ("bitstamp", "MARKETS_URL", "https://www.bitstamp.net/api/v2/markets/"),
        ("latoken", "MARKETS_URL", "https://api.latoken.com/v2/ticker"),
        ("cex", "REST_URL", "https://trade.cex.io/api/spot/rest-public"),
        ("cex", "MARKETS_URL", "https://trade.cex.io/api/spot/rest-public/get_pairs_info"),
        ("kucoin", "WS_TOKEN_PATH", "/api/v1/bullet-public"),
    ],
)
def test_current_endpoints(venue: str, attribute: str, url: str) -> None:
    assert getattr(codec_class(venue), attribute) == url


def test_cex_uses_the_current_api_only() -> None:
    """Every call is a POST to trade.cex.io's rest-public API, the markets list included."""
    c = codec("cex")
    assert c.MARKETS_POST == {}
    [req] = c.rest_requests(c.REST_URL, list(c.table.markets)[:2])
    assert (req.method, req.url) == ("POST", f"{c.REST_URL}/get_ticker")
    assert req.json == {"pairs": [m.native for m in list(c.table.markets)[:2]]}
    for url in (c.WS_URL, c.REST_URL, c.MARKETS_URL):  # not the legacy cex.io/api, ws.cex.io
        assert url.split("://")[1].startswith("trade.cex.io/api/spot/"), url


def test_luno_polls_rest_only() -> None:
    """Luno's stream needs an API key: no public stream, so REST only."""
    assert codec_class("luno").WS_URL == ""


# --- whitebit: the best bid/ask channel merged with the 24 h market channel ---------------------


def test_whitebit_subscribes_the_book_ticker_beside_the_market_channel() -> None:
    c = codec("whitebit")
    btc = c.table.by_symbol["BTC/USDT"]
    methods = [json.loads(m)["method"] for m in c.subscribe([btc])]
    assert {"market_subscribe", "bookTicker_subscribe"} <= set(methods)
    assert c.MERGE
    # From the venue's documentation (Book Ticker, "bookTicker_update"), for BTC_USDT.
    push = (
        '{"id":null,"method":"bookTicker_update","params":[[1751958383.593387,'
        '1751958383.593557,"BTC_USDT",80670102,"0.000011751","12547000","0.000011776",'
        '"17424000"]]}'
    )
    [rec] = c.parse_ws(push, 1)
    assert (rec.bid, rec.bid_size, rec.ask, rec.ask_size) == (
        0.000011751,
        12547000.0,
        0.000011776,
        17424000.0,
    )
    assert rec.last is None and rec.ts_event == 1751958383593387000
