"""Binance.US, simulated: Binance's protocol on its own host."""

from __future__ import annotations

from .binance import BinanceDialect


class BinanceUSDialect(BinanceDialect):
    venue = "binanceus"
