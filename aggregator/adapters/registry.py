"""The table of adapters: venue id -> "module:Class", imported only when used."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Codec

# venue id -> (module under aggregator.adapters, codec class name)
ADAPTERS: dict[str, tuple[str, str]] = {
    "alp": ("alp", "ALP"),
    "ascendex": ("ascendex", "AscendEX"),
    "bequant": ("bequant", "Bequant"),
    "bigone": ("bigone", "BigONE"),
    "binance": ("binance", "Binance"),
    "binanceus": ("binanceus", "BinanceUS"),
    "bit2c": ("bit2c", "Bit2C"),
    "bitbank": ("bitbank", "Bitbank"),
    "bitfinex": ("bitfinex", "Bitfinex"),
    "bitflyer": ("bitflyer", "Bitflyer"),
    "bithumb": ("bithumb", "Bithumb"),
    "bitso": ("bitso", "Bitso"),
    "bitstamp": ("bitstamp", "Bitstamp"),
    "btcbox": ("btcbox", "BTCBox"),
    "btcmarkets": ("btcmarkets", "BTCMarkets"),
    "btcturk": ("btcturk", "BTCTurk"),
    "buda": ("buda", "Buda"),
    "cex": ("cex", "Cex"),
    "coinbase": ("coinbase", "Coinbase"),
    "coinbaseexchange": ("coinbaseexchange", "CoinbaseExchange"),
    "coincheck": ("coincheck", "Coincheck"),
    "coinex": ("coinex", "CoinEx"),
    "coinmate": ("coinmate", "Coinmate"),
    "coinone": ("coinone", "Coinone"),
    "coinspot": ("coinspot", "CoinSpot"),
    "deribit": ("deribit", "Deribit"),
    "digifinex": ("digifinex", "Digifinex"),
    "foxbit": ("foxbit", "Foxbit"),
    "gate": ("gate", "Gate"),
    "gemini": ("gemini", "Gemini"),
    "hitbtc": ("hitbtc", "HitBTC"),
    "htx": ("htx", "HTX"),
    "independentreserve": ("independentreserve", "IndependentReserve"),
    "indodax": ("indodax", "Indodax"),
    "kraken": ("kraken", "Kraken"),
    "kucoin": ("kucoin", "KuCoin"),
    "latoken": ("latoken", "Latoken"),
    "lbank": ("lbank", "LBank"),
    "luno": ("luno", "Luno"),
    "mercado": ("mercado", "Mercado"),
    "okx": ("okx", "OKX"),
    "okxus": ("okxus", "OKXUS"),
    "paymium": ("paymium", "Paymium"),
    "poloniex": ("poloniex", "Poloniex"),
    "upbit": ("upbit", "Upbit"),
    "whitebit": ("whitebit", "WhiteBIT"),
    "yobit": ("yobit", "YoBit"),
    "zaif": ("zaif", "Zaif"),
}


def available() -> list[str]:
    return sorted(ADAPTERS)


def modes(venue: str, kind: str = "spot") -> tuple[str, ...]:
    """What the venue's codec (of that kind of market) implements: "ws" (streaming) and/or
    "rest" (polling)."""
    if kind not in kinds(venue):
        return ()
    from .base import Codec

    cls = codec_class(venue, kind)
    out = []
    if cls.WS_URL and cls.parse_ws is not Codec.parse_ws:
        out.append("ws")
    if cls.parse_rest is not Codec.parse_rest:
        out.append("rest")
    return tuple(out)


# (venue id, kind) -> (module, codec class): the derivatives codecs (records.KINDS but
# "spot", whose codecs are ADAPTERS'). One class may serve several kinds of a venue.
DERIVATIVES: dict[tuple[str, str], tuple[str, str]] = {
    ("binance", "perp"): ("binance_futures", "BinanceFutures"),
    ("binance", "future"): ("binance_futures", "BinanceFutures"),
    ("bitfinex", "perp"): ("bitfinex_deriv", "BitfinexDeriv"),
    ("bitflyer", "perp"): ("bitflyer_cfd", "BitflyerCFD"),
    ("coinex", "perp"): ("coinex_futures", "CoinExFutures"),
    ("deribit", "perp"): ("deribit_derivatives", "DeribitDerivatives"),
    ("deribit", "future"): ("deribit_derivatives", "DeribitDerivatives"),
    ("gate", "perp"): ("gate_futures", "GateFutures"),
    ("htx", "perp"): ("htx_swap", "HTXSwap"),
    ("kraken", "perp"): ("kraken_futures", "KrakenFutures"),
    ("kraken", "future"): ("kraken_futures", "KrakenFutures"),
    ("okx", "perp"): ("okx_derivatives", "OKXSwap"),
    ("okx", "future"): ("okx_derivatives", "OKXFutures"),
    ("kucoin", "perp"): ("kucoin_futures", "KuCoinFutures"),
    ("kucoin", "future"): ("kucoin_futures", "KuCoinFutures"),
}


def kinds(venue: str) -> tuple[str, ...]:
    """The kinds of market the venue's codecs follow: "spot" first, if it has one."""
    spot = ("spot",) if venue in ADAPTERS else ()
    return spot + tuple(k for v, k in DERIVATIVES if v == venue)


def codec_class(venue: str, kind: str = "spot") -> type[Codec]:
    """The codec of the venue's markets of this kind (KeyError if it has none)."""
    module, cls = ADAPTERS[venue] if kind == "spot" else DERIVATIVES[(venue, kind)]
    return getattr(importlib.import_module(f"{__package__}.{module}"), cls)  # type: ignore[no-any-return]
