"""WhiteBIT spot: the public HTTP API, polled.

REST: GET /api/v1/public/tickers returns every market's ticker (best bid and ask, 24 h
high, low, last, base and quote volume, and the time) in one response, limit 1000
requests per 10 s. It has no open price (only the change in percent, from which the open
is not exact); the v4 /api/v4/public/ticker has no bid, ask, high or low, and the
single-market /api/v1/public/ticker?market= (which does send the open) would cost one
request per market, so the v1 all-tickers endpoint is polled. Both v1 shapes are parsed.
Markets: GET /api/v4/public/markets, spot markets with trading enabled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ..errors import ParseError, VenueError
from ..records import Ticker, num
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body


def _s_to_ns(value: Any) -> int | None:
    """Seconds since the epoch to integer nanoseconds."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return int(value) * 1_000_000_000
    except ValueError:
        return None


class WhiteBIT(Codec):
    venue: ClassVar[str] = "whitebit"
    REST_URL: ClassVar[str] = "https://whitebit.com"
    MARKETS_URL: ClassVar[str] = "https://whitebit.com/api/v4/public/markets"
    REST_RATE: ClassVar[float] = 5.0  # one request per poll; the limit is 100 per second

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        if len(markets) == 1:  # one market: its own endpoint, which also sends the open
            m = markets[0]
            return [RestRequest(f"{base_url}/api/v1/public/ticker?market={m.native}", market=m)]
        return [RestRequest(f"{base_url}/api/v1/public/tickers")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """All markets: {"success":true,"message":null,"result":{"BTC_USDT":{
        "ticker":{"bid":"73368.43","ask":"73371.13","low":"68701.12","high":"73636.72",
        "last":"73363.07","vol":"17340.923796","deal":"1237525361.99814163",
        "change":"1.66"},"at":1710328244}, ...}}
        One market (/api/v1/public/ticker?market=BTC_USDT): {"success":true,"message":null,
        "result":{"open":"72165.04","bid":"73368.43","ask":"73371.13","low":"68701.12",
        "high":"73636.72","last":"73363.07","volume":"17340.923796",
        "deal":"1237525361.99814163","change":"1.66"}}
        vol/volume is in the base currency, deal in the quote currency; at in seconds.
        """
        doc = json_body(body)
        if not isinstance(doc, dict):
            raise ParseError("expected a JSON object")
        if doc.get("success") is False:
            raise VenueError(f"venue error: {doc.get('message')}")
        result = doc.get("result")
        if not isinstance(result, dict):
            raise ParseError("response without a result object")
        if "last" in result:  # one market's ticker, which does not name its market
            if market is None:
                raise ParseError("a single-market ticker needs its market")
            return [self._ticker(market, result, None, ts_recv)]
        out = []
        for key, entry in result.items():
            m = self.lookup(key)
            if m is None:
                continue
            if not isinstance(entry, dict) or not isinstance(entry.get("ticker"), dict):
                raise ParseError(f"ticker of {key} is not an object")
            out.append(self._ticker(m, entry["ticker"], _s_to_ns(entry.get("at")), ts_recv))
        return out

    @staticmethod
    def _ticker(m: Market, t: dict[str, Any], ts_event: int | None, ts_recv: int) -> Ticker:
        return Ticker(
            "whitebit",
            m.symbol,
            m.native,
            bid=num(t.get("bid")),
            ask=num(t.get("ask")),
            last=num(t.get("last")),
            open=num(t.get("open")),
            high=num(t.get("high")),
            low=num(t.get("low")),
            volume=num(t.get("vol", t.get("volume"))),
            quote_volume=num(t.get("deal")),
            ts_event=ts_event,
            ts_recv=ts_recv,
        )

    @staticmethod
    def parse_markets(body: bytes) -> list[Market]:
        """[{"name":"BTC_USDT","stock":"BTC","money":"USDT","stockPrec":"6",
        "moneyPrec":"2","tradesEnabled":true,"isCollateral":true,"type":"spot",...}]"""
        data = json_body(body)
        if not isinstance(data, list):
            raise ParseError("expected a list of markets")
        return [
            Market(
                unify(p["stock"], p["money"]), p["name"], base_id=p["stock"], quote_id=p["money"]
            )
            for p in data
            if p.get("type", "spot") == "spot" and p.get("tradesEnabled") is True
        ]
