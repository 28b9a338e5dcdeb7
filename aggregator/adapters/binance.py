"""Binance spot: the 24 h ticker and the real-time best bid/ask streams, merged.

WebSocket: raw streams on /ws, subscribed with one SUBSCRIBE per batch of streams; the
server pings every 20 s (answered by the WebSocket layer) and closes connections after
24 h (the base reconnects). REST: /api/v3/ticker/24hr with the wanted symbols.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import msgspec
import orjson

from ..errors import ParseError, VenueError
from ..records import Ticker
from ..symbols import Market, unify
from ..timestamps import MILLIS, ms_to_ns
from .base import Codec, RestRequest
from .base import json_body as _json
from .fields import StructFields
from .routes import Route, TimeAt
from .schema import Num, Schema, Time

STREAMS_PER_MESSAGE = 200


class Message(msgspec.Struct):
    """Every stream frame, an ack or an error: flat objects keyed by one letter."""

    s: str | None = None  # the market; absent from acks and errors
    e: str | None = None  # the event; absent from bookTicker
    E: Time = None  # ms
    b: Num = None
    B: Num = None
    a: Num = None
    A: Num = None
    c: Num = None
    o: Num = None
    h: Num = None
    l: Num = None  # noqa: E741 (the venue's name)
    v: Num = None
    q: Num = None
    error: Any = msgspec.UNSET
    result: Any = msgspec.UNSET  # null in an ack: present, not UNSET


MESSAGE = Schema(Message)


STREAM_TICKER = StructFields(
    bid="b", bid_size="B", ask="a", ask_size="A", last="c", open="o", high="h", low="l",
    volume="v", quote_volume="q", ts_event=("E", ms_to_ns),
)  # fmt: skip
BOOK_TICKER = StructFields(bid="b", bid_size="B", ask="a", ask_size="A")
BOOK_FIELDS = {"bid": "b", "bid_size": "B", "ask": "a", "ask_size": "A"}


class RestTicker(msgspec.Struct):
    """A 24 h ticker of /api/v3/ticker/24hr, or the venue's error ({"code","msg"})."""

    symbol: str = ""  # absent from an error
    bidPrice: Num = None
    bidQty: Num = None
    askPrice: Num = None
    askQty: Num = None
    lastPrice: Num = None
    openPrice: Num = None
    highPrice: Num = None
    lowPrice: Num = None
    volume: Num = None
    quoteVolume: Num = None
    closeTime: Time = None  # ms
    code: Any = None
    msg: Any = None


REST_TICKERS: Schema[list[RestTicker] | RestTicker] = Schema(list[RestTicker] | RestTicker)  # type: ignore[arg-type]
REST_TICKER = StructFields(
    market_id="symbol",
    bid="bidPrice", bid_size="bidQty", ask="askPrice", ask_size="askQty", last="lastPrice",
    open="openPrice", high="highPrice", low="lowPrice", volume="volume",
    quote_volume="quoteVolume", ts_event=("closeTime", ms_to_ns),
)  # fmt: skip


def subscribe_messages(markets: Sequence[Market], channels: Sequence[str]) -> list[str]:
    """SUBSCRIBE requests (spot's and the futures') for each market's channels, numbered
    from 1, STREAMS_PER_MESSAGE streams each."""
    streams = [f"{m.native.lower()}@{ch}" for m in markets for ch in channels]
    return [
        orjson.dumps(
            {"method": "SUBSCRIBE", "params": streams[i : i + STREAMS_PER_MESSAGE], "id": n}
        ).decode()
        for n, i in enumerate(range(0, len(streams), STREAMS_PER_MESSAGE), start=1)
    ]


def control(msg: Any, raw: str | bytes) -> list[Ticker]:
    """A stream message naming no market (spot's or the futures'): an ack (nothing) or the
    venue's error."""
    if msg.error is not msgspec.UNSET:
        raise VenueError(f"venue error: {msg.error}")
    if msg.result is not msgspec.UNSET:
        return []
    raise ParseError(f"unexpected message: {raw[:100]!r}")


