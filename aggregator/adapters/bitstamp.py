"""Bitstamp: the public HTTP API v2 tickers, all pairs in one request.

``GET /api/v2/ticker/`` answers a list with one ticker per market, named by ``pair``
("BTC/USD"); ``GET /api/v2/ticker/btcusd/`` answers the same object for one market
without ``pair`` (both are parsed). A ticker has the best bid and ask (no sizes), the last
price, 24 h high/low/volume/vwap and ``open_24``, the price 24 h ago, which is the open
used here (``open`` is the first price of the UTC day). Quote volume is vwap x volume.
Markets come from ``GET /api/v2/markets/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ..errors import ParseError, VenueError
from ..records import Ticker, num
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body


class Bitstamp(Codec):
    venue: ClassVar[str] = "bitstamp"
    REST_URL: ClassVar[str] = "https://www.bitstamp.net"
    MARKETS_URL: ClassVar[str] = "https://www.bitstamp.net/api/v2/markets/"
    # Published default limit: 400 requests per second, 10,000 per 10 minutes.
    REST_RATE: ClassVar[float] = 5.0

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        if len(markets) == 1:  # one market: its own, lighter endpoint
            m = markets[0]
            return [RestRequest(f"{base_url}/api/v2/ticker/{m.native}/", market=m)]
        return [RestRequest(f"{base_url}/api/v2/ticker/")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /api/v2/ticker/: [{"timestamp":"1710328241","open":"71448","high":"73656",
        "low":"68626","last":"73285","volume":"135.29692054","vwap":"70853",
        "bid":"73353","ask":"73367","side":"0","open_24":"72144",
        "percent_change_24":"1.58","pair":"BTC/USDT"}]
        timestamp is in seconds. Errors: {"status":"error","reason":"..."} or
        {"response_code":"400.002","response_explanation":"..."}.
        """
        data = json_body(body)
        if isinstance(data, dict):
            if data.get("status") == "error" or "response_code" in data or "errors" in data:
                why = data.get("reason") or data.get("response_explanation") or data
                code = data.get("response_code") or data.get("code")
                raise VenueError(f"venue error {code}: {why}" if code else f"venue error: {why}")
            if "last" not in data and "bid" not in data:
                raise ParseError("expected a ticker")
            m = self.lookup(data["pair"]) if "pair" in data else market
            if m is None:
                if "pair" in data:
                    return []
                raise ParseError("a pair ticker needs its market")
            return [_ticker(m, data, ts_recv)]
        if not isinstance(data, list):
            raise ParseError("expected a list of tickers")
        out = []
        for t in data:
            if not isinstance(t, dict):
                raise ParseError("expected ticker objects")
            m = self.lookup(t.get("pair", ""))
            if m is not None:
                out.append(_ticker(m, t, ts_recv))
        return out

    @staticmethod
    def parse_markets(body: bytes) -> list[Market]:
        """GET /api/v2/markets/: [{"name":"BTC/USD","market_symbol":"btcusd",
        "base_currency":"BTC","base_decimals":8,"counter_currency":"USD",
        "counter_decimals":0,"minimum_order_value":"10","trading":"Enabled",
        "instant_order_counter_decimals":2,"instant_and_market_orders":"Enabled",
        "description":"Bitcoin / U.S. dollar","market_type":"SPOT"}]"""
        data = json_body(body)
        if not isinstance(data, list):
            raise ParseError("expected a list of markets")
        out = []
        for p in data:
            if p.get("trading") != "Enabled" or p.get("market_type", "SPOT") != "SPOT":
                continue
            name = p["name"]
            base, quote_ = p.get("base_currency"), p.get("counter_currency")
            if not base or not quote_:
                base, _, quote_ = name.partition("/")
            sym = p.get("market_symbol") or p["url_symbol"]
            out.append(Market(unify(base, quote_), sym, (sym, name), base, quote_))
        return out


def _ticker(m: Market, t: dict[str, Any], ts_recv: int) -> Ticker:
    volume = num(t.get("volume"))
    vwap = num(t.get("vwap"))
    secs = num(t.get("timestamp"))
    return Ticker(
        "bitstamp",
        m.symbol,
        m.native,
        bid=num(t.get("bid")),
        ask=num(t.get("ask")),
        last=num(t.get("last")),
        open=num(t.get("open_24")),
        high=num(t.get("high")),
        low=num(t.get("low")),
        volume=volume,
        quote_volume=None if vwap is None or volume is None else vwap * volume,
        ts_event=None if secs is None else int(secs) * 1_000_000_000,
        ts_recv=ts_recv,
    )
