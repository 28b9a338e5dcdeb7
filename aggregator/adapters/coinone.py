"""Coinone: the public v2 REST tickers, all pairs of a quote currency in one request.

GET /public/v2/ticker_new/{quote} answers every pair quoted in that currency (KRW is the
venue's market), with the best bid and ask and their sizes, 24 h high/low/first/last, base
and quote volume and a millisecond timestamp. One request per quote currency in use.
Markets come from the same endpoint for KRW (as ccxt does): a pair with a ticker trades.
The public API allows 300 requests a minute, and more than 5 in a second blocks the IP
for 10 minutes; errors come with HTTP 200 as {"result":"error","error_code":"..."}.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import quote

from ..errors import ParseError, VenueError
from ..records import Ticker, ms_to_ns, num
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body


def _top(levels: Any, key: str) -> float | None:
    """Price or qty of the first level of best_bids/best_asks (empty when no orders)."""
    if isinstance(levels, list) and levels and isinstance(levels[0], dict):
        return num(levels[0].get(key))
    return None


def _id(target: str, quote_: str) -> str:
    return f"{target.upper()}-{quote_.upper()}"


class Coinone(Codec):
    venue: ClassVar[str] = "coinone"
    REST_URL: ClassVar[str] = "https://api.coinone.co.kr"
    MARKETS_URL: ClassVar[str] = "https://api.coinone.co.kr/public/v2/ticker_new/KRW"
    REST_RATE: ClassVar[float] = 2.0  # 300 a minute; over 5 a second blocks for 10 minutes

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        quotes = sorted({m.quote_id for m in markets})
        return [RestRequest(f"{base_url}/public/v2/ticker_new/{quote(q, safe='')}") for q in quotes]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """{"result":"success","error_code":"0","server_time":1701073358487,"tickers":[
        {"quote_currency":"KRW","target_currency":"BTC","timestamp":1701073357818,
        "high":"50543000.0","low":"49945000.0","first":"50487000.0","last":"50062000.0",
        "quote_volume":"11349804285.3859","target_volume":"226.07268994",
        "best_asks":[{"price":"50081000.0","qty":"0.18471358"}],
        "best_bids":[{"price":"50062000.0","qty":"0.04213455"}],"id":"1701073357818001"}]}
        high/low/first/last, volumes: last 24 h; quote_volume in the quote currency.
        """
        doc = json_body(body)
        if not isinstance(doc, dict):
            raise ParseError("expected a JSON object")
        if doc.get("result") == "error" or doc.get("error_code", "0") not in ("0", 0):
            raise VenueError(f"venue error {doc.get('error_code')}: {doc.get('error_msg')}")
        tickers = doc.get("tickers")
        if not isinstance(tickers, list):
            raise ParseError("response without a tickers list")
        out = []
        for t in tickers:
            if not isinstance(t, dict):
                raise ParseError("expected ticker objects")
            m = self.lookup(_id(str(t.get("target_currency")), str(t.get("quote_currency"))))
            if m is None:
                continue
            out.append(
                Ticker(
                    "coinone",
                    m.symbol,
                    m.native,
                    bid=_top(t.get("best_bids"), "price"),
                    bid_size=_top(t.get("best_bids"), "qty"),
                    ask=_top(t.get("best_asks"), "price"),
                    ask_size=_top(t.get("best_asks"), "qty"),
                    last=num(t.get("last")),
                    open=num(t.get("first")),
                    high=num(t.get("high")),
                    low=num(t.get("low")),
                    volume=num(t.get("target_volume")),
                    quote_volume=num(t.get("quote_volume")),
                    ts_event=ms_to_ns(t.get("timestamp")),
                    ts_recv=ts_recv,
                )
            )
        return out

    @staticmethod
    def parse_markets(body: bytes) -> list[Market]:
        """ticker_new/KRW (see parse_rest): one market per ticker; id "BTC-KRW"."""
        doc = json_body(body)
        if not isinstance(doc, dict):
            raise ParseError("expected a JSON object")
        if doc.get("result") == "error":
            raise VenueError(f"venue error {doc.get('error_code')}: {doc.get('error_msg')}")
        tickers = doc["tickers"]
        if not isinstance(tickers, list):
            raise ParseError("expected a tickers list")
        out = []
        for t in tickers:
            base, quote_ = t["target_currency"].upper(), t["quote_currency"].upper()
            out.append(
                Market(unify(base, quote_), _id(base, quote_), base_id=base, quote_id=quote_)
            )
        return out
