"""bitFlyer Lightning: the public HTTP API's ticker, polled product by product.

``GET /v1/getticker?product_code=BTC_JPY`` answers for one product and there is no
all-products ticker, so each subscribed market is one request. The ticker carries the top
of the book with sizes, the last price and the 24 h volume, but no open, high or low.
Markets come from ``GET /v1/getmarkets`` (the Japan list: spot, the FX_BTC_JPY CFD and
futures; only spot is kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar
from urllib.parse import quote

from ..errors import ParseError, VenueError
from ..records import Ticker, iso_to_ns, num
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body


class Bitflyer(Codec):
    venue: ClassVar[str] = "bitflyer"
    REST_URL: ClassVar[str] = "https://api.bitflyer.com"
    MARKETS_URL: ClassVar[str] = "https://api.bitflyer.com/v1/getmarkets"
    # The published limit is 500 requests per 5 minutes per IP (1.67/s) for all calls.
    REST_RATE: ClassVar[float] = 1.0

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [
            RestRequest(
                f"{base_url}/v1/getticker?product_code={quote(m.native, safe='')}", market=m
            )
            for m in markets
        ]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /v1/getticker?product_code=BTC_JPY: {"product_code":"BTC_JPY",
        "state":"RUNNING","timestamp":"2024-03-13T11:10:41.513","tick_id":40431851,
        "best_bid":11013000.0,"best_ask":11015000.0,"best_bid_size":0.0134,
        "best_ask_size":0.2,"total_bid_depth":512.95,"total_ask_depth":488.07,
        "market_bid_size":0.0,"market_ask_size":0.0,"ltp":11014000.0,
        "volume":8325.79,"volume_by_product":1923.11}
        timestamp is UTC without a zone; volume_by_product is this product's 24 h volume
        ("volume" also counts other products), so it is the base volume used here.
        """
        t = json_body(body)
        if not isinstance(t, dict):
            raise ParseError("expected a JSON object")
        if "error_message" in t:
            raise VenueError(f"venue error {t.get('status')}: {t['error_message']}")
        if market is None:
            raise ParseError("a product ticker needs its market")
        code = t.get("product_code")
        if code is not None and code != market.native:
            raise ParseError(f"ticker of {code} answered for {market.native}")
        if "ltp" not in t and "best_bid" not in t:
            raise ParseError("ticker without prices")
        return [
            Ticker(
                "bitflyer",
                market.symbol,
                market.native,
                bid=num(t.get("best_bid")),
                bid_size=num(t.get("best_bid_size")),
                ask=num(t.get("best_ask")),
                ask_size=num(t.get("best_ask_size")),
                last=num(t.get("ltp")),
                volume=num(t.get("volume_by_product")),
                ts_event=iso_to_ns(t.get("timestamp")),
                ts_recv=ts_recv,
            )
        ]

    @staticmethod
    def parse_markets(body: bytes) -> list[Market]:
        """GET /v1/getmarkets: [{"product_code":"BTC_JPY","market_type":"Spot"},
        {"product_code":"FX_BTC_JPY","market_type":"FX"},
        {"product_code":"BTCJPY11FEB2022","alias":"BTCJPY_MAT1WK","market_type":"Futures"}]"""
        data = json_body(body)
        if not isinstance(data, list):
            raise ParseError("expected a list of markets")
        out = []
        for p in data:
            code = p["product_code"]
            if p.get("market_type", "Spot") != "Spot":
                continue
            parts = code.split("_")
            if len(parts) != 2:
                continue  # FX_BTC_JPY and futures lack a market_type in older answers
            base, quote_ = parts
            out.append(Market(unify(base, quote_), code, (code,), base, quote_))
        return out
