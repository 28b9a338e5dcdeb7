"""What `aggregator normalize` needs to read captures made by other programs: markets that
are not in the shipped snapshot (derived from the venue's ids, or from a markets response
the user gives), the envelopes other programs record frames in, and a plain description of
a payload of another shape than the codec reads."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

import orjson

from .symbols import NO_RENAMES, Market, MarketTable, unify

# Quote currencies, longest first, for ids with no separator ("BTCUSDT", "xbtzar").
_QUOTE_CODES = """USDT USDC FDUSD BUSD TUSD USDE USDP DAI USD EUR GBP JPY KRW TRY BRL AUD CAD
CHF ZAR NGN IDR MXN PLN UAH RUB INR THB SGD HKD CZK MYR PHP VND ARS CLP COP PEN UGX KES ILS
BTC XBT ETH BNB TRX SOL"""
QUOTES = sorted(_QUOTE_CODES.split(), key=len, reverse=True)
_QUOTE_SET = frozenset(QUOTES)
QUOTE_FIRST = frozenset({"upbit"})  # ids are QUOTE-BASE: KRW-BTC
_PARTS = re.compile(r"[-_/:]")
_CODE = re.compile(r"[A-Z0-9]{2,12}")


def derive(venue: str, native: str, renames: Mapping[str, str] = NO_RENAMES) -> Market | None:
    """The spot market a venue's id names, where the id says it: "BTC-USDT", "btc_jpy",
    "XBT/USD", "KRW-BTC" (Upbit), "tBTCUSD" (Bitfinex), "BTCUSDT" (by its quote currency).
    None for an id that does not (a derivative's "BTC-PERPETUAL", a number)."""
    text = native
    if venue == "bitfinex" and text.startswith("t"):
        text = text[1:]
    parts = _PARTS.split(text.upper())
    if len(parts) == 2:
        base, quote = reversed(parts) if venue in QUOTE_FIRST else parts
    elif len(parts) == 1:
        quote = next((q for q in QUOTES if parts[0].endswith(q) and len(parts[0]) > len(q)), "")
        base = parts[0][: -len(quote)] if quote else ""
    else:
        return None
    if quote not in _QUOTE_SET or not _CODE.fullmatch(base) or base.isdigit():
        return None  # not a market's id: a field's name ("volume_quote"), a number
    return Market(unify(base, quote, renames=renames), native, (native,))


class CaptureTable(MarketTable):
    """The markets of a capture: the venue's table, then markets derived from the ids the
    payloads name; ids neither gives are counted (``unknown``), never silently let go.

    With ``symbol`` (``--symbol``) the table holds that one market, for payloads that do not
    name theirs; an id no table knows and none can derive is taken for it, one id only.
    """

    def __init__(
        self,
        known: MarketTable,
        venue: str,
        renames: Mapping[str, str] = NO_RENAMES,
        symbol: str | None = None,
    ) -> None:
        self.symbol_market: Market | None = None
        if symbol is not None:
            self.symbol_market = known.by_symbol.get(symbol) or Market(symbol, "")
            super().__init__([self.symbol_market])
        else:
            super().__init__(list(known.markets))
        self.known = known
        self.venue = venue
        self.renames = renames
        self.derived: dict[str, Market] = {}  # id -> market made from it
        self.unknown: Counter[str] = Counter()  # id -> payloads that named it
        self.missed: list[str] = []  # the ids the current payload named that are unknown
        self.taken: str | None = None  # the id taken for --symbol's market
        self.lookup = self._find  # type: ignore[method-assign]

    def _find(self, native: str) -> Market | None:
        m = self.by_id.get(native) or self.known.by_id.get(native) or self.derived.get(native)
        if m is not None:
            return m
        m = derive(self.venue, native, self.renames)
        if m is not None:
            m = self.known.by_symbol.get(m.symbol, m)  # the same market under another id
            self.derived[native] = m
            return m
        if self.symbol_market is not None and self.taken in (None, native):
            self.taken = native
            return self.symbol_market
        self.missed.append(native)
        return None


def unwrap(payload: Any) -> tuple[Any, int | None]:
    """A frame out of the envelopes recorders keep it in, with the receive time (ns) where
    the envelope has one: cryptofeed's ``{"recv_ts": 1618677608.92, "frame": {...}}``, and
    Binance's combined streams ``{"stream": "btcusdt@ticker", "data": {...}}``."""
    if isinstance(payload, dict):
        if payload.keys() == {"recv_ts", "frame"} and isinstance(payload["recv_ts"], float | int):
            return unwrap(payload["frame"])[0], round(payload["recv_ts"] * 1e9)
        if payload.keys() == {"stream", "data"}:
            return payload["data"], None
    return payload, None


def describe(venue: str, payload: Any) -> str:
    """A payload's shape in a few words, for an error that names no Python internals."""
    if venue == "kraken" and isinstance(payload, list):
        return "a Kraken WebSocket v1 array (this codec reads WebSocket v2 objects)"
    if isinstance(payload, list):
        return f"a JSON array of {len(payload)} items"
    if isinstance(payload, dict):
        keys = ", ".join(list(payload)[:6]) + (", ..." if len(payload) > 6 else "")
        return f"a JSON object with keys {keys}" if payload else "an empty JSON object"
    return f"a JSON {type(payload).__name__}"


def decode(line: str) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
