"""Gemini spot: the top of the level 2 book over WebSocket, or REST ``pubticker`` polls.

WebSocket: market data v2 (wss://api.gemini.com/v2/marketdata), one ``l2`` subscription for
all the connection's markets (named upper case there: "BTCUSD"). The first ``l2_updates`` of a
market carries its whole book (and its last trades), later ones the changed price levels (a
quantity of "0" removes a level); the book is kept per connection to derive the best bid and
ask with their sizes, and a record is emitted when they change. Book updates carry no time,
so ts_event is null; trades and the 24 h statistics are not used.

REST: Gemini's one all-markets endpoint, ``/v1/pricefeed``, sends only a price and a 24 h
percentage change per pair: no bid, ask or volume. ``/v1/pubticker/{symbol}`` sends the
best bid and ask, the last price and the 24 h volume in both currencies, so the markets
are polled one by one with it (the recorded reference response is of this endpoint too).
``/v2/ticker`` adds open/high/low but no volume and would double the requests.

``/v1/symbols`` is a bare list of ids ("btcusd", "ethbtc", "btcgusdperp"); base and quote
are split off by the known quote currencies, as the reference library does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import msgspec
import orjson

from ..errors import ParseError, VenueError, VenueNotice
from ..records import Ticker, level, ms_to_ns, num
from ..symbols import Market, MarketTable, unify
from .base import Codec, RestRequest, json_body, json_object
from .fields import top_of_book
from .schema import Num, Schema

# Quote currencies, tried in order: "GUSD" must come before "USD", which it ends with.
_QUOTES = (
    "USDT",
    "GUSD",
    "USD",
    "DAI",
    "EUR",
    "GBP",
    "SGD",
    "BTC",
    "ETH",
    "LTC",
    "BCH",
    "SOL",
    "USDC",
)
# Ids the suffix rule would split wrongly ("paxgusd" is PAXG/USD, not PAX/GUSD).
_SPLITS = {"PAXGUSD": ("PAXG", "USD")}

# A book change: side ("buy" or "sell"), price, quantity. Changes of another shape (a
# candle's, a level of another length) are taken as sent by the permissive twin.
Changes = list[tuple[str, Num, Num]]


class Message(msgspec.Struct):
    """A market data message: l2_updates, or a heartbeat, trade or error."""

    type: Any = None
    symbol: Any = None
    changes: Changes | None = None
    trades: msgspec.Raw = msgspec.Raw()  # sent with a whole book; empty when absent
    result: Any = None
    reason: Any = None
    message: Any = ""


MESSAGE = Schema(Message)


class _Book:
    """One market's level 2 book: price -> quantity per side, with the best price cached."""

    __slots__ = ("asks", "best_ask", "best_bid", "bids")

    def __init__(self) -> None:
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.best_bid: float | None = None
        self.best_ask: float | None = None

    def apply(self, buy: bool, price: float, qty: float) -> None:
        if buy:
            if qty == 0:
                if self.bids.pop(price, None) is not None and price == self.best_bid:
                    self.best_bid = max(self.bids) if self.bids else None
            else:
                self.bids[price] = qty
                if self.best_bid is None or price > self.best_bid:
                    self.best_bid = price
        elif qty == 0:
            if self.asks.pop(price, None) is not None and price == self.best_ask:
                self.best_ask = min(self.asks) if self.asks else None
        else:
            self.asks[price] = qty
            if self.best_ask is None or price < self.best_ask:
                self.best_ask = price

    def top(self) -> tuple[float | None, float | None, float | None, float | None]:
        bid, ask = self.best_bid, self.best_ask
        return (
            bid,
            None if bid is None else self.bids[bid],
            ask,
            None if ask is None else self.asks[ask],
        )


