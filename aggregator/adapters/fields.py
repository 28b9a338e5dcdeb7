"""Where a venue's ticker object keeps each field of the record: declared once per codec.

Most venues answer a ticker as one flat object of strings or numbers ("bid", "vol", a time
in some unit); a codec declares which key holds which number and reads the object with
one call, instead of writing the record's fields out by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..records import MARKET_FIELDS, Ticker, minus, num, times
from ..symbols import Market


class TickerFields:
    """The layout of a venue's ticker object: the key of each number of the record
    (``bid="buy"``: the record's bid is the object's "buy", read by ``records.num``), and of
    its time (``ts_event="timestamp"``, read by ``time``: ``timestamps.ms_to_ns``, say). A
    number with no key is null: the venue does not send it.

    What a venue implies rather than sends: ``change``, the key of the change over 24 h,
    gives the open (last minus change) when no open is sent; ``vwap``, the key of the 24 h
    average price, gives the quote volume (vwap times volume).
    """

    __slots__ = ("change", "keys", "time", "time_key", "vwap")

    def __init__(
        self,
        *,
        ts_event: str | None = None,
        time: Callable[[Any], int | None] | None = None,
        change: str | None = None,
        vwap: str | None = None,
        **numbers: str,
    ) -> None:
        if unknown := numbers.keys() - set(MARKET_FIELDS):
            raise TypeError(f"a record has no number {', '.join(sorted(unknown))}")
        if vwap is not None and "quote_volume" in numbers:
            raise TypeError("the quote volume is sent, or implied by the vwap: not both")
        if (ts_event is None) != (time is None):
            raise TypeError("ts_event needs its time function, and time its key")
        # In Ticker's order (MARKET_FIELDS is); None for a number not sent: t.get(None).
        self.keys: tuple[str | None, ...] = tuple(numbers.get(n) for n in MARKET_FIELDS)
        self.time_key = ts_event
        self.time = time
        self.change = change
        self.vwap = vwap

    def record(
        self,
        venue: str,
        m: Market,
        t: dict[str, Any],
        ts_recv: int,
        ts_event: int | None = None,
    ) -> Ticker:
        """The record of market ``m`` from the ticker object ``t``; ``ts_event`` is the time
        for an object that carries none of its own."""
        get: Callable[[Any], Any] = t.get  # a key of None is a number not sent: None
        if self.time is not None:
            ts_event = self.time(get(self.time_key))
        bid, bid_size, ask, ask_size, last, open_, high, low, volume, quote_volume = map(
            num, map(get, self.keys)
        )
        if self.change is not None and open_ is None:
            open_ = minus(last, num(get(self.change)))
        if self.vwap is not None:
            quote_volume = times(num(get(self.vwap)), volume)
        return Ticker(
            venue,
            m.symbol,
            m.native,
            bid,
            bid_size,
            ask,
            ask_size,
            last,
            open_,
            high,
            low,
            volume,
            quote_volume,
            ts_event,
            ts_recv,
        )


# A book's best bid, its size, best ask and its size (None for an empty side).
Top = tuple[float | None, float | None, float | None, float | None]


def top_of_book(venue: str, m: Market, top: Top, ts_recv: int, ts_event: int | None) -> Ticker:
    """The record of a book's top: the best bid and ask with their sizes, nothing else."""
    bid, bid_size, ask, ask_size = top
    return Ticker(
        venue, m.symbol, m.native, bid, bid_size, ask, ask_size, ts_event=ts_event, ts_recv=ts_recv
    )
