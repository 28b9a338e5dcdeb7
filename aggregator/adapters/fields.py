"""Where a venue's ticker keeps each field of the record: declared once per codec.

A codec declares which field of its decoded message holds which number of the record
(``bid="bidPx"``), where its time is and in which unit, and what the venue implies rather
than sends; ``record`` then makes the Ticker in one call. ``StructFields`` reads a msgspec
Struct declared in the codec (its numbers are floats already, or BAD from the permissive
twin); ``TickerFields`` reads a decoded JSON object, each number through ``records.num``.

The declaration becomes three small functions (``record``, ``record_top`` with a book's best
levels, ``records`` for a venue's list of tickers), made when the codec's module is imported
(as ``collections.namedtuple`` makes its class): the record is made exactly as a hand-written
construction would make it, at the same speed. A generic reader (``operator.attrgetter`` of
the declared names, then a reorder with the nulls) measured 2 to 3 times slower per record
(bench/README.md, "Codec repetition").
"""

from __future__ import annotations

from collections.abc import Callable
from keyword import iskeyword
from typing import Any

from ..records import MARKET_FIELDS, Ticker, minus, num, times
from ..symbols import Market

TimeOf = Callable[[Any], int | None]  # a venue's time to the record's ns (timestamps.*)
Record = Callable[..., Ticker]  # (venue, m, message, ts_recv, ts_event=None) -> Ticker


class _Layout:
    """A declaration: the venue's name of each number of the record (a number with no
    name is null: the venue does not send it) and of its time, with the time's unit
    (``ts_event=("ts", ms_to_ns)``; a bare name is a time in ns already). A number sent
    under one name or another (by endpoint, or when one is null) has a tuple of names: the
    first one not null is the record's (``volume=("vol", "volume")``).

    What a venue implies rather than sends: ``change``, the name of the change over 24 h,
    gives the open (last minus change) when no open is sent; ``vwap``, the name of the
    24 h average price, gives the quote volume (vwap times volume).

    ``market_id``, the name of the venue's id of the market, lets ``records`` make the
    records of a list of tickers, leaving out the markets not followed.
    """

    __slots__ = ("record", "record_top", "records")

    def __init__(
        self,
        read: Callable[[str], str | None],
        number: str,
        *,
        market_id: str | None = None,
        ts_event: str | tuple[str, TimeOf] | None = None,
        change: str | None = None,
        vwap: str | None = None,
        **numbers: str | tuple[str, ...],
    ) -> None:
        if unknown := numbers.keys() - set(MARKET_FIELDS):
            raise TypeError(f"a record has no number {', '.join(sorted(unknown))}")
        if vwap is not None and "quote_volume" in numbers:
            raise TypeError("the quote volume is sent, or implied by the vwap: not both")
        sent = {f: (n,) if isinstance(n, str) else n for f, n in numbers.items()}
        names = [n for ns in sent.values() for n in ns]
        names += [n for n in (change, vwap, market_id) if n is not None]
        time: TimeOf | None = None
        if isinstance(ts_event, tuple):
            ts_event, time = ts_event
        if ts_event is not None:
            names.append(ts_event)
        if bad := [n for n in names if read(n) is None]:
            raise TypeError(f"not a field name: {', '.join(map(repr, bad))}")
        value = {
            f: _first([number.format(read(n)) for n in sent.get(f, ())]) for f in MARKET_FIELDS
        }
        if change is not None:
            implied = f"minus({value['last']}, {number.format(read(change))})"
            value["open"] = _first([value["open"], implied] if "open" in sent else [implied])
        if vwap is not None:
            value["quote_volume"] = f"times({number.format(read(vwap))}, {value['volume']})"
        at = "ts_event" if ts_event is None else read(ts_event)
        if time is not None:
            at = f"time({at})"
        numbers_made = ", ".join(value.values())
        rest_made = ", ".join(list(value.values())[4:])  # after the book's top
        made = f"Ticker(venue, m.symbol, m.native, {numbers_made}, {at}, ts_recv)"
        top = f"Ticker(venue, m.symbol, m.native, *top, {rest_made}, {at}, ts_recv)"
        rows = "_no_market_id()"
        if market_id is not None:
            rows = f"[{made} for t in rows if (m := lookup({read(market_id)})) is not None]"
        source = (
            f"def record(venue, m, t, ts_recv, ts_event=None):\n    return {made}\n"
            f"def record_top(venue, m, t, top, ts_recv, ts_event=None):\n    return {top}\n"
            f"def records(venue, lookup, rows, ts_recv, ts_event=None):\n    return {rows}\n"
        )
        scope: dict[str, Any] = {
            "Ticker": Ticker, "minus": minus, "times": times, "num": num, "time": time, "_or": _or,
            "_no_market_id": _no_market_id,
        }  # fmt: skip
        exec(source, scope)  # the names are checked above, or quoted
        self.record: Record = scope["record"]
        self.record.__doc__ = (
            "The record of market ``m`` from the message ``t``; ``ts_event`` is the time of"
            " a message that carries none of its own."
        )
        self.record_top: Record = scope["record_top"]
        self.record_top.__doc__ = (
            "``record(venue, m, t, ts_recv, ts_event)`` with the best bid, its size, the best"
            " ask and its size from ``top`` (a book's, as the codec finds them)."
        )
        self.records: Callable[..., list[Ticker]] = scope["records"]
        self.records.__doc__ = (
            "(venue, lookup, rows, ts_recv, ts_event=None): the records of the ``rows`` whose"
            " market (``lookup`` of their ``market_id``) is followed; the others are left out."
        )


