"""BTCTurk: the public v2 REST ticker, polled for all pairs at once.

GET /api/v2/ticker answers every pair in one list (JSON numbers, not strings), with the
best bid and ask but not their sizes, 24 h high/low/open/volume and a millisecond
timestamp. Markets come from /api/v2/server/exchangeinfo (status "TRADING").
A price the venue reports as 0 (an "open" of 0 for a pair without a reference price) is
no price: it becomes null.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from ..errors import ParseError, VenueError
from ..records import Ticker, ms_to_ns
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body
from .schema import Num, Schema, Time


class Row(msgspec.Struct):
    pair: Any = ""  # looked up as sent
    bid: Num = None
    ask: Num = None
    last: Num = None
    open: Num = None
    high: Num = None
    low: Num = None
    volume: Num = None
    timestamp: Time = None  # ms


class Answer(msgspec.Struct):
    success: Any = None
    code: Any = None
    message: Any = None
    data: list[Row] | None = None


ANSWER = Schema(Answer)


def _price(f: float | None) -> float | None:
    """A price, or None where the venue sends nothing or 0 (what is not a number stays
    BAD, and a negative price stays, to be flagged)."""
    return None if f == 0 else f


class BTCTurk(Codec):
    venue: ClassVar[str] = "btcturk"
    REST_URL: ClassVar[str] = "https://api.btcturk.com"
    MARKETS_URL: ClassVar[str] = "https://api.btcturk.com/api/v2/server/exchangeinfo"
    REST_RATE: ClassVar[float] = 1.0  # one request per poll; the venue allows far more

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        if len(markets) == 1:
            return [RestRequest(f"{base_url}/api/v2/ticker?pairSymbol={markets[0].native}")]
        return [RestRequest(f"{base_url}/api/v2/ticker")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """{"data":[{"pair":"BTCUSDT","pairNormalized":"BTC_USDT","timestamp":1789410188498,
        "last":79152,"high":79165,"low":76386,"bid":79164,"ask":79185,"open":77356,
        "volume":11.32065888,"average":77879,"daily":1829,"dailyPercent":2.32,
        "denominatorSymbol":"USDT","numeratorSymbol":"BTC","order":2000}],
        "success":true,"message":null,"code":0}
        volume: base currency, 24 h. No quote volume, no sizes at the touch.
        """
        doc = ANSWER(body)
        if doc.success is False:
            raise VenueError(f"venue error {doc.code}: {doc.message}")
        if doc.data is None:
            raise ParseError("response without a data list")
        out = []
        lookup = self.lookup
        for t in doc.data:
            m = lookup(t.pair)
            if m is None:
                continue
            out.append(
                Ticker(
                    self.venue,
                    m.symbol,
                    m.native,
                    _price(t.bid),  # bid
                    None,  # bid_size
                    _price(t.ask),  # ask
                    None,  # ask_size
                    _price(t.last),  # last
                    _price(t.open),  # open
                    _price(t.high),  # high
                    _price(t.low),  # low
                    t.volume,  # volume
                    None,  # quote_volume
                    ms_to_ns(t.timestamp),
                    ts_recv,
                )
            )
        return out

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """exchangeinfo: {"data":{"timeZone":"UTC","serverTime":1789410188000,"symbols":[
        {"id":1,"name":"BTCTRY","nameNormalized":"BTC_TRY","status":"TRADING",
        "numerator":"BTC","denominator":"TRY",...}]},"success":true,...}"""
        return Codec.rows_at(json_body(body), "data", "symbols")

    @staticmethod
    def market_of(s: Any) -> Market | None:
        if s.get("status") != "TRADING":
            return None
        return Market(
            unify(s["numerator"], s["denominator"]),
            s["name"],
            (s["name"], s.get("nameNormalized") or s["name"]),
            base_id=s["numerator"],
            quote_id=s["denominator"],
        )
