"""KuCoin spot: REST polling of the all-tickers snapshot.

GET /api/v1/market/allTickers answers every spot market in one response (the venue
refreshes it every 2 s; public weight 15 out of 2000 per 30 s), with the best bid and ask
and their sizes, which the per-symbol /api/v1/market/stats lacks. Envelope:
{"code":"200000","data":...}; any other code is an error. Markets from /api/v2/symbols.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ..errors import ParseError, VenueError
from ..records import Ticker, ms_to_ns, num
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body

# ccxt's renames for KuCoin (those that are codes; its "FUD" rename is a phrase).
RENAMES = {"BIFI": "BIFIF", "VAI": "VAIOT", "WAX": "WAXP", "ALT": "APTOSLAUNCHTOKEN", "KALT": "ALT"}


def _code(c: str) -> str:
    return RENAMES.get(c.upper(), c)


def _minus(a: float | None, b: float | None) -> float | None:
    """a - b rounded to the decimals the venue used (67400 - 597.9 is 66802.1)."""
    if a is None or b is None:
        return None
    digits = max(_decimals(a), _decimals(b))
    return round(a - b, digits)


def _decimals(x: float) -> int:
    text = repr(x)
    return 0 if "e" in text or "." not in text else len(text) - text.index(".") - 1


class KuCoin(Codec):
    venue: ClassVar[str] = "kucoin"
    REST_URL: ClassVar[str] = "https://api.kucoin.com"
    MARKETS_URL: ClassVar[str] = "https://api.kucoin.com/api/v2/symbols"

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [RestRequest(f"{base_url}/api/v1/market/allTickers")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """allTickers: {"code":"200000","data":{"time":1709897710012,"ticker":[
        {"symbol":"BTC-USDT","symbolName":"BTC-USDT","buy":"67399.9","bestBidSize":"0.52",
         "sell":"67400","bestAskSize":"1.03","changeRate":"0.0089","changePrice":"597.9",
         "high":"67978.8","low":"66541.4","vol":"6442.17728633",
         "volValue":"433203364.463489651","last":"67400","averagePrice":"66654.25",...}]}}
        Also parsed: one market's /api/v1/market/stats, whose data is one such object
        (without the sizes) with its own "time". changePrice is last minus the price 24 h
        ago, so open is derived from it exactly.
        """
        doc = json_body(body)
        if not isinstance(doc, dict):
            raise ParseError("expected a JSON object")
        if doc.get("code") != "200000":
            raise VenueError(f"venue error {doc.get('code')}: {doc.get('msg')}")
        data = doc.get("data")
        if not isinstance(data, dict):
            raise ParseError("response without a data object")
        ts_event = ms_to_ns(data.get("time"))
        rows = data.get("ticker", [data])
        if not isinstance(rows, list):
            raise ParseError("expected a list of tickers")
        out = []
        for t in rows:
            if not isinstance(t, dict):
                raise ParseError("expected ticker objects")
            m = self.lookup(t.get("symbol", ""))
            if m is not None:
                out.append(self._ticker(t, m, ts_event, ts_recv))
        return out

    @staticmethod
    def _ticker(t: dict[str, Any], m: Market, ts_event: int | None, ts_recv: int) -> Ticker:
        last = num(t.get("last"))
        return Ticker(
            "kucoin",
            m.symbol,
            m.native,
            bid=num(t.get("buy")),
            bid_size=num(t.get("bestBidSize")),
            ask=num(t.get("sell")),
            ask_size=num(t.get("bestAskSize")),
            last=last,
            open=_minus(last, num(t.get("changePrice"))),
            high=num(t.get("high")),
            low=num(t.get("low")),
            volume=num(t.get("vol")),
            quote_volume=num(t.get("volValue")),
            ts_event=ts_event,
            ts_recv=ts_recv,
        )

    @staticmethod
    def parse_markets(body: bytes) -> list[Market]:
        """/api/v2/symbols: {"code":"200000","data":[{"symbol":"BTC-USDT","name":"BTC-USDT",
        "baseCurrency":"BTC","quoteCurrency":"USDT","market":"USDS","enableTrading":true,...}]}"""
        doc = json_body(body)
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
            raise ParseError("expected {code, data: [...]}")
        return [
            Market(
                unify(_code(s["baseCurrency"]), _code(s["quoteCurrency"])),
                s["symbol"],
                base_id=s["baseCurrency"],
                quote_id=s["quoteCurrency"],
            )
            for s in doc["data"]
            if s.get("enableTrading")
        ]
