"""Upbit (Korea) spot: the quotation WebSocket (ticker and order book, merged), or REST polls.

WebSocket: one JSON array request per connection, ``[{"ticket": ...}, {"type": "orderbook",
"codes": [...]}, {"type": "ticker", "codes": [...]}, {"format": "DEFAULT"}]``; the venue
answers with a snapshot of each, then real-time frames, sent as binary frames of JSON text.
The ticker carries the last price and the day's statistics but no best bid or ask; the order
book frames (the whole visible book each time) give those, so both are subscribed and
merged. The server drops a connection idle for 120 s: the WebSocket layer's pings keep it
open (the text "PING", answered by {"status":"UP"}, is the alternative). A bad request is
answered {"error":{"name":"...","message":"..."}} and nothing is streamed.
REST: GET /v1/orderbook?markets=... (top of book) and /v1/ticker/all?quote_currencies=...
(every market of the given quote currencies), 10 requests per second per IP.
Market ids are QUOTE-BASE ("KRW-BTC"); markets come from GET /v1/market/all.
Bithumb's second-generation API speaks the same protocol; its codec reuses these helpers.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import orjson

from ..errors import ParseError, VenueError
from ..records import Ticker
from ..symbols import Market, MarketTable, unify
from ..timestamps import epoch_to_ns
from .base import Codec, RestRequest, json_body, json_object
from .fields import TickerFields

CHUNK = 50  # markets per order book request


BOOK_TOP = TickerFields(bid="bid_price", bid_size="bid_size", ask="ask_price", ask_size="ask_size")
TICKER = TickerFields(
    last="trade_price",
    open="opening_price",
    high="high_price",
    low="low_price",
    volume="acc_trade_volume_24h",
    quote_volume="acc_trade_price_24h",
)


def stamp(value: Any) -> int | None:
    """An epoch time in ms (13 digits) or µs (16 digits), int or string, to ns: the
    unit is read from the magnitude."""
    return epoch_to_ns(value)


def quotation_request(markets: Sequence[Market]) -> str:
    """The one request of a connection: order book first, so a market's first record has
    the top of the book; the ticket names the request (any unique value)."""
    codes = [m.native for m in markets]
    return orjson.dumps(
        [
            {"ticket": f"aggregator-subscribe-{uuid.uuid4()}"},
            {"type": "orderbook", "codes": codes},
            {"type": "ticker", "codes": codes},
            {"format": "DEFAULT"},
        ]
    ).decode()


def book_top(
    venue: str, market: Market, msg: dict[str, Any], ts_recv: int, ts_event: int | None
) -> Ticker | None:
    """The best bid and ask (with sizes) of an order book message: its first unit."""
    units = msg.get("orderbook_units")
    if not isinstance(units, list):
        raise ParseError("order book without orderbook_units")
    if not units or not isinstance(units[0], dict):
        return None  # an empty book: nothing to say about the top
    u = units[0]
    return BOOK_TOP.record(venue, market, u, ts_recv, ts_event)


class Quotation(Codec):
    """The WebSocket side shared by Upbit and Bithumb (generation 2)."""

    MERGE: ClassVar[bool] = True
    # No documented limit of codes per request; connections are limited per second.
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 200

    def __init__(self, table: MarketTable) -> None:
        super().__init__(table)
        self._tops: dict[str, tuple[Any, ...]] = {}  # the last top of book per market

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        return [quotation_request(markets)]

    def ticker_time(self, t: dict[str, Any]) -> int | None:
        return stamp(t.get("trade_timestamp"))

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """Binary (or text) frames of JSON, one object each:

        {"type":"ticker","code":"KRW-BTC","opening_price":89642000,"high_price":90230000,
         "low_price":89338000,"trade_price":89886000,"acc_trade_volume_24h":569.49951948,
         "acc_trade_price_24h":51158711929.01375,"trade_timestamp":1786613070200,
         "timestamp":1786613070431,"stream_type":"SNAPSHOT",...}
        {"type":"orderbook","code":"KRW-BTC","timestamp":1746601573804,
         "total_ask_size":4.79,"total_bid_size":2.65,"orderbook_units":[{"ask_price":137002000,
         "bid_price":137001000,"ask_size":0.10623869,"bid_size":0.03656812},...],
         "stream_type":"REALTIME","level":0}
        Also {"status":"UP"} (answer to a "PING" text) and {"error":{"name":..,"message":..}}.
        """
        msg = json_object(raw)
        kind = msg.get("type")
        if kind is None:
            err = msg.get("error")
            if isinstance(err, dict):  # the request was refused: nothing will stream
                raise VenueError(f"venue error {err.get('name')}: {err.get('message')}")
            if "status" in msg:
                return []
            raise ParseError(f"unexpected message: {str(msg)[:100]}")
        market = self.lookup(msg.get("code", ""))
        if market is None:
            return []
        if kind == "ticker":
            return [TICKER.record(self.venue, market, msg, ts_recv, self.ticker_time(msg))]
        if kind == "orderbook":
            rec = book_top(self.venue, market, msg, ts_recv, stamp(msg.get("timestamp")))
            if rec is None:
                return []
            top = (rec.bid, rec.bid_size, rec.ask, rec.ask_size)
            if self._tops.get(market.native) == top:
                return []  # a change deeper in the book
            self._tops[market.native] = top
            return [rec]
        return []

    def parse_tickers(self, body: bytes, ts_recv: int) -> list[Ticker]:
        """A REST answer: a list of tickers, or of order books (their tops)."""
        data = json_body(body)
        if isinstance(data, dict):
            self.raise_error(data)
            raise ParseError("expected a list of tickers")
        if not isinstance(data, list):
            raise ParseError("expected a list of tickers")
        if is_books(data):
            return self.parse_books(data, ts_recv)
        return [
            TICKER.record(self.venue, m, t, ts_recv, self.ticker_time(t))
            for t, m in self.followed(data, "market")
        ]

    @classmethod
    def raise_error(cls, data: dict[str, Any]) -> None:
        """Errors: {"error":{"name":404,"message":"Code not found"}}."""
        err = data.get("error")
        if isinstance(err, dict):
            raise VenueError(f"venue error {err.get('name')}: {err.get('message')}")

    def parse_books(self, data: list[Any], ts_recv: int) -> list[Ticker]:
        """REST order books: [{"market":"KRW-BTC","timestamp":1529910247984,
        "orderbook_units":[{"ask_price":...,"bid_price":...,"ask_size":...,"bid_size":...}]}]"""
        out = []
        for b in data:
            if not isinstance(b, dict):
                raise ParseError("expected order book objects")
            m = self.lookup(b.get("market", ""))
            if m is None:
                continue
            rec = book_top(self.venue, m, b, ts_recv, stamp(b.get("timestamp")))
            if rec is not None:
                out.append(rec)
        return out


def is_books(data: list[Any]) -> bool:
    return bool(data) and isinstance(data[0], dict) and "orderbook_units" in data[0]


def book_requests(base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
    ids = [m.native for m in markets]
    return [
        RestRequest(f"{base_url}/v1/orderbook?markets={quote(','.join(chunk), safe=',-')}")
        for chunk in (ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK))
    ]


class Upbit(Quotation):
    venue: ClassVar[str] = "upbit"
    WS_URL: ClassVar[str] = "wss://api.upbit.com/websocket/v1"
    REST_URL: ClassVar[str] = "https://api.upbit.com"
    MARKETS_URL: ClassVar[str] = "https://api.upbit.com/v1/market/all?isDetails=true"
    REST_RATE: ClassVar[float] = 5.0  # a few requests per poll; the limit is 10 per second

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        # Order books first, so a market's first polled record has its top of book.
        quotes = sorted({m.quote_id or m.native.split("-")[0] for m in markets})
        return [
            *book_requests(base_url, markets),
            RestRequest(
                f"{base_url}/v1/ticker/all?quote_currencies={quote(','.join(quotes), safe=',')}"
            ),
        ]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """[{"market":"USDT-BTC","trade_date":"20240313","trade_time":"111037",
        "trade_timestamp":1710328237798,"opening_price":71126.14598036,
        "high_price":73831.69765763,"low_price":70857.00039906,"trade_price":73578.655,
        "prev_closing_price":71126.14598036,"change":"RISE","signed_change_rate":0.0344811178,
        "acc_trade_price_24h":506342.98398488,"acc_trade_volume_24h":7.03935349,
        "timestamp":1710328237828, ...}]
        opening/high/low prices are of the current day (since 00:00 UTC), the *_24h
        volumes are rolling 24 h; the event time is the last trade's (trade_timestamp, ms).
        Order books (see parse_books) give the best bid and ask.
        Errors: {"error":{"name":404,"message":"Code not found"}}.
        """
        return self.parse_tickers(body, ts_recv)

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """[{"market":"KRW-BTC","korean_name":"비트코인","english_name":"Bitcoin",
        "market_event":{"warning":false,"caution":{...}}}, ...]"""
        return Codec.rows_at(json_body(body))

    @staticmethod
    def market_of(p: Any) -> Market | None:
        native = p["market"]
        quote_id, base_id = native.split("-")
        return Market(unify(base_id, quote_id), native, base_id=base_id, quote_id=quote_id)
