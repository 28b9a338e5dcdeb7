"""The common record: one flat ticker or status record per venue message.

Records are msgspec Structs: a codec makes one in a single C call, and a batch of them
becomes JSON lines in one more (``encode_lines``: fields in declaration order after the
``type`` tag, floats in shortest round-trip form). Timestamps are integer nanoseconds
since the epoch. A field the venue does not send is ``None`` and goes out as JSON
``null``; so does one it sent badly or out of range, which ``Ticker.settle`` (run by the
adapter on every record) also names in the record's ``flags``. Sinks read records through
the ``Record`` protocol, which every record type (and the consolidated view's) satisfies.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

import msgspec

# The time helpers live in .timestamps; codecs import them from here as well.
from .timestamps import NS_MAX as NS_MAX
from .timestamps import iso_to_ns as iso_to_ns
from .timestamps import ms_to_ns as ms_to_ns
from .timestamps import seconds_to_ns as seconds_to_ns
from .timestamps import us_to_ns as us_to_ns
from .timestamps import valid_ns as valid_ns

# The value helpers codecs use (num, level, best_level, minus, times and the markers EMPTY
# and BAD) live in .values; codecs import them from here as well.
from .values import BAD as BAD
from .values import EMPTY as EMPTY
from .values import best_level as best_level
from .values import level as level
from .values import minus as minus
from .values import num as num
from .values import times as times

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
# Derivatives' fields a merge carries over (records.Ticker; null on spot).
DERIVATIVE_FIELDS = ("mark", "index", "funding_rate", "funding_ts", "open_interest")
KINDS = ("spot", "perp", "future", "option")  # a record's `kind`
PRICE_FIELDS = ("bid", "ask", "last", "open", "high", "low")  # > 0, else null and flagged
SIZE_FIELDS = ("bid_size", "ask_size", "volume", "quote_volume")  # >= 0, else likewise

# The record's `flags`: what was wrong with the values the venue sent, in this order.
BAD_VALUE = 1  # not a finite number: nulled
NONPOSITIVE_PRICE = 2  # a price <= 0: nulled
NEGATIVE_SIZE = 4  # a size or volume < 0: nulled
CROSSED = 8  # bid > ask: both kept as sent
FLAG_NAMES = ("bad_value", "nonpositive_price", "negative_size", "crossed")
# The `flags` value of each combination (tuples: shared by records, written as JSON lists).
FLAGS: tuple[tuple[str, ...] | None, ...] = tuple(
    tuple(n for i, n in enumerate(FLAG_NAMES) if mask & (1 << i)) or None
    for mask in range(1 << len(FLAG_NAMES))
)


class Ticker(msgspec.Struct, tag_field="type", tag="ticker", gc=False):
    """Top of book and 24 h statistics of one market at one venue.

    A msgspec Struct: made in one C call from the codec's values (positional or by name,
    in this order), encoded by msgspec in field order after its tag (``"type":"ticker"``),
    and never tracked by the garbage collector (it holds no containers but ``flags``, a
    tuple of strings).
    """

    type: ClassVar[str] = "ticker"  # the tag: first in the line, not a field
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
    flags: tuple[str, ...] | None = None  # FLAGS: what was wrong with the values; set by settle
    kind: str = "spot"  # KINDS; a Derivative's is not "spot"

    def key(self) -> tuple[str, str, str]:
        return ("ticker", self.exchange, self.symbol)

    def settle(self, prev: Ticker | None) -> int:
        """Make the codec's values the record's: the one check of every record's numbers.

        ``prev`` is the market's previous record on a merged channel (None otherwise, or for
        its first record). Per market field: None (not in this update) takes ``prev``'s
        value; EMPTY becomes None; BAD, or any NaN, becomes None (BAD_VALUE); a price <= 0
        and a size < 0 become None (NONPOSITIVE_PRICE, NEGATIVE_SIZE). Then bid > ask is
        CROSSED, with both kept. Sets ``flags`` and returns their mask (0: clean).

        Written out field by field: it runs for every record. ``not v > 0.0`` is one test
        for "a NaN or <= 0"; ``v != v`` is true only for a NaN.
        """
        if prev is None:
            prev = _NOTHING
        wrong = 0
        v = self.bid
        if v is None:
            self.bid = prev.bid
        elif not v > 0.0:
            self.bid = None
            if v is not EMPTY:
                wrong |= BAD_VALUE if v != v else NONPOSITIVE_PRICE
        v = self.bid_size
        if v is None:
            self.bid_size = prev.bid_size
        elif not v >= 0.0:
            self.bid_size = None
            if v is not EMPTY:
                wrong |= BAD_VALUE if v != v else NEGATIVE_SIZE
        v = self.ask
        if v is None:
            self.ask = prev.ask
        elif not v > 0.0:
            self.ask = None
            if v is not EMPTY:
                wrong |= BAD_VALUE if v != v else NONPOSITIVE_PRICE
        v = self.ask_size
        if v is None:
            self.ask_size = prev.ask_size
        elif not v >= 0.0:
            self.ask_size = None
            if v is not EMPTY:
                wrong |= BAD_VALUE if v != v else NEGATIVE_SIZE
        v = self.last
        if v is None:
            self.last = prev.last
        elif not v > 0.0:
            self.last = None
            if v is not EMPTY:
                wrong |= BAD_VALUE if v != v else NONPOSITIVE_PRICE
        v = self.open
        if v is None:
            self.open = prev.open
        elif not v > 0.0:
            self.open = None
            if v is not EMPTY:
                wrong |= BAD_VALUE if v != v else NONPOSITIVE_PRICE
        v = self.high
        if v is None:
            self.high = prev.high
        elif not v > 0.0:
            self.high = None
            if v is not EMPTY:
                wrong |= BAD_VALUE if v != v else NONPOSITIVE_PRICE
        v = self.low
        if v is None:
            self.low = prev.low
        elif not v > 0.0:
            self.low = None
            if v is not EMPTY:
                wrong |= BAD_VALUE if v != v else NONPOSITIVE_PRICE
        v = self.volume
        if v is None:
            self.volume = prev.volume
        elif not v >= 0.0:
            self.volume = None
            if v is not EMPTY:
                wrong |= BAD_VALUE if v != v else NEGATIVE_SIZE
        v = self.quote_volume
        if v is None:
            self.quote_volume = prev.quote_volume
        elif not v >= 0.0:
            self.quote_volume = None
            if v is not EMPTY:
                wrong |= BAD_VALUE if v != v else NEGATIVE_SIZE
        if self.kind != "spot":
            wrong |= self.settle_derivative(prev)
        bid, ask = self.bid, self.ask
        if bid is not None and ask is not None and bid > ask:
            wrong |= CROSSED
        self.flags = FLAGS[wrong]  # (None when clean, whatever a copied record said)
        return wrong

    def settle_derivative(self, prev: Ticker) -> int:
        """settle's rules for a Derivative's own fields (none on spot)."""
        return 0

    def same_market_values(self, other: Ticker) -> bool:
        return (
            self.ts_event == other.ts_event
            and self.flags == other.flags
            and all(getattr(self, n) == getattr(other, n) for n in MARKET_FIELDS)
            and all(getattr(self, n, None) == getattr(other, n, None) for n in DERIVATIVE_FIELDS)
        )


_NOTHING = Ticker("", "", "")  # settle(None): every market field None


class Derivative(Ticker, tag_field="type", tag="ticker", gc=False):
    """A ticker of a perpetual swap, a dated future or an option: a Ticker with the fields
    only derivatives have (a spot line never carries them). Prices in the quote currency,
    open interest in base-currency units (the market's contract size applied), times in
    integer ns; a field the venue does not send is null."""

    expiry: int | None = None  # a dated future's (or option's) expiry
    mark: float | None = None
    index: float | None = None
    funding_rate: float | None = None  # per funding interval, as the venue states it
    funding_ts: int | None = None  # the next funding time
    open_interest: float | None = None

    def settle_derivative(self, prev: Ticker) -> int:
        """settle's rules for the derivatives fields: mark and index are prices, open
        interest a size, a funding rate any finite number (it may be negative)."""
        if not isinstance(prev, Derivative):  # the market's first record
            prev = _NO_DERIVATIVE
        wrong = 0
        for name in ("mark", "index"):
            v = getattr(self, name)
            if v is None:
                setattr(self, name, getattr(prev, name))
            elif not v > 0.0:
                setattr(self, name, None)
                if v is not EMPTY:
                    wrong |= BAD_VALUE if v != v else NONPOSITIVE_PRICE
        v = self.open_interest
        if v is None:
            self.open_interest = prev.open_interest
        elif not v >= 0.0:
            self.open_interest = None
            if v is not EMPTY:
                wrong |= BAD_VALUE if v != v else NEGATIVE_SIZE
        v = self.funding_rate
        if v is None:
            self.funding_rate = prev.funding_rate
        elif v - v != 0.0:  # not finite
            self.funding_rate = None
            if v is not EMPTY:
                wrong |= BAD_VALUE
        if self.funding_ts is None:
            self.funding_ts = prev.funding_ts
        return wrong


_NO_DERIVATIVE = Derivative("", "", "", kind="perp")  # its first record: every field None


class Status(msgspec.Struct, tag_field="type", tag="status", gc=False):
    """A transition of an adapter's connection: the gaps in the data, in the data.

    ``state`` is one of STATES; ``detail`` says why in a few words; ``conn`` is the
    connection index for venues whose symbols are spread over several connections;
    ``kind`` the kind of market of the adapter (a venue's spot and perp adapters apart).
    """

    type: ClassVar[str] = "status"
    exchange: str
    state: str
    detail: str | None = None
    conn: int | None = None
    ts_recv: int = 0
    seq: int = 0
    instance: str | None = None
    symbol: None = None  # filters treat both alike
    kind: str = "spot"  # the kind of the adapter's markets (KINDS): one adapter per kind

    def key(self) -> tuple[str, str, str]:
        conn = "" if self.conn is None else str(self.conn)
        if self.kind == "spot":
            return ("status", self.exchange, conn)
        return ("status", self.exchange, f"{self.kind}:{conn}" if conn else self.kind)


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


class Record(Protocol):
    """What the hub and the sinks read of a record, whatever its type."""

    @property
    def type(self) -> str: ...

    @property
    def exchange(self) -> str: ...

    @property
    def symbol(self) -> str | None: ...

    @property
    def seq(self) -> int: ...

    @property
    def ts_recv(self) -> int: ...

    instance: str | None  # set by the daemon on the way out (scale-out)

    def key(self) -> tuple[str, str, str]:
        """What the latest-value cache and conflation key it by: (type, exchange, id)."""
        ...


# The fields of each record type, in the order of its JSON line (`type` first).
TICKER_FIELDS = ("type", *(f.name for f in msgspec.structs.fields(Ticker)))
DERIVATIVE_TICKER_FIELDS = ("type", *(f.name for f in msgspec.structs.fields(Derivative)))
STATUS_FIELDS = ("type", *(f.name for f in msgspec.structs.fields(Status)))

_encoder = msgspec.json.Encoder()
encode_lines = _encoder.encode_lines  # records -> their JSON lines, newline-terminated


def dumps(record: Any) -> bytes:
    """One record as a JSON line (with the trailing newline), in bytes of its own size
    (a line is held as long as a lagging sink keeps it; the encoder's buffer is larger)."""
    return _encode(record) + b"\n"


_encode = _encoder.encode


def lines_of(records: Sequence[Any]) -> list[bytes]:
    """Each record's JSON line, newline-terminated, made in one call for all of them.

    (A JSON string never holds a raw line break, so the lines split where they end.)
    """
    return _encoder.encode_lines(records).splitlines(keepends=True)


def now_ns() -> int:
    return time.time_ns()
