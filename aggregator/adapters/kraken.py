"""Kraken spot: the WebSocket v2 ticker channel, triggered on every best bid/offer change.

With ``event_trigger: "bbo"`` one channel carries both the 24 h statistics and the top of
the book, so nothing needs merging. The v2 API names markets "BTC/USD" (BTC, not XBT);
REST names them by their legacy keys ("XXBTZUSD") or newer ids ("XBTUSDT").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import msgspec
import orjson

from ..errors import ParseError, VenueError, VenueNotice
from ..records import Ticker, iso_to_ns, minus, times
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body
from .fields import StructFields
from .routes import ISO, Call, Quiet, Route, TimeAt
from .schema import Num, Schema


class Tick(msgspec.Struct):
    """One market's ticker: numbers sent as JSON numbers."""

    symbol: str = ""
    bid: Num = None
    bid_qty: Num = None
    ask: Num = None
    ask_qty: Num = None
    last: Num = None
    volume: Num = None  # base currency, 24 h
    vwap: Num = None
    low: Num = None
    high: Num = None
    change: Num = None  # last minus the open 24 h ago
    timestamp: str | None = None  # RFC 3339


class Message(msgspec.Struct):
    """A channel's message ({"channel", "type", "data"}) or a method's answer ({"method",
    "success", "error"})."""

    channel: str | None = None
    data: list[Tick] | None = None
    method: str | None = None
    success: Any = None
    error: Any = msgspec.UNSET  # even null, when sent, is the venue's error


class Summary(msgspec.Struct):
    """A pair's REST ticker: lists of numbers sent as strings."""

    a: list[Num] | None = None  # ask: price, whole lot volume, lot volume
    b: list[Num] | None = None  # bid: likewise
    c: list[Num] | None = None  # last trade: price, volume
    v: list[Num] | None = None  # volume: today, last 24 h
    p: list[Num] | None = None  # vwap: likewise
    l: list[Num] | None = None  # noqa: E741 (the venue's name) low: likewise
    h: list[Num] | None = None  # high: likewise
    o: Num = None  # today's open


MESSAGE = Schema(Message)
SUMMARY = Schema(Summary)


TICKER = StructFields(
    market_id="symbol",
    bid="bid", bid_size="bid_qty", ask="ask", ask_size="ask_qty", last="last", change="change",
    high="high", low="low", volume="volume", vwap="vwap", ts_event=("timestamp", iso_to_ns),
)  # fmt: skip


