"""CoinSpot: the public v2 "latest prices" endpoint, all coins in one request.

GET /pubapi/v2/latest answers {"prices": {coin: {"bid","ask","last"}}} keyed by the
lowercase coin id, every price in AUD. Nothing else is sent: no sizes, no 24 h
statistics, no time. The same endpoint serves as the markets list (as in ccxt): each coin
is a COIN/AUD market. A key of the form "coin_market" (a non-AUD market, should the
venue list one there) is read as COIN/MARKET.
Errors: {"status":"error","message":"..."}.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from ..errors import ParseError, VenueError
from ..records import Ticker
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_object
from .fields import StructFields
from .schema import Num, Schema

QUOTE = "AUD"


class Prices(msgspec.Struct):
    bid: Num = None
    ask: Num = None
    last: Num = None


class Answer(msgspec.Struct):
    """Each coin's prices kept as sent, to be declared only for a coin followed: one not
    followed is not read at all (an object of it that is not one does not matter)."""

    status: Any = "ok"
    message: Any = None
    prices: dict[str, msgspec.Raw] | None = None  # anything else on the permissive path


ANSWER = Schema(Answer)
PRICES = Schema(Prices)


def _prices(body: bytes) -> dict[str, Any]:
    doc = json_object(body)
    if doc.get("status", "ok") != "ok":
        raise VenueError(f"venue error: {doc.get('message') or doc.get('status')}")
    prices = doc.get("prices")
    if not isinstance(prices, dict):
        raise ParseError("response without a prices object")
    return prices


TICKER = StructFields(bid="bid", ask="ask", last="last")


class CoinSpot(Codec):
    venue: ClassVar[str] = "coinspot"
    REST_URL: ClassVar[str] = "https://www.coinspot.com.au"
    MARKETS_URL: ClassVar[str] = "https://www.coinspot.com.au/pubapi/v2/latest"
    REST_RATE: ClassVar[float] = 1.0  # one request per poll: poll_interval sets the pace

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [RestRequest(f"{base_url}/pubapi/v2/latest")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """{"status":"ok","message":"ok","prices":{"btc":{"bid":"101250.01",
        "ask":"101480.5","last":"101301.27"},"eth":{"bid":"3870.12","ask":"3881.9",
        "last":"3875.5"}}}"""
        doc = ANSWER(body)
        if doc.status != "ok":
            raise VenueError(f"venue error: {doc.message or doc.status}")
        if not isinstance(doc.prices, dict):
            raise ParseError("response without a prices object")
        venue = self.venue
        return [TICKER.record(venue, m, t, ts_recv) for t, m in self.keyed_as(doc.prices, PRICES)]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """The latest prices (see parse_rest): one COIN/AUD market per key."""
        return list(_prices(body))

    @staticmethod
    def market_of(key: Any) -> Market | None:
        base, _, quote_ = key.partition("_")
        quote_ = quote_ or QUOTE
        return Market(unify(base, quote_), key, base_id=base, quote_id=quote_.lower())
