"""Unified symbols and the per-venue market table.

A unified symbol is ccxt-style ``BASE/QUOTE`` with the usual currency aliases applied
(Kraken's ``XBT`` is ``BTC``); each market also keeps the venue's own ids, since a venue
may name the same market differently on its WebSocket and REST APIs.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

# Currency codes some venues use for what everyone else calls otherwise.
CURRENCY_ALIASES: dict[str, str] = {
    "XBT": "BTC",
    "XDG": "DOGE",
    "BCC": "BCH",
    "BCHABC": "BCH",
    "BCHSV": "BSV",
    "DRK": "DASH",
}

SYMBOL_RE = re.compile(r"^[A-Z0-9][A-Z0-9._-]*/[A-Z0-9][A-Z0-9._-]*$")


def currency(code: str) -> str:
    code = code.upper()
    return CURRENCY_ALIASES.get(code, code)


def unify(base: str, quote: str) -> str:
    return f"{currency(base)}/{currency(quote)}"


def is_unified(symbol: str) -> bool:
    return bool(SYMBOL_RE.match(symbol))


@dataclass(frozen=True, slots=True)
class Market:
    """One spot market of a venue.

    ``native`` is the id the venue uses for subscriptions and requests; ``ids`` are every
    id under which the venue's messages may name this market (``native`` included).
    """

    symbol: str
    native: str
    ids: tuple[str, ...] = ()
    base_id: str = ""  # the venue's own currency ids, for venues whose URLs need them
    quote_id: str = ""

    def all_ids(self) -> tuple[str, ...]:
        return self.ids if self.native in self.ids else (self.native, *self.ids)


class MarketTable:
    """Lookup of a venue's markets by unified symbol and by any of its own ids."""

    def __init__(self, markets: list[Market]) -> None:
        self.markets: tuple[Market, ...] = tuple(sorted(markets, key=lambda m: m.symbol))
        self.by_symbol: dict[str, Market] = {m.symbol: m for m in self.markets}
        self.by_id: dict[str, Market] = {}
        for m in self.markets:
            for i in m.all_ids():
                self.by_id.setdefault(i, m)
        # The codecs' hot path: a bound dict lookup, no Python frame.
        self.lookup: Callable[[str], Market | None] = self.by_id.get

    def __len__(self) -> int:
        return len(self.markets)

    def select(self, symbols: tuple[str, ...]) -> tuple[MarketTable, list[str]]:
        """The sub-table of the given unified symbols (all if empty), and those missing."""
        if not symbols:
            return self, []
        found = [self.by_symbol[s] for s in symbols if s in self.by_symbol]
        missing = [s for s in symbols if s not in self.by_symbol]
        return MarketTable(found), missing


class FixedSymbol(MarketTable):
    """A table that maps any id to one given unified symbol (for `normalize --symbol`)."""

    def __init__(self, symbol: str) -> None:
        super().__init__([])
        self.lookup = lambda native: Market(symbol, native)  # type: ignore[method-assign]


# --- the on-disk cache of markets responses ------------------------------------------


def snapshot_path(venue: str) -> Path:
    """The markets snapshot shipped with the package (a trimmed real-format response)."""
    return Path(__file__).parent / "data" / "markets" / f"{venue}.json"


def cache_path(state_dir: Path, venue: str) -> Path:
    return state_dir / "markets" / f"{venue}.json"


def read_cache(state_dir: Path, venue: str) -> tuple[bytes, float] | None:
    """The cached raw markets response and its age in seconds, or None."""
    path = cache_path(state_dir, venue)
    try:
        doc = orjson.loads(path.read_bytes())
        body = doc["body"].encode() if isinstance(doc["body"], str) else orjson.dumps(doc["body"])
        return body, max(0.0, time.time() - float(doc["fetched_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_cache(state_dir: Path, venue: str, body: bytes) -> None:
    """Store a raw markets response atomically (write, fsync, rename)."""
    path = cache_path(state_dir, venue)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    data = orjson.dumps({"fetched_at": time.time(), "body": body.decode("utf-8", "replace")})
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
