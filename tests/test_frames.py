"""The codecs' routes read in C (aggregator/_frames.c, adapters/routes.py): whatever the
compiled reader makes of a frame is exactly what the codec's parse_ws makes of it, and
every frame it does not describe goes to parse_ws.

Checked on the recorded frames of every venue that declares routes, and on those frames
spoiled by hypothesis (a value of another type or spelling, a key dropped or sent twice,
escapes, whitespace): the reader either declines the frame or agrees with parse_ws to the
byte, records and errors alike.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import math
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.adapters import routes
from aggregator.adapters.base import gunzip
from aggregator.adapters.contracts import in_base
from aggregator.adapters.emitter import Connection
from aggregator.adapters.frames import frame_handler
from aggregator.adapters.registry import DERIVATIVES, available, codec_class
from aggregator.errors import SequenceGap
from aggregator.records import Derivative
from aggregator.sim.dialects import ConnState, Quote, dialect_class
from aggregator.symbols import Market, snapshot_path
from aggregator.timestamps import epoch_to_ns

from .test_codecs import fixture_entries

pytestmark = pytest.mark.skipif(
    not routes.COMPILED and not os.environ.get("CI"),
    reason="aggregator._frames not built (CI requires it: test_built_where_ci_builds)",
)

FIXTURES = Path(__file__).parent / "fixtures"
# every (venue, kind) whose codec declares routes
ROUTED = tuple(
    (v, k)
    for v, k in [(v, "spot") for v in available()] + sorted(DERIVATIVES)
    if routes.declared(codec_class(v, k))
)
IDS = [f"{v}-{k}" for v, k in ROUTED]
TS = 1_796_664_135_195_938_325


def test_built_where_ci_builds() -> None:
    """CI builds the extension: a silent fallback to the Python path would hide its speed."""
    if os.environ.get("CI"):
        assert routes.COMPILED


def recorded(venue: str, kind: str = "spot") -> list[Any]:
    """The venue's recorded WebSocket messages (acks and data, in their order)."""
    if kind != "spot":
        return []
    return [m for path, _, e in fixture_entries("ws") if path.stem == venue for m in e["messages"]]


@functools.cache
def simulated(venue: str, kind: str = "spot", n: int = 24) -> list[bytes]:
    """What the venue's simulator (the demo's) sends the connections a daemon opens to it
    for five markets: one per endpoint of the codec (its ``routes()``, each on its own
    path, with five of the markets it serves), each subscribed as the codec does, its
    replies to the simulator's frames (a welcome) answered; their answers, then n updates
    on each connection, with its heartbeats among them."""
    try:
        dialect = dialect_class(venue, kind)()
    except LookupError:
        return []
    cls = codec_class(venue, kind)
    table = cls.markets_from(dialect.markets_body)
    base = "ws://127.0.0.1" + dialect.ws_path  # the sim's URL; a route adds its path
    out: list[str | bytes] = []
    for route in cls.routes():
        routed = route is not cls
        markets = (route.route_markets(dialect.markets) if routed else dialect.markets)[:5]
        if not markets:
            continue  # (the daemon opens no connection to an endpoint serving none)
        path = urlsplit(route.route_url(base)).path if routed else dialect.ws_path
        conn = ConnState(path=path)
        out += connected(dialect, conn, route(table), markets)
        for i in range(n):
            mid = 100.0 + 37.3 * (i % 7) + i / 8
            native = markets[i % len(markets)].native
            q = Quote(native, mid - 0.05, mid + 0.05, 1.0 + i, 2.5, mid, mid * 0.99, mid * 1.02,
                      mid * 0.98, 1000.0 + i, 1000.0 * mid, updates=i)  # fmt: skip
            out += dialect.tick(conn, q)
            if i % 8 == 7:  # the venue's heartbeats, where it sends some
                out += dialect.heartbeat(conn)
    return [f if isinstance(f, bytes) else f.encode() for f in out]


