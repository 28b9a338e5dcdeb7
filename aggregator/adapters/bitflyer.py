"""bitFlyer Lightning: the Realtime API's ticker channel, or the HTTP API's ticker, polled.

WebSocket: JSON-RPC 2.0 at ``wss://ws.lightstream.bitflyer.com/json-rpc``; one ``subscribe``
call per product for the ``lightning_ticker_{product_code}`` channel, answered
``{"jsonrpc":"2.0","id":1,"result":true}`` (or a JSON-RPC error for that channel alone);
updates come as ``channelMessage`` notifications carrying the same ticker object as the
HTTP API. No application-level ping is required: the WebSocket layer's pings keep the
connection open. ``tick_id`` counts ticks over all products, so it is no gap detector.
REST: ``GET /v1/getticker?product_code=BTC_JPY`` answers for one product and there is no
all-products ticker, so each subscribed market is one request. The ticker carries the top
of the book with sizes, the last price and the 24 h volume, but no open, high or low.
Markets come from ``GET /v1/getmarkets`` (the Japan list: spot, the FX_BTC_JPY CFD and
futures; only spot is kept).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec
import orjson

from ..errors import ParseError, VenueError, VenueNotice
from ..records import Ticker, iso_to_ns
from ..symbols import Market, MarketTable
from .base import Codec, RestRequest, json_body, json_object, pair_market, per_market
from .fields import StructFields, TickerFields
from .routes import ISO, Route, TimeAt
from .schema import Num, Schema

CHANNEL = "lightning_ticker_"


class Tick(msgspec.Struct):
    """The ticker object, of the stream and of the HTTP API."""

    product_code: Any = None
    timestamp: Any = None  # RFC 3339, UTC; read by iso_to_ns as sent
    best_bid: Num = None
    best_ask: Num = None
    best_bid_size: Num = None
    best_ask_size: Num = None
    ltp: Num = None
    volume_by_product: Num = None


class Params(msgspec.Struct):
    channel: Any = None
    # a ticker; the executions channel sends lists, left undecoded
    message: Tick | list[msgspec.Raw] | None = None


class Call(msgspec.Struct):
    """A notification (method, params) or the answer to a call of ours (id, result, error)."""

    method: Any = None
    params: Params | None = None
    id: Any = None
    result: Any = None
    error: Any = msgspec.UNSET


CALL = Schema(Call)

# The HTTP API's ticker, read from its object.
TICKER = TickerFields(
    bid="best_bid", bid_size="best_bid_size", ask="best_ask", ask_size="best_ask_size",
    last="ltp", volume="volume_by_product", ts_event=("timestamp", iso_to_ns),
)  # fmt: skip


STREAM_TICKER = StructFields(
    bid="best_bid", bid_size="best_bid_size", ask="best_ask", ask_size="best_ask_size",
    last="ltp", volume="volume_by_product", ts_event=("timestamp", iso_to_ns),
)  # fmt: skip


# Each table's markets by id and by ticker channel: the routes' ids ("product_code" sent, or
# else the channel), built once per table.
_BY_CHANNEL: weakref.WeakKeyDictionary[MarketTable, dict[str, Market]] = weakref.WeakKeyDictionary()


def by_channel(table: MarketTable) -> dict[str, Market]:
    """The table's markets by id and by the name of their ticker channel."""
    found = _BY_CHANNEL.get(table)
    if found is None:
        found = {**table.by_id, **{CHANNEL + k: m for k, m in table.by_id.items()}}
        _BY_CHANNEL[table] = found
    return found


