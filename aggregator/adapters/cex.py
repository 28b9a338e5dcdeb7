"""CEX.IO Spot Trading: the public WebSocket book and ticker; the REST API at trade.cex.io.

WebSocket (wss://trade.cex.io/api/spot/ws-public): the public socket streams no ticker,
only order books: ``order_book_subscribe`` (one pair per request) answers with a 20-level
snapshot carrying the pair's ``seqId``, then ``order_book_increment`` deltas follow, each
numbered the previous plus one (a size of zero deletes a level). A gap, or a lower id (an
internal restart, per the documentation), renews the session. The best bid and ask with
their sizes are emitted when they change. The 24 h statistics come from ``get_ticker``
requests on the same socket, at subscription and then every 32 s, and each record carries
both (merged here, so that an empty side of a book is null, not a stale price). The venue
wants a client message at least every 10 s: {"e":"ping"} (answered {"e":"pong"}) goes out
every 8 s, every fourth replaced by the get_ticker request. {"e":"disconnected"} precedes
a close by the server. Public calls cost 1 point each, 100 points a minute per IP; every
request but the ping needs an "oid", and a malformed one makes the server close the socket.

POST /api/spot/rest-public/get_ticker with {"pairs": [...]} answers the named pairs in one
object keyed by pair id ("BTC-USD"); {} answers all of them (about 900). Markets come from
POST /api/spot/rest-public/get_pairs_info with {} (MARKETS_POST). The legacy API
(cex.io/api/ticker/BTC/USD, ws.cex.io), which the venue is deactivating, is not used.

The documented limit is 100 points a minute per IP, one point a call, but get_ticker has
been seen refused (429) above about two calls a minute: poll it every 30 s or slower.
"last" is documented as the "last indicative price" and moves with the book; the price of
the last trade is "lastTradePrice", which is what ``last`` carries here. The payload has no
ticker time ("lastTradeDateISO" is the time of the last trade, possibly hours old), so
ts_event is null; nor any open price or size at the touch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec
import orjson
from msgspec.structs import replace

from ..errors import ParseError, SequenceGap, VenueError, VenueNotice
from ..records import Ticker, level
from ..symbols import Market, MarketTable
from .base import Codec, RestRequest, SequenceCheck, json_body, json_object, pair_market
from .fields import TickerFields, Top
from .schema import Num, Schema

# Above this many markets, ask for all pairs rather than list them in the body.
MAX_NAMED_PAIRS = 100
TICKER_EVERY = 4  # every 4th keepalive asks for the 24 h statistics instead
BOOK_LEVELS = 20  # the venue keeps 20 levels per side and deletes those leaving the window


TICKER = TickerFields(
    bid="bestBid", ask="bestAsk", last="lastTradePrice", high="high", low="low",
    volume="volume", quote_volume="quoteVolume",
)  # fmt: skip

# A book's levels: [price, size]. A level of another shape is taken as sent by the
# permissive twin, and refused where the levels are read (the book is out of step).
Levels = list[tuple[Num, Num]]


class BookData(msgspec.Struct):
    """The "data" of a book snapshot or increment, or of a rejected request ("error")."""

    pair: Any = msgspec.UNSET
    seqId: Any = None
    bids: Levels | None = None
    asks: Levels | None = None
    error: Any = msgspec.UNSET


class Message(msgspec.Struct):
    """A message whose "data" is an object: a book, a rejection, or get_ticker's tickers
    keyed by pair (read again as an object: they are not a book's fields)."""

    e: Any = None
    data: BookData | None = None


class Other(msgspec.Struct):
    """A message whose "data" is not an object."""

    e: Any = None
    data: Any = None


MESSAGE = Schema(Message)
OTHER = Schema(Other)


class _Book:
    """One pair's book as the venue sends it: price -> size per side."""

    __slots__ = ("asks", "bids", "top")

    def __init__(self) -> None:
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.top: Top = (None, None, None, None)

    @staticmethod
    def apply(side: dict[float, float], levels: list[tuple[float, float]], bids: bool) -> None:
        for price, size in levels:
            if size == 0:
                side.pop(price, None)
            else:
                side[price] = size
        if len(side) > 2 * BOOK_LEVELS:  # a guard: the venue deletes what leaves its window
            keep = sorted(side, reverse=bids)[:BOOK_LEVELS]
            for price in set(side) - set(keep):
                del side[price]

    def best(self) -> Top:
        bid = max(self.bids) if self.bids else None
        ask = min(self.asks) if self.asks else None
        return (
            bid,
            None if bid is None else self.bids[bid],
            ask,
            None if ask is None else self.asks[ask],
        )


class Cex(Codec):
    venue: ClassVar[str] = "cex"
    REST_URL: ClassVar[str] = "https://trade.cex.io/api/spot/rest-public"
    MARKETS_URL: ClassVar[str] = "https://trade.cex.io/api/spot/rest-public/get_pairs_info"
    MARKETS_POST: ClassVar[Any] = {}  # every public call is a POST of a JSON object
    # One request per poll, so poll_interval sets the pace: keep it at 30 s or more.
    REST_RATE: ClassVar[float] = 1.0
    WS_URL: ClassVar[str] = "wss://trade.cex.io/api/spot/ws-public"
    # One subscribe (1 point) per pair out of 100 points a minute per IP, reconnects included.
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 30
    APP_PING_INTERVAL: ClassVar[float | None] = 8.0  # the venue wants a message within 10 s

    def __init__(self, table: MarketTable) -> None:
        super().__init__(table)
        self._books: dict[str, _Book] = {}  # per pair id, on this connection
        self._seqs = SequenceCheck()  # each book's next seqId
        self._stats: dict[str, Ticker] = {}  # the last get_ticker record per pair id
        self._pairs: list[str] = []
        self._oid = time.time_ns() // 1_000_000
        self._n = 0
        self._pings = 0

    def _request(self, e: str, data: dict[str, Any]) -> str:
        self._n += 1
        return orjson.dumps({"e": e, "oid": f"{self._oid}_{self._n}_{e}", "data": data}).decode()

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        self._pairs = [m.native for m in markets]
        books = [self._request("order_book_subscribe", {"pair": n}) for n in self._pairs]
        return [*books, self._request("get_ticker", {"pairs": self._pairs})]

    def app_ping(self) -> str | None:
        self._pings += 1
        if self._pings % TICKER_EVERY:
            return '{"e":"ping"}'
        return self._request("get_ticker", {"pairs": self._pairs})

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """{"e":"order_book_subscribe","oid":"1790135070649_1_order_book_subscribe",
        "data":{"seqId":8676229,"pair":"BTC-USD","bids":[["86875","0.04301025"]],
        "asks":[["86875.1","3.40529629"],["86875.2","0.12122756"]]},"ok":"ok"}
        {"e":"order_book_increment","data":{"seqId":8676230,"pair":"BTC-USD",
        "bids":[["86775","0.05005228"],["86875","0.00000000"]],"asks":[]},"ok":"ok"}
        {"e":"get_ticker","oid":"..._get_ticker","data":{"BTC-USD":{"bestBid":"86875.0",
        "bestAsk":"86875.1","last":"86875.1","lastTradePrice":"86875.1","high":"87500",
        "low":"85000.5","volume":"51.55342986","quoteVolume":"4438140.14",...}},"ok":"ok"}
        Also {"e":"connected"}, {"e":"pong"}, {"e":"disconnected"} and errors:
        {"e":"order_book_subscribe","oid":"...","data":{"error":"Currency pair NOPE-USD
        is not supported"}}. Levels of an increment come in no particular order.
        """
        msg: Message | Other
        try:
            msg = MESSAGE(raw)  # one pass for the book messages, the many
        except ParseError:
            msg = OTHER(raw)  # a ParseError still if not a JSON object
        e, data = msg.e, msg.data
        if not isinstance(data, BookData):
            if e in ("order_book_increment", "order_book_subscribe", "get_ticker"):
                raise ParseError(f"{e} without a data object")
        elif e == "order_book_increment":
            return self._increment(data, ts_recv)
        else:
            if data.error is not msgspec.UNSET:
                error = str(data.error)
                if "maintenance" in error.lower():
                    raise VenueError(f"venue maintenance: {error}")
                raise VenueNotice(f"{e} rejected: {error}")
            if e == "order_book_subscribe":
                return self._snapshot(data, ts_recv)
            if e == "get_ticker":
                return self._tickers(json_object(raw)["data"], ts_recv)
        if e == "disconnected":
            raise VenueError("the venue ended the session (disconnected)")
        if e is None:
            raise ParseError(f"unexpected message: {raw[:100]!r}")
        return []  # connected, pong, unsubscribe acks

    def _snapshot(self, data: BookData, ts_recv: int) -> list[Ticker]:
        m = self.lookup(_pair(data))
        if m is None:
            return []
        seq = int(data.seqId)
        bids, asks = self._levels(m, data)
        book = self._books[m.native] = _Book()
        self._seqs.start(seq, m.native)
        book.apply(book.bids, bids, True)
        book.apply(book.asks, asks, False)
        return self._top(m, book, ts_recv)

    def _increment(self, data: BookData, ts_recv: int) -> list[Ticker]:
        m = self.lookup(_pair(data))
        if m is None:
            return []
        seq = int(data.seqId)
        try:
            self._seqs.check(seq, m.native, snapshot_first=True)
        except SequenceGap:
            self._books.pop(m.native, None)
            raise
        book = self._books[m.native]
        bids, asks = self._levels(m, data)
        book.apply(book.bids, bids, True)
        book.apply(book.asks, asks, False)
        return self._top(m, book, ts_recv)

    def _levels(
        self, m: Market, data: BookData
    ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """The frame's bid and ask levels, read before the book changes. A level that is not
        a price and a size leaves the book out of step: it is dropped, the session renewed."""
        try:
            return (
                [level(p, s) for p, s in data.bids or ()],
                [level(p, s) for p, s in data.asks or ()],
            )
        except ValueError as e:
            self._books.pop(m.native, None)
            self._seqs.forget(m.native)
            raise SequenceGap(f"book out of step on {m.native}: {e}") from None

    def _top(self, m: Market, book: _Book, ts_recv: int) -> list[Ticker]:
        top = book.best()
        if top == book.top:
            return []
        book.top = top
        if top[0] is None and top[2] is None:
            return []
        bid, bid_size, ask, ask_size = top
        stats = self._stats.get(m.native)
        if stats is None:
            stats = Ticker(self.venue, m.symbol, m.native)
        return [
            replace(stats, bid=bid, bid_size=bid_size, ask=ask, ask_size=ask_size, ts_recv=ts_recv)
        ]

    def _tickers(self, data: dict[str, Any], ts_recv: int) -> list[Ticker]:
        """get_ticker's answer: the REST fields, with the top of the book kept here (fresher,
        and with sizes) in place of the ticker's best bid and ask once a snapshot came."""
        out = []
        for pair, t in data.items():
            m = self.lookup(pair)
            if m is None or not isinstance(t, dict):
                continue
            rec = TICKER.record(self.venue, m, t, ts_recv)
            # what the book's records carry: values as the runner settles them (a bad one is
            # flagged in this record, and is null, unflagged, in those)
            stats = self._stats[m.native] = replace(rec)
            stats.settle(None)
            book = self._books.get(m.native)
            if book is not None:
                bid, bid_size, ask, ask_size = book.top
                rec = replace(rec, bid=bid, bid_size=bid_size, ask=ask, ask_size=ask_size)
            out.append(rec)
        return out

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        body: dict[str, list[str]] = {}
        if len(markets) <= MAX_NAMED_PAIRS:
            body["pairs"] = [m.native for m in markets]
        return [RestRequest(f"{base_url}/get_ticker", method="POST", json=body)]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """{"ok":"ok","data":{"BTC-USD":{"bestBid":"60870.5","bestAsk":"60879.5",
        "bestBidChange":"-310.2","bestBidChangePercentage":"-0.50","bestAskChange":"-301.2",
        "bestAskChangePercentage":"-0.49","low":"60450.1","high":"61599.9",
        "volume30d":"2417.72411213","lastTradeDateISO":"2024-10-11T07:09:19.823Z",
        "volume":"61.84207441","quoteVolume":"3770364.61","lastTradeVolume":"0.00165962",
        "volumeUSD":"3770364.61","last":"60879.5","lastTradePrice":"60879.5",
        "priceChange":"-301.2","priceChangePercentage":"-0.49"}}}
        volume: base, 24 h; quoteVolume: quote, 24 h. Errors: {"error":"..."}.
        """
        doc = json_object(body)
        if "error" in doc or doc.get("ok", "ok") != "ok":
            raise VenueError(f"venue error: {doc.get('error') or doc.get('ok')}")
        data = doc.get("data")
        if not isinstance(data, dict):
            raise ParseError("response without a data object")
        return [TICKER.record(self.venue, m, t, ts_recv) for t, m in self.keyed(data)]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """get_pairs_info: {"ok":"ok","data":[{"base":"BTC","quote":"USD","baseMin":"0.00005",
        "baseMax":"40","baseLotSize":"0.00000001","quoteMin":"5","quoteMax":"1000000",
        "quoteLotSize":"0.01000000","basePrecision":"8","quotePrecision":"8",
        "pricePrecision":"1","minPrice":"1000","maxPrice":"500000"}, ...]}
        No status field: every listed pair trades. Ids are "BASE-QUOTE".
        """
        doc = json_body(body)
        if isinstance(doc, dict) and "error" in doc:
            raise VenueError(f"venue error: {doc['error']}")
        return Codec.rows_at(doc, "data")

    @staticmethod
    def market_of(p: Any) -> Market | None:
        base, quote_ = p["base"], p["quote"]
        return pair_market(base, quote_, f"{base}-{quote_}")


def _pair(data: BookData) -> Any:
    if data.pair is msgspec.UNSET:
        raise ParseError("a book without its pair")
    return data.pair