def connected(dialect: Any, conn: ConnState, codec: Any, markets: list[Any]) -> list[str | bytes]:
    """A connection's opening, as the stream and the sim server play it: the simulator's
    greeting, the codec's subscriptions, and the codec's replies to each frame the
    simulator sent (the subscriptions of a venue that waits for its welcome), in order."""
    out = list(dialect.on_connect(conn))
    for msg in codec.subscribe(markets):
        out += dialect.on_message(conn, orjson.loads(msg))
    read = 0
    while read < len(out) and read < 1000:  # (bounded: each reply is answered once)
        with contextlib.suppress(Exception):  # an error answer: the session's to report
            codec.parse_ws(out[read], TS)
        read += 1
        for reply in codec.replies:
            out += dialect.on_message(conn, orjson.loads(reply))
        codec.replies.clear()
    return out


@functools.cache
def decoded(venue: str, kind: str) -> list[Any]:
    return [orjson.loads(gunzip(f)) for f in frames_of(venue, kind)]  # (htx's are gzip)


def frames_of(venue: str, kind: str = "spot") -> list[bytes]:
    return [json.dumps(m).encode() for m in recorded(venue, kind)] + simulated(venue, kind)


@functools.cache
def table_of(venue: str, kind: str) -> Any:
    shipped = venue if kind == "spot" else f"{venue}-{kind}"
    return codec_class(venue, kind).markets_from(snapshot_path(shipped).read_bytes())


def pair(venue: str, kind: str = "spot") -> tuple[Any, Any]:
    """Two codecs of the venue on its shipped markets: one read by the routes, one by
    parse_ws alone."""
    cls = codec_class(venue, kind)
    return cls(table_of(venue, kind)), cls(table_of(venue, kind))


def encoded(records: list[Any]) -> bytes:
    return msgspec.json.encode(records)


def agree(venue: str, frames: list[bytes], kind: str = "spot") -> int:
    """Each frame through both codecs in order: the reader's records, where it makes any,
    are parse_ws's, and parse_ws did not refuse the frame. Returns the frames the reader
    took."""
    fast, slow = pair(venue, kind)
    taken = 0
    for raw in frames:
        got = routes.read(fast, raw, TS)
        if got is None:  # declined: the codec's Python path, as the session would do
            with contextlib.suppress(Exception):
                fast.parse_ws(raw, TS)
        try:
            want = slow.parse_ws(raw, TS)
        except Exception as e:
            assert got is None, f"{venue}: parse_ws refused {raw[:120]!r} ({e!r}), read {got}"
            continue
        if got is not None:
            taken += 1
            assert encoded(got) == encoded(want), (raw, encoded(got), encoded(want))
    return taken


@pytest.mark.parametrize(("venue", "kind"), ROUTED, ids=IDS)
def test_recorded_and_simulated_frames_read_as_parse_ws_reads_them(venue: str, kind: str) -> None:
    taken = agree(venue, frames_of(venue, kind), kind)
    assert taken >= 1, f"{venue} {kind}: no frame taken by its routes"


# --- spoiled frames -------------------------------------------------------------------------

NUMBER_TEXT = st.from_regex(r"\A-?(0|[1-9][0-9]{0,20})(\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?\Z")
ODD_TEXT = st.sampled_from(
    ["", " 1.5", "1.5 ", "+1.5", ".5", "5.", "01.5", "1_0", "NaN", "nan", "inf", "-Infinity",
     "1e400", "-1e400", "-0", "-0.0", "0x10", "1,5", "abc", "\u00e9", "12345678901234567890123"]
)  # fmt: skip
VALUES = st.one_of(
    NUMBER_TEXT,
    ODD_TEXT,
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.none(),
    st.booleans(),
    st.just({}),
    st.just([]),
    st.just(["1.5", "2"]),
    st.text(max_size=8),
)


