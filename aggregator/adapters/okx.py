"""OKX spot: the v5 public market API, polled.

REST: GET /api/v5/market/tickers?instType=SPOT returns every spot ticker in one response
(limit 20 requests per 2 s), so one request per poll covers all subscribed markets; the
single-instrument /api/v5/market/ticker answers in the same shape. Every response is
wrapped as {"code":"0","msg":"","data":[...]}; a non-zero code is the venue's error.
Markets: GET /api/v5/public/instruments?instType=SPOT, instruments in state "live".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ..errors import ParseError, VenueError
from ..records import Ticker, ms_to_ns, num
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body

# ccxt's renames for OKX currency codes (its commonCurrencies).
_RENAMES = {"AE": "AET", "WIN": "WINTOKEN"}


def _unwrap(body: bytes) -> list[Any]:
    doc = json_body(body)
    if not isinstance(doc, dict):
        raise ParseError("expected a JSON object")
    code = doc.get("code")
    if code is None:
        raise ParseError("response without a code")
    if str(code) != "0":
        raise VenueError(f"venue error {code}: {doc.get('msg')}")
    data = doc.get("data")
    if not isinstance(data, list):
        raise ParseError("response without a data list")
    return data


class OKX(Codec):
    venue: ClassVar[str] = "okx"
    REST_URL: ClassVar[str] = "https://www.okx.com"
    MARKETS_URL: ClassVar[str] = "https://www.okx.com/api/v5/public/instruments?instType=SPOT"
    REST_RATE: ClassVar[float] = 5.0  # one request per poll; the limit is 20 per 2 s

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [RestRequest(f"{base_url}/api/v5/market/tickers?instType=SPOT")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """{"code":"0","msg":"","data":[{"instType":"SPOT","instId":"BTC-USDT",
        "last":"73384.8","lastSz":"0.00007722","askPx":"73384.8","askSz":"0.40193728",
        "bidPx":"73384.7","bidSz":"0.0655768","open24h":"72166.8","high24h":"73625.6",
        "low24h":"68600","volCcy24h":"1519926359.597266598","vol24h":"21266.19145051",
        "ts":"1710328243709","sodUtc0":"71450","sodUtc8":"71702"}, ...]}
        For spot, vol24h is in the base currency and volCcy24h in the quote currency.
        """
        out = []
        for t in _unwrap(body):
            if not isinstance(t, dict):
                raise ParseError("expected ticker objects")
            m = self.lookup(t.get("instId", ""))
            if m is None:
                continue
            out.append(
                Ticker(
                    "okx",
                    m.symbol,
                    m.native,
                    bid=num(t.get("bidPx")),
                    bid_size=num(t.get("bidSz")),
                    ask=num(t.get("askPx")),
                    ask_size=num(t.get("askSz")),
                    last=num(t.get("last")),
                    open=num(t.get("open24h")),
                    high=num(t.get("high24h")),
                    low=num(t.get("low24h")),
                    volume=num(t.get("vol24h")),
                    quote_volume=num(t.get("volCcy24h")),
                    ts_event=ms_to_ns(t.get("ts")),
                    ts_recv=ts_recv,
                )
            )
        return out

    @staticmethod
    def parse_markets(body: bytes) -> list[Market]:
        """{"code":"0","msg":"","data":[{"instType":"SPOT","instId":"BTC-USDT",
        "baseCcy":"BTC","quoteCcy":"USDT","state":"live","tickSz":"0.1",...}]}"""
        out = []
        for p in _unwrap(body):
            if p.get("instType", "SPOT") != "SPOT" or p.get("state") != "live":
                continue
            base, quote = p["baseCcy"], p["quoteCcy"]
            symbol = unify(_RENAMES.get(base, base), _RENAMES.get(quote, quote))
            out.append(Market(symbol, p["instId"], base_id=base, quote_id=quote))
        return out