class Binance(Codec):
    venue: ClassVar[str] = "binance"
    WS_URL: ClassVar[str] = "wss://stream.binance.com:9443/ws"
    REST_URL: ClassVar[str] = "https://api.binance.com"
    MARKETS_URL: ClassVar[str] = "https://api.binance.com/api/v3/exchangeInfo?permissions=SPOT"
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 400  # 2 streams each; the venue allows 1024
    MERGE: ClassVar[bool] = True
    REST_RATE: ClassVar[float] = 5.0
    ROUTES: ClassVar[tuple[Route, ...]] = (  # parse_ws's two streams, read in C
        Route(when={"e": None}, market="s", fields=BOOK_FIELDS),
        Route(
            when={"e": "24hrTicker"}, market="s",
            fields={**BOOK_FIELDS, "last": "c", "open": "o", "high": "h", "low": "l",
                    "volume": "v", "quote_volume": "q", "ts_event": TimeAt("E", MILLIS)},
        ),
    )  # fmt: skip

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        return subscribe_messages(markets, ("ticker", "bookTicker"))

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """Three payloads, all flat objects keyed by one letter.

        bookTicker: {"u":98494969448,"s":"BTCUSDT","b":"63704.00000000","B":"4.77471000",
                     "a":"63704.01000000","A":"11.33198000"}
        24hrTicker: {"e":"24hrTicker","E":1786539510015,"s":"BTCUSDT","c":"64117.99","b":...,
                     "B":...,"a":...,"A":...,"o":"64330.6","h":"64500","l":"63238",
                     "v":"14724.65","q":"940099726.83",...}
        24hrMiniTicker: the same without b/B/a/A.
        Acks: {"result":null,"id":1}; errors: {"error":{"code":2,"msg":"..."},"id":1}.
        """
        msg = MESSAGE(raw)
        sym = msg.s
        if sym is None:
            return control(msg, raw)
        market = self.lookup(sym)
        if market is None:
            return []
        event = msg.e
        if event is None:  # bookTicker: nine in ten frames; the merge fills the 24 h fields
            return [BOOK_TICKER.record(self.venue, market, msg, ts_recv)]
        if event in ("24hrTicker", "24hrMiniTicker"):
            return [STREAM_TICKER.record(self.venue, market, msg, ts_recv)]
        return []

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        # Request weight: 2 for up to 20 symbols, 40 up to 100, 80 for all.
        if len(markets) > 100:
            return [RestRequest(f"{base_url}/api/v3/ticker/24hr")]
        ids = orjson.dumps([m.native for m in markets]).decode()
        return [RestRequest(f"{base_url}/api/v3/ticker/24hr?symbols={quote(ids, safe='')}")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """A list (or one object) of 24 h tickers, strings throughout:

        {"symbol":"BTCUSDT","lastPrice":"73369.84","bidPrice":"73369.83","bidQty":"6.27",
         "askPrice":"73369.84","askQty":"0.03","openPrice":"72181.09","highPrice":"73650.25",
         "lowPrice":"68620.82","volume":"72140.35","quoteVolume":"5167027510.69",
         "closeTime":1710328245391, ...}
        """
        data = REST_TICKERS(body)
        if not isinstance(data, list):
            if not data.symbol and data.code is not None:
                raise VenueError(f"venue error {data.code}: {data.msg}")
            data = [data]
        return REST_TICKER.records(self.venue, self.lookup, data, ts_recv)

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """exchangeInfo: {"symbols":[{"symbol":"BTCUSDT","status":"TRADING",
        "baseAsset":"BTC","quoteAsset":"USDT",...}, ...]}"""
        return Codec.rows_at(_json(body), "symbols")

    @staticmethod
    def market_of(s: Any) -> Market | None:
        if s.get("status") != "TRADING":
            return None
        return Market(unify(s["baseAsset"], s["quoteAsset"]), s["symbol"])