def _or(sent: float | None, implied: float | None) -> float | None:
    return implied if sent is None else sent


def _first(values: list[str]) -> str:
    """The expression of the first of ``values`` that is not null ("None": none sent)."""
    if not values:
        return "None"
    return values[0] if len(values) == 1 else f"_or({values[0]}, {_first(values[1:])})"


def _no_market_id() -> list[Ticker]:
    raise TypeError("records() reads the market of each row: declare its market_id")


class StructFields(_Layout):
    """The layout of a declared message (a msgspec Struct): ``bid="bidPx"`` makes the
    record's bid the Struct's ``bidPx``, as it is; a dotted name reads a nested Struct."""

    __slots__ = ()

    def __init__(
        self,
        *,
        market_id: str | None = None,
        ts_event: str | tuple[str, TimeOf] | None = None,
        change: str | None = None,
        vwap: str | None = None,
        **numbers: str | tuple[str, ...],
    ) -> None:
        super().__init__(
            _attribute,
            "{}",
            market_id=market_id,
            ts_event=ts_event,
            change=change,
            vwap=vwap,
            **numbers,
        )


class TickerFields(_Layout):
    """The layout of a ticker as a decoded JSON object: ``bid="buy"`` makes the record's
    bid the object's "buy", read by ``records.num``. For answers with no declared type."""

    __slots__ = ()

    def __init__(
        self,
        *,
        ts_event: str | tuple[str, TimeOf] | None = None,
        change: str | None = None,
        vwap: str | None = None,
        **numbers: str | tuple[str, ...],
    ) -> None:
        super().__init__(
            lambda name: f"t.get({name!r})",
            "num({})",
            market_id=None,  # a dict's rows go through Codec.followed
            ts_event=ts_event,
            change=change,
            vwap=vwap,
            **numbers,
        )


def _attribute(name: str) -> str | None:
    """The expression reading a Struct's (dotted) attribute; None if not a name."""
    parts = name.split(".")
    return f"t.{name}" if all(p.isidentifier() and not iskeyword(p) for p in parts) else None


# A book's best bid, its size, best ask and its size (None for an empty side).
Top = tuple[float | None, float | None, float | None, float | None]


def top_of_book(venue: str, m: Market, top: Top, ts_recv: int, ts_event: int | None) -> Ticker:
    """The record of a book's top: the best bid and ask with their sizes, nothing else."""
    bid, bid_size, ask, ask_size = top
    return Ticker(
        venue, m.symbol, m.native, bid, bid_size, ask, ask_size, ts_event=ts_event, ts_recv=ts_recv
    )
