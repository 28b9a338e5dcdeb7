"""Coinbase Advanced Trade: the public market-data WebSocket's ticker channel.

Messages carry a per-connection ``sequence_num``; a gap means frames were lost, and the
connection is renewed. The heartbeats channel keeps quiet connections open. A subscribe
message naming too many products (all ~900 at once, say) gets the socket closed; the venue
advises about 50 per message, so a connection's products go out in messages of at most
PRODUCTS_PER_SUBSCRIBE.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec
import orjson

from ..errors import ParseError, VenueError, VenueNotice
from ..records import Ticker, iso_to_ns, num
from ..symbols import Market, MarketTable, unify
from .base import Codec, RestRequest, SequenceCheck, json_body, per_market
from .fields import StructFields
from .routes import ISO, Route, TimeAt
from .schema import Num, Schema


class Tick(msgspec.Struct):
    """One market's ticker in a ticker event."""

    product_id: str = ""
    price: Num = None
    volume_24_h: Num = None
    low_24_h: Num = None
    high_24_h: Num = None
    best_bid: Num = None
    best_ask: Num = None
    best_bid_quantity: Num = None
    best_ask_quantity: Num = None


class Event(msgspec.Struct):
    tickers: list[Tick] | None = None


class Message(msgspec.Struct):
    """Every message: a channel's ({"channel", "timestamp", "sequence_num", "events"}) or
    an error ({"type": "error", "message"})."""

    channel: str | None = None
    timestamp: str | None = None  # RFC 3339, ns digits
    sequence_num: Any = None  # checked when it is an integer
    events: list[Event] | None = None
    type: str | None = None
    message: Any = None


class Numbered(msgspec.Struct):
    sequence_num: Any = None


MESSAGE = Schema(Message)
# A message of another shape still counts in the sequence: it was not lost.
SEQUENCE_OF = msgspec.json.Decoder(Numbered).decode


PRODUCTS_PER_SUBSCRIBE = 50


TICKER = StructFields(
    bid="best_bid", bid_size="best_bid_quantity", ask="best_ask", ask_size="best_ask_quantity",
    last="price", high="high_24_h", low="low_24_h", volume="volume_24_h",
)  # fmt: skip


class Coinbase(Codec):
    venue: ClassVar[str] = "coinbase"
    WS_URL: ClassVar[str] = "wss://advanced-trade-ws.coinbase.com"
    REST_URL: ClassVar[str] = "https://api.coinbase.com"
    MARKETS_URL: ClassVar[str] = "https://api.coinbase.com/api/v3/brokerage/market/products"
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 100
    REST_RATE: ClassVar[float] = 5.0
    ROUTES: ClassVar[tuple[Route, ...]] = (  # parse_ws's ticker channel, read in C
        Route(
            when={"channel": "ticker"}, items="events[].tickers[]", market="product_id",
            sequence=("sequence_num", "_seq"),
            fields={"bid": "best_bid", "bid_size": "best_bid_quantity", "ask": "best_ask",
                    "ask_size": "best_ask_quantity", "last": "price", "high": "high_24_h",
                    "low": "low_24_h", "volume": "volume_24_h",
                    "ts_event": TimeAt("$.timestamp", ISO)},
        ),
    )  # fmt: skip

    def __init__(self, table: MarketTable) -> None:
        super().__init__(table)
        self._seq = SequenceCheck()  # the sequence_num the next message must carry

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        ids = [m.native for m in markets]
        n = PRODUCTS_PER_SUBSCRIBE
        chunks = [ids[i : i + n] for i in range(0, len(ids), n)]
        return [
            *(
                orjson.dumps({"type": "subscribe", "product_ids": c, "channel": "ticker"}).decode()
                for c in chunks
            ),
            orjson.dumps({"type": "subscribe", "channel": "heartbeats"}).decode(),
        ]

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """{"channel":"ticker","timestamp":"2026-08-12T19:27:33.829058895Z","sequence_num":2,
        "events":[{"type":"update","tickers":[{"type":"ticker","product_id":"BTC-USD",
        "price":"63320.73","volume_24_h":"6629.93","low_24_h":"63235.88","high_24_h":"64416.3",
        "price_percent_chg_24_h":"0.038","best_bid":"63318.86","best_ask":"63318.87",
        "best_bid_quantity":"0.2275291","best_ask_quantity":"0.49990114"}]}]}
        Other channels: "subscriptions" (the ack), "heartbeats"; errors have "type":"error".
        """
        try:
            msg = MESSAGE(raw)
        except ParseError:
            try:
                numbered = SEQUENCE_OF(raw)
            except msgspec.DecodeError:
                raise ParseError("expected a JSON object") from None
            self._check(numbered.sequence_num)
            raise
        self._check(msg.sequence_num)
        channel = msg.channel
        if channel == "ticker":
            ts_event = iso_to_ns(msg.timestamp)
            lookup = self.lookup
            return [
                TICKER.record(self.venue, market, t, ts_recv, ts_event)
                for event in msg.events or ()
                for t in event.tickers or ()
                if (market := lookup(t.product_id)) is not None
            ]
        if channel in ("subscriptions", "heartbeats"):
            return []
        if msg.type == "error":
            raise VenueNotice(str(msg.message))
        return []

    def _check(self, seq: Any) -> None:
        if isinstance(seq, int):
            self._seq.check(seq)

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return per_market(
            markets, f"{base_url}/api/v3/brokerage/market/products/", "/ticker?limit=1"
        )

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """{"trades":[{"trade_id":"635541194","product_id":"BTC-USDC","price":"66363.03",
        "size":"0.0372","time":"2024-04-24T09:56:38.063595Z","side":"BUY"}],
        "best_bid":"66367.58","best_ask":"66367.59"}"""
        doc = json_body(body)
        if not isinstance(doc, dict):
            raise ParseError("expected a JSON object")
        if "error" in doc and "trades" not in doc:
            raise VenueError(f"venue error: {doc.get('error')}: {doc.get('message')}")
        if market is None:
            raise ParseError("a product ticker needs its market")
        if "trades" not in doc:
            raise ParseError("a product ticker without trades")
        trades = doc["trades"] or [{}]
        if not isinstance(trades, list) or not isinstance(trades[0], dict):
            raise ParseError("trades is not a list of objects")
        return [
            Ticker(
                self.venue,
                market.symbol,
                market.native,
                num(doc.get("best_bid")),  # bid
                None,  # bid_size
                num(doc.get("best_ask")),  # ask
                None,  # ask_size
                num(trades[0].get("price")),  # last
                None,  # open
                None,  # high
                None,  # low
                None,  # volume
                None,  # quote_volume
                iso_to_ns(trades[0].get("time")),  # ts_event
                ts_recv,
            )
        ]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """{"products":[{"product_id":"BTC-USD","base_currency_id":"BTC",
        "quote_currency_id":"USD","status":"online","product_type":"SPOT",...}]}"""
        return Codec.rows_at(json_body(body), "products")

    @staticmethod
    def market_of(p: Any) -> Market | None:
        if (
            p.get("product_type", "SPOT") != "SPOT"
            or p.get("status", "online") != "online"
            or p.get("trading_disabled")
        ):
            return None
        return Market(unify(p["base_currency_id"], p["quote_currency_id"]), p["product_id"])
