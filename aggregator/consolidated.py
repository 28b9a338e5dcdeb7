"""The consolidated view: the best bid and offer of each symbol across the venues.

A consumer of the hub like a sink: it keeps each venue's latest usable top of book per
unified symbol and, when a record moves a book, recomputes that book alone. A better quote
takes the best side in one comparison; the whole book is read again only when its best
quote gets worse or leaves. What changed goes out as a ``bbo`` record through the hub
(deferred to the loop, never from inside an offer), at most once per ``interval`` seconds
per symbol, and only when its values differ from the last one sent.

A venue's quote is left out while it is flagged (a crossed or badly sent book) and from a
status record saying the venue is down (stale, disconnected, reconnecting, stopped) until
its next ticker: a quote from before a gap is not a price anyone can trade on. Quote
currencies are apart unless ``[consolidated.groups]`` merges them (USD with USDT and USDC:
the prices are taken as equal), and the record names the quotes merged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .config import ConsolidatedConfig

EXCHANGE = "consolidated"  # the `exchange` of every bbo record
# A venue's status in one of these: its quotes are left out until its next ticker.
DOWN_STATES = frozenset({"starting", "connecting", "stale", "disconnected", "stopped"})

Quote = tuple[float | None, float | None, float | None, float | None]  # bid, size, ask, size
MarketKey = tuple[str, str]  # a venue market: (exchange, its unified symbol)


@dataclass(init=False)
class BBO:
    """The consolidated best bid and offer of one symbol (or group of quote currencies)."""

    type: str = field(init=False)  # always "bbo"; set by __init__
    exchange: str
    symbol: str
    quotes: tuple[str, ...] | None  # the quote currencies merged; None: the symbol's alone
    bid: float | None
    bid_size: float | None
    bid_exchange: str | None
    ask: float | None
    ask_size: float | None
    ask_exchange: str | None
    venues: int  # venue markets contributing a side
    crossed: bool  # best bid above best ask, across venues
    ts_recv: int
    seq: int
    instance: str | None

    def __init__(
        self,
        exchange: str,
        symbol: str,
        quotes: tuple[str, ...] | None = None,
        bid: float | None = None,
        bid_size: float | None = None,
        bid_exchange: str | None = None,
        ask: float | None = None,
        ask_size: float | None = None,
        ask_exchange: str | None = None,
        venues: int = 0,
        crossed: bool = False,
        ts_recv: int = 0,
        seq: int = 0,
        instance: str | None = None,
    ) -> None:
        # Written out so that `type` is first in the instance dict, as in records.Ticker.
        self.type = "bbo"
        self.exchange = exchange
        self.symbol = symbol
        self.quotes = quotes
        self.bid = bid
        self.bid_size = bid_size
        self.bid_exchange = bid_exchange
        self.ask = ask
        self.ask_size = ask_size
        self.ask_exchange = ask_exchange
        self.venues = venues
        self.crossed = crossed
        self.ts_recv = ts_recv
        self.seq = seq
        self.instance = instance

    def key(self) -> tuple[str, str, str]:
        return ("bbo", self.exchange, self.symbol)


BBO_FIELDS = (
    "type",
    "exchange",
    "symbol",
    "quotes",
    "bid",
    "bid_size",
    "bid_exchange",
    "ask",
    "ask_size",
    "ask_exchange",
    "venues",
    "crossed",
    "ts_recv",
    "seq",
    "instance",
)

Values = tuple[Any, ...]  # a BBO's values from bid to crossed: what "changed" compares


def _size(s: float | None) -> float:
    return -1.0 if s is None else s


class Book:
    """The usable quotes of one symbol and its best bid and ask, kept up to date."""

    __slots__ = (
        "best_ask",
        "best_bid",
        "markets",
        "merged",
        "next_at",
        "pending",
        "quotes",
        "sent",
        "symbol",
        "timer",
    )

    def __init__(self, symbol: str, merged: tuple[str, ...] | None) -> None:
        self.symbol = symbol
        self.merged = merged
        self.quotes: dict[MarketKey, Quote] = {}
        self.markets: set[MarketKey] = set()  # every venue market seen, used or not
        self.best_bid: MarketKey | None = None
        self.best_ask: MarketKey | None = None
        self.pending = False  # a record of it is due
        self.timer: asyncio.TimerHandle | None = None
        self.next_at = 0.0  # monotonic time before which no record goes out (the throttle)
        self.sent: Values | None = None

    def update(self, key: MarketKey, quote: Quote | None) -> bool:
        """Set (None: remove) a market's quote; False when nothing changed."""
        quotes = self.quotes
        old = quotes.get(key)
        if quote == old:
            return False
        if quote is None:
            del quotes[key]
            bid = bid_size = ask = ask_size = None
        else:
            quotes[key] = quote
            bid, bid_size, ask, ask_size = quote
        # A better quote takes a side; the best one getting worse (or going) reads them all.
        # Written out, prices compared inline: this runs for every ticker that moves a book.
        if old is not None and bid == old[0] and bid_size == old[1]:
            pass  # this side did not move (one side of a book often does not)
        elif (best := self.best_bid) == key:
            assert old is not None and old[0] is not None
            op = old[0]
            if bid is None or bid < op or (bid == op and _size(bid_size) < _size(old[1])):
                self.best_bid = self._best(0)
        elif bid is not None:
            if best is None:
                self.best_bid = key
            else:
                bq = quotes[best]
                bp = bq[0]
                assert bp is not None
                if bid > bp or (bid == bp and _bid_beats(bid, bid_size, key, bq, best)):
                    self.best_bid = key
        if old is not None and ask == old[2] and ask_size == old[3]:
            pass
        elif (best := self.best_ask) == key:
            assert old is not None and old[2] is not None
            op = old[2]
            if ask is None or ask > op or (ask == op and _size(ask_size) < _size(old[3])):
                self.best_ask = self._best(2)
        elif ask is not None:
            if best is None:
                self.best_ask = key
            else:
                bq = quotes[best]
                bp = bq[2]
                assert bp is not None
                if ask < bp or (ask == bp and _ask_beats(ask, ask_size, key, bq, best)):
                    self.best_ask = key
        return True

    def _best(self, side: int) -> MarketKey | None:
        """The best market of a side (0: bid, 2: ask), reading every quote of the book: the
        ties broken as ``_bid_beats`` and ``_ask_beats`` do, compared inline (a rescan
        reads tens of quotes)."""
        found: MarketKey | None = None
        fp = fs = 0.0
        higher = side == 0
        for key, q in self.quotes.items():
            p = q[side]
            if p is None:
                continue
            s = q[side + 1]
            s = -1.0 if s is None else s
            if found is not None and p == fp:
                if s < fs or (s == fs and key > found):
                    continue
            elif found is not None and (p < fp if higher else p > fp):
                continue
            found, fp, fs = key, p, s
        return found

    def values(self) -> Values:
        """The record's values from bid to crossed."""
        bid = ask = None
        bid_size = ask_size = None
        bid_ex = ask_ex = None
        if self.best_bid is not None:
            q = self.quotes[self.best_bid]
            bid, bid_size, bid_ex = q[0], q[1], self.best_bid[0]
        if self.best_ask is not None:
            q = self.quotes[self.best_ask]
            ask, ask_size, ask_ex = q[2], q[3], self.best_ask[0]
        crossed = bid is not None and ask is not None and bid > ask
        return (bid, bid_size, bid_ex, ask, ask_size, ask_ex, len(self.quotes), crossed)


