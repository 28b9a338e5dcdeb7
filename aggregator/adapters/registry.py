"""The table of adapters: venue id -> "module:Class", imported only when used."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Codec

# venue id -> (module under aggregator.adapters, class name, supported modes)
ADAPTERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "binance": ("binance", "Binance", ("ws", "rest")),
    "coinbase": ("coinbase", "Coinbase", ("ws", "rest")),
    "coinbaseexchange": ("coinbaseexchange", "CoinbaseExchange", ("ws", "rest")),
    "kraken": ("kraken", "Kraken", ("ws", "rest")),
}


def available() -> list[str]:
    return sorted(ADAPTERS)


def modes(venue: str) -> tuple[str, ...]:
    entry = ADAPTERS.get(venue)
    return entry[2] if entry else ()


def codec_class(venue: str) -> type[Codec]:
    module, cls, _ = ADAPTERS[venue]
    return getattr(importlib.import_module(f"{__package__}.{module}"), cls)  # type: ignore[no-any-return]
