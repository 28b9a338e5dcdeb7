"""Bithumb (API generation 2): the quotation WebSocket (ticker and order book, merged), or REST.

WebSocket: ``wss://ws-api.bithumb.com/websocket/v1`` speaks Upbit's quotation protocol (one
JSON array request ``[{"ticket":...},{"type":"ticker","codes":["KRW-BTC"]},...]``, the same
ticker and ``orderbook`` payloads, errors as {"error":{...}}), so the WebSocket side is
``upbit.Quotation``. The first-generation stream (``wss://pubwss.bithumb.com/pub/ws``,
``BTC_KRW`` symbols, "content" payloads) is not used. Connections are limited to 10 a second
per IP; the WebSocket layer's pings keep a connection open.
REST: ``GET /v1/ticker?markets=KRW-BTC,KRW-ETH`` answers a bare list with one ticker per
market named, so one request per poll covers the subscribed markets (in chunks, to keep URLs
short). It has the last price, the KST day's open, high and low, and 24 h volumes, but no
best bid or ask: ``GET /v1/orderbook?markets=...`` is polled for those. Markets
(``QUOTE-BASE``) come from ``GET /v1/market/all``. The first-generation ``/public/ticker/
ALL_KRW`` API is not used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import msgspec

from ..errors import VenueError
from ..records import Ticker
from ..symbols import Market
from .base import Codec, RestRequest, json_body, pair_market
from .routes import Call, Route
from .upbit import Quotation, Quote, book_requests, stamp

CHUNK = 50  # markets per request


def first_stamp(at: Any, trade_at: Any) -> int | None:
    """The ticker's time (``timestamp``), else its last trade's: ``ticker_time``."""
    ts = stamp(at)
    return ts if ts is not None else stamp(trade_at)


class Bithumb(Quotation):
    venue: ClassVar[str] = "bithumb"
    WS_URL: ClassVar[str] = "wss://ws-api.bithumb.com/websocket/v1"
    REST_URL: ClassVar[str] = "https://api.bithumb.com"
    MARKETS_URL: ClassVar[str] = "https://api.bithumb.com/v1/market/all?isDetails=false"
    # Spacing between the chunk requests of one poll; far below the public request limit.
    REST_RATE: ClassVar[float] = 2.0
    ROUTES: ClassVar[tuple[Route, ...]] = (  # parse_ws's ticker, read in C (books: parse_ws)
        Route(  # the time in ms or µs, told apart by its magnitude (ticker_time)
            when={"type": "ticker"}, market="code",
            fields={"last": "trade_price", "open": "opening_price", "high": "high_price",
                    "low": "low_price", "volume": "acc_trade_volume_24h",
                    "quote_volume": "acc_trade_price_24h",
                    "ts_event": Call(first_stamp, "timestamp", "trade_timestamp")},
        ),
    )  # fmt: skip

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        # Order books first, so a market's first polled record has its top of book.
        ids = [m.native for m in markets]
        return book_requests(base_url, markets) + [
            RestRequest(f"{base_url}/v1/ticker?markets={quote(','.join(chunk), safe=',-')}")
            for chunk in (ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK))
        ]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /v1/ticker?markets=KRW-BTC: [{"market":"KRW-BTC","trade_date":"20231024",
        "trade_time":"063544","trade_timestamp":1698125744000,"opening_price":41531000,
        "high_price":46473000,"low_price":41511000,"trade_price":45831000,
        "prev_closing_price":41519000,"change":"RISE","change_price":4312000,
        "trade_volume":0.0094943,"acc_trade_price":315426173010.59125,
        "acc_trade_price_24h":366228795843.045,"acc_trade_volume":7248.51469502,
        "acc_trade_volume_24h":8464.71765997,"timestamp":1698125744837}]
        opening/high/low_price are for the day since 00:00 KST; acc_*_24h the last 24 h.
        Order books (see upbit.Quotation.parse_books) give the best bid and ask.
        Errors: {"error":{"name":"...","message":"..."}}.
        """
        return self.parse_tickers(body, ts_recv)

    @classmethod
    def raise_error(cls, data: Quote) -> None:
        """Also the first generation's {"status":"5500","message":"..."}."""
        super().raise_error(data)
        status = data.status
        if status is not msgspec.UNSET and status != "0000":
            raise VenueError(f"venue error {status}: {data.message}")

    def ticker_time(self, t: Quote) -> int | None:
        """The ticker's time as on REST (``timestamp``), else the last trade's."""
        return first_stamp(t.timestamp, t.trade_timestamp)

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """GET /v1/market/all: [{"market":"KRW-BTC","korean_name":"비트코인",
        "english_name":"Bitcoin"}, {"market":"BTC-ETH",...}]"""
        return Codec.rows_at(json_body(body))

    @staticmethod
    def market_of(p: Any) -> Market | None:
        code = p["market"]
        quote_, _, base = code.partition("-")
        if not quote_ or not base:
            return None
        return pair_market(base, quote_, code, ids=(code,))
