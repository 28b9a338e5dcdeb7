"""INDODAX: REST polling of the tickers of every market at once.

GET /api/ticker_all answers every pair in one response, keyed by ticker id ("btc_idr").
A ticker has the best bid ("buy") and ask ("sell") without sizes, last, 24 h high and low,
and both 24 h volumes under keys named after the currencies ("vol_btc", "vol_idr");
server_time is in seconds. No open. Public limit: 180 requests a minute. Errors:
{"error":"invalid_pair","error_description":"Invalid Pair"}. Markets from /api/pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ..errors import ParseError, VenueError
from ..records import Ticker, num, seconds_to_ns
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body, json_object


class Indodax(Codec):
    venue: ClassVar[str] = "indodax"
    RENAMES: ClassVar[dict[str, str]] = {"STR": "XLM", "NEM": "XEM"}  # ccxt's renames
    REST_URL: ClassVar[str] = "https://indodax.com"
    MARKETS_URL: ClassVar[str] = "https://indodax.com/api/pairs"

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        if len(markets) == 1:  # one market: its own, lighter endpoint
            m = markets[0]
            return [RestRequest(f"{base_url}/api/ticker/{m.native.replace('_', '')}", market=m)]
        return [RestRequest(f"{base_url}/api/ticker_all")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """{"tickers":{"btc_idr":{"high":"1195000000","low":"1160000000",
        "vol_btc":"93.76384611","vol_idr":"110466291815","last":"1177000000",
        "buy":"1176999000","sell":"1177000000","server_time":1710328244,"name":"Bitcoin"}}}
        Also parsed: one pair's /api/ticker/btcusdt, {"ticker":{...}} naming no pair, so
        its market comes with the request.
        """
        doc = json_object(body)
        if "error" in doc:
            raise VenueError(f"venue error {doc['error']}: {doc.get('error_description')}")
        if "ticker" in doc:
            if market is None:
                raise ParseError("a single ticker needs its market")
            return [self._ticker(doc["ticker"], market, ts_recv)]
        tickers = doc.get("tickers")
        if not isinstance(tickers, dict):
            raise ParseError("response without a tickers object")
        out = []
        for key, t in tickers.items():
            m = self.lookup(key)
            if m is not None:
                out.append(self._ticker(t, m, ts_recv))
        return out

    def _ticker(self, t: Any, m: Market, ts_recv: int) -> Ticker:
        if not isinstance(t, dict):
            raise ParseError(f"ticker of {m.native} is not an object")
        return Ticker(
            self.venue,
            m.symbol,
            m.native,
            bid=num(t.get("buy")),
            ask=num(t.get("sell")),
            last=num(t.get("last")),
            high=num(t.get("high")),
            low=num(t.get("low")),
            volume=num(t.get(f"vol_{m.base_id.lower()}")),
            quote_volume=num(t.get(f"vol_{m.quote_id.lower()}")),
            ts_event=seconds_to_ns(t.get("server_time")),
            ts_recv=ts_recv,
        )

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """/api/pairs: [{"id":"btcidr","symbol":"BTCIDR","base_currency":"idr",
        "traded_currency":"btc","ticker_id":"btc_idr","is_maintenance":0,...}]
        (base_currency is the quote currency)"""
        return Codec.rows_at(json_body(body))

    @classmethod
    def market_of(cls, p: Any) -> Market | None:
        if p.get("is_maintenance"):
            return None
        return Market(
            unify(p["traded_currency"], p["base_currency"], renames=cls.RENAMES),
            p["ticker_id"],
            ids=(p["id"],),
            base_id=p["traded_currency"],
            quote_id=p["base_currency"],
        )
