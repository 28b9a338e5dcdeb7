"""Upbit (Korea) spot: the public quotation API, polled.

REST: GET /v1/ticker/all?quote_currencies=KRW,BTC,USDT returns the ticker of every market
of the given quote currencies in one list, so one request per poll covers the subscribed
markets (the quote currencies are taken from them). The quotation API allows 10 requests
per second per IP. Market ids are QUOTE-BASE ("KRW-BTC"). The ticker carries no best bid
or ask (those are in the order book endpoint), so bid/ask stay null.
Markets: GET /v1/market/all?isDetails=true lists the markets open for trading.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar
from urllib.parse import quote

from ..errors import ParseError, VenueError
from ..records import Ticker, ms_to_ns, num
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body


class Upbit(Codec):
    venue: ClassVar[str] = "upbit"
    REST_URL: ClassVar[str] = "https://api.upbit.com"
    MARKETS_URL: ClassVar[str] = "https://api.upbit.com/v1/market/all?isDetails=true"
    REST_RATE: ClassVar[float] = 5.0  # one request per poll; the limit is 10 per second

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        quotes = sorted({m.quote_id or m.native.split("-")[0] for m in markets})
        return [
            RestRequest(
                f"{base_url}/v1/ticker/all?quote_currencies={quote(','.join(quotes), safe=',')}"
            )
        ]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """[{"market":"USDT-BTC","trade_date":"20240313","trade_time":"111037",
        "trade_timestamp":1710328237798,"opening_price":71126.14598036,
        "high_price":73831.69765763,"low_price":70857.00039906,"trade_price":73578.655,
        "prev_closing_price":71126.14598036,"change":"RISE","signed_change_rate":0.0344811178,
        "acc_trade_price_24h":506342.98398488,"acc_trade_volume_24h":7.03935349,
        "timestamp":1710328237828, ...}]
        opening/high/low prices are of the current day (since 00:00 UTC), the *_24h
        volumes are rolling 24 h; the event time is the last trade's (trade_timestamp, ms).
        Errors: {"error":{"name":404,"message":"Code not found"}}.
        """
        data = json_body(body)
        if isinstance(data, dict):
            err = data.get("error")
            if isinstance(err, dict):
                raise VenueError(f"venue error {err.get('name')}: {err.get('message')}")
            raise ParseError("expected a list of tickers")
        if not isinstance(data, list):
            raise ParseError("expected a list of tickers")
        out = []
        for t in data:
            if not isinstance(t, dict):
                raise ParseError("expected ticker objects")
            m = self.lookup(t.get("market", ""))
            if m is None:
                continue
            out.append(
                Ticker(
                    "upbit",
                    m.symbol,
                    m.native,
                    last=num(t.get("trade_price")),
                    open=num(t.get("opening_price")),
                    high=num(t.get("high_price")),
                    low=num(t.get("low_price")),
                    volume=num(t.get("acc_trade_volume_24h")),
                    quote_volume=num(t.get("acc_trade_price_24h")),
                    ts_event=ms_to_ns(t.get("trade_timestamp")),
                    ts_recv=ts_recv,
                )
            )
        return out

    @staticmethod
    def parse_markets(body: bytes) -> list[Market]:
        """[{"market":"KRW-BTC","korean_name":"비트코인","english_name":"Bitcoin",
        "market_event":{"warning":false,"caution":{...}}}, ...]"""
        data = json_body(body)
        if not isinstance(data, list):
            raise ParseError("expected a list of markets")
        out = []
        for p in data:
            native = p["market"]
            quote_id, base_id = native.split("-")
            out.append(Market(unify(base_id, quote_id), native, base_id=base_id, quote_id=quote_id))
        return out
