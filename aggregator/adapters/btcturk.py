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

from ..errors import ParseError, VenueError
from ..records import Ticker, ms_to_ns, num
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body, json_object


def _price(value: Any) -> float | None:
    """A price, or None where the venue sends nothing or 0 (what is not a number stays
    BAD, and a negative price stays, to be flagged)."""
    f = num(value)
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
        doc = json_object(body)
        if doc.get("success") is False:
            raise VenueError(f"venue error {doc.get('code')}: {doc.get('message')}")
        data = doc.get("data")
        if not isinstance(data, list):
            raise ParseError("response without a data list")
        out = []
        for t, m in self.followed(data, "pair"):
            out.append(
                Ticker(
                    self.venue,
                    m.symbol,
                    m.native,
                    bid=_price(t.get("bid")),
                    ask=_price(t.get("ask")),
                    last=_price(t.get("last")),
                    open=_price(t.get("open")),
                    high=_price(t.get("high")),
                    low=_price(t.get("low")),
                    volume=num(t.get("volume")),
                    ts_event=ms_to_ns(t.get("timestamp")),
                    ts_recv=ts_recv,
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
