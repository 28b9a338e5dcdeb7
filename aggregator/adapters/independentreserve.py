"""Independent Reserve: the WebSocket order book (top of book), REST GetMarketSummary.

WebSocket: the venue streams order books only (wss://websockets.independentreserve.com/
orderbook/{depth}); a {"Event":"Subscribe","Data":["xbt-aud",...]} message brings one
OrderBookSnapshot per pair, then OrderBookChange deltas (a level with Volume 0 is
deleted, any other replaces the level at its price). Every book frame carries the CRC32
of the server's top 10 bids and offers, which is checked: a mismatch (a lost or dropped
delta) renews the session. The best bid and offer with their sizes are emitted whenever
they change; the venue's Heartbeat messages keep a quiet connection open.

REST polling of GetMarketSummary, one request per market.

There is no all-markets summary: GET /Public/GetMarketSummary?primaryCurrencyCode=Xbt
&secondaryCurrencyCode=Aud is asked per pair, in the venue's own currency codes ("Xbt",
"Eth", "Aud"). A summary has the best bid and offer without sizes, last, the 24 h high,
low and average, the 24 h volume of the primary currency traded against this secondary
currency and the time it was made; no open and no quote volume. Errors come as HTTP 400
with {"Message":"..."}. Every primary currency trades against every secondary one, but
the venue lists the two sets on two endpoints and only one markets response is read:
MARKETS_URL gives the primaries and SECONDARIES below the secondaries.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import msgspec
import orjson

from ..errors import ParseError, VenueError, VenueNotice
from ..records import Ticker, iso_to_ns, level, ms_to_ns
from ..symbols import Market, MarketTable, unify
from .base import Codec, RestRequest, json_body, json_object
from .fields import TickerFields, top_of_book
from .schema import Num, Schema

# GetValidSecondaryCurrencyCodes: ["Aud","Usd","Nzd","Sgd"]
SECONDARIES = ("Aud", "Usd", "Nzd", "Sgd")


CRC_LEVELS = 10  # the checksum covers the top 10 bids and offers


REST_TICKER = TickerFields(
    bid="CurrentHighestBidPrice", ask="CurrentLowestOfferPrice", last="LastPrice",
    high="DayHighestPrice", low="DayLowestPrice", volume="DayVolumeXbtInSecondaryCurrrency",
    ts_event=("CreatedTimestampUtc", iso_to_ns),
)  # fmt: skip


class Level(msgspec.Struct):
    Price: Num
    Volume: Num


class BookData(msgspec.Struct):
    """A book frame's "Data": the levels it sets, and the CRC32 of the server's top 10."""

    Bids: list[Level] | None = None
    Offers: list[Level] | None = None
    Crc32: Any = None


class Message(msgspec.Struct):
    """A book message, a heartbeat, or a message of another kind (see Other)."""

    Event: Any = None
    Channel: Any = None
    Time: Any = None  # ms
    Data: BookData | None = None


class Other(msgspec.Struct):
    """A message whose "Data" is not a book: the subscriptions' list, an error's text."""

    Event: Any = None
    Channel: Any = None
    Data: Any = None


MESSAGE = Schema(Message)
OTHER = Schema(Other)
BOOK_EVENTS = ("OrderBookChange", "OrderBookSnapshot")


class ChecksumMismatch(VenueError):
    """The book kept here no longer matches the venue's: the session must be renewed."""


def _crc_part(x: float) -> str:
    return f"{x:.8f}".replace(".", "").lstrip("0")


def book_checksum(
    bids: Iterable[tuple[float, float]], offers: Iterable[tuple[float, float]]
) -> int:
    """CRC32 of the top levels (bids best first, then offers), as the venue computes it:
    price and volume each with 8 decimals, the point and leading zeros removed."""
    text = "".join(_crc_part(p) + _crc_part(v) for p, v in (*bids, *offers))
    return zlib.crc32(text.encode())


class _Book:
    """One pair's book at the subscribed depth: price -> volume per side."""

    __slots__ = ("bids", "depth", "offers", "top")

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.bids: dict[float, float] = {}
        self.offers: dict[float, float] = {}
        self.top: tuple[float | None, ...] = (None, None, None, None)

    @staticmethod
    def apply(side: dict[float, float], levels: list[tuple[float, float]]) -> None:
        for price, volume in levels:
            if volume == 0:
                side.pop(price, None)
            else:
                side[price] = volume

    def levels(self) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """Both sides best first, trimmed to the depth."""
        bids = sorted(self.bids.items(), reverse=True)
        offers = sorted(self.offers.items())
        if len(bids) > self.depth:
            bids = bids[: self.depth]
            self.bids = dict(bids)
        if len(offers) > self.depth:
            offers = offers[: self.depth]
            self.offers = dict(offers)
        return bids, offers


