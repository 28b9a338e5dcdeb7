"""Coinone: the public WebSocket's TICKER channel, or the public v2 REST tickers.

WebSocket (``wss://stream.coinone.co.kr``): one ``SUBSCRIBE`` message per market, topic
``{"quote_currency":"KRW","target_currency":"BTC"}``, acknowledged ``SUBSCRIBED``; every
ticker change comes as a ``DATA`` message with the best bid and ask (and sizes), the UTC
day's first/high/low/last and 24 h volumes, so one channel is enough. The server closes a
connection 30 minutes after the client's last ``{"request_type":"PING"}`` (answered
``PONG``), so the codec pings every minute. A rejected topic is answered
``{"response_type":"ERROR","error_code":160012,"message":"Invalid Topic"}``; the other
subscriptions of the connection go on. Ticker ids grow but are not consecutive: no gap check.
REST: GET /public/v2/ticker_new/{quote} answers every pair quoted in that currency (KRW is the
venue's market), with the best bid and ask and their sizes, 24 h high/low/first/last, base
and quote volume and a millisecond timestamp. One request per quote currency in use.
Markets come from the same endpoint for KRW (as ccxt does): a pair with a ticker trades.
The public API allows 300 requests a minute, and more than 5 in a second blocks the IP
for 10 minutes; errors come with HTTP 200 as {"result":"error","error_code":"..."}.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import msgspec
import orjson

from ..errors import ParseError, VenueError, VenueNotice
from ..records import Ticker, ms_to_ns, num
from ..symbols import Market, MarketTable, unify
from ..timestamps import MILLIS
from .base import Codec, RestRequest, json_body
from .fields import StructFields
from .routes import Route, TimeAt
from .schema import Num, Schema, Time


class Data(msgspec.Struct):
    """A ticker: streamed (the best bid and ask flat) or polled (as lists of levels)."""

    quote_currency: Any = None
    target_currency: Any = None
    timestamp: Time = None  # ms
    last: Num = None
    first: Num = None
    high: Num = None
    low: Num = None
    target_volume: Num = None  # base currency
    quote_volume: Num = None
    # the stream's
    bid_best_price: Num = None
    bid_best_qty: Num = None
    ask_best_price: Num = None
    ask_best_qty: Num = None
    # REST's: lists of {"price", "qty"}, best first; read as sent, as a list that is not
    # one of levels is no best price (not a ticker to drop)
    best_bids: Any = None
    best_asks: Any = None


class Message(msgspec.Struct):
    """A stream message ("response_type"), or a REST answer ("result", "tickers")."""

    response_type: Any = None
    channel: Any = None
    data: Data | None = None
    error_code: Any = msgspec.UNSET
    message: Any = None
    result: Any = None
    error_msg: Any = None
    tickers: list[Data] | None = None


MESSAGE = Schema(Message)
TICKER = StructFields(  # polled: the best bid and ask from the lists of levels (_best)
    last="last",
    open="first",
    high="high",
    low="low",
    volume="target_volume",
    quote_volume="quote_volume",
    ts_event=("timestamp", ms_to_ns),
)
STREAM_TICKER = StructFields(
    bid="bid_best_price", bid_size="bid_best_qty", ask="ask_best_price",
    ask_size="ask_best_qty", last="last", open="first", high="high", low="low",
    volume="target_volume", quote_volume="quote_volume", ts_event=("timestamp", ms_to_ns),
)  # fmt: skip


def _best(levels: Any) -> tuple[float | None, float | None]:
    """Price and qty of the first level of best_bids/best_asks (empty when no orders)."""
    if isinstance(levels, list) and levels and isinstance(levels[0], dict):
        first = levels[0]
        return num(first.get("price")), num(first.get("qty"))
    return None, None


def _id(target: str, quote_: str) -> str:
    return f"{target.upper()}-{quote_.upper()}"


# Each table's KRW markets by their base id as the stream sends it ("BTC"): the routes' ids,
# built once per table.
_BY_KRW_BASE: weakref.WeakKeyDictionary[MarketTable, dict[str, Market]] = (
    weakref.WeakKeyDictionary()
)


def by_krw_base(table: MarketTable) -> dict[str, Market]:
    """The markets whose id is ``_id(base, "KRW")``, by that base (upper case)."""
    found = _BY_KRW_BASE.get(table)
    if found is None:
        found = {
            base: m
            for k, m in table.by_id.items()
            if k.endswith("-KRW") and (base := k[:-4]) == base.upper()
        }
        _BY_KRW_BASE[table] = found
    return found


class Coinone(Codec):
    venue: ClassVar[str] = "coinone"
    REST_URL: ClassVar[str] = "https://api.coinone.co.kr"
    MARKETS_URL: ClassVar[str] = "https://api.coinone.co.kr/public/v2/ticker_new/KRW"
    WS_URL: ClassVar[str] = "wss://stream.coinone.co.kr"
    # No published limit of topics per connection.
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 100
    APP_PING_INTERVAL: ClassVar[float | None] = 60.0  # idle connections close after 30 min
    REST_RATE: ClassVar[float] = 2.0  # 300 a minute; over 5 a second blocks for 10 minutes
    ROUTES: ClassVar[tuple[Route, ...]] = (  # parse_ws's KRW tickers, read in C
        Route(  # a base not in upper case, or not followed: parse_ws
            when={"response_type": "DATA", "channel": "TICKER", "data.quote_currency": "KRW"},
            items="data", market="target_currency", lookup="by_krw_base",
            fields={"bid": "bid_best_price", "bid_size": "bid_best_qty",
                    "ask": "ask_best_price", "ask_size": "ask_best_qty", "last": "last",
                    "open": "first", "high": "high", "low": "low", "volume": "target_volume",
                    "quote_volume": "quote_volume", "ts_event": TimeAt("timestamp", MILLIS)},
        ),
    )  # fmt: skip

    def __init__(self, table: MarketTable) -> None:
        super().__init__(table)
        self.by_krw_base = by_krw_base(table)

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        return [
            orjson.dumps(
                {
                    "request_type": "SUBSCRIBE",
                    "channel": "TICKER",
                    "topic": {"quote_currency": m.quote_id, "target_currency": m.base_id},
                }
            ).decode()
            for m in markets
        ]

    def app_ping(self) -> str | None:
        return '{"request_type":"PING"}'

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """{"response_type":"DATA","channel":"TICKER","data":{"quote_currency":"KRW",
        "target_currency":"BTC","timestamp":1705301117198,"quote_volume":"19521465345.504",
        "target_volume":"334.81445168","high":"58710000","low":"57276000","first":"57293000",
        "last":"58532000","volume_power":"100","ask_best_price":"58537000",
        "ask_best_qty":"0.1961","bid_best_price":"58532000","bid_best_qty":"0.00009258",
        "id":"1705301117198001","yesterday_high":"59140000",...}}
        Also {"response_type":"SUBSCRIBED",...}, {"response_type":"PONG"} and errors
        {"response_type":"ERROR","error_code":160012,"message":"Invalid Topic"}.
        """
        msg = MESSAGE(raw)
        kind = msg.response_type
        if kind == "DATA":
            if msg.channel != "TICKER":
                return []
            t = msg.data
            if t is None:
                raise ParseError("ticker without a data object")
            m = self.lookup(_id(str(t.target_currency), str(t.quote_currency)))
            if m is None:
                return []
            return [STREAM_TICKER.record(self.venue, m, t, ts_recv)]
        if kind == "ERROR":  # one topic refused; the others go on
            code = None if msg.error_code is msgspec.UNSET else msg.error_code
            raise VenueNotice(f"venue error {code}: {msg.message}")
        if kind is None:
            raise ParseError(f"unexpected message: {raw[:100]!r}")
        return []  # SUBSCRIBED, PONG, CONNECTED, ...

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        quotes = sorted({m.quote_id for m in markets})
        return [RestRequest(f"{base_url}/public/v2/ticker_new/{quote(q, safe='')}") for q in quotes]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """{"result":"success","error_code":"0","server_time":1701073358487,"tickers":[
        {"quote_currency":"KRW","target_currency":"BTC","timestamp":1701073357818,
        "high":"50543000.0","low":"49945000.0","first":"50487000.0","last":"50062000.0",
        "quote_volume":"11349804285.3859","target_volume":"226.07268994",
        "best_asks":[{"price":"50081000.0","qty":"0.18471358"}],
        "best_bids":[{"price":"50062000.0","qty":"0.04213455"}],"id":"1701073357818001"}]}
        high/low/first/last, volumes: last 24 h; quote_volume in the quote currency.
        """
        doc = MESSAGE(body)
        if doc.result == "error" or doc.error_code not in ("0", 0, msgspec.UNSET):
            raise VenueError(f"venue error {doc.error_code}: {doc.error_msg}")
        if doc.tickers is None:
            raise ParseError("response without a tickers list")
        lookup, venue, record = self.lookup, self.venue, TICKER.record_top
        return [
            record(venue, m, t, (*_best(t.best_bids), *_best(t.best_asks)), ts_recv)
            for t in doc.tickers
            if (m := lookup(_id(str(t.target_currency), str(t.quote_currency)))) is not None
        ]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """ticker_new/KRW (see parse_rest): one market per ticker; id "BTC-KRW"."""
        doc = json_body(body)
        if isinstance(doc, dict) and doc.get("result") == "error":
            raise VenueError(f"venue error {doc.get('error_code')}: {doc.get('error_msg')}")
        return Codec.rows_at(doc, "tickers")

    @staticmethod
    def market_of(t: Any) -> Market | None:
        base, quote_ = t["target_currency"].upper(), t["quote_currency"].upper()
        return Market(unify(base, quote_), _id(base, quote_), base_id=base, quote_id=quote_)
