"""The table of adapters: venue id -> "module:Class", imported only when used."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Codec

# venue id -> (module under aggregator.adapters, class name, supported modes)
ADAPTERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "bequant": ("bequant", "Bequant", ("rest",)),
    "bigone": ("bigone", "BigONE", ("rest",)),
    "binance": ("binance", "Binance", ("ws", "rest")),
    "binanceus": ("binanceus", "BinanceUS", ("rest",)),
    "bit2c": ("bit2c", "Bit2C", ("rest",)),
    "bitbank": ("bitbank", "Bitbank", ("rest",)),
    "bitfinex": ("bitfinex", "Bitfinex", ("rest",)),
    "bitflyer": ("bitflyer", "Bitflyer", ("rest",)),
    "bithumb": ("bithumb", "Bithumb", ("rest",)),
    "bitso": ("bitso", "Bitso", ("rest",)),
    "bitstamp": ("bitstamp", "Bitstamp", ("rest",)),
    "btcbox": ("btcbox", "BTCBox", ("rest",)),
    "btcmarkets": ("btcmarkets", "BTCMarkets", ("rest",)),
    "btcturk": ("btcturk", "BTCTurk", ("rest",)),
    "cex": ("cex", "Cex", ("rest",)),
    "coinbase": ("coinbase", "Coinbase", ("ws", "rest")),
    "coinbaseexchange": ("coinbaseexchange", "CoinbaseExchange", ("ws", "rest")),
    "coincheck": ("coincheck", "Coincheck", ("rest",)),
    "coinmate": ("coinmate", "Coinmate", ("rest",)),
    "coinone": ("coinone", "Coinone", ("rest",)),
    "coinspot": ("coinspot", "CoinSpot", ("rest",)),
    "deribit": ("deribit", "Deribit", ("rest",)),
    "digifinex": ("digifinex", "Digifinex", ("rest",)),
    "foxbit": ("foxbit", "Foxbit", ("rest",)),
    "gate": ("gate", "Gate", ("rest",)),
    "gemini": ("gemini", "Gemini", ("rest",)),
    "hitbtc": ("hitbtc", "HitBTC", ("rest",)),
    "htx": ("htx", "HTX", ("rest",)),
    "independentreserve": ("independentreserve", "IndependentReserve", ("rest",)),
    "indodax": ("indodax", "Indodax", ("rest",)),
    "kraken": ("kraken", "Kraken", ("ws", "rest")),
    "kucoin": ("kucoin", "KuCoin", ("rest",)),
    "latoken": ("latoken", "Latoken", ("rest",)),
    "lbank": ("lbank", "LBank", ("rest",)),
    "luno": ("luno", "Luno", ("rest",)),
    "mercado": ("mercado", "Mercado", ("rest",)),
    "okx": ("okx", "OKX", ("rest",)),
    "paymium": ("paymium", "Paymium", ("rest",)),
    "poloniex": ("poloniex", "Poloniex", ("rest",)),
    "upbit": ("upbit", "Upbit", ("rest",)),
    "whitebit": ("whitebit", "WhiteBIT", ("rest",)),
    "zaif": ("zaif", "Zaif", ("rest",)),
}


def available() -> list[str]:
    return sorted(ADAPTERS)


def modes(venue: str) -> tuple[str, ...]:
    entry = ADAPTERS.get(venue)
    return entry[2] if entry else ()


def codec_class(venue: str) -> type[Codec]:
    module, cls, _ = ADAPTERS[venue]
    return getattr(importlib.import_module(f"{__package__}.{module}"), cls)  # type: ignore[no-any-return]