class Bitflyer(Codec):
    venue: ClassVar[str] = "bitflyer"
    WS_URL: ClassVar[str] = "wss://ws.lightstream.bitflyer.com/json-rpc"
    REST_URL: ClassVar[str] = "https://api.bitflyer.com"
    MARKETS_URL: ClassVar[str] = "https://api.bitflyer.com/v1/getmarkets"
    # No published limit of channels per connection; the venue lists a handful of products.
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 100
    # The published limit is 500 requests per 5 minutes per IP (1.67/s) for all calls.
    REST_RATE: ClassVar[float] = 1.0
    ROUTES: ClassVar[tuple[Route, ...]] = (  # parse_ws's ticker channelMessage, read in C
        Route(
            when={"method": "channelMessage", "params.channel": CHANNEL + "*"},
            items="params.message", market=("product_code", "$.params.channel"),
            lookup="by_channel",
            fields={"bid": "best_bid", "bid_size": "best_bid_size", "ask": "best_ask",
                    "ask_size": "best_ask_size", "last": "ltp", "volume": "volume_by_product",
                    "ts_event": TimeAt("timestamp", ISO)},
        ),
    )  # fmt: skip

    def __init__(self, table: MarketTable) -> None:
        super().__init__(table)
        self.by_channel = by_channel(table)

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        return [
            orjson.dumps(
                {
                    "jsonrpc": "2.0",
                    "method": "subscribe",
                    "params": {"channel": CHANNEL + m.native},
                    "id": i,
                }
            ).decode()
            for i, m in enumerate(markets, start=1)
        ]

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """{"jsonrpc":"2.0","method":"channelMessage","params":{"channel":
        "lightning_ticker_BTC_JPY","message":{"product_code":"BTC_JPY","state":"RUNNING",
        "timestamp":"2019-04-11T05:14:12.3739915Z","tick_id":25965446,"best_bid":580006,
        "best_ask":580771,"best_bid_size":2.00000013,"best_ask_size":0.4,"ltp":580790,
        "volume":6703.97,"volume_by_product":6703.97,...}}}
        Also the answers to our calls: {"jsonrpc":"2.0","id":1,"result":true} and
        {"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"..."}}.
        """
        msg = CALL(raw)
        if msg.method == "channelMessage":
            found = self.channel_ticker(msg.params)
            if found is None:
                return []
            m, t = found
            return [STREAM_TICKER.record(self.venue, m, t, ts_recv)]
        if msg.error is not msgspec.UNSET:  # a call of ours failed; the other channels go on
            err = msg.error
            text = err.get("message") if isinstance(err, dict) else err
            raise VenueNotice(f"subscription {msg.id} rejected: {text}")
        if msg.result is False:
            raise VenueNotice(f"subscription {msg.id} rejected")
        return []

    def channel_ticker(self, params: Params | None) -> tuple[Market, Tick] | None:
        """A channelMessage's market and ticker (spot's and the CFD's); None for another
        channel's message or a product not followed."""
        if params is None:
            raise ParseError("channelMessage without params")
        channel = params.channel
        if not isinstance(channel, str) or not channel.startswith(CHANNEL):
            return None  # executions, boards: not ours, and their messages are lists
        t = params.message
        if not isinstance(t, Tick):
            raise ParseError("ticker channelMessage without a message object")
        m = self.lookup(t.product_code or channel[len(CHANNEL) :])
        return None if m is None else (m, t)

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return per_market(markets, f"{base_url}/v1/getticker?product_code=")

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /v1/getticker?product_code=BTC_JPY: {"product_code":"BTC_JPY",
        "state":"RUNNING","timestamp":"2024-03-13T11:10:41.513","tick_id":40431851,
        "best_bid":11013000.0,"best_ask":11015000.0,"best_bid_size":0.0134,
        "best_ask_size":0.2,"total_bid_depth":512.95,"total_ask_depth":488.07,
        "market_bid_size":0.0,"market_ask_size":0.0,"ltp":11014000.0,
        "volume":8325.79,"volume_by_product":1923.11}
        timestamp is UTC without a zone; volume_by_product is this product's 24 h volume
        ("volume" also counts other products), so it is the base volume used here.
        """
        t = json_object(body)
        if "error_message" in t:
            raise VenueError(f"venue error {t.get('status')}: {t['error_message']}")
        if market is None:
            raise ParseError("a product ticker needs its market")
        code = t.get("product_code")
        if code is not None and code != market.native:
            raise ParseError(f"ticker of {code} answered for {market.native}")
        if "ltp" not in t and "best_bid" not in t:
            raise ParseError("ticker without prices")
        return [TICKER.record(self.venue, market, t, ts_recv)]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """GET /v1/getmarkets: [{"product_code":"BTC_JPY","market_type":"Spot"},
        {"product_code":"FX_BTC_JPY","market_type":"FX"},
        {"product_code":"BTCJPY11FEB2022","alias":"BTCJPY_MAT1WK","market_type":"Futures"}]"""
        return Codec.rows_at(json_body(body))

    @staticmethod
    def market_of(p: Any) -> Market | None:
        code = p["product_code"]
        if p.get("market_type", "Spot") != "Spot":
            return None
        parts = code.split("_")
        if len(parts) != 2:
            return None  # FX_BTC_JPY and futures lack a market_type in older answers
        base, quote_ = parts
        return pair_market(base, quote_, code, ids=(code,))
