"""Luno: REST polling of the tickers of every market at once.

GET /api/1/tickers answers every market in one response: best bid and ask (no sizes), last
trade price and the rolling 24 h volume in the base currency; no high, low, open or quote
volume. Luno calls bitcoin XBT ("XBTZAR"); our symbols say BTC. Errors come as
{"error":"...","error_code":"ErrInvalidMarketPair",...}. Markets from
/api/exchange/1/markets (trading_status ACTIVE or POST_ONLY count as trading).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ..errors import ParseError, VenueError
from ..records import Ticker, ms_to_ns, num
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body

TRADING = ("ACTIVE", "POST_ONLY")


class Luno(Codec):
    venue: ClassVar[str] = "luno"
    REST_URL: ClassVar[str] = "https://api.luno.com"
    MARKETS_URL: ClassVar[str] = "https://api.luno.com/api/exchange/1/markets"

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [RestRequest(f"{base_url}/api/1/tickers")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """{"tickers":[{"pair":"XBTZAR","timestamp":1710328244969,"bid":"1374000.00",
        "ask":"1374999.00","last_trade":"1374998.00","rolling_24_hour_volume":"59.3711",
        "status":"ACTIVE"}]}
        Also parsed: one pair's /api/1/ticker?pair=XBTUSDT, the same object on its own.
        """
        doc = json_body(body)
        if not isinstance(doc, dict):
            raise ParseError("expected a JSON object")
        if "error" in doc or "error_code" in doc:
            raise VenueError(f"venue error {doc.get('error_code')}: {doc.get('error')}")
        rows = doc.get("tickers", [doc])
        if not isinstance(rows, list):
            raise ParseError("expected a list of tickers")
        out = []
        for t in rows:
            if not isinstance(t, dict):
                raise ParseError("expected ticker objects")
            if "pair" not in t:
                raise ParseError("ticker without a pair")
            m = self.lookup(t["pair"])
            if m is not None:
                out.append(self._ticker(t, m, ts_recv))
        return out

    @staticmethod
    def _ticker(t: dict[str, Any], m: Market, ts_recv: int) -> Ticker:
        return Ticker(
            "luno",
            m.symbol,
            m.native,
            bid=num(t.get("bid")),
            ask=num(t.get("ask")),
            last=num(t.get("last_trade")),
            volume=num(t.get("rolling_24_hour_volume")),
            ts_event=ms_to_ns(t.get("timestamp")),
            ts_recv=ts_recv,
        )

    @staticmethod
    def parse_markets(body: bytes) -> list[Market]:
        """{"markets":[{"market_id":"XBTZAR","trading_status":"ACTIVE",
        "base_currency":"XBT","counter_currency":"ZAR","min_volume":"0.0005",...}]}"""
        doc = json_body(body)
        if not isinstance(doc, dict) or not isinstance(doc.get("markets"), list):
            raise ParseError("expected {markets: [...]}")
        return [
            Market(
                unify(p["base_currency"], p["counter_currency"]),
                p["market_id"],
                base_id=p["base_currency"],
                quote_id=p["counter_currency"],
            )
            for p in doc["markets"]
            if p.get("trading_status") in TRADING
        ]
