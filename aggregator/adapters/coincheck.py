"""Coincheck: the public REST ticker, polled pair by pair.

GET /api/ticker?pair=btc_jpy answers one pair (without ``pair``, btc_jpy); there is no
all-pairs ticker. The body does not name its pair, so every request carries its market.
Markets come from GET /api/exchange_status ("available" and "itayose" pairs; "stop" ones
are skipped). The venue publishes no limit for its public API; ccxt spaces calls 1.5 s
apart and the private API allows at most one order-detail call a second, so requests
are spaced one second apart here.

ccxt 4.5.90 accepts only BTC/JPY in fetchTicker. The venue's documentation gives the
ticker a ``pair`` parameter, and an unknown pair answers 404 rather than the BTC/JPY
ticker, so every listed pair is polled; BTC/JPY is the one checked against a fixture.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from ..errors import ParseError, VenueError
from ..records import Ticker, seconds_to_ns
from ..symbols import Market
from .base import Codec, RestRequest, json_body, json_object, pair_market, per_market
from .fields import StructFields
from .schema import Num, Schema, Time

TRADING = ("available", "itayose")


class Answer(msgspec.Struct):
    """One pair's ticker, or an error ({"success":false,"error":"..."})."""

    last: Num = None
    bid: Num = None
    ask: Num = None
    high: Num = None
    low: Num = None
    volume: Num = None
    timestamp: Time | msgspec.UnsetType = msgspec.UNSET  # s; a ticker always has it
    success: Any = None
    error: Any = msgspec.UNSET


ANSWER = Schema(Answer)


TICKER = StructFields(
    bid="bid", ask="ask", last="last", high="high", low="low", volume="volume",
    ts_event=("timestamp", seconds_to_ns),
)  # fmt: skip


class Coincheck(Codec):
    venue: ClassVar[str] = "coincheck"
    REST_URL: ClassVar[str] = "https://coincheck.com"
    MARKETS_URL: ClassVar[str] = "https://coincheck.com/api/exchange_status"
    REST_RATE: ClassVar[float] = 1.0  # no public limit published; see the module docstring

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return per_market(markets, f"{base_url}/api/ticker?pair=")

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /api/ticker?pair=btc_jpy: {"last":10012345.0,"bid":10011000.0,
        "ask":10013579.0,"high":10250000.0,"low":9866000.0,"volume":1234.56789012,
        "timestamp":1713772800}
        volume: base, 24 h; timestamp: seconds. Errors: {"success":false,"error":"..."}.
        """
        t = ANSWER(body)
        error = t.error
        if error is not msgspec.UNSET:  # an error, unless it came with a ticker
            if t.success is False or "last" not in json_object(body):
                raise VenueError(f"venue error: {error}")
        elif t.success is False:
            raise VenueError("venue error: None")
        if market is None:
            raise ParseError("a coincheck ticker needs its market")
        if t.timestamp is msgspec.UNSET:
            raise ParseError("ticker without a timestamp")
        return [TICKER.record(self.venue, market, t, ts_recv)]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """exchange_status: {"exchange_status":[{"pair":"btc_jpy","status":"available",
        "timestamp":1713772800,"availability":{"order":true,"market_order":true,
        "cancel":true}}, ...]}"""
        return Codec.rows_at(json_body(body), "exchange_status")

    @staticmethod
    def market_of(s: Any) -> Market | None:
        if s.get("status") not in TRADING:
            return None
        pair: str = s["pair"]
        base, quote_ = pair.split("_")
        return pair_market(base, quote_, pair)
