"""Bitstamp: the top of the live order book over WebSocket, or the HTTP API v2 tickers.

WebSocket (wss://ws.bitstamp.net): one ``order_book_{pair}`` channel per market, each message
a snapshot of the top 100 levels of both sides; the best bid and ask with their sizes are taken
from its first levels, and a record is emitted only when they change. Nothing else (last,
24 h statistics) is streamed, so those fields stay null. ``bts:request_reconnect`` (the server
is about to go down) ends the session so that the runner reconnects and resubscribes.

REST: ``GET /api/v2/ticker/`` answers a list with one ticker per market, named by ``pair``
("BTC/USD"); ``GET /api/v2/ticker/btcusd/`` answers the same object for one market
without ``pair`` (both are parsed). A ticker has the best bid and ask (no sizes), the last
price, 24 h high/low/volume/vwap and ``open_24``, the price 24 h ago, which is the open
used here (``open`` is the first price of the UTC day). Quote volume is vwap x volume.
Markets come from ``GET /api/v2/markets/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec
import orjson

from ..errors import ParseError, VenueError, VenueNotice
from ..records import Ticker, num, seconds_to_ns, us_to_ns
from ..symbols import Market, MarketTable
from .base import Codec, RestRequest, json_body, one_or_all, pair_market
from .fields import TickerFields, top_of_book
from .schema import Schema, Time

BOOK = "order_book_"


class Message(msgspec.Struct):
    """Every frame: {"event", "channel", "data"}; "data" is read by the event's kind (a
    book, an error's object, or "")."""

    event: Any = None
    channel: Any = None
    data: msgspec.Raw = msgspec.Raw()  # empty: not sent


class Side(msgspec.Struct, array_like=True):
    """One side of the book, 100 levels: only the best is kept, undecoded; the rest is
    skipped without being read into objects."""

    best: msgspec.Raw = msgspec.Raw()  # empty: no level


class OrderBook(msgspec.Struct):
    timestamp: Time = None  # s
    microtimestamp: Time = None  # us
    bids: Side | None = None
    asks: Side | None = None


MESSAGE = Schema(Message)
ORDER_BOOK = Schema(OrderBook)


TICKER = TickerFields(
    bid="bid", ask="ask", last="last", open="open_24", high="high", low="low", volume="volume",
    vwap="vwap", ts_event=("timestamp", seconds_to_ns),
)  # fmt: skip


