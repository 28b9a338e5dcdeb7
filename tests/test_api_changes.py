"""The venues' public API changes since 2025, each followed by its codec and simulator.

Where no recording of a new format exists, the payloads here are written from the venue's
documentation and say so; everything runs in process (codecs, simulated dialects): fast.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from aggregator.adapters.registry import codec_class
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
    assert not c.compiled()  # a declared schema of its own, not the compiled Binance path
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
