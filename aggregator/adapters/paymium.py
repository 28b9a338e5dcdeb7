"""Paymium (France) spot: the public data API v1, polled.

Paymium trades bitcoin against the euro only. REST: GET /api/v1/data/{currency}/ticker
per market (no all-markets endpoint; one market today), within the public limit of
86,400 calls a day per IP (1 per second on average). The ticker has no sizes at the top
of the book; its quote volume is the volume times the 24 h VWAP, exact by definition.
There is no markets endpoint either: the ticker names its quote currency, so the EUR
ticker is the markets source (BTC/<currency>, id = the currency in lower case).
Errors come as {"errors":["..."]}.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from ..errors import ParseError, VenueError
from ..records import Ticker, seconds_to_ns
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_object, per_market
from .fields import StructFields
from .schema import Num, Schema, Time


class Quote(msgspec.Struct):
    """The ticker of the BTC market in one currency: price the last trade's, volume the
    24 h volume in BTC, vwap its average price (times the volume: the quote volume)."""

    bid: Num = None
    ask: Num = None
    price: Num = None
    open: Num = None
    high: Num = None
    low: Num = None
    volume: Num = None
    vwap: Num = None
    at: Time = None  # s
    currency: Any = ""
    errors: Any = None


QUOTE = Schema(Quote)


def _object(body: bytes) -> dict[str, Any]:
    doc = json_object(body)
    if doc.get("errors"):
        raise VenueError(f"venue error: {doc['errors']}")
    if "price" not in doc and "bid" not in doc:
        raise ParseError("expected a ticker object")
    return doc


TICKER = StructFields(
    bid="bid", ask="ask", last="price", open="open", high="high", low="low", volume="volume",
    vwap="vwap", ts_event=("at", seconds_to_ns),
)  # fmt: skip


class Paymium(Codec):
    venue: ClassVar[str] = "paymium"
    REST_URL: ClassVar[str] = "https://paymium.com"
    MARKETS_URL: ClassVar[str] = "https://paymium.com/api/v1/data/eur/ticker"
    REST_RATE: ClassVar[float] = 0.5  # 86,400 calls a day per IP: 1 per second on average

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return per_market(markets, f"{base_url}/api/v1/data/", "/ticker")

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /api/v1/data/eur/ticker: {"high":"67250.0","low":"64810.02",
        "volume":"12.48712044","bid":"66901.0","ask":"67019.99","midpoint":"66960.495",
        "vwap":"66182.40212543","at":1710328242,"price":"66950.0","open":"65300.0",
        "variation":"2.5268","currency":"EUR","trade_id":"4c7cbd0e-...","size":"0.0151"}
        price is the last trade's, volume the 24 h volume in BTC, at in seconds.
        """
        t = QUOTE(body)
        if t.errors:
            raise VenueError(f"venue error: {t.errors}")
        if t.price is None and t.bid is None and not {"price", "bid"} & json_object(body).keys():
            raise ParseError("expected a ticker object")
        m = market or self.lookup(str(t.currency).lower())
        if m is None:
            return []
        return [TICKER.record(self.venue, m, t, ts_recv)]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """The ticker (see parse_rest): its "currency" is the quote of the BTC market."""
        return [_object(body)]

    @staticmethod
    def market_of(t: Any) -> Market | None:
        currency = t["currency"]
        if not isinstance(currency, str) or not currency:
            raise ParseError("ticker without a currency")
        return Market(
            unify("BTC", currency), currency.lower(), base_id="btc", quote_id=currency.lower()
        )