class Gemini(Codec):
    venue: ClassVar[str] = "gemini"
    WS_URL: ClassVar[str] = "wss://api.gemini.com/v2/marketdata"
    REST_URL: ClassVar[str] = "https://api.gemini.com"
    MARKETS_URL: ClassVar[str] = "https://api.gemini.com/v1/symbols"
    # No published limit; each market starts with its whole book, so keep connections modest.
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 20
    # Public endpoints allow 120 requests a minute; Gemini asks for at most 1 per second.
    REST_RATE: ClassVar[float] = 1.0

    def __init__(self, table: MarketTable) -> None:
        super().__init__(table)
        self._books: dict[str, _Book] = {}  # native -> its book, on this connection
        self._tops: dict[str, tuple[Any, ...]] = {}  # native -> the last top emitted
        self._lost: set[str] = set()  # natives whose book is out of step (a bad level)

    # --- WebSocket ---------------------------------------------------------------------
    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        symbols = [m.native.upper() for m in markets]
        msg = {"type": "subscribe", "subscriptions": [{"name": "l2", "symbols": symbols}]}
        return [orjson.dumps(msg).decode()]

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """{"type":"l2_updates","symbol":"BTCUSD","changes":[["buy","9122.04","0.00121425"],
        ["sell","9122.07","0.98942292"],...],"trades":[{"type":"trade","symbol":"BTCUSD",
        "event_id":169841458,"timestamp":1560976400428,"price":"9122.04",...}]} (the first
        message of a market: its whole book), then {"type":"l2_updates","symbol":"BTCUSD",
        "changes":[["sell","9160.20","0.1921229751"]]}. Also "trade" and "heartbeat" messages,
        and errors: {"result":"error","reason":"NoValidTradingPairs"}.
        """
        msg = MESSAGE(raw)
        if msg.type == "l2_updates":
            market = self.lookup(str(msg.symbol))
            changes = msg.changes
            if not isinstance(changes, list):
                raise ParseError("l2_updates without a changes list")
            return [] if market is None else self._update(market, msg, changes, ts_recv)
        if msg.result == "error":
            why = f"venue error {msg.reason}: {msg.message}"
            if msg.reason == "NoValidTradingPairs":  # the whole subscription failed
                raise VenueError(why)
            raise VenueNotice(why)
        return []  # heartbeat, trade, auction events, candles

    def _update(self, m: Market, msg: Message, changes: Changes, ts_recv: int) -> list[Ticker]:
        levels = self._levels(m, changes)
        book = self._books.get(m.native)
        if book is None or msg.trades:  # the initial message: the whole book
            book = self._books[m.native] = _Book()
        for buy, price, qty in levels:
            book.apply(buy, price, qty)
        top = book.top()
        last = self._tops.get(m.native)
        if last == top or (last is None and top == (None, None, None, None)):
            return []
        self._tops[m.native] = top
        return [top_of_book(self.venue, m, top, ts_recv, None)]

    def _levels(self, m: Market, changes: Changes) -> list[tuple[bool, float, float]]:
        """The changes as (buy, price, size), read before the book changes. A level that is
        not a price and a size leaves the book out of step: the session is renewed (and the
        rest of its frames refused), never published from."""
        if m.native in self._lost:
            raise VenueError(f"book out of step on {m.native}")
        out = []
        for side, price, qty in changes:
            if side != "buy" and side != "sell":
                raise ParseError(f"unknown book side {side!r}")
            try:
                out.append((side == "buy", *level(price, qty)))
            except ValueError as e:
                self._lost.add(m.native)
                raise VenueError(f"book out of step on {m.native}: {e}") from None
        return out

    # --- REST --------------------------------------------------------------------------
    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [
            RestRequest(f"{base_url}/v1/pubticker/{quote(m.native, safe='')}", market=m)
            for m in markets
        ]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /v1/pubticker/btcusdt: {"bid":"73367.96","ask":"73385.27","last":"73268.24",
        "volume":{"BTC":"3.5434218","USDT":"259620.278863632","timestamp":1710328245000}}
        The volume keys are the base and quote currency codes. Errors:
        {"result":"error","reason":"InvalidSymbol","message":"..."}.
        """
        t = json_object(body)
        if t.get("result") == "error":
            raise VenueError(f"venue error {t.get('reason')}: {t.get('message')}")
        volume = t.get("volume")
        if not isinstance(volume, dict) or not ({"bid", "ask", "last"} & t.keys()):
            raise ParseError("not a pubticker object")
        if market is None:
            raise ParseError("a pubticker response needs its market")
        return [
            Ticker(
                self.venue,
                market.symbol,
                market.native,
                bid=num(t.get("bid")),
                ask=num(t.get("ask")),
                last=num(t.get("last")),
                volume=num(volume.get(market.base_id)),
                quote_volume=num(volume.get(market.quote_id)),
                ts_event=ms_to_ns(volume.get("timestamp")),
                ts_recv=ts_recv,
            )
        ]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """GET /v1/symbols: ["btcusd","ethbtc","ethusd","btcusdt","btcgusdperp",...]
        Perpetuals ("...perp") are skipped; so is an id with no known quote currency."""
        return Codec.rows_at(json_body(body))

    @staticmethod
    def market_of(native: Any) -> Market | None:
        if not isinstance(native, str):
            raise ParseError("expected symbol strings")
        upper = native.upper()
        if upper.endswith("PERP"):
            return None
        split = _SPLITS.get(upper) or _split(upper)
        if split is None:
            return None
        base, quote_ = split
        # REST names markets in lower case, the market data WebSocket in upper case.
        ids = (native, upper)
        return Market(unify(base, quote_), native, ids, base_id=base, quote_id=quote_)


def _split(upper: str) -> tuple[str, str] | None:
    for q in _QUOTES:
        if upper.endswith(q) and len(upper) > len(q):
            return upper[: -len(q)], q
    return None
