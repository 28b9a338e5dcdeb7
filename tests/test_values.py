"""Values a consumer can trust: what the venue sent badly is null, flagged and counted.

The classes: a value that is not a finite number (NaN, infinities, an unparsable string, a
boolean, an object); a price <= 0; a size < 0; a crossed book (bid > ask). Each is checked
on the record's settle step, through a real adapter (merged channels: the bad field is
null, never the previous value; the fields the frame did not carry are carried over), and
on every codec's recorded frames with a price replaced by a bad value; the daemon in
tests/chaos/test_bad_values.py.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator import settling
from aggregator.adapters.emitter import Connection
from aggregator.adapters.frames import frame_handler
from aggregator.adapters.registry import codec_class
from aggregator.adapters.runner import Adapter
from aggregator.config import ExchangeConfig
from aggregator.errors import ParseError, VenueError
from aggregator.records import (
    BAD,
    EMPTY,
    FLAG_NAMES,
    FLAGS,
    MARKET_FIELDS,
    PRICE_FIELDS,
    SIZE_FIELDS,
    Derivative,
    Record,
    Status,
    Ticker,
    dumps,
    level,
    num,
)
from aggregator.symbols import Market, MarketTable

from .test_codecs import codec, entries, fixture_entries

# --- num: "not sent" (None) against "sent badly" (BAD) -------------------------------------

SENT_BADLY = [
    "NaN", "nan", "-nan", "Infinity", "inf", "-inf", "1e400", "-1e400", "abc", "1.2.3",
    " ", "0x10", True, False, {"price": 1}, [1.5], 10**400, float("nan"), float("inf"),
]  # fmt: skip


@pytest.mark.parametrize("value", SENT_BADLY, ids=repr)
def test_a_value_sent_badly_is_bad_not_missing_and_never_a_number(value: Any) -> None:
    assert num(value) is BAD


@pytest.mark.parametrize("value", [None, ""])
def test_a_value_not_sent_is_none(value: Any) -> None:
    assert num(value) is None


@pytest.mark.parametrize(
    ("value", "want"), [("1.5", 1.5), (2, 2.0), ("-3", -3.0), (0.1, 0.1), ("1e-7", 1e-7)]
)
def test_numbers_are_floats(value: Any, want: float) -> None:
    got = num(value)
    assert type(got) is float and got == want


# --- the settle step ----------------------------------------------------------------------

FULL = {n: 10.0 + i for i, n in enumerate(MARKET_FIELDS)}  # bid 10 < ask 12: not crossed


def ticker(**values: Any) -> Ticker:
    return Ticker("x", "BTC/USD", "BTCUSD", **values)


def flags_of(t: Ticker) -> list[str] | None:
    return orjson.loads(dumps(t))["flags"]


@pytest.mark.parametrize("name", MARKET_FIELDS)
@pytest.mark.parametrize("merged", [True, False])
def test_a_bad_value_is_null_flagged_and_not_the_previous_one(name: str, merged: bool) -> None:
    prev = ticker(**FULL)
    assert prev.settle(None) == 0 and prev.flags is None
    rec = ticker(**{name: num("abc")})
    wrong = rec.settle(prev if merged else None)
    assert getattr(rec, name) is None
    assert rec.flags == ("bad_value",) and flags_of(rec) == ["bad_value"] and wrong == 1
    for other in MARKET_FIELDS:  # the fields the update did not carry: carried when merged
        if other != name:
            assert getattr(rec, other) == (FULL[other] if merged else None)


def test_any_nan_is_bad_only_empty_is_a_side_gone() -> None:
    prev = ticker(**FULL)
    rec = ticker(bid=EMPTY, bid_size=EMPTY, ask=float("nan"), last=BAD)
    rec.settle(prev)
    assert (rec.bid, rec.bid_size, rec.ask, rec.last) == (None, None, None, None)
    assert rec.flags == ("bad_value",)
    emptied = ticker(bid=EMPTY, bid_size=EMPTY)
    assert emptied.settle(prev) == 0 and emptied.flags is None  # not counted, not flagged
    assert emptied.bid is None and emptied.ask == FULL["ask"]


@pytest.mark.parametrize("name", PRICE_FIELDS)
@pytest.mark.parametrize("value", [0.0, -0.0, -1.0, -1e-9])
def test_a_price_not_above_zero_is_null_and_flagged(name: str, value: float) -> None:
    rec = ticker(**{**FULL, name: value})
    rec.settle(None)
    assert getattr(rec, name) is None
    assert rec.flags == ("nonpositive_price",)


@pytest.mark.parametrize("name", SIZE_FIELDS)
def test_a_negative_size_is_null_and_flagged_a_zero_size_is_fine(name: str) -> None:
    rec = ticker(**{**FULL, name: -0.5})
    rec.settle(None)
    assert getattr(rec, name) is None and rec.flags == ("negative_size",)
    zero = ticker(**{**FULL, name: 0.0})
    assert zero.settle(None) == 0 and getattr(zero, name) == 0.0 and zero.flags is None


def test_a_crossed_book_is_flagged_with_its_values_kept_a_locked_one_is_not() -> None:
    crossed = ticker(**{**FULL, "bid": 13.0, "ask": 12.0})
    crossed.settle(None)
    assert (crossed.bid, crossed.ask, crossed.flags) == (13.0, 12.0, ("crossed",))
    locked = ticker(**{**FULL, "bid": 12.0, "ask": 12.0})
    assert locked.settle(None) == 0 and locked.flags is None
    # crossed by the merge: this update's bid against the ask carried over
    merged = ticker(bid=12.5)
    merged.settle(ticker(**FULL))
    assert (merged.bid, merged.ask, merged.flags) == (12.5, FULL["ask"], ("crossed",))


def test_flags_come_in_a_fixed_order() -> None:
    rec = ticker(bid=13.0, ask=12.0, last=BAD, open=-1.0, volume=-2.0)
    rec.settle(None)
    assert rec.flags == FLAG_NAMES  # all four, in the documented order
    assert list(orjson.loads(dumps(rec))) == [
        "type", "exchange", "symbol", "native", *MARKET_FIELDS, "ts_event", "ts_recv", "seq",
        "instance", "flags", "kind",
    ]  # fmt: skip
    assert FLAGS[0] is None and all(FLAGS[1:])


def test_a_copied_record_is_flagged_for_its_own_values() -> None:
    import msgspec

    flagged = ticker(bid=BAD, ask=2.0)
    flagged.settle(None)
    copy = msgspec.structs.replace(flagged, bid=1.0)
    assert copy.settle(None) == 0 and copy.flags is None


def test_a_book_level_is_a_price_above_zero_and_a_size_not_below() -> None:
    assert level("1.5", "0") == (1.5, 0.0)
    for price, size in [("NaN", "1"), ("1", "inf"), (True, "1"), ("0", "1"), ("1", "-1"),
                        (None, "1"), ("abc", "1"), ("1", {})]:  # fmt: skip
        with pytest.raises(ValueError):
            level(price, size)


# --- through a real adapter: the Python path of a merged venue ---------------------------


class Venue:
    """An adapter of one venue fed frames through its real frame handler (Python path,
    records published one by one); everything it published."""

    def __init__(self, venue: str = "binance", markets: list[Market] | None = None) -> None:
        self.out: list[Record] = []
        cfg = ExchangeConfig(venue=venue, symbols=())  # type: ignore[call-arg]
        self.adapter = Adapter(codec_class(venue), cfg, self.out.append, Path("/nonexistent"))
        table = MarketTable(markets or [Market("BTC/USDT", "BTCUSDT")])
        self.codec = codec_class(venue)(table)
        self.conn = Connection(None)
        self.handler = frame_handler(self.adapter.emitter, self.codec, self.conn)

    def feed(self, *frames: dict[str, Any]) -> list[dict[str, Any]]:
        """The lines of the ticker records the frames made."""
        n = len(self.out)
        for f in frames:
            self.handler(orjson.dumps(f))
        return [orjson.loads(dumps(r)) for r in self.out[n:] if isinstance(r, Ticker)]

    def errors(self) -> list[Status]:
        return [r for r in self.out if isinstance(r, Status) and r.state == "error"]


DAY = {
    "e": "24hrTicker", "E": 1786539510015, "s": "BTCUSDT", "c": "64117.99", "o": "64330.6",
    "h": "64500", "l": "63238", "v": "14724.65", "q": "940099726.83", "b": "64117.5",
    "B": "2", "a": "64118", "A": "3",
}  # fmt: skip
BOOK = {"u": 1, "s": "BTCUSDT", "b": "64117.6", "B": "1.5", "a": "64117.9", "A": "0.5"}


@pytest.mark.parametrize("bad", ["NaN", "abc", "1e400", True, {"p": 1}, ["1"], "Infinity"])
def test_binance_bad_bid_is_null_flagged_counted_and_never_the_previous_one(bad: Any) -> None:
    v = Venue()
    day, book = v.feed(DAY, {**BOOK, "b": bad})
    assert day["bid"] == 64117.5 and day["flags"] is None
    assert book["bid"] is None  # not 64117.5, the previous record's, again
    assert book["flags"] == ["bad_value"]
    assert (book["ask"], book["bid_size"], book["ask_size"]) == (64117.9, 1.5, 0.5)
    assert book["last"] == 64117.99 and book["volume"] == 14724.65  # not in the frame: carried
    assert v.adapter.stats().parse_errors == 1 and v.adapter.stats().flagged == 1
    (error,) = v.errors()
    assert error.detail is not None and "BTCUSDT" in error.detail and "(1 so far)" in error.detail
    assert v.out.index(error) > max(i for i, r in enumerate(v.out) if isinstance(r, Ticker))
    # a later frame that does not carry the bid: it stays null, never the older value
    (mini,) = v.feed({"e": "24hrMiniTicker", "E": 1786539511015, "s": "BTCUSDT", "c": "64118"})
    assert mini["bid"] is None and mini["ask"] == 64117.9 and mini["flags"] is None
    (clean,) = v.feed(BOOK)
    assert clean["bid"] == 64117.6 and clean["flags"] is None
    assert v.adapter.stats().parse_errors == 1 and v.adapter.stats().flagged == 1


def test_binance_24h_bad_fields_are_null_the_rest_kept() -> None:
    v = Venue()
    (rec,) = v.feed({**DAY, "c": "NaN", "v": False, "q": "-5", "o": "0"})
    assert (rec["last"], rec["volume"], rec["quote_volume"], rec["open"]) == (None,) * 4
    assert rec["flags"] == ["bad_value", "nonpositive_price", "negative_size"]
    assert rec["high"] == 64500.0 and rec["bid"] == 64117.5
    assert v.adapter.stats().parse_errors == 1 and v.adapter.stats().flagged == 1


@pytest.mark.parametrize(
    ("change", "field", "flag"),
    [
        ({"b": "-1"}, "bid", "nonpositive_price"),
        ({"a": "0.00000000"}, "ask", "nonpositive_price"),
        ({"B": "-0.5"}, "bid_size", "negative_size"),
    ],
)
def test_binance_nonpositive_price_and_negative_size(
    change: dict[str, str], field: str, flag: str
) -> None:
    v = Venue()
    _, rec = v.feed(DAY, {**BOOK, **change})
    assert rec[field] is None and rec["flags"] == [flag]
    stats = v.adapter.stats()
    assert stats.flagged == 1 and stats.parse_errors == 0  # not a parse error
    assert v.errors() == []


def test_binance_crossed_book_keeps_its_values_and_is_flagged() -> None:
    v = Venue()
    (rec,) = v.feed({**BOOK, "b": "64118", "a": "64117"})
    assert (rec["bid"], rec["ask"], rec["flags"]) == (64118.0, 64117.0, ["crossed"])
    (locked,) = v.feed({**BOOK, "b": "64117", "a": "64117"})
    assert locked["flags"] is None
    assert v.adapter.stats().flagged == 1 and v.adapter.stats().parse_errors == 0


def test_binance_every_line_has_flags_null_when_clean() -> None:
    v = Venue()
    for rec in v.feed(DAY, BOOK, {"e": "24hrMiniTicker", "s": "BTCUSDT", "c": "1"}):
        assert "flags" in rec and rec["flags"] is None


def test_a_rest_poll_repeating_the_same_values_is_still_deduped() -> None:
    """The REST path: a poll's records go through the same settle step before the dedupe,
    so a repeat of the same (even flagged) values publishes nothing new."""
    v = Venue()
    body = [
        {
            "symbol": "BTCUSDT", "lastPrice": "abc", "bidPrice": "2", "bidQty": "1",
            "askPrice": "1", "askQty": "1", "openPrice": "-1", "highPrice": "3",
            "lowPrice": "1", "volume": "5", "quoteVolume": "10", "closeTime": 1710328245391,
        }
    ]  # fmt: skip
    for _ in range(3):
        records = v.codec.parse_rest(orjson.dumps(body), 1, None)
        v.adapter.emitter.emit(records, v.conn, dedupe=True)
    tickers = [r for r in v.out if isinstance(r, Ticker)]
    assert len(tickers) == 1
    assert tickers[0].flags == ("bad_value", "nonpositive_price", "crossed")
    assert (tickers[0].last, tickers[0].open, tickers[0].bid) == (None, None, 2.0)
    assert v.adapter.stats().parse_errors == 1 and v.adapter.stats().flagged == 1
    body[0]["lastPrice"] = "1.5"  # a change: published, clean but for what is still wrong
    v.adapter.emitter.emit(v.codec.parse_rest(orjson.dumps(body), 1, None), v.conn, dedupe=True)
    last = [r for r in v.out if isinstance(r, Ticker)][-1]
    assert last.last == 1.5 and last.flags == ("nonpositive_price", "crossed")


# --- every codec, on its recorded payloads --------------------------------------------------

BAD_CASES = [  # (replacement, whether the original was a string), the expected flag
    (lambda s: "NaN", "bad_value"),
    (lambda s: "abc", "bad_value"),
    (lambda s: True, "bad_value"),
    (lambda s: {"v": 1}, "bad_value"),
    (lambda s: "-1" if s else -1, "nonpositive_price"),
]
BAD_IDS = ["NaN", "abc", "true", "object", "-1"]


def _number(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float, str)):
        return None
    try:
        f = float(x)
    except ValueError:
        return None
    return f if f == f else None


def _replace(doc: Any, value: float, bad: Callable[[bool], Any]) -> tuple[Any, int]:
    """The document with every number (or numeric string) equal to `value` replaced; how
    many were."""
    if isinstance(doc, dict):
        out, n = {}, 0
        for k, v in doc.items():
            out[k], m = _replace(v, value, bad)
            n += m
        return out, n
    if isinstance(doc, list):
        items = [_replace(v, value, bad) for v in doc]
        return [v for v, _ in items], sum(m for _, m in items)
    if _number(doc) == value:
        return bad(isinstance(doc, str)), 1
    return doc, 0


def _settled(venue: str, records: list[Ticker]) -> list[Ticker]:
    """The records as the runner settles them (merged per market on merged channels)."""
    merge = codec_class(venue).MERGE
    last: dict[str, Ticker] = {}
    for r in records:
        r.settle(last.get(r.native) if merge else None)
        last[r.native] = r
    return records


def _ticker_cases() -> Iterator[Any]:
    for p in entries("rest", "rest-doc", "ws"):
        venue, symbol, entry = p.values
        kind = p.id.split("-")[0]
        yield pytest.param(venue, symbol, entry, kind, id=p.id)


def _parse(venue: str, symbol: str, entry: dict[str, Any], kind: str, doc: Any) -> list[Ticker]:
    c = codec(venue)
    if kind == "ws":
        records: list[Ticker] = []
        for frame in doc:
            records.extend(c.parse_ws(json.dumps(frame), 1))
    else:
        records = c.parse_rest(json.dumps(doc).encode(), 1, c.table.by_symbol[symbol])
    return [r for r in _settled(venue, records) if r.symbol == symbol]


@pytest.mark.parametrize(("bad", "flag"), BAD_CASES, ids=BAD_IDS)
@pytest.mark.parametrize(("venue", "symbol", "entry", "kind"), list(_ticker_cases()))
def test_every_codec_nulls_and_flags_a_bad_price(
    venue: str, symbol: str, entry: dict[str, Any], kind: str, bad: Any, flag: str
) -> None:
    """A recorded payload with its last (or bid, or ask) price replaced wherever it appears:
    the records have null there, never the old value, and the flag."""
    doc = entry["messages"] if kind == "ws" else entry["httpResponse"]
    clean = _parse(venue, symbol, entry, kind, doc)
    assert clean, "the recorded payload makes a record"
    name = next(n for n in ("last", "bid", "ask") if getattr(clean[-1], n) is not None)
    value = getattr(clean[-1], name)
    spoiled, replaced = _replace(doc, value, bad)
    assert replaced, f"{name}={value} is not in the payload"
    records = _parse(venue, symbol, entry, kind, spoiled)
    assert records
    assert all(getattr(r, name) != value for r in records)  # never the old value
    flagged = [r for r in records if r.flags and flag in r.flags]
    assert flagged and all(getattr(r, name) is None for r in flagged), [
        (getattr(r, name), r.flags) for r in records
    ]


# --- order books: a level that cannot be read ---------------------------------------------

BOOK_VENUES = ("cex", "independentreserve", "luno")


def _book_cases() -> Iterator[Any]:
    for path, i, e in fixture_entries("ws"):
        if path.stem in BOOK_VENUES and e["method"] == "watchOrderBook":
            yield pytest.param(path.stem, e, id=f"{path.stem}-{i}")


@pytest.mark.parametrize("bad", ["NaN", "abc", True, "-1", "Infinity"], ids=repr)
@pytest.mark.parametrize(("venue", "entry"), list(_book_cases()))
def test_a_book_level_that_cannot_be_read_renews_the_book(
    venue: str, entry: dict[str, Any], bad: Any
) -> None:
    """The best bid's price replaced in every frame: the book is out of step (a VenueError
    that renews the session), and no record is made from it, let alone the old value."""
    cls = codec_class(venue)
    c = cls(cls.markets_from(snapshot(venue)))
    c.subscribe([c.table.by_symbol[entry["input"][0]]])
    clean: list[Ticker] = []
    for frame in entry["messages"]:
        try:
            clean.extend(c.parse_ws(json.dumps(frame), 1))
        except VenueError:
            break
    assert clean and clean[0].bid is not None
    value = clean[0].bid
    c = cls(cls.markets_from(snapshot(venue)))
    c.subscribe([c.table.by_symbol[entry["input"][0]]])
    records: list[Ticker] = []
    raised: list[Exception] = []
    for frame in entry["messages"]:
        spoiled, _ = _replace(frame, value, lambda s: bad)
        try:
            records.extend(c.parse_ws(json.dumps(spoiled), 1))
        except VenueError as e:
            raised.append(e)
    assert raised, "the bad level was taken"
    assert not isinstance(raised[0], ParseError) and "out of step" in str(raised[0])
    assert all(r.bid != value for r in records)


def snapshot(venue: str) -> bytes:
    from aggregator.symbols import snapshot_path

    return snapshot_path(venue).read_bytes()


# --- an emptied book side on a merged channel: null, not the previous value -----------------

# venue: (market id, the book's bids ([]: none)) -> the payload
EMPTIED: dict[str, Callable[[str, list[Any]], dict[str, Any]]] = {
    "okx": lambda n, bids: {
        "arg": {"channel": "bbo-tbt", "instId": n},
        "data": [{"asks": [["8446", "95", "0", "3"]], "bids": bids, "ts": "1597026383085"}],
    },
    "poloniex": lambda n, bids: {
        "channel": "book",
        "data": [
            {
                "symbol": n,
                "createTime": 1694469187745,
                "asks": [["25157.24", "0.44"]],
                "bids": bids,
                "id": 598273384,
                "ts": 1694469187733,
            }
        ],
    },
    "lbank": lambda n, bids: {
        "depth": {"asks": [[0.0252, 0.5833]], "bids": bids},
        "count": 10,
        "type": "depth",
        "pair": n,
        "SERVER": "V2",
        "TS": "2019-06-28T17:49:22.722",
    },
    "htx": lambda n, bids: {
        "ch": f"market.{n}.detail.merged",
        "status": "ok",
        "ts": 1710328245889,
        "tick": {"close": 73360.54, "bid": bids[0] if bids else [], "ask": [73360.54, 0.5]},
    },
}


@pytest.mark.parametrize("venue", sorted(EMPTIED))
def test_an_emptied_book_side_is_null_not_the_previous_value(venue: str) -> None:
    c = codec(venue)
    assert codec_class(venue).MERGE
    native = next(iter(c.table.markets)).native
    make = EMPTIED[venue]
    full, emptied = make(native, [["0.0251", "2"]]), make(native, [])
    if venue == "htx":  # its REST answer carries [price, size] pairs
        records = [r for d in (full, emptied) for r in c.parse_rest(orjson.dumps(d), 1, None)]
    else:
        records = [r for d in (full, emptied) for r in c.parse_ws(orjson.dumps(d), 1)]
    first, second = _settled(venue, records)
    assert first.bid == 0.0251 and first.bid_size == 2.0
    assert second.bid is None and second.bid_size is None  # the venue says: no bid
    assert second.ask is not None and second.flags is None  # not a bad value: not flagged


def test_an_emptied_book_side_is_not_counted_by_the_adapter() -> None:
    m = next(iter(codec("okx").table.markets))
    v = Venue("okx", [m])
    make = EMPTIED["okx"]
    full, emptied = v.feed(make(m.native, [["8445", "11", "0", "1"]]), make(m.native, []))
    assert full["bid"] == 8445.0 and emptied["bid"] is None and emptied["flags"] is None
    assert (v.adapter.stats().parse_errors, v.adapter.stats().flagged, v.errors()) == (0, 0, [])


# --- the counts, where an operator sees them ------------------------------------------------


def test_the_flagged_count_is_in_the_status_report_and_the_metrics() -> None:
    from aggregator.app import Daemon
    from aggregator.config import loads
    from aggregator.metrics import render

    cfg = loads("[exchanges.binance]\nsymbols = ['BTC/USDT']\n", check_paths=False)
    daemon = Daemon(cfg)
    (adapter,) = daemon.adapters
    adapter.emitter.counters.flagged, adapter.emitter.counters.parse_errors = 7, 3
    (venue,) = daemon.ops.report()["venues"]
    assert (venue["flagged"], venue["parse_errors"]) == (7, 3)
    text = render(daemon.ops)
    assert 'aggregator_venue_flagged_total{exchange="binance"} 7.0' in text.splitlines()


def test_normalize_flags_what_the_daemon_flags() -> None:
    """`aggregator normalize`, offline, checks each record as the daemon does."""
    import io

    from aggregator.normalize import normalize

    frames = [{**BOOK, "b": "abc"}, {**BOOK, "b": "-1"}, {**BOOK, "b": "64118"}, BOOK]
    stdin = io.StringIO("\n".join(json.dumps(f) for f in frames) + "\n")
    stdout, stderr = io.StringIO(), io.StringIO()
    assert normalize("binance", "ws", "BTC/USDT", None, stdin, stdout, stderr) == 0
    lines = [json.loads(x) for x in stdout.getvalue().splitlines()]
    assert [d["flags"] for d in lines] == [["bad_value"], ["nonpositive_price"], ["crossed"], None]
    assert [d["bid"] for d in lines] == [None, None, 64118.0, 64117.6]


# --- the compiled check: the same as Ticker.settle ------------------------------------------

_VALUES = st.one_of(
    st.none(),
    st.sampled_from([EMPTY, BAD, math.nan, math.inf, -math.inf, 0.0, -0.0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-5, max_value=5),
)


def _record(draw: st.DrawFn, kind: str) -> Ticker:
    values: dict[str, Any] = {name: draw(_VALUES) for name in MARKET_FIELDS}
    if kind == "spot":
        return Ticker("x", "A/B", "AB", **values)
    more: dict[str, Any] = {"mark": draw(_VALUES), "index": draw(_VALUES)}
    more["open_interest"] = draw(_VALUES)
    more["funding_ts"] = draw(st.one_of(st.none(), st.integers(0, 2**62)))
    more["funding_rate"] = draw(_VALUES)
    return Derivative("x", "A/B:B", "AB", kind=kind, **values, **more)


@st.composite
def _pairs(draw: st.DrawFn) -> tuple[Ticker, Ticker | None]:
    kind = draw(st.sampled_from(["spot", "perp"]))
    rec = _record(draw, kind)
    return rec, (_record(draw, kind) if draw(st.booleans()) else None)


def _state(r: Ticker) -> list[Any]:
    """Every field, NaNs by identity (EMPTY, BAD and other NaNs told apart)."""
    out: list[Any] = []
    for name in r.__struct_fields__:
        v = getattr(r, name)
        out.append(("nan", id(v)) if isinstance(v, float) and v != v else v)
    return out


@pytest.mark.skipif(settling.settle is Ticker.settle, reason="built without the compiled check")
@settings(max_examples=400, deadline=None)
@given(_pairs())
def test_the_compiled_check_is_ticker_settle(pair: tuple[Ticker, Ticker | None]) -> None:
    rec, prev = pair
    twin = msgspec.structs.replace(rec)
    assert settling.settle(rec, prev) == Ticker.settle(twin, prev)
    assert _state(rec) == _state(twin)
    assert rec.flags is twin.flags  # the shared tuples of FLAGS


@st.composite
def _reads(draw: st.DrawFn) -> tuple[list[Ticker], list[Ticker], bool, bool, str | None]:
    """A read's records over three markets (some repeated), and the markets' last records."""
    kind = draw(st.sampled_from(["spot", "perp"]))
    natives = st.sampled_from(["A", "B", "C"])

    def one() -> Ticker:
        r = _record(draw, kind)
        native = draw(natives)
        return msgspec.structs.replace(r, native=native, symbol=f"{native}/X")

    known = [one() for _ in range(draw(st.integers(0, 3)))]
    # a read's records: new ones, and copies of a market's last record (a poll that saw no
    # change, which the dedupe drops)
    reads = [
        msgspec.structs.replace(draw(st.sampled_from(known)))
        if known and draw(st.integers(0, 2)) == 0
        else one()
        for _ in range(draw(st.integers(0, 8)))
    ]
    flags = draw(st.booleans()), draw(st.booleans())
    return reads, known, *flags, draw(st.sampled_from([None, "host-1"]))


@pytest.mark.skipif(settling.settle is Ticker.settle, reason="built without the compiled check")
@settings(max_examples=300, deadline=None)
@given(_reads())
def test_the_compiled_batch_is_the_python_one(
    read: tuple[list[Ticker], list[Ticker], bool, bool, str | None],
) -> None:
    records_, known, merge, dedupe, instance = read
    runs = []
    for batch_of in (settling.settle_batch, settling.python_settle_batch):
        recs = [msgspec.structs.replace(r) for r in records_]
        last = {r.symbol: msgspec.structs.replace(r) for r in known}
        batch: list[Ticker] = []
        out = batch_of(recs, last, merge, dedupe, 41, instance, batch)
        runs.append((out, [_state(r) for r in batch], {k: _state(v) for k, v in last.items()}))
        assert all(any(b is r for r in recs) for b in batch)  # the records themselves
    assert runs[0] == runs[1]


def test_the_compiled_dedupe_is_same_market_values() -> None:
    """The compiled dedupe compares the slots as Ticker.same_market_values does: a spot
    record against a derivative with its own fields null is the same; any of them set, or
    another event time, flags or market value, is not."""
    base: dict[str, Any] = {"bid": 1.0, "ask": 2.0, "ts_event": 5}
    pairs = [
        (Ticker("x", "A/B", "AB", **base), Derivative("x", "A/B", "AB", kind="perp", **base)),
        (Ticker("x", "A/B", "AB", **base), Derivative("x", "A/B", "AB", mark=3.0, **base)),
        (Ticker("x", "A/B", "AB", **base), Ticker("x", "A/B", "AB", **{**base, "ts_event": 6})),
        (Ticker("x", "A/B", "AB", **base), Ticker("x", "A/B", "AB", **{**base, "ask": 2.5})),
        (
            Derivative("x", "A/B", "AB", funding_ts=7, **base),
            Derivative("x", "A/B", "AB", funding_ts=7, **base),
        ),
    ]
    for rec, prev in pairs:
        expected = rec.same_market_values(prev)
        for batch_of in (settling.settle_batch, settling.python_settle_batch):
            batch: list[Ticker] = []
            batch_of([msgspec.structs.replace(rec)], {"A/B": prev}, False, True, 0, None, batch)
            assert (batch == []) is expected, (rec, prev, batch_of)
    assert [rec.same_market_values(prev) for rec, prev in pairs] == [
        True,
        False,
        False,
        False,
        True,
    ]


def test_the_compiled_check_is_built_where_ci_builds() -> None:
    """The package as CI installs it has the compiled check (a C compiler is there): a build
    that silently fell back would leave the test above skipped."""
    if os.environ.get("CI"):
        assert settling.settle is not Ticker.settle


def test_the_compiled_check_refuses_what_is_not_a_record() -> None:
    if settling.settle is Ticker.settle:
        return
    with pytest.raises(TypeError):
        settling.settle(object(), None)
    with pytest.raises(TypeError):
        settling.settle(Ticker("x", "A/B", "AB"), object())
    bad = Ticker("x", "A/B", "AB", bid="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        settling.settle(bad, None)
    with pytest.raises(TypeError):
        Ticker.settle(Ticker("x", "A/B", "AB", bid="1"), None)  # type: ignore[arg-type]
    # a read's records: a non-record, or a bad value, stops the batch with the error
    last: dict[str, Ticker] = {}
    batch: list[Ticker] = []
    good = Ticker("x", "A/B", "AB", bid=1.0)
    with pytest.raises(TypeError):
        settling.settle_batch([good, object()], last, True, False, 0, None, batch)
    assert batch == [good] and last == {"A/B": good} and good.seq == 1  # by symbol
    with pytest.raises(TypeError):
        settling.settle_batch([bad], last, True, False, 1, None, [])
    with pytest.raises(TypeError):
        settling.settle_batch((good,), last, True, False, 0, None, batch)  # not a list


def test_the_hub_s_latest_values_are_kept_alike_compiled_or_not() -> None:
    """settling.remember (the hub's latest values of a batch, hub.Latest's dicts): a
    ticker's key made from its slots, any other record's by its key(), each in the dict of
    its (type, exchange) under its id; the Python twin does the same."""
    from aggregator.hub import Latest
    from aggregator.records import Derivative, Status

    records: list[Any] = [
        Ticker("x", "A/B", "AB", bid=1.0),
        Derivative("x", "A/B:B", "AB-P", kind="perp", mark=2.0),
        Status("x", "live", None),
        Ticker("y", "A/B", "AB", bid=5.0),  # another exchange, the same symbol
        Ticker("x", "A/B", "AB", bid=3.0),  # the same market again (records[0] comes back below)
    ]
    kept = []
    for remember in (settling.remember, settling.python_remember):
        latest = Latest()
        remember(latest.by, records)
        remember(latest.by, tuple(records[:1]))  # any sequence
        kept.append(latest)
    assert kept[0] == kept[1] and list(kept[0]) == list(kept[1])
    assert kept[0].by == {
        ("ticker", "x"): {"A/B": records[0], "A/B:B": records[1]},
        ("status", "x"): {"": records[2]},
        ("ticker", "y"): {"A/B": records[3]},
    }
    assert kept[0][("ticker", "x", "A/B")] is records[0]
    assert kept[0][records[1].key()] is records[1] and kept[0][records[2].key()] is records[2]
    assert len(kept[0]) == 4 and kept[0].values() == [
        records[0],
        records[1],
        records[2],
        records[3],
    ]
    assert kept[0].get(("ticker", "z", "A/B")) is None and ("ticker", "y", "A/B") in kept[0]
    with pytest.raises(AttributeError):
        settling.remember({}, [object()])  # no key()
