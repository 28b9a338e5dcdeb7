"""Unified symbols and the per-venue market table.

A unified symbol is ccxt-style ``BASE/QUOTE`` with the usual currency aliases applied
(Kraken's ``XBT`` is ``BTC``); each market also keeps the venue's own ids, since a venue
may name the same market differently on its WebSocket and REST APIs.
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from sys import intern

import msgspec
import orjson
from msgspec.structs import force_setattr

# Currency codes some venues use for what everyone else calls otherwise.
CURRENCY_ALIASES: dict[str, str] = {
    "XBT": "BTC",
    "XDG": "DOGE",
    "BCC": "BCH",
    "BCHABC": "BCH",
    "BCHSV": "BSV",
    "DRK": "DASH",
}

SYMBOL_RE = re.compile(r"^[A-Z0-9][A-Z0-9._-]*/[A-Z0-9][A-Z0-9._-]*(:[A-Z0-9][A-Z0-9._-]*)?$")


NO_RENAMES: Mapping[str, str] = {}


def currency(code: str, *, renames: Mapping[str, str] = NO_RENAMES) -> str:
    """The unified code of a venue's currency code: upper-cased, then the venue's own
    ``renames`` (keyed upper-case: a listing whose ticker others use for another coin),
    then the aliases every venue shares."""
    code = code.upper()
    code = renames.get(code, code).upper()
    return CURRENCY_ALIASES.get(code, code)


def unify(base: str, quote: str, *, renames: Mapping[str, str] = NO_RENAMES) -> str:
    """The unified symbol of a venue's base and quote codes (``renames`` as in ``currency``)."""
    return f"{currency(base, renames=renames)}/{currency(quote, renames=renames)}"


def derivative_symbol(
    base: str,
    quote: str,
    settle: str,
    expiry_ns: int | None = None,
    *,
    renames: Mapping[str, str] = NO_RENAMES,
) -> str:
    """The unified symbol of a perpetual (``BTC/USDT:USDT``, inverse ``BTC/USD:BTC``) or of
    a dated future (``BTC/USDT:USDT-261225``: its expiry's UTC date, YYMMDD)."""
    symbol = f"{unify(base, quote, renames=renames)}:{currency(settle, renames=renames)}"
    if expiry_ns is None:
        return symbol
    day = time.strftime("%y%m%d", time.gmtime(expiry_ns // 1_000_000_000))
    return f"{symbol}-{day}"


def is_unified(symbol: str) -> bool:
    return bool(SYMBOL_RE.match(symbol))


class Market(msgspec.Struct, frozen=True, gc=False):
    """One market of a venue: spot, or a derivative (``kind``, records.KINDS).

    ``native`` is the id the venue uses for subscriptions and requests; ``ids`` are every
    id under which the venue's messages may name this market (``native`` included). A
    derivative's sizes are counted in contracts by most venues: ``contract_size`` is what
    one contract is worth, in the base currency (``inverse``: in the quote currency, so
    base units are contracts * contract_size / price).

    A frozen msgspec Struct, not tracked by the garbage collector (it holds strings and a
    tuple of strings): 88 bytes where a slotted dataclass takes 112, for each of the tens
    of thousands of markets a daemon may follow.
    """

    symbol: str
    native: str
    ids: tuple[str, ...] = ()
    base_id: str = ""  # the venue's own currency ids, for venues whose URLs need them
    quote_id: str = ""
    kind: str = "spot"
    expiry: int | None = None  # ns, a dated future's
    contract_size: float = 1.0
    inverse: bool = False

    def __post_init__(self) -> None:
        # One string object per distinct text, shared by every market and record that holds
        # it: a venue lists its quote currencies thousands of times, and most venues list the
        # same symbols; otherwise each market keeps its own copies from its decoded answer.
        for name in ("symbol", "native", "base_id", "quote_id"):
            force_setattr(self, name, intern(getattr(self, name)))
        if self.ids:
            force_setattr(self, "ids", tuple(intern(i) for i in self.ids))

    def all_ids(self) -> tuple[str, ...]:
        return self.ids if self.native in self.ids else (self.native, *self.ids)


class MarketTable:
    """Lookup of a venue's markets by unified symbol and by any of its own ids.

    Every id and every symbol names one market: markets that share one (two rows with one
    id, two ids that unify to one symbol, an alias of one market that is another's id)
    are all left out, since no rule could tell which of them a message means; rows that
    repeat a market exactly count once. ``ambiguous`` says which were left out, and
    ``rows``/``skipped``/``first_skipped`` what the parser made of the response (set by
    ``Codec.markets_from``).
    """

    def __init__(self, markets: list[Market]) -> None:
        markets = list(dict.fromkeys(markets))  # a row repeated as is: one market
        ambiguous = _ambiguous(markets)
        self.ambiguous: list[str] = [_named(group) for group in ambiguous]
        if ambiguous:
            refused = {m for group in ambiguous for m in group}
            markets = [m for m in markets if m not in refused]
        self.markets: tuple[Market, ...] = tuple(sorted(markets, key=lambda m: m.symbol))
        self.by_id: dict[str, Market] = {i: m for m in self.markets for i in m.all_ids()}
        # The codecs' hot path: a bound dict lookup, no Python frame.
        self.lookup: Callable[[str], Market | None] = self.by_id.get
        self.rows = len(markets)
        self.skipped = 0
        self.first_skipped = ""

    def __len__(self) -> int:
        return len(self.markets)

    @functools.cached_property
    def by_symbol(self) -> dict[str, Market]:
        """The markets by unified symbol: made when first asked for (a selection by
        symbols), not for every table, whose codecs look markets up by id only."""
        return {m.symbol: m for m in self.markets}

    def select(self, symbols: tuple[str, ...]) -> tuple[MarketTable, list[str]]:
        """The sub-table of the given unified symbols (all if empty), and those missing."""
        if not symbols:
            return self, []
        found = [self.by_symbol[s] for s in symbols if s in self.by_symbol]
        missing = [s for s in symbols if s not in self.by_symbol]
        return MarketTable(found), missing


def _ambiguous(markets: list[Market]) -> list[list[Market]]:
    """The groups of distinct markets that share an id or a symbol, each in list order."""
    claims: dict[tuple[str, str], list[Market]] = {}
    for m in markets:
        claims.setdefault(("symbol", m.symbol), []).append(m)
        for i in dict.fromkeys(m.all_ids()):
            claims.setdefault(("id", i), []).append(m)
    groups: list[list[Market]] = []
    seen: set[Market] = set()
    for group in claims.values():
        if len(group) > 1 and not seen.issuperset(group):
            seen.update(group)
            groups.append(group)
    return groups


def _named(group: list[Market]) -> str:
    """The ids of markets that claim one id or symbol, with what each would be."""
    return " and ".join(f"{m.native}{_aliases(m)} ({m.symbol})" for m in group)


def _aliases(m: Market) -> str:
    others = [i for i in dict.fromkeys(m.all_ids()) if i != m.native]
    return f" [{', '.join(others)}]" if others else ""


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