class IndependentReserve(Codec):
    venue: ClassVar[str] = "independentreserve"
    RENAMES: ClassVar[dict[str, str]] = {"PLA": "PLAYCHIP"}  # ccxt's renames
    REST_URL: ClassVar[str] = "https://api.independentreserve.com"
    MARKETS_URL: ClassVar[str] = (
        "https://api.independentreserve.com/Public/GetValidPrimaryCurrencyCodes"
    )
    # The API documentation: "The API is rate limited to 1 call per second".
    REST_RATE: ClassVar[float] = 0.9
    # Depth 10: the least that lets the checksum (top 10 levels) be verified.
    WS_URL: ClassVar[str] = "wss://websockets.independentreserve.com/orderbook/10"
    # No documented cap; the server queues at most about 1000 messages per connection.
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 40

    def __init__(self, table: MarketTable) -> None:
        super().__init__(table)
        self._books: dict[str, _Book] = {}  # per pair, keyed by native id

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        tokens = [f"{m.base_id}-{m.quote_id}".lower() for m in markets]
        return [orjson.dumps({"Event": "Subscribe", "Data": tokens}).decode()]

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """{"Channel":"orderbook/100/btc/usd","Data":{"Bids":[{"Price":3423.6,"Volume":2.5},
        {"Price":3420.01,"Volume":6.456}],"Offers":[{"Price":3427.19,"Volume":1.95730709}],
        "Crc32":3857642206},"Time":1720000000000,"Event":"OrderBookSnapshot"}
        {"Channel":"orderbook/100/btc/usd","Data":{"Bids":[{"Price":3420.01,"Volume":5.5}],
        "Offers":[],"Crc32":3068267151},"Time":1720000001000,"Event":"OrderBookChange"}
        Also {"Time":1661145843028,"Event":"Heartbeat"}, {"Event":"Subscriptions",
        "Data":["xbt-aud"],...} and {"Event":"Error","Data":"..."}.
        """
        msg: Message | Other
        try:
            msg = MESSAGE(raw)  # one pass for the book messages, the many
        except ParseError:
            msg = OTHER(raw)  # a ParseError still if not a JSON object
        event = msg.Event
        if event in BOOK_EVENTS:
            if not isinstance(msg.Channel, str):
                raise ParseError("a book message without its channel")
            _, depth, base, quote_ = msg.Channel.split("/")
            m = self.lookup(f"{base}/{quote_}")
            if m is None:
                return []
            if not isinstance(msg, Message) or msg.Data is None:
                raise ParseError("a book message without its book")
            data = msg.Data
            try:  # read before the book changes: a level it cannot place puts it out of step
                bid_levels = [level(x.Price, x.Volume) for x in data.Bids or ()]
                offer_levels = [level(x.Price, x.Volume) for x in data.Offers or ()]
            except ValueError as e:
                self._books.pop(m.native, None)
                raise ChecksumMismatch(f"book out of step on {m.native}: {e}") from None
            book = self._books.get(m.native)
            if event == "OrderBookSnapshot" or book is None:
                if event != "OrderBookSnapshot":
                    raise ChecksumMismatch(
                        f"checksum mismatch: {m.native} changed before a snapshot"
                    )
                book = self._books[m.native] = _Book(int(depth))
            book.apply(book.bids, bid_levels)
            book.apply(book.offers, offer_levels)
            bids, offers = book.levels()
            crc = data.Crc32
            if crc is not None and book_checksum(bids[:CRC_LEVELS], offers[:CRC_LEVELS]) != crc:
                del self._books[m.native]
                raise ChecksumMismatch(f"checksum mismatch on {m.native}: book out of step")
            top = (*(bids[0] if bids else (None, None)), *(offers[0] if offers else (None, None)))
            if top == book.top:
                return []
            book.top = top
            return [top_of_book(self.venue, m, top, ts_recv, ms_to_ns(msg.Time))]
        if event in ("Heartbeat", "Subscriptions"):
            return []
        if event == "Error":
            raise VenueNotice(f"venue error: {OTHER(raw).Data}")
        if event is None:
            raise ParseError(f"unexpected message: {raw[:100]!r}")
        return []

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [
            RestRequest(
                f"{base_url}/Public/GetMarketSummary?primaryCurrencyCode="
                f"{quote(m.base_id, safe='')}&secondaryCurrencyCode={quote(m.quote_id, safe='')}",
                market=m,
            )
            for m in markets
        ]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """{"CreatedTimestampUtc":"2025-05-20T04:31:07.1826412Z",
        "CurrentHighestBidPrice":164210.55,"CurrentLowestOfferPrice":164389.02,
        "DayAvgPrice":163120.87,"DayHighestPrice":165000.0,"DayLowestPrice":160911.14,
        "DayVolumeXbt":48.62170311,"DayVolumeXbtInSecondaryCurrrency":41.29310477,
        "LastPrice":164300.0,"PrimaryCurrencyCode":"Xbt","SecondaryCurrencyCode":"Aud"}
        DayVolumeXbt is the primary currency's volume over all secondary currencies;
        DayVolumeXbtInSecondaryCurrrency (sic) the part traded in this pair, in the primary.
        """
        t = json_object(body)
        if "Message" in t and "LastPrice" not in t:
            raise VenueError(f"venue error: {t['Message']}")
        primary, secondary = t.get("PrimaryCurrencyCode"), t.get("SecondaryCurrencyCode")
        if not isinstance(primary, str) or not isinstance(secondary, str):
            raise ParseError("summary without its currency codes")
        m = self.lookup(f"{primary}/{secondary}")
        if m is None and market is not None:
            same = (primary.upper(), secondary.upper())
            m = market if same == (market.base_id.upper(), market.quote_id.upper()) else None
        if m is None:
            return []
        return [REST_TICKER.record(self.venue, m, t, ts_recv)]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """GetValidPrimaryCurrencyCodes: ["Xbt","Eth","Sol",...], each traded against
        every one of SECONDARIES."""
        return Codec.rows_at(json_body(body))

    @classmethod
    def market_of(cls, p: Any) -> list[Market]:
        if not isinstance(p, str):
            raise ParseError(f"expected a currency code, got {p!r}")
        out = []
        for s in SECONDARIES:
            symbol = unify(p, s, renames=cls.RENAMES)
            # The WebSocket names books "btc/aud" (unified, lower case); "xbt/aud" too.
            ids = (f"{p}/{s}", f"{p}/{s}".lower(), symbol.lower())
            out.append(Market(symbol, f"{p}/{s}", ids, base_id=p, quote_id=s))
        return out