# Ties: the larger size, then the exchange that sorts first, so that a book read again
# names the same venue as one kept up to date.
def _bid_beats(
    price: float, size: float | None, key: MarketKey, bq: Quote, bkey: MarketKey
) -> bool:
    bp = bq[0]
    assert bp is not None
    if price != bp:
        return price > bp
    s, bs = _size(size), _size(bq[1])
    return s > bs if s != bs else key < bkey


def _ask_beats(
    price: float, size: float | None, key: MarketKey, bq: Quote, bkey: MarketKey
) -> bool:
    bp = bq[2]
    assert bp is not None
    if price != bp:
        return price < bp
    s, bs = _size(size), _size(bq[3])
    return s > bs if s != bs else key < bkey


class ConsolidatedView:
    """The hub's consumer that keeps the books and publishes their ``bbo`` records.

    ``latest`` is the hub's latest record per key (what the page shows of each venue's
    market). ``publish`` takes the bbo records back to the hub.
    """

    name = EXCHANGE

    def __init__(
        self,
        cfg: ConsolidatedConfig,
        latest: Mapping[tuple[str, str, str], Any],
        publish: Callable[[Any], None],
        instance: str | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.interval = cfg.interval
        self._group = {q: name for name, members in cfg.groups for q in (name, *members)}
        self._merged = {name: tuple(sorted({name, *members})) for name, members in cfg.groups}
        self.latest = latest
        self._publish = publish
        self._instance = instance
        self._clock = clock
        self.books: dict[str, Book] = {}
        self._book_of: dict[str, Book] = {}  # a venue market's symbol -> its book
        # (exchange, kind) -> the books it has markets in: a venue's spot and derivatives
        # adapters are apart, and so are their status records
        self._venue_books: dict[tuple[str, str], set[Book]] = {}
        self._touched: dict[MarketKey, Any] = {}  # the latest ticker of each market touched
        self._due: list[Book] = []
        self._applying: asyncio.Handle | None = None  # the touched markets, applied
        self._flushing: asyncio.Handle | None = None  # the records due, sent
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = False
        self.seq = 0
        self.updates = 0  # quotes that moved a book
        self.published = 0  # bbo records

    # --- the hub side ----------------------------------------------------------------------
    def offer(self, record: Any, line: bytes) -> None:
        self.offer_batch((record,), (line,))

    def offer_batch(
        self, records: Sequence[Any], lines: Sequence[bytes], venue: str | None = None
    ) -> None:
        """Note the markets a batch's tickers touch; they are applied once each on the next
        turn of the loop (a market updated by several reads meanwhile, once). A status record
        applies what came before it first, so that order is kept."""
        if self._stopped:
            return  # (the last status records of a stop: nothing is published any more)
        touched = self._touched
        for r in records:
            kind = r.type
            if kind == "ticker":
                touched[(r.exchange, r.symbol)] = r
            elif kind == "status":
                if touched:
                    self._apply()
                if r.state in DOWN_STATES:
                    self._venue_down(r.exchange, r.kind)
        if touched and self._applying is None:
            loop = self._loop or asyncio.get_running_loop()
            self._loop = loop
            self._applying = loop.call_soon(self._apply)

    def _apply(self) -> None:
        if self._applying is not None:
            self._applying.cancel()
            self._applying = None
        book_of = self._book_of
        for key, r in self._touched.items():
            book = book_of.get(key[1])
            if book is None:
                book = self._new_book(key[1])
            if key not in book.markets:
                book.markets.add(key)
                self._venue_books.setdefault((key[0], r.kind), set()).add(book)
            quote: Quote | None = None
            if r.flags is None and (r.bid is not None or r.ask is not None):
                quote = (r.bid, r.bid_size, r.ask, r.ask_size)
            if book.update(key, quote):
                self.updates += 1
                if not book.pending:
                    self._changed(book)
        self._touched.clear()

    def _venue_down(self, exchange: str, kind: str) -> None:
        for book in self._venue_books.get((exchange, kind), ()):
            gone = [k for k in book.quotes if k[0] == exchange]
            for key in gone:
                book.update(key, None)
            if gone:
                self.updates += 1
                self._changed(book)

    def _new_book(self, symbol: str) -> Book:
        base, _, quote = symbol.partition("/")
        name = self._group.get(quote) if ":" not in quote else None
        book_symbol = symbol if name is None else f"{base}/{name}"
        book = self.books.get(book_symbol)
        if book is None:
            merged = None if name is None else self._merged[name]
            book = self.books[book_symbol] = Book(book_symbol, merged)
        self._book_of[symbol] = book
        return book

    # --- records out: throttled per symbol, deferred to the loop ----------------------------
    def _changed(self, book: Book) -> None:
        if book.pending:
            return
        book.pending = True
        loop = self._loop or asyncio.get_running_loop()
        self._loop = loop
        wait = book.next_at - time.monotonic()
        if wait > 0:
            book.timer = loop.call_later(wait, self._send, book)
            return
        self._due.append(book)
        if self._flushing is None:
            self._flushing = loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flushing = None
        due, self._due = self._due, []
        for book in due:
            self._send(book)

    def _send(self, book: Book) -> None:
        book.pending = False
        book.timer = None
        values = book.values()
        if values == book.sent:
            return
        book.sent = values
        book.next_at = time.monotonic() + self.interval
        self.seq += 1
        self.published += 1
        record = BBO(EXCHANGE, book.symbol, book.merged, *values)
        record.ts_recv = self._clock()
        record.seq = self.seq
        record.instance = self._instance
        self._publish(record)

    def stop(self) -> None:
        """Cancel what is due: nothing more is taken or published."""
        self._stopped = True
        if self._applying is not None:
            self._applying.cancel()
            self._applying = None
        if self._flushing is not None:
            self._flushing.cancel()
            self._flushing = None
        for book in self.books.values():
            if book.timer is not None:
                book.timer.cancel()
                book.timer = None
            book.pending = False
        self._due.clear()

    def stats(self) -> dict[str, int]:
        return {"books": len(self.books), "updates": self.updates, "published": self.published}
