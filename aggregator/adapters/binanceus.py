"""Binance.US spot: the same REST API as Binance on its own host, api.binance.us.

REST: /api/v3/ticker/24hr with the wanted symbols (all of them past 100), as for Binance;
markets from /api/v3/exchangeInfo. Everything is inherited from ``Binance`` except the
endpoints and the venue id.
"""

from __future__ import annotations

from typing import ClassVar

from .binance import Binance


class BinanceUS(Binance):
    venue: ClassVar[str] = "binanceus"
    WS_URL: ClassVar[str] = "wss://stream.binance.us:9443/ws"  # unused: REST only
    REST_URL: ClassVar[str] = "https://api.binance.us"
    MARKETS_URL: ClassVar[str] = "https://api.binance.us/api/v3/exchangeInfo"
    REST_RATE: ClassVar[float] = 5.0
