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
(every market of the given quote currencies: one request for the tickers of a poll),
10 requests per second per IP. Requests that carry an ``Origin`` header (a browser's) are
limited to one per 10 s, REST and WebSocket alike: the daemon's clients send none.
Market ids are QUOTE-BASE ("KRW-BTC"); markets come from GET /v1/market/all.
Bithumb's second-generation API speaks the same protocol; its codec reuses these helpers.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import msgspec
import orjson

from ..errors import ParseError, VenueError
from ..records import Ticker
from ..symbols import Market, MarketTable
from ..timestamps import NANOS, epoch_to_ns
from .base import Codec, RestRequest, json_body, pair_market
from .fields import StructFields, top_of_book
from .routes import Call, Route, TimeAt
from .schema import Num, Schema, Time

CHUNK = 50  # markets per order book request


class Unit(msgspec.Struct):
    """A level of both sides of an order book."""

    ask_price: Num = None
    bid_price: Num = None
    ask_size: Num = None
    bid_size: Num = None


class Quote(msgspec.Struct):
    """A ticker or an order book, streamed ("type", "code") or polled ("market"), or an
    error; one declaration, so that a frame decodes in one pass, whichever it is."""

    type: Any = None
    code: Any = ""  # the stream's market id
    market: Any = ""  # REST's
    # ticker
    trade_price: Num = None
    opening_price: Num = None
    high_price: Num = None
    low_price: Num = None
    acc_trade_volume_24h: Num = None  # base currency
    acc_trade_price_24h: Num = None  # quote currency
    trade_timestamp: Time = None  # ms or µs
    timestamp: Time = None  # ms or µs
    orderbook_units: list[Unit] | None = None  # an order book's levels, best first
    # an error; Bithumb's first generation answers {"status","message"}
    error: Any = None
    status: Any = msgspec.UNSET
    message: Any = None


QUOTE = Schema(Quote)
ANSWER = Schema(list[Quote] | Quote)  # type: ignore[arg-type]


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


def book_top(venue: str, market: Market, book: Quote, ts_recv: int) -> Ticker | None:
    """The best bid and ask (with sizes) of an order book message: its first unit."""
    units = book.orderbook_units
    if not isinstance(units, list):
        raise ParseError("order book without orderbook_units")
    if not units:
        return None  # an empty book: nothing to say about the top
    u = units[0]
    top = (u.bid_price, u.bid_size, u.ask_price, u.ask_size)
    return top_of_book(venue, market, top, ts_recv, stamp(book.timestamp))


def ticker_record(venue: str, m: Market, t: Quote, ts_recv: int, ts_event: int | None) -> Ticker:
    return TICKER.record(venue, m, t, ts_recv, ts_event)


TICKER = StructFields(
    last="trade_price", open="opening_price", high="high_price", low="low_price",
    volume="acc_trade_volume_24h", quote_volume="acc_trade_price_24h",
)  # fmt: skip


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

    def ticker_time(self, t: Quote) -> int | None:
        return stamp(t.trade_timestamp)

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
        msg = QUOTE(raw)
        kind = msg.type
        if kind is None:
            err = msg.error
            if isinstance(err, dict):  # the request was refused: nothing will stream
                raise VenueError(f"venue error {err.get('name')}: {err.get('message')}")
            if msg.status is not msgspec.UNSET:
                return []
            raise ParseError(f"unexpected message: {raw[:100]!r}")
        market = self.lookup(msg.code)
        if market is None:
            return []
        if kind == "ticker":
            return [ticker_record(self.venue, market, msg, ts_recv, self.ticker_time(msg))]
        if kind == "orderbook":
            rec = book_top(self.venue, market, msg, ts_recv)
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
        data = ANSWER(body)
        if not isinstance(data, list):
            self.raise_error(data)
            raise ParseError("expected a list of tickers")
        if data and data[0].orderbook_units is not None:
            return self.parse_books(data, ts_recv)
        lookup, venue = self.lookup, self.venue
        return [
            ticker_record(venue, m, t, ts_recv, self.ticker_time(t))
            for t in data
            if (m := lookup(t.market)) is not None
        ]

    @classmethod
    def raise_error(cls, data: Quote) -> None:
        """Errors: {"error":{"name":404,"message":"Code not found"}}."""
        err = data.error
        if isinstance(err, dict):
            raise VenueError(f"venue error {err.get('name')}: {err.get('message')}")

    def parse_books(self, data: list[Quote], ts_recv: int) -> list[Ticker]:
        """REST order books: [{"market":"KRW-BTC","timestamp":1529910247984,
        "orderbook_units":[{"ask_price":...,"bid_price":...,"ask_size":...,"bid_size":...}]}]"""
        lookup, venue = self.lookup, self.venue
        books = [(b, m) for b in data if (m := lookup(b.market)) is not None]
        return [r for b, m in books if (r := book_top(venue, m, b, ts_recv)) is not None]


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
    ROUTES: ClassVar[tuple[Route, ...]] = (  # parse_ws's ticker, read in C (books: parse_ws)
        Route(  # the time as sent (a whole number: TimeAt in ns), ms or µs by its magnitude
            when={"type": "ticker"}, market="code",
            fields={"last": "trade_price", "open": "opening_price", "high": "high_price",
                    "low": "low_price", "volume": "acc_trade_volume_24h",
                    "quote_volume": "acc_trade_price_24h",
                    "ts_event": Call(stamp, TimeAt("trade_timestamp", NANOS))},
        ),
    )  # fmt: skip

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
        return pair_market(base_id, quote_id, native)
