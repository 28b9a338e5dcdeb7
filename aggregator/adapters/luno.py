"""Luno: REST polling of the tickers of every market at once; a streaming codec, not enabled.

Luno has no public stream: its market stream requires an API key, so the adapter polls REST
only (WS_URL is empty; the venue is listed as REST only) until the config can hold such
credentials (see below).

Streaming (written, tested on recorded frames, switched off): Luno's market stream is one
connection per pair, wss://ws.luno.com/api/1/stream/{pair}, and the first message must carry
API key credentials ({"api_key_id":..,"api_key_secret":..}). The runner connects every
connection of a venue to one URL and the config holds no credentials, so WS_URL stays empty
(REST only) until both exist: set ``WS_URL = STREAM_URL`` then (``ws_url`` gives the URL of
one connection). The stream sends the whole order book (orders by id) with a sequence number,
then numbered updates (trades, one create, one delete, a status); the book is kept per
connection, the best bid and ask with their summed sizes are derived from it, a record is
emitted when they change, and a gap in the numbers raises SequenceGap. Keep-alives are "".

REST: GET /api/1/tickers answers every market in one response: best bid and ask (no sizes), last
trade price and the rolling 24 h volume in the base currency; no high, low, open or quote
volume. Luno calls bitcoin XBT ("XBTZAR"); our symbols say BTC. Errors come as
{"error":"...","error_code":"ErrInvalidMarketPair",...}. Markets from
/api/exchange/1/markets (trading_status ACTIVE or POST_ONLY count as trading).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import msgspec
import orjson

from ..errors import ParseError, VenueError
from ..records import Ticker, ms_to_ns
from ..symbols import Market, MarketTable
from .base import SHAPE_ERRORS, Codec, RestRequest, SequenceCheck, json_body, pair_market
from .fields import StructFields, top_of_book
from .schema import Num, Schema, Time

TRADING = ("ACTIVE", "POST_ONLY")
ZERO = Decimal(0)


class Row(msgspec.Struct):
    """A pair's REST ticker (the volume in the base currency), or an error in its place."""

    pair: Any = msgspec.UNSET
    bid: Num = None
    ask: Num = None
    last_trade: Num = None
    rolling_24_hour_volume: Num = None
    timestamp: Time = None  # ms
    error: Any = msgspec.UNSET
    error_code: Any = msgspec.UNSET


class Answer(Row):
    """All tickers ({"tickers":[...]}), or one pair's ticker on its own."""

    tickers: list[Row] | None = None


ANSWER = Schema(Answer)


class _Side:
    """One side of the book: orders by id, and their volume summed per price level."""

    __slots__ = ("best", "bids", "levels", "orders")

    def __init__(self, bids: bool) -> None:
        self.bids = bids
        self.orders: dict[str, tuple[Decimal, Decimal]] = {}  # id -> (price, volume)
        self.levels: dict[Decimal, Decimal] = {}  # price -> summed volume
        self.best: Decimal | None = None

    def add(self, oid: str, price: Decimal, volume: Decimal) -> None:
        self.remove(oid)
        self.orders[oid] = (price, volume)
        self.levels[price] = self.levels.get(price, ZERO) + volume
        if self.best is None or (price > self.best if self.bids else price < self.best):
            self.best = price

    def remove(self, oid: str, volume: Decimal | None = None) -> bool:
        """Take ``volume`` (all if None) off an order; False if the order is not here."""
        order = self.orders.get(oid)
        if order is None:
            return False
        price, left = order
        taken = left if volume is None or volume >= left else volume
        if taken == left:
            del self.orders[oid]
        else:
            self.orders[oid] = (price, left - taken)
        rest = self.levels[price] - taken
        if rest > 0:
            self.levels[price] = rest
        else:
            del self.levels[price]
            if price == self.best:
                pick = max if self.bids else min
                self.best = pick(self.levels) if self.levels else None
        return True

    def top(self) -> tuple[float | None, float | None]:
        best = self.best
        return (None, None) if best is None else (float(best), float(self.levels[best]))


TICKER = StructFields(
    bid="bid", ask="ask", last="last_trade", volume="rolling_24_hour_volume",
    ts_event=("timestamp", ms_to_ns),
)  # fmt: skip


