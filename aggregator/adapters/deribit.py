"""Deribit spot (BTC_USDT, ETH_USDC, ...): the JSON-RPC-over-HTTP public API, v2.

``public/ticker`` takes one ``instrument_name`` per request and has no all-instruments
form, so spot markets are polled one by one. ``public/get_book_summary_by_currency``
covers a whole currency at once but carries no sizes at the best bid and ask, hence the
per-instrument ticker. Markets come from ``public/get_instruments?currency=any&kind=spot``.
Only spot is handled here: futures and options are out of scope.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import quote

from ..errors import ParseError, VenueError
from ..records import Ticker, ms_to_ns, num
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body


class Deribit(Codec):
    venue: ClassVar[str] = "deribit"
    REST_URL: ClassVar[str] = "https://www.deribit.com/api/v2"
    MARKETS_URL: ClassVar[str] = (
        "https://www.deribit.com/api/v2/public/get_instruments?currency=any&kind=spot"
    )
    # Deribit's default for non-matching-engine requests is 20 per second sustained with a
    # burst of 100 (support.deribit.com "Rate Limits"); a quarter of it leaves room.
    REST_RATE: ClassVar[float] = 5.0

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [
            RestRequest(
                f"{base_url}/public/ticker?instrument_name={quote(m.native, safe='')}", market=m
            )
            for m in markets
        ]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /public/ticker?instrument_name=BTC_USDT:
        {"jsonrpc":"2.0","result":{"instrument_name":"BTC_USDT","timestamp":1710328244150,
        "state":"open","best_bid_price":73418.58,"best_bid_amount":0.0003,
        "best_ask_price":73521.05,"best_ask_amount":0.4904,"last_price":73448.39,
        "mark_price":73367.995,"index_price":73367.995,"min_price":71900.63,
        "max_price":74835.36,"stats":{"volume":25.9035,"volume_notional":1871802.929506,
        "volume_usd":1871769.37,"price_change":1.7593,"low":68933.02,"high":73641.74}},
        "usIn":1710328245071604,"usOut":1710328245071795,"usDiff":191,"testnet":false}
        stats.volume is in the base currency, volume_notional in the quote currency;
        price_change is a percentage (so no exact open). Errors: {"jsonrpc":"2.0",
        "error":{"code":-32602,"message":"Invalid params"},...}.
        """
        doc = json_body(body)
        if not isinstance(doc, dict):
            raise ParseError("expected a JSON-RPC object")
        error = doc.get("error")
        if error is not None:
            if isinstance(error, dict):
                raise VenueError(f"venue error {error.get('code')}: {error.get('message')}")
            raise VenueError(f"venue error: {error}")
        t = doc.get("result")
        if not isinstance(t, dict):
            raise ParseError("response without a result object")
        name = t.get("instrument_name")
        m = self.lookup(name) if isinstance(name, str) else market
        if m is None:
            if name is None:
                raise ParseError("a ticker without instrument_name needs its market")
            return []
        stats = t.get("stats")
        if not isinstance(stats, dict):
            stats = {}
        bid, bid_size = _side(t, "bid")
        ask, ask_size = _side(t, "ask")
        return [
            Ticker(
                "deribit",
                m.symbol,
                m.native,
                bid=bid,
                bid_size=bid_size,
                ask=ask,
                ask_size=ask_size,
                last=num(t.get("last_price")),
                high=num(stats.get("high")),
                low=num(stats.get("low")),
                volume=num(stats.get("volume")),
                quote_volume=num(stats.get("volume_notional")),
                ts_event=ms_to_ns(t.get("timestamp")),
                ts_recv=ts_recv,
            )
        ]

    @staticmethod
    def parse_markets(body: bytes) -> list[Market]:
        """GET /public/get_instruments?currency=any&kind=spot: {"jsonrpc":"2.0","result":[
        {"instrument_name":"BTC_USDT","kind":"spot","base_currency":"BTC",
        "quote_currency":"USDT","counter_currency":"USDT","is_active":true,...}]}"""
        doc = json_body(body)
        if not isinstance(doc, dict) or not isinstance(doc.get("result"), list):
            raise ParseError("expected {'result': [instruments]}")
        out = []
        for i in doc["result"]:
            if i.get("kind") != "spot" or not i.get("is_active", True):
                continue
            base, quote_ = i["base_currency"], i["quote_currency"]
            out.append(
                Market(unify(base, quote_), i["instrument_name"], base_id=base, quote_id=quote_)
            )
        return out


def _side(t: dict[str, Any], side: str) -> tuple[float | None, float | None]:
    """Best price and size; an empty side (Deribit sends price 0 or null) is null, not 0."""
    price = num(t.get(f"best_{side}_price"))
    size = num(t.get(f"best_{side}_amount"))
    if not price:
        return None, None
    return price, size