class Kraken(Codec):
    venue: ClassVar[str] = "kraken"
    WS_URL: ClassVar[str] = "wss://ws.kraken.com/v2"
    REST_URL: ClassVar[str] = "https://api.kraken.com"
    MARKETS_URL: ClassVar[str] = "https://api.kraken.com/0/public/AssetPairs"
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 200
    REST_RATE: ClassVar[float] = 1.0
    ROUTES: ClassVar[tuple[Route, ...]] = (  # parse_ws's ticker channel, read in C
        Route(
            when={"channel": "ticker"}, items="data[]", market="symbol",
            fields={"bid": "bid", "bid_size": "bid_qty", "ask": "ask", "ask_size": "ask_qty",
                    "last": "last", "open": Call(minus, "last", "change"), "high": "high",
                    "low": "low", "volume": "volume",
                    "quote_volume": Call(times, "vwap", "volume"),
                    "ts_event": TimeAt("timestamp", ISO)},
        ),
        Quiet({"channel": "heartbeat"}),  # a second, each connection
    )  # fmt: skip

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        return [
            orjson.dumps(
                {
                    "method": "subscribe",
                    "params": {
                        "channel": "ticker",
                        "symbol": [m.native for m in markets],
                        "event_trigger": "bbo",
                    },
                    "req_id": 1,
                }
            ).decode()
        ]

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":63297.7,
        "bid_qty":5.45,"ask":63297.8,"ask_qty":0.37,"last":63297.8,"volume":1020.88,
        "vwap":63685.7,"low":63250,"high":64409.2,"change":0.7,"change_pct":0,
        "timestamp":"2026-08-12T19:29:02.066592Z"}]}
        Also: {"channel":"heartbeat"}, {"channel":"status",...}, subscribe acks
        {"method":"subscribe","success":true,...} and {"method":"pong",...}.
        """
        msg = MESSAGE(raw)
        channel = msg.channel
        if channel == "ticker":
            if msg.data is None:
                raise ParseError("ticker message without a data list")
            return TICKER.records(self.venue, self.lookup, msg.data, ts_recv)
        if channel in ("heartbeat", "status"):
            return []
        method = msg.method
        if method in ("subscribe", "unsubscribe"):
            if msg.success is False:
                raise VenueNotice(f"subscription rejected: {msg.error}")
            return []
        if method == "pong":
            return []
        if msg.error is not msgspec.UNSET:
            raise VenueNotice(str(msg.error))
        return []

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        if len(markets) > 100:
            return [RestRequest(f"{base_url}/0/public/Ticker")]
        pairs = ",".join(m.ids[1] if len(m.ids) > 1 else m.native for m in markets)
        return [RestRequest(f"{base_url}/0/public/Ticker?pair={quote(pairs, safe=',')}")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """{"error":[],"result":{"XBTUSDT":{"a":["73380.7","1","1.000"],
        "b":["73380.6","1","1.000"],"c":["73380.6","0.0016"],"v":["165.16","598.03"],
        "p":["72647.97","71501.57"],"t":[6405,21103],"l":["71321.8","68666.0"],
        "h":["73580.0","73580.0"],"o":"71450.7"}}}
        a/b: price, whole lot volume, lot volume; v/p/l/h: today, last 24 h; o: today's open.
        """
        doc = json_body(body)
        if not isinstance(doc, dict):
            raise ParseError("expected a JSON object")
        if doc.get("error"):
            raise VenueError(f"venue error: {doc['error']}")
        result = doc.get("result")
        if not isinstance(result, dict):
            raise ParseError("response without a result object")
        out = []
        for key, t in result.items():
            m = self.lookup(key)
            if m is None:
                continue
            if not isinstance(t, dict):
                raise ParseError(f"ticker of {key} is not an object")
            t = SUMMARY.convert(t)
            volume = _at(t.v, 1)
            out.append(
                Ticker(
                    self.venue,
                    m.symbol,
                    key,
                    _at(t.b, 0),  # bid
                    _at(t.b, 2),  # bid_size
                    _at(t.a, 0),  # ask
                    _at(t.a, 2),  # ask_size
                    _at(t.c, 0),  # last
                    t.o,  # open
                    _at(t.h, 1),  # high
                    _at(t.l, 1),  # low
                    volume,
                    times(_at(t.p, 1), volume),  # quote_volume
                    None,  # ts_event
                    ts_recv,
                )
            )
        return out

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """AssetPairs: {"error":[],"result":{"XXBTZUSD":{"altname":"XBTUSD",
        "wsname":"XBT/USD","base":"XXBT","quote":"ZUSD","status":"online",...}}}"""
        return Codec.entries_at(
            json_body(body), "result", expected="{error, result: {pair: {...}}}"
        )

    @staticmethod
    def market_of(row: Any) -> Market | None:
        key, p = row
        if p.get("status", "online") != "online" or "wsname" not in p:
            return None
        base, quote_ = p["wsname"].split("/")
        symbol = unify(base, quote_)
        return Market(symbol, symbol, (symbol, key, p.get("altname", key)))


def _at(values: Any, i: int) -> float | None:
    """The i-th of a list of numbers (read by num), or None when it is not there; a
    value that is not a list (taken as sent on the permissive path) is not there either."""
    return values[i] if isinstance(values, list) and len(values) > i else None
