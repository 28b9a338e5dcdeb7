"""Bequant spot: HitBTC's API v3 under Bequant's host, streamed and polled.

Same endpoints and payloads as HitBTC (see hitbtc.py): the WebSocket channels
"ticker/price/1s" and "orderbook/top/100ms" merged, GET /public/ticker for all (or the
listed) symbols in one request, /public/ticker/{symbol} for a single one, and the markets
from /public/symbol. Only the venue id and the URLs differ.

Ticker sample (/public/ticker/BTCUSDT): {"ask":"73369.04","bid":"73369.03",
"last":"73386.24","low":"68555.00","high":"73619.97","open":"72173.99",
"volume":"1319.26278","volume_quote":"94847393.3889236",
"timestamp":"2024-03-13T11:10:43.211Z"}
"""

from __future__ import annotations

from typing import ClassVar

from .hitbtc import HitBTC
from .routes import Route


class Bequant(HitBTC):
    venue: ClassVar[str] = "bequant"
    WS_URL: ClassVar[str] = "wss://api.bequant.io/api/3/ws/public"
    REST_URL: ClassVar[str] = "https://api.bequant.io/api/3"
    MARKETS_URL: ClassVar[str] = "https://api.bequant.io/api/3/public/symbol"
    ROUTES: ClassVar[tuple[Route, ...]] = HitBTC.ROUTES  # HitBTC's frames
