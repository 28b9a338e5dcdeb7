"""Coinbase Exchange (formerly Coinbase Pro): the public feed's ticker channel.

The ticker channel sends one message per trade with the best bid and ask after it; the
heartbeat channel is subscribed as well, so the connection shows life between trades.
REST has no all-products ticker: products are polled one by one within the public limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec
import orjson

from ..errors import ParseError, VenueError, VenueNotice
from ..records import Ticker, iso_to_ns
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body, json_object, per_market
from .fields import StructFields, TickerFields
from .routes import ISO, Quiet, Route, TimeAt
from .schema import Num, Schema

REST_TICKER = TickerFields(
    bid="bid", ask="ask", last="price", volume="volume", ts_event=("time", iso_to_ns)
)


class Message(msgspec.Struct):
    """A feed message: a ticker, or the ack, a heartbeat or an error (type and text)."""

    type: Any = None
    product_id: Any = ""
    price: Num = None
    open_24h: Num = None
    high_24h: Num = None
    low_24h: Num = None
    volume_24h: Num = None
    best_bid: Num = None
    best_bid_size: Num = None
    best_ask: Num = None
    best_ask_size: Num = None
    time: Any = None  # RFC 3339, read by iso_to_ns as sent
    message: Any = None
    reason: Any = None


MESSAGE = Schema(Message)


TICKER = StructFields(
    bid="best_bid", bid_size="best_bid_size", ask="best_ask", ask_size="best_ask_size",
    last="price", open="open_24h", high="high_24h", low="low_24h", volume="volume_24h",
    ts_event=("time", iso_to_ns),
)  # fmt: skip


class CoinbaseExchange(Codec):
    venue: ClassVar[str] = "coinbaseexchange"
    WS_URL: ClassVar[str] = "wss://ws-feed.exchange.coinbase.com"
    REST_URL: ClassVar[str] = "https://api.exchange.coinbase.com"
    MARKETS_URL: ClassVar[str] = "https://api.exchange.coinbase.com/products"
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 100
    REST_RATE: ClassVar[float] = 5.0  # public endpoints allow 10 per second
    ROUTES: ClassVar[tuple[Route, ...]] = (  # parse_ws's ticker channel, read in C
        Route(
            when={"type": "ticker"}, market="product_id",
            fields={"bid": "best_bid", "bid_size": "best_bid_size", "ask": "best_ask",
                    "ask_size": "best_ask_size", "last": "price", "open": "open_24h",
                    "high": "high_24h", "low": "low_24h", "volume": "volume_24h",
                    "ts_event": TimeAt("time", ISO)},
        ),
        # a heartbeat a second for each product: nothing to make
        Quiet({"type": "heartbeat"}, keys=("sequence", "last_trade_id", "product_id", "time")),
    )  # fmt: skip

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        ids = [m.native for m in markets]
        return [
            orjson.dumps(
                {"type": "subscribe", "product_ids": ids, "channels": ["ticker", "heartbeat"]}
            ).decode()
        ]

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """{"type":"ticker","sequence":37475248783,"product_id":"ETH-USD","price":"1285.22",
        "open_24h":"1310.79","volume_24h":"245532.79","low_24h":"1280.52","high_24h":"1313.8",
        "volume_30d":"9788783.6","best_bid":"1285.04","best_bid_size":"0.46688654",
        "best_ask":"1285.27","best_ask_size":"1.5663704","side":"buy",
        "time":"2022-10-19T23:28:22.061769Z","trade_id":370843401,"last_size":"11.44"}
        Also "subscriptions" (the ack), "heartbeat" and "error" messages.
        """
        msg = MESSAGE(raw)
        kind = msg.type
        if kind == "ticker":
            m = self.lookup(msg.product_id)
            if m is None:
                return []
            return [TICKER.record(self.venue, m, msg, ts_recv)]
        if kind in ("heartbeat", "subscriptions"):
            return []
        if kind == "error":
            raise VenueNotice(f"{msg.message}: {msg.reason}")
        if kind is None:
            raise ParseError("message without a type")
        return []

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return per_market(markets, f"{base_url}/products/", "/ticker")

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /products/BTC-USD/ticker: {"ask":"73369.19","bid":"73360.34",
        "volume":"1207.5","trade_id":"18502105","price":"73367.8","size":"0.0073",
        "time":"2024-03-13T11:10:41.270099Z"}"""
        t = json_object(body)
        if "message" in t and "price" not in t:
            raise VenueError(f"venue error: {t['message']}")
        if "price" not in t and "bid" not in t:
            raise ParseError("a product ticker without price, bid or ask")
        if market is None:
            raise ParseError("a product ticker needs its market")
        return [REST_TICKER.record(self.venue, market, t, ts_recv)]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """GET /products: [{"id":"BTC-USD","base_currency":"BTC","quote_currency":"USD",
        "status":"online","trading_disabled":false,...}]"""
        return Codec.rows_at(json_body(body))

    @staticmethod
    def market_of(p: Any) -> Market | None:
        if p.get("status", "online") != "online" or p.get("trading_disabled"):
            return None
        return Market(unify(p["base_currency"], p["quote_currency"]), p["id"])