class Luno(Codec):
    venue: ClassVar[str] = "luno"
    STREAM_URL: ClassVar[str] = "wss://ws.luno.com/api/1/stream"  # + "/{pair}"
    REST_URL: ClassVar[str] = "https://api.luno.com"
    MARKETS_URL: ClassVar[str] = "https://api.luno.com/api/exchange/1/markets"
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 1  # one stream per pair
    # The stream wants API key credentials; the config has none yet (see above).
    API_KEY_ID: ClassVar[str] = ""
    API_KEY_SECRET: ClassVar[str] = ""

    def __init__(self, table: MarketTable) -> None:
        super().__init__(table)
        self._market: Market | None = None  # the pair of this connection
        self._seq = SequenceCheck()  # the number the update after the book held must carry
        self._bids = _Side(bids=True)
        self._asks = _Side(bids=False)
        self._top: tuple[Any, ...] | None = None

    # --- WebSocket ---------------------------------------------------------------------
    def ws_url(self, url: str, markets: Sequence[Market]) -> str:
        """The URL of the connection streaming ``markets`` (one pair)."""
        return f"{url.rstrip('/')}/{markets[0].native}"

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        self._market = markets[0]
        creds = {"api_key_id": self.API_KEY_ID, "api_key_secret": self.API_KEY_SECRET}
        return [orjson.dumps(creds).decode()]

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """The book: {"sequence":"24352","asks":[{"id":"BXA1","price":"1234.00",
        "volume":"0.93"}],"bids":[{"id":"BXB1","price":"1201.00","volume":"1.22"}],
        "status":"ACTIVE","timestamp":1528884331021}; then updates:
        {"sequence":"24353","trade_updates":[{"base":"0.1","counter":"123.40",
        "maker_order_id":"BXA1","taker_order_id":"BXT1"}],"create_update":{"order_id":
        "BXB2","type":"BID","price":"1202.00","volume":"0.5"},"delete_update":null,
        "status_update":null,"timestamp":1528884331100}. Keep-alives: "".
        """
        msg = json_body(raw)
        if msg == "":
            return []
        if not isinstance(msg, dict):
            raise ParseError("expected a JSON object")
        if "sequence" not in msg:
            if "error" in msg or "error_code" in msg:
                raise VenueError(f"venue error {msg.get('error_code')}: {msg.get('error')}")
            raise ParseError("a message without a sequence number")
        market = self._market
        if market is None:  # not subscribed (a recorded replay): the table's only market
            market = self._market = next(iter(self.table.markets), None)
            if market is None or len(self.table) != 1:
                raise ParseError("which pair this stream is for is unknown")
        seq = int(msg["sequence"])
        snapshot = "bids" in msg or "asks" in msg
        if not snapshot:
            expected = self._seq.expected.get(None)
            if expected is None or seq < expected:
                return []  # before the book, or already in it
            self._seq.check(seq)
        self._seq.forget()  # until the message is applied in full
        try:
            if snapshot:
                self._book(msg)
            else:
                self._update(msg)
        except (ParseError, *SHAPE_ERRORS) as e:  # half applied: the book is lost
            raise VenueError(f"book out of step: {e}") from None
        self._seq.start(seq)
        top = (*self._bids.top(), *self._asks.top())
        if top == self._top:
            return []
        self._top = top
        return [top_of_book(self.venue, market, top, ts_recv, ms_to_ns(msg.get("timestamp")))]

    def _book(self, msg: dict[str, Any]) -> None:
        self._bids, self._asks = _Side(bids=True), _Side(bids=False)
        for side, key in ((self._bids, "bids"), (self._asks, "asks")):
            for o in msg.get(key) or ():
                side.add(o["id"], _dec(o["price"]), _dec(o["volume"]))

    def _update(self, msg: dict[str, Any]) -> None:
        """Apply one update: its trades, then its create, delete and status parts."""
        for t in msg.get("trade_updates") or ():
            oid, base = t.get("maker_order_id") or t.get("order_id"), _dec(t["base"])
            if not (self._bids.remove(oid, base) or self._asks.remove(oid, base)):
                raise VenueError(f"book out of step: trade for unknown order {oid}")
        create = msg.get("create_update")
        if create:
            side = self._bids if create["type"] == "BID" else self._asks
            side.add(create["order_id"], _dec(create["price"]), _dec(create["volume"]))
        delete = msg.get("delete_update")
        if delete and not self._bids.remove(delete["order_id"]):
            self._asks.remove(delete["order_id"])

    # --- REST --------------------------------------------------------------------------

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [RestRequest(f"{base_url}/api/1/tickers")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """{"tickers":[{"pair":"XBTZAR","timestamp":1710328244969,"bid":"1374000.00",
        "ask":"1374999.00","last_trade":"1374998.00","rolling_24_hour_volume":"59.3711",
        "status":"ACTIVE"}]}
        Also parsed: one pair's /api/1/ticker?pair=XBTUSDT, the same object on its own.
        """
        doc = ANSWER(body)
        if doc.error is not msgspec.UNSET or doc.error_code is not msgspec.UNSET:
            code = None if doc.error_code is msgspec.UNSET else doc.error_code
            error = None if doc.error is msgspec.UNSET else doc.error
            raise VenueError(f"venue error {code}: {error}")
        lookup, venue = self.lookup, self.venue
        out = []
        for t in doc.tickers if doc.tickers is not None else (doc,):
            if t.pair is msgspec.UNSET:
                raise ParseError("ticker without a pair")
            m = lookup(t.pair)
            if m is None:
                continue
            out.append(TICKER.record(venue, m, t, ts_recv))
        return out

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """{"markets":[{"market_id":"XBTZAR","trading_status":"ACTIVE",
        "base_currency":"XBT","counter_currency":"ZAR","min_volume":"0.0005",...}]}"""
        return Codec.rows_at(json_body(body), "markets")

    @staticmethod
    def market_of(p: Any) -> Market | None:
        if p.get("trading_status") not in TRADING:
            return None
        return pair_market(p["base_currency"], p["counter_currency"], p["market_id"])


def _dec(value: Any) -> Decimal:
    """A decimal string as a Decimal (sums of order volumes stay exact), or ParseError: for
    what is not a finite number >= 0 too (a NaN in the book would break its comparisons)."""
    try:
        d = Decimal(value) if not isinstance(value, bool) else None
    except (InvalidOperation, TypeError, ValueError):
        d = None
    if d is None or not d.is_finite() or d < 0:
        raise ParseError(f"not a decimal number >= 0: {value!r}")
    return d