class Bitstamp(Codec):
    venue: ClassVar[str] = "bitstamp"
    WS_URL: ClassVar[str] = "wss://ws.bitstamp.net"
    REST_URL: ClassVar[str] = "https://www.bitstamp.net"
    MARKETS_URL: ClassVar[str] = "https://www.bitstamp.net/api/v2/markets/"
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 100  # no published limit: a prudent one
    # Published default limit: 400 requests per second, 10,000 per 10 minutes.
    REST_RATE: ClassVar[float] = 5.0

    def __init__(self, table: MarketTable) -> None:
        super().__init__(table)
        self._top: dict[str, tuple[Any, Any]] = {}  # native -> (best bid level, best ask level)
        self._pending = 0  # subscriptions sent and not yet answered
        self._subscribed = 0

    # --- WebSocket ---------------------------------------------------------------------
    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        self._pending = len(markets)
        return [
            orjson.dumps({"event": "bts:subscribe", "data": {"channel": BOOK + m.native}}).decode()
            for m in markets
        ]

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """{"data":{"timestamp":"1786614357","microtimestamp":"1786614357909624",
        "bids":[["63706.26","0.07856313"],["63704.51","0.12570851"],...],
        "asks":[["63711.04","0.07857225"],...]},"channel":"order_book_btcusd","event":"data"}
        Also: {"event":"bts:subscription_succeeded","channel":"order_book_btcusd","data":{}},
        {"event":"bts:request_reconnect","channel":"","data":""}, and errors:
        {"event":"bts:error","channel":"","data":{"code":null,"message":"Bad subscription."}}.
        """
        msg = MESSAGE(raw)
        event = msg.event
        if event == "data":
            channel = msg.channel
            if not isinstance(channel, str) or not msg.data:
                raise ParseError("data event without channel or data object")
            if not channel.startswith(BOOK):
                return []
            market = self.lookup(channel[len(BOOK) :])
            if market is None:
                return []
            return self._book(market, ORDER_BOOK(bytes(msg.data)), ts_recv)
        if event == "bts:subscription_succeeded":
            self._pending -= 1
            self._subscribed += 1
        elif event == "bts:request_reconnect":
            raise VenueError("venue asks to reconnect (bts:request_reconnect)")
        elif event == "bts:error":
            self._pending -= 1
            data = msgspec.json.decode(msg.data) if msg.data else None
            why = data.get("message") if isinstance(data, dict) else data
            if self._pending <= 0 and not self._subscribed:  # nothing left to listen to
                raise VenueError(f"subscription rejected: {why}")
            raise VenueNotice(f"venue error: {why}")
        return []  # bts:heartbeat answers, unsubscriptions

    def _book(self, m: Market, book: OrderBook, ts_recv: int) -> list[Ticker]:
        if book.bids is None or book.asks is None:
            raise ParseError("order book without bids and asks lists")
        # the best levels as sent, compared as sent: a record only when they change
        bid_level, ask_level = book.bids.best, book.asks.best
        top = (
            msgspec.json.decode(bid_level) if bid_level else None,
            msgspec.json.decode(ask_level) if ask_level else None,
        )
        if self._top.get(m.native) == top:
            return []
        self._top[m.native] = top
        bid, ask = top
        ts_event = us_to_ns(book.microtimestamp)
        if ts_event is None:
            ts_event = seconds_to_ns(book.timestamp)
        best = (*_level(bid), *_level(ask))
        return [top_of_book(self.venue, m, best, ts_recv, ts_event)]

    # --- REST --------------------------------------------------------------------------
    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        url = f"{base_url}/api/v2/ticker/"
        return one_or_all(markets, lambda m: f"{url}{m.native}/", url)

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /api/v2/ticker/: [{"timestamp":"1710328241","open":"71448","high":"73656",
        "low":"68626","last":"73285","volume":"135.29692054","vwap":"70853",
        "bid":"73353","ask":"73367","side":"0","open_24":"72144",
        "percent_change_24":"1.58","pair":"BTC/USDT"}]
        timestamp is in seconds. Errors: {"status":"error","reason":"..."} or
        {"response_code":"400.002","response_explanation":"..."}.
        """
        data = json_body(body)
        if isinstance(data, dict):
            if data.get("status") == "error" or "response_code" in data or "errors" in data:
                why = data.get("reason") or data.get("response_explanation") or data
                code = data.get("response_code") or data.get("code")
                raise VenueError(f"venue error {code}: {why}" if code else f"venue error: {why}")
            if "last" not in data and "bid" not in data:
                raise ParseError("expected a ticker")
            m = self.lookup(data["pair"]) if "pair" in data else market
            if m is None:
                if "pair" in data:
                    return []
                raise ParseError("a pair ticker needs its market")
            return [TICKER.record(self.venue, m, data, ts_recv)]
        if not isinstance(data, list):
            raise ParseError("expected a list of tickers")
        return [TICKER.record(self.venue, m, t, ts_recv) for t, m in self.followed(data, "pair")]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """GET /api/v2/markets/: [{"name":"BTC/USD","market_symbol":"btcusd",
        "base_currency":"BTC","base_decimals":8,"counter_currency":"USD",
        "counter_decimals":0,"minimum_order_value":"10","trading":"Enabled",
        "instant_order_counter_decimals":2,"instant_and_market_orders":"Enabled",
        "description":"Bitcoin / U.S. dollar","market_type":"SPOT"}]"""
        return Codec.rows_at(json_body(body))

    @staticmethod
    def market_of(p: Any) -> Market | None:
        if p.get("trading") != "Enabled" or p.get("market_type", "SPOT") != "SPOT":
            return None
        name = p["name"]
        base, quote_ = p.get("base_currency"), p.get("counter_currency")
        if not base or not quote_:
            base, _, quote_ = name.partition("/")
        sym = p.get("market_symbol") or p["url_symbol"]
        return pair_market(base, quote_, sym, ids=(sym, name))


def _level(level: Any) -> tuple[float | None, float | None]:
    """A book's best level, [price, size] as sent; None for a side with no level."""
    return (None, None) if level is None else (num(level[0]), num(level[1]))