def leaves(doc: Any, path: tuple = ()) -> list[tuple]:
    """Paths to every value of a decoded frame (containers included)."""
    out = [path] if path else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += leaves(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += leaves(v, (*path, i))
    return out


def put(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        return {k: put(v, rest, value) if k == head else v for k, v in doc.items()}
    return [put(v, rest, value) if i == head else v for i, v in enumerate(doc)]


def drop(doc: Any, path: tuple) -> Any:
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        if not rest:
            return {k: v for k, v in doc.items() if k != head}
        return {k: drop(v, rest) if k == head else v for k, v in doc.items()}
    if not rest:
        return [v for i, v in enumerate(doc) if i != head]
    return [drop(v, rest) if i == head else v for i, v in enumerate(doc)]


def dumps_twice(doc: Any, path: tuple, value: Any) -> str:
    """The frame's JSON with the key at ``path`` sent twice: first as ``value``, then as
    it was (or the other way round, by the parity of the path's length)."""
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        parts = []
        for k, v in doc.items():
            key = json.dumps(k)
            if k == head and not rest:
                first, second = (json.dumps(value), json.dumps(v))
                if len(path) % 2:
                    first, second = second, first
                parts += [f"{key}:{first}", f"{key}:{second}"]
            elif k == head:
                parts.append(f"{key}:{dumps_twice(v, rest, value)}")
            else:
                parts.append(f"{key}:{json.dumps(v)}")
        return "{" + ",".join(parts) + "}"
    if isinstance(doc, list) and rest:
        return "[" + ",".join(
            dumps_twice(v, rest, value) if i == head else json.dumps(v) for i, v in enumerate(doc)
        ) + "]"  # fmt: skip
    return json.dumps(put(doc, path, value))


@st.composite
def spoiled(draw: st.DrawFn, venue: str, kind: str) -> list[bytes]:
    """The venue's recorded and simulated frames with one of them spoiled one way."""
    messages = decoded(venue, kind)
    data = [i for i, m in enumerate(messages) if isinstance(m, dict | list) and leaves(m)]
    i = draw(st.sampled_from(data))
    doc = messages[i]
    path = draw(st.sampled_from(leaves(doc)))
    how = draw(st.sampled_from(["value", "drop", "twice", "spaces", "escaped"]))
    if how == "value":
        text = json.dumps(put(doc, path, draw(VALUES)))
    elif how == "drop":
        text = json.dumps(drop(doc, path))
    elif how == "twice":
        text = dumps_twice(doc, path, draw(VALUES))
    elif how == "spaces":
        indent = draw(st.sampled_from([None, 0, 2]))
        text = json.dumps(doc, indent=indent, separators=(" , ", " : "))
    else:  # every string escaped: the same values, spelled \\uXXXX
        text = json.dumps(doc).replace("-", "\\u002d").replace("_", "\\u005f")
    frames = [json.dumps(m).encode() for m in messages]
    frames[i] = text.encode()
    return frames


@pytest.mark.parametrize(("venue", "kind"), ROUTED, ids=IDS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_spoiled_frame_is_read_as_parse_ws_reads_it_or_declined(
    venue: str, kind: str, data: Any
) -> None:
    agree(venue, data.draw(spoiled(venue, kind)), kind)


# --- numbers and times ----------------------------------------------------------------------


def book_frame(bid: str) -> bytes:
    return b'{"u":1,"s":"BTCUSDT","b":"' + bid.encode() + b'","B":"1.5","a":"70000.1","A":"2"}'


@functools.cache
def binance() -> tuple[Any, Any]:
    return pair("binance")


@pytest.fixture(autouse=True, scope="module")
def _forget_tables() -> Iterator[None]:
    """The cached market tables go with this module (test_markets counts live tables)."""
    yield
    for cached in (table_of, simulated, decoded, binance):
        cached.cache_clear()


@settings(max_examples=800, deadline=None)
@given(NUMBER_TEXT)
def test_a_decimal_text_is_the_float_python_makes_of_it(text: str) -> None:
    fast, slow = binance()
    got = routes.read(fast, book_frame(text), TS)
    value = float(text)
    if got is None:  # out of range: parse_ws's
        assert value in (float("inf"), float("-inf")) or len(text) >= 64
        return
    (record,) = got
    assert record.bid == value or (value == 0 and record.bid == 0)
    assert str(record.bid) == str(slow.parse_ws(book_frame(text), TS)[0].bid)


@settings(max_examples=1000, deadline=None)
@given(
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2262, 1, 1)),
    st.integers(min_value=0, max_value=9),
)
def test_an_rfc3339_time_is_the_ns_iso_to_ns_makes(when: datetime, digits: int) -> None:
    stamp = when.replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        stamp += "." + f"{when.microsecond:06d}{when.microsecond % 1000:03d}"[:digits]
    frame = {
        "channel": "ticker", "type": "update",
        "data": [{"symbol": "BTC/USD", "bid": 1.0, "bid_qty": 1.0, "ask": 2.0, "ask_qty": 1.0,
                  "last": 1.5, "volume": 3.0, "vwap": 1.5, "low": 1.0, "high": 2.0,
                  "change": 0.5, "change_pct": 1.0, "timestamp": stamp + "Z"}],
    }  # fmt: skip
    assert agree("kraken", [json.dumps(frame).encode()]) == 1


SMALL_DECIMAL = st.from_regex(r"\A-?(0|[1-9][0-9]{0,9})(\.[0-9]{1,9})?\Z")


@settings(max_examples=300, deadline=None)
@given(st.one_of(NUMBER_TEXT, SMALL_DECIMAL), st.one_of(NUMBER_TEXT, SMALL_DECIMAL))
def test_an_implied_open_is_what_values_minus_makes_of_the_sent_numbers(
    last: str, change: str
) -> None:
    """Kraken's open (last - change, to the decimals sent) and quote volume (vwap times
    volume), made in C where the decimals allow: the Python functions' floats."""
    item = {
        "symbol": "BTC/USD", "bid": 1.0, "bid_qty": 1.0, "ask": 2.0, "ask_qty": 1.0,
        "last": "LAST", "volume": "CHANGE", "vwap": "LAST", "low": 1.0, "high": 2.0,
        "change": "CHANGE", "change_pct": 1.0, "timestamp": "2026-08-12T19:29:02.066592Z",
    }  # fmt: skip
    text = json.dumps({"channel": "ticker", "type": "update", "data": [item]})
    frame = text.replace('"LAST"', last).replace('"CHANGE"', change)  # the numbers as sent
    agree("kraken", [frame.encode()])


@settings(max_examples=400, deadline=None)
@given(st.integers(min_value=0, max_value=10**19 - 1), st.booleans())
def test_a_time_of_unstated_unit_is_what_epoch_to_ns_makes(value: int, text: bool) -> None:
    """TimeAt(..., EPOCH): the unit from the time's size, as timestamps.epoch_to_ns."""
    route = routes.Route(when={}, market="s", fields={"ts_event": routes.TimeAt("E", routes.EPOCH)})
    reader = routes.compiled_reader((routes.compile_route(route, binance()[0]),))
    sent = f'"{value}"' if text else str(value)
    got = reader.read(b'{"s":"BTCUSDT","E":%s}' % sent.encode(), TS)
    if value == 0:  # a time of 0: the Python path's (a codec's `or` takes the next)
        assert got is None
    else:
        assert got is not None and got[0].ts_event == epoch_to_ns(value)


class _Codec:
    """What compile_route reads of a codec: its venue and its markets by id."""

    venue = "x"

    def __init__(self, markets: list[Market]) -> None:
        self.lookup = {m.native: m for m in markets}.get


CONTRACT_SIZES = st.one_of(
    st.sampled_from([1e-05, 0.0001, 0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 0.5, 25.0]),
    st.floats(min_value=1e-8, max_value=1e6),
)


@settings(max_examples=800, deadline=None)
@given(
    st.one_of(NUMBER_TEXT, SMALL_DECIMAL),
    CONTRACT_SIZES,
    st.booleans(),
    st.one_of(st.just("2.5"), SMALL_DECIMAL, st.just("null"), st.just("0")),
)
def test_contracts_in_base_units_are_what_in_base_makes(
    contracts: str, size: float, inverse: bool, price: str
) -> None:
    """Call(in_base, ...): a contract's size made in C where it gives the same float as
    contracts.in_base (the product, over the price for an inverse contract, rounded to 12
    decimals; no size without a price above 0); the rest by in_base."""
    m = Market("A/B:B", "AB", kind="perp", contract_size=size, inverse=inverse)
    route = routes.Route(
        when={}, market="s", record=Derivative, market_fields={"kind": "kind"},
        fields={"bid_size": routes.Call(in_base, "q", routes.MARKET, "p")},
    )  # fmt: skip
    reader = routes.compiled_reader((routes.compile_route(route, _Codec([m])),))  # type: ignore[arg-type]
    got = reader.read(b'{"s":"AB","q":%s,"p":%s}' % (contracts.encode(), price.encode()), TS)
    value = float(contracts)
    if value in (float("inf"), float("-inf")):
        assert got is None
        return
    whole_zero = value == 0 and not any(c in contracts for c in ".eE")  # -0 reads 0.0
    p = None if price == "null" else float(price)
    p = 0.0 if p == 0 and not any(c in price for c in ".eE") else p
    want = in_base(0.0 if whole_zero else value, m, p)
    assert got is not None and repr(got[0].bid_size) == repr(want), (contracts, size)


@settings(max_examples=1500, deadline=None)
@given(st.data(), st.sampled_from([1e-05, 0.0001, 0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 0.5,
                                   25.0, 0.2, 3.0, 0.025, 1000.0]), st.integers(0, 6))  # fmt: skip
def test_contract_sizes_that_make_thousands_are_what_in_base_makes(
    data: st.DataObject, size: float, decimals: int
) -> None:
    """Products between 900 and 9,000 base units, where a double's spacing nears the 12
    decimals in_base rounds to: read in C, the same float."""
    low, high = math.ceil(900 / size * 10**decimals), math.floor(9000 / size * 10**decimals)
    n = data.draw(st.integers(max(low, 1), max(high, 1)))
    contracts = f"{n / 10**decimals:.{decimals}f}" if decimals else str(n)
    m = Market("A/B:B", "AB", kind="perp", contract_size=size)
    route = routes.Route(
        when={}, market="s", record=Derivative, market_fields={"kind": "kind"},
        fields={"bid_size": routes.Call(in_base, "q", routes.MARKET)},
    )  # fmt: skip
    reader = routes.compiled_reader((routes.compile_route(route, _Codec([m])),))  # type: ignore[arg-type]
    got = reader.read(b'{"s":"AB","q":%s}' % contracts.encode(), TS)
    want = in_base(float(contracts), m)
    assert got is not None and repr(got[0].bid_size) == repr(want), (contracts, size)


def test_a_sequence_gap_is_left_to_parse_ws_which_raises_it() -> None:
    fast, _ = pair("coinbase")
    first = next(m for m in recorded("coinbase") if m.get("channel") == "ticker")
    frames = [dict(first, sequence_num=n) for n in (7, 8, 10)]
    raws = [json.dumps(f).encode() for f in frames]
    assert routes.read(fast, raws[0], TS) and routes.read(fast, raws[1], TS)
    assert routes.read(fast, raws[2], TS) is None  # 9 expected
    with pytest.raises(SequenceGap, match="expected 9, got 10"):
        fast.parse_ws(raws[2], TS)


def test_an_unknown_bitfinex_channel_is_parse_ws_s() -> None:
    fast, slow = pair("bitfinex")
    raw = b"[999,[1,2,3,4,5,6,7,8,9,10]]"
    assert routes.read(fast, raw, TS) is None
    with pytest.raises(Exception, match="unknown channel"):
        slow.parse_ws(raw, TS)


def test_an_unfollowed_market_is_parse_ws_s_unless_the_route_skips_it() -> None:
    """parse_ws checks a message's shape before it looks its market up: a route leaves a
    market it does not know to it, unless it says to skip such records."""
    fast, _ = pair("binance")
    raw = b'{"u":1,"s":"NOSUCHPAIR","b":"1","B":"1","a":"2","A":"1"}'
    assert routes.read(fast, raw, TS) is None
    route = routes.Route(when={}, market="s", fields={"bid": "b"}, skip_unknown=True)
    reader = routes.compiled_reader((routes.compile_route(route, fast),))
    assert reader.read(raw, TS) == []


def test_times_out_of_the_record_s_range_are_null() -> None:
    base = {"e": "24hrTicker", "s": "BTCUSDT", "b": "1", "B": "1", "a": "2", "A": "1", "c": "1",
            "o": "1", "h": "2", "l": "1", "v": "1", "q": "1"}  # fmt: skip
    for when in (9_223_372_036_855, 10**17, 1_786_539_510_015):
        assert agree("binance", [json.dumps(dict(base, E=when)).encode()]) == 1


# --- in a session ---------------------------------------------------------------------------


class _Emitter:
    """What the reader calls on the emitter: its registration and its flush."""

    FLUSH_AT = 3
    recorder = None

    def __init__(self) -> None:
        self.registered: list[Connection] = []
        self.flushes = 0
        self.publish_batch = object()

    def reading(self, conn: Connection) -> None:
        self.registered.append(conn)

    def take(self, records: list[Any], conn: Connection) -> None:
        conn.pending += records

    def parse_failed(self, err: Exception, conn: Connection) -> None:
        raise AssertionError(err)

    def flush(self) -> None:
        self.flushes += 1


def test_a_session_reads_its_frames_in_c_and_hands_the_rest_to_parse_ws() -> None:
    codec, _ = pair("binance")
    conn = Connection(0, read_end=True)
    emitter = _Emitter()
    passed: list[bytes] = []

    def python_path(raw: bytes) -> list[str]:
        passed.append(raw)
        return ["pong"]

    reader = routes.reader(codec, python_path, emitter, conn)  # type: ignore[arg-type]
    assert reader is not None
    book = book_frame("70000")
    assert reader(book) is None
    assert len(conn.pending) == 1 and emitter.registered == [conn]
    assert reader(book) is None  # the read's second record: registered once
    assert emitter.registered == [conn] and emitter.flushes == 0
    assert reader(b'{"result":null,"id":1}') == ["pong"]  # an ack: parse_ws's, its replies
    assert passed == [b'{"result":null,"id":1}']
    reader(book)  # FLUSH_AT records wait: flushed
    assert emitter.flushes == 1
    assert reader.counts() == (3, 1)  # type: ignore[attr-defined]


def test_the_daemon_s_frame_handler_is_the_reader_where_built() -> None:
    codec, _ = pair("okx")
    emitter = _Emitter()
    handler = frame_handler(emitter, codec, Connection(0, read_end=True))  # type: ignore[arg-type]
    assert type(handler).__name__ == "Reader"
    # without a read's end of its own (a test's connection), the Python path
    handler = frame_handler(emitter, codec, Connection(0))  # type: ignore[arg-type]
    assert type(handler).__name__ == "function"


def test_every_ticker_field_a_route_names_exists() -> None:
    with pytest.raises(TypeError, match="no field bogus"):
        routes.Route(when={}, market="s", fields={"bogus": "x"})


def test_the_sessions_of_a_table_share_its_compiled_routes() -> None:
    """A table's program is compiled once for all its sessions where it depends on the table
    alone; a codec with its own state (a sequence, channel numbers) gets its own; the
    cache goes with the table."""
    okx = [pair("okx")[0] for _ in range(2)]
    assert routes.program_of(okx[0], routes.declared(type(okx[0]))) is routes.program_of(
        okx[1], routes.declared(type(okx[1]))
    )
    coinbase = [pair("coinbase")[0] for _ in range(2)]
    first, second = (routes.program_of(c, routes.declared(type(c))) for c in coinbase)
    assert first is not None and second is not None and first is not second
    cls = codec_class("okx")
    table = cls.markets_from(snapshot_path("okx").read_bytes())
    routes.program_of(cls(table), routes.declared(cls))
    cached = len(routes._PROGRAMS)
    assert table in routes._PROGRAMS
    del table
    gc.collect()
    assert len(routes._PROGRAMS) == cached - 1  # gone with its table


@pytest.mark.parametrize(
    ("venue", "kind"),
    [("coinbaseexchange", "spot"), ("kraken", "spot"), ("bitfinex", "spot"), ("bitfinex", "perp")],
)
def test_a_quiet_route_takes_its_heartbeats_and_nothing_parse_ws_would_check(
    venue: str, kind: str
) -> None:
    """A heartbeat is taken in C and makes nothing (parse_ws's []); one with a key parse_ws
    reads, or a key twice, is parse_ws's to judge."""
    dialect = dialect_class(venue, kind)()
    fast, slow = pair(venue, kind)
    conn = ConnState(path=dialect.ws_path)
    connected(dialect, conn, fast, dialect.markets[:3])
    beats = [b if isinstance(b, bytes) else b.encode() for b in dialect.heartbeat(conn)]
    assert beats
    for beat in beats:
        assert routes.read(fast, beat, TS) == [] == slow.parse_ws(beat, TS)
        doc = orjson.loads(beat)
        if isinstance(doc, dict):
            worse = beat[:-1] + b',"data":{"x":1}}'  # a key its parse_ws decodes
            twice = beat[:-1] + b"," + beat[1:-1] + b"}"
            assert routes.read(fast, worse, TS) is None
            assert routes.read(fast, twice, TS) is None
        else:
            assert routes.read(fast, orjson.dumps({"1": "hb"}), TS) is None  # not an array
