"""Deribit spot (BTC_USDT, ETH_USDC, ...): the public JSON-RPC API v2, streamed and polled.

WebSocket (/ws/api/v2, JSON-RPC): ``public/subscribe`` to "ticker.{instrument}.100ms" (the
24 h statistics and the top of the book, every 100 ms; "raw" needs authentication) and
"quote.{instrument}" (the best bid and ask with their sizes, on every change), merged. The
answer lists the channels subscribed; one left out is reported. ``public/set_heartbeat``
makes the venue send "heartbeat" notifications and "test_request"s, each answered with
``public/test`` lest the venue close the connection. Neither channel numbers its messages
or carries a checksum.

REST: ``public/ticker`` takes one ``instrument_name`` per request and has no all-instruments
form, so spot markets are polled one by one. ``public/get_book_summary_by_currency``
covers a whole currency at once but carries no sizes at the best bid and ask, hence the
per-instrument ticker. Markets come from ``public/get_instruments?currency=any&kind=spot``.
Only spot is handled here: futures and options are out of scope.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

import msgspec
import orjson

from ..errors import ParseError, VenueError, VenueNotice
from ..records import EMPTY, Ticker, ms_to_ns
from ..symbols import Market, MarketTable
from ..timestamps import MILLIS
from .base import Codec, RestRequest, json_body, pair_market, per_market
from .fields import StructFields, top_of_book
from .routes import Call, Route, TimeAt
from .schema import Num, Schema, Time

HEARTBEAT_INTERVAL = 30  # seconds; the venue's minimum is 10
HEARTBEAT_ID, SUBSCRIBE_ID = 1, 2
D = TypeVar("D")  # an answer's result type


class Stats(msgspec.Struct):
    high: Num = None
    low: Num = None
    volume: Num = None  # base currency
    volume_notional: Num = None  # quote currency


class Data(msgspec.Struct):
    """A ticker (ticker channel, and REST) or a quote (quote channel): one declaration, so
    that a notification decodes in one pass, whichever it is."""

    instrument_name: Any = msgspec.UNSET  # passed to the table's lookup as sent
    timestamp: Time = None  # ms
    best_bid_price: Num = None
    best_bid_amount: Num = None
    best_ask_price: Num = None
    best_ask_amount: Num = None
    last_price: Num = None
    stats: Stats | None = None


class Params(msgspec.Struct):
    channel: Any = ""
    data: Data | None = None
    type: Any = None  # a heartbeat's


class Message(msgspec.Struct):
    """A notification ({"method", "params"}), an answer ({"id", "result"}) or an error."""

    method: Any = None
    params: Params | None = None
    id: Any = None
    result: Any = msgspec.UNSET
    error: Any = msgspec.UNSET


class Answer(msgspec.Struct):
    """A REST response: the ticker in "result", or an error."""

    result: Data | None = None
    error: Any = None


MESSAGE = Schema(Message)
ANSWER = Schema(Answer)
# No open: price_change is a percentage. A ticker without stats has their numbers null.
TICKER = StructFields(
    last="last_price", high="stats.high", low="stats.low", volume="stats.volume",
    quote_volume="stats.volume_notional", ts_event=("timestamp", ms_to_ns),
)  # fmt: skip
TICKER_WITHOUT_STATS = StructFields(last="last_price", ts_event=("timestamp", ms_to_ns))


def side_price(price: float | None) -> float | None:
    """A best price as _side reads it (the routes' Call)."""
    return _side(price, None)[0]


def side_size(price: float | None, size: float | None) -> float | None:
    """A best size as _side reads it: EMPTY where the side is (the routes' Call)."""
    return _side(price, size)[1]


# The routes' best bid and ask: _side's reading (an empty side's price is 0 or null).
TOP_FIELDS = {
    "bid": Call(side_price, "best_bid_price"),
    "bid_size": Call(side_size, "best_bid_price", "best_bid_amount"),
    "ask": Call(side_price, "best_ask_price"),
    "ask_size": Call(side_size, "best_ask_price", "best_ask_amount"),
}


class Deribit(Codec):
    venue: ClassVar[str] = "deribit"
    REST_URL: ClassVar[str] = "https://www.deribit.com/api/v2"
    MARKETS_URL: ClassVar[str] = (
        "https://www.deribit.com/api/v2/public/get_instruments?currency=any&kind=spot"
    )
    # Deribit's default for non-matching-engine requests is 20 per second sustained with a
    # burst of 100 (support.deribit.com "Rate Limits"); a quarter of it leaves room.
    REST_RATE: ClassVar[float] = 5.0
    WS_URL: ClassVar[str] = "wss://www.deribit.com/ws/api/v2"
    # No documented cap on channels per connection; spot has a few dozen instruments.
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 100
    MERGE: ClassVar[bool] = True
    # parse_ws's ticker and quote channels, read in C; an instrument not in the table is
    # parse_ws's, which checks the whole message's shape before it looks the market up
    ROUTES: ClassVar[tuple[Route, ...]] = (
        Route(  # a ticker without stats: parse_ws (TICKER_WITHOUT_STATS)
            when={"method": "subscription", "params.channel": "ticker.*"}, items="params.data",
            market="instrument_name",
            fields={**TOP_FIELDS, "last": "last_price", "high": "stats.high",
                    "low": "stats.low", "volume": "stats.volume",
                    "quote_volume": "stats.volume_notional",
                    "ts_event": TimeAt("timestamp", MILLIS)},
        ),
        Route(
            when={"method": "subscription", "params.channel": "quote.*"}, items="params.data",
            market="instrument_name",
            fields={**TOP_FIELDS, "ts_event": TimeAt("timestamp", MILLIS)},
        ),
    )  # fmt: skip

    def __init__(self, table: MarketTable) -> None:
        super().__init__(table)
        self._asked: set[str] = set()  # channels of this connection's subscribe request
        self._next_id = SUBSCRIBE_ID + 1

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        channels = [ch for m in markets for ch in (f"ticker.{m.native}.100ms", f"quote.{m.native}")]
        return self.subscribe_calls(channels)

    def subscribe_calls(self, channels: list[str]) -> list[str]:
        """The heartbeat's and the subscription's calls (spot's and the derivatives'); the
        channels are kept to check the answer against."""
        self._asked = set(channels)
        return [
            _rpc(HEARTBEAT_ID, "public/set_heartbeat", {"interval": HEARTBEAT_INTERVAL}),
            _rpc(SUBSCRIBE_ID, "public/subscribe", {"channels": channels}),
        ]

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """Notifications, answers to our requests, and heartbeats:

        {"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC_USDT.100ms",
         "data":{"timestamp":1786563120494,"instrument_name":"BTC_USDT","state":"open",
         "last_price":63344,"best_bid_price":63344,"best_bid_amount":0.58,
         "best_ask_price":63344.5,"best_ask_amount":0.1,"stats":{"high":64422,"low":63261,
         "price_change":-0.0095,"volume":27.78,"volume_notional":1771874.1},...}}}
        {"jsonrpc":"2.0","method":"subscription","params":{"channel":"quote.BTC_USDT",
         "data":{"timestamp":1786563120630,"instrument_name":"BTC_USDT",
         "best_bid_price":63344,"best_bid_amount":0.49,"best_ask_price":63344.5,
         "best_ask_amount":0.2}}}
        {"jsonrpc":"2.0","id":2,"result":["ticker.BTC_USDT.100ms","quote.BTC_USDT"],...}
        {"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}
        {"jsonrpc":"2.0","id":7,"error":{"code":10028,"message":"too_many_requests"}}
        """
        msg = MESSAGE(raw)
        method = msg.method
        if method == "subscription":
            params = msg.params
            channel = str(params.channel) if params is not None else ""
            data = params.data if params is not None else None
            if data is None:
                raise ParseError(f"notification of {channel} without a data object")
            name = data.instrument_name
            m = self.lookup("" if name is msgspec.UNSET else name)
            if m is None:
                return []
            if channel.startswith("ticker."):
                return [self._ticker(data, m, ts_recv)]
            if channel.startswith("quote."):
                top = (
                    *_side(data.best_bid_price, data.best_bid_amount),
                    *_side(data.best_ask_price, data.best_ask_amount),
                )
                return [top_of_book(self.venue, m, top, ts_recv, ms_to_ns(data.timestamp))]
            return []
        if method == "heartbeat":
            if msg.params is not None and msg.params.type == "test_request":
                self.replies.append(_rpc(self._next_id, "public/test", {}))
                self._next_id += 1
            return []
        err = msg.error
        if err is not msgspec.UNSET:
            text = f"{err.get('code')}: {err.get('message')}" if isinstance(err, dict) else err
            if msg.id == SUBSCRIBE_ID:
                raise VenueError(f"subscription rejected: {text}")  # nothing would stream
            raise VenueNotice(f"venue error {text}")
        result = msg.result
        if msg.id == SUBSCRIBE_ID:
            if not isinstance(result, list):
                raise ParseError("a subscribe answer without a list of channels")
            missing = self._asked - set(result)
            if missing:
                raise VenueNotice(f"not subscribed: {', '.join(sorted(missing))}")
            return []
        if result is not msgspec.UNSET:
            return []  # set_heartbeat's "ok", public/test's version
        raise ParseError(f"unexpected message: {raw[:100]!r}")

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return per_market(markets, f"{base_url}/public/ticker?instrument_name=")

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /public/ticker?instrument_name=BTC_USDT:
        {"jsonrpc":"2.0","result":{"instrument_name":"BTC_USDT","timestamp":1710328244150,
        "state":"open","best_bid_price":73418.58,"best_bid_amount":0.0003,
        "best_ask_price":73521.05,"best_ask_amount":0.4904,"last_price":73448.39,
        "mark_price":73367.995,"index_price":73367.995,"min_price":71900.63,
        "max_price":74835.36,"stats":{"volume":25.9035,"volume_notional":1871802.929506,
        "volume_usd":1871769.37,"price_change":1.7593,"low":68933.02,"high":73641.74}},
        "usIn":1710328245071604,"usOut":1710328245071795,"usDiff":191,"testnet":false}
        stats.volume is in the base currency, volume_notional in the quote currency;
        price_change is a percentage (so no exact open). Errors: {"jsonrpc":"2.0",
        "error":{"code":-32602,"message":"Invalid params"},...}.
        """
        doc = ANSWER(body)
        t = answer_result(doc.error, doc.result)
        name = t.instrument_name
        m = self.lookup(name) if isinstance(name, str) else market
        if m is None:
            if name is msgspec.UNSET or name is None:
                raise ParseError("a ticker without instrument_name needs its market")
            return []
        return [self._ticker(t, m, ts_recv)]

    def _ticker(self, t: Data, m: Market, ts_recv: int) -> Ticker:
        top = (
            *_side(t.best_bid_price, t.best_bid_amount),
            *_side(t.best_ask_price, t.best_ask_amount),
        )
        return (TICKER if t.stats is not None else TICKER_WITHOUT_STATS).record_top(
            self.venue, m, t, top, ts_recv
        )

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """GET /public/get_instruments?currency=any&kind=spot: {"jsonrpc":"2.0","result":[
        {"instrument_name":"BTC_USDT","kind":"spot","base_currency":"BTC",
        "quote_currency":"USDT","counter_currency":"USDT","is_active":true,...}]}"""
        return Codec.rows_at(json_body(body), "result")

    @staticmethod
    def market_of(i: Any) -> Market | None:
        if i.get("kind") != "spot" or not i.get("is_active", True):
            return None
        base, quote_ = i["base_currency"], i["quote_currency"]
        return pair_market(base, quote_, i["instrument_name"])


def answer_result(error: Any, result: D | None) -> D:
    """A REST answer's result object (spot's or the derivatives'), or the venue's error:
    {"error":{"code":-32602,"message":"Invalid params"}}."""
    if error is not None:
        if isinstance(error, dict):
            raise VenueError(f"venue error {error.get('code')}: {error.get('message')}")
        raise VenueError(f"venue error: {error}")
    if result is None:
        raise ParseError("response without a result object")
    return result


def _side(price: float | None, size: float | None) -> tuple[float | None, float | None]:
    """Best price and size; an empty side (Deribit sends price 0 or null) is EMPTY: null
    in the record, and not refilled from the previous record by the merge."""
    if not price:
        return EMPTY, EMPTY
    return price, size


def _rpc(rid: int, method: str, params: dict[str, Any]) -> str:
    return orjson.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}).decode()
