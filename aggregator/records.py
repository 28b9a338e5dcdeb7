"""The common record: one flat ticker or status record per venue message.

Records are dataclasses serialised by orjson (fields in declaration order, floats in
shortest round-trip form). They keep their ``__dict__`` on purpose: orjson serialises a
dataclass instance from its ``__dict__`` in one pass, and field by field through getattr
when it has slots, which measured twice the instructions per record (bench/README.md).
Timestamps are integer nanoseconds since the epoch. A field the venue does not send is
``None`` and goes out as JSON ``null``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

# The time helpers live in .timestamps; codecs import them from here as well.
from .timestamps import NS_MAX as NS_MAX
from .timestamps import iso_to_ns as iso_to_ns
from .timestamps import ms_to_ns as ms_to_ns
from .timestamps import seconds_to_ns as seconds_to_ns
from .timestamps import us_to_ns as us_to_ns
from .timestamps import valid_ns as valid_ns

# For codecs of merged channels: "the venue says this value is gone" (an empty book side),
# as opposed to None, "this update does not carry the value". The merge turns it into None.
EMPTY = math.nan

# Price and size fields: the ones a merge of two partial updates carries over.
MARKET_FIELDS = (
    "bid",
    "bid_size",
    "ask",
    "ask_size",
    "last",
    "open",
    "high",
    "low",
    "volume",
    "quote_volume",
)


@dataclass(init=False)
class Ticker:
    """Top of book and 24 h statistics of one market at one venue."""

    type: str = field(init=False)  # always "ticker"; set by __init__
    exchange: str
    symbol: str
    native: str
    bid: float | None = None
    bid_size: float | None = None
    ask: float | None = None
    ask_size: float | None = None
    last: float | None = None
    open: float | None = None
    high: float | None = None
    low: float | None = None
    volume: float | None = None
    quote_volume: float | None = None
    ts_event: int | None = None
    ts_recv: int = 0
    seq: int = 0
    instance: str | None = None  # the daemon instance (scale-out); None when not set

    def __init__(
        self,
        exchange: str,
        symbol: str,
        native: str,
        bid: float | None = None,
        bid_size: float | None = None,
        ask: float | None = None,
        ask_size: float | None = None,
        last: float | None = None,
        open: float | None = None,
        high: float | None = None,
        low: float | None = None,
        volume: float | None = None,
        quote_volume: float | None = None,
        ts_event: int | None = None,
        ts_recv: int = 0,
        seq: int = 0,
        instance: str | None = None,
    ) -> None:
        # Written out (not generated) so that every field, `type` first, is in the instance
        # dict in declaration order: orjson writes the dict as it is.
        self.type = "ticker"
        self.exchange = exchange
        self.symbol = symbol
        self.native = native
        self.bid = bid
        self.bid_size = bid_size
        self.ask = ask
        self.ask_size = ask_size
        self.last = last
        self.open = open
        self.high = high
        self.low = low
        self.volume = volume
        self.quote_volume = quote_volume
        self.ts_event = ts_event
        self.ts_recv = ts_recv
        self.seq = seq
        self.instance = instance

    def key(self) -> tuple[str, str, str]:
        return ("ticker", self.exchange, self.symbol)

    def merge_from(self, prev: Ticker | None) -> None:
        """Fill the market fields this update lacks from the previous record.

        A field set to EMPTY (the venue said the value is gone: an empty book side) is not
        filled: it becomes None. (Written out field by field: this runs for every record of
        a merged stream. `value != value` is true only for NaN, i.e. EMPTY.)
        """
        if prev is None:
            prev = _NOTHING
        if self.bid is None:
            self.bid = prev.bid
        elif self.bid != self.bid:
            self.bid = None
        if self.bid_size is None:
            self.bid_size = prev.bid_size
        elif self.bid_size != self.bid_size:
            self.bid_size = None
        if self.ask is None:
            self.ask = prev.ask
        elif self.ask != self.ask:
            self.ask = None
        if self.ask_size is None:
            self.ask_size = prev.ask_size
        elif self.ask_size != self.ask_size:
            self.ask_size = None
        if self.last is None:
            self.last = prev.last
        elif self.last != self.last:
            self.last = None
        if self.open is None:
            self.open = prev.open
        elif self.open != self.open:
            self.open = None
        if self.high is None:
            self.high = prev.high
        elif self.high != self.high:
            self.high = None
        if self.low is None:
            self.low = prev.low
        elif self.low != self.low:
            self.low = None
        if self.volume is None:
            self.volume = prev.volume
        elif self.volume != self.volume:
            self.volume = None
        if self.quote_volume is None:
            self.quote_volume = prev.quote_volume
        elif self.quote_volume != self.quote_volume:
            self.quote_volume = None

    def same_market_values(self, other: Ticker) -> bool:
        return self.ts_event == other.ts_event and all(
            getattr(self, n) == getattr(other, n) for n in MARKET_FIELDS
        )


_NOTHING = Ticker("", "", "")  # merge_from(None): every market field None


@dataclass
class Status:
    """A transition of an adapter's connection: the gaps in the data, in the data.

    ``state`` is one of STATES; ``detail`` says why in a few words; ``conn`` is the
    connection index for venues whose symbols are spread over several connections.
    """

    type: str = field(default_factory=lambda: "status", init=False)  # in the instance dict
    exchange: str
    state: str
    detail: str | None = None
    conn: int | None = None
    ts_recv: int = 0
    seq: int = 0
    instance: str | None = None
    symbol: None = field(default_factory=lambda: None, init=False)  # filters treat both alike

    def key(self) -> tuple[str, str, str]:
        return ("status", self.exchange, "" if self.conn is None else str(self.conn))


STATES = (
    "starting",  # adapter created, loading markets
    "connecting",  # opening a connection (or first poll)
    "subscribed",  # connected and subscription sent
    "live",  # first data after (re)connecting, or recovered from stale
    "stale",  # no data for stale_after seconds
    "disconnected",  # connection lost or failed; detail says why
    "fallback",  # the stream stayed down: polling REST until it recovers
    "rate_limited",  # the venue asked us to slow down (HTTP 429/418)
    "error",  # the venue sent something we could not use (parse error, error message)
    "stopped",  # shutdown
)

Record = Ticker | Status


def dumps(record: Record) -> bytes:
    """One record as a JSON line (with the trailing newline)."""
    return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)


def now_ns() -> int:
    return time.time_ns()


def num(value: Any) -> float | None:
    """A venue's number (string, int or float) as a finite float, or None.

    Empty strings, null, "NaN" and infinities become None: a missing value is never
    turned into 0 or into a made-up number.
    """
    if value is None or value == "":
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    if math.isfinite(f):
        return f
    return None


def minus(a: float | None, b: float | None) -> float | None:
    """a - b rounded to the decimals the venue used: 63297.8 - 0.7 is 63297.1, not ...0006.

    For values a venue implies rather than sends, such as the open from last and change.
    """
    if a is None or b is None:
        return None
    d = a - b
    return round(d, max(_decimals(a), _decimals(b))) if math.isfinite(d) else None


def times(a: float | None, b: float | None) -> float | None:
    """a * b, or None: a quote volume from a VWAP and a base volume, say (None on overflow)."""
    if a is None or b is None:
        return None
    p = a * b
    return p if math.isfinite(p) else None


def _decimals(x: float) -> int:
    text = repr(x)
    if "e" in text:
        mantissa, exp = text.split("e")
        frac = len(mantissa.split(".")[1]) if "." in mantissa else 0
        return max(0, frac - int(exp))
    return len(text) - text.index(".") - 1 if "." in text else 0
