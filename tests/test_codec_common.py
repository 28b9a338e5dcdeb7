"""What every codec shares: sequence checks, currency renames, the venue id."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from aggregator.adapters.base import Codec, SequenceCheck, answer_code, json_object
from aggregator.adapters.fields import StructFields, TickerFields, top_of_book
from aggregator.adapters.registry import ADAPTERS, codec_class
from aggregator.adapters.schema import Num, Time
from aggregator.errors import ParseError, SequenceGap, VenueError
from aggregator.records import BAD, MARKET_FIELDS, Ticker
from aggregator.symbols import Market, MarketTable, currency, snapshot_path, unify
from aggregator.timestamps import ms_to_ns


def test_a_sequence_starts_at_its_first_number_and_then_steps_by_one() -> None:
    seqs = SequenceCheck()
    for seq in (7, 8, 9):
        seqs.check(seq)
    assert seqs.expected == {None: 10}


@pytest.mark.parametrize("seq", [11, 9, 3])
def test_a_number_out_of_step_is_a_gap_and_forgets_the_key(seq: int) -> None:
    seqs = SequenceCheck()
    seqs.start(9)
    with pytest.raises(SequenceGap, match=f"^sequence gap: expected 10, got {seq}$"):
        seqs.check(seq)
    assert None not in seqs.expected
    seqs.check(42)  # once forgotten, the next number starts the key afresh
    assert seqs.expected == {None: 43}


def test_keys_are_numbered_apart_and_a_gap_names_its_key() -> None:
    seqs = SequenceCheck()
    seqs.start(100, "BTC-USD")
    seqs.start(5, "ETH-USD")
    seqs.check(101, "BTC-USD")
    seqs.check(6, "ETH-USD")
    with pytest.raises(SequenceGap, match=r"^sequence gap on ETH-USD: expected 7, got 8$"):
        seqs.check(8, "ETH-USD")
    assert seqs.expected == {"BTC-USD": 102}
    assert issubclass(SequenceGap, VenueError)  # the runner renews the session on it


def test_a_key_that_needs_a_snapshot_first_has_a_gap_without_one() -> None:
    seqs = SequenceCheck()
    with pytest.raises(SequenceGap, match=r"^sequence gap on X: expected a snapshot, got 4$"):
        seqs.check(4, "X", snapshot_first=True)
    seqs.start(4, "X")
    seqs.check(5, "X", snapshot_first=True)
    seqs.forget("X")
    with pytest.raises(SequenceGap, match="expected a snapshot"):
        seqs.check(6, "X", snapshot_first=True)


def test_renames_apply_before_the_shared_aliases_whatever_the_case() -> None:
    renames = {"WAX": "WAXP", "KALT": "ALT", "OLD": "XBT"}
    assert unify("wax", "usdt", renames=renames) == "WAXP/USDT"
    assert unify("KALT", "Wax", renames=renames) == "ALT/WAXP"
    assert currency("old", renames=renames) == "BTC"  # a rename to an alias ends at the alias
    assert unify("XBT", "EUR") == "BTC/EUR"  # no renames: the shared aliases only
    assert unify("wax", "usdt") == "WAX/USDT"


def symbol_of(venue: str, row: dict[str, Any]) -> str:
    market = codec_class(venue).market_of(row)
    assert isinstance(market, Market)
    return market.symbol


def test_a_codec_renames_with_its_own_table_and_no_other() -> None:
    row = {"enableTrading": True, "baseCurrency": "WAX", "quoteCurrency": "USDT"}
    assert symbol_of("kucoin", {**row, "symbol": "WAX-USDT"}) == "WAXP/USDT"
    row = {"state": "online", "base-currency": "hit", "quote-currency": "usdt"}
    assert symbol_of("htx", {**row, "symbol": "hitusdt"}) == "HITCHAIN/USDT"
    row = {"status": "TRADING", "baseAsset": "WAX", "quoteAsset": "USDT", "symbol": "WAXUSDT"}
    assert symbol_of("binance", row) == "WAX/USDT"
    assert codec_class("bequant").RENAMES is codec_class("hitbtc").RENAMES  # one venue's list


FIXTURES = Path(__file__).parent / "fixtures"
KINDS = ("rest", "rest-doc", "ws", "ws-derivatives", "sessions")


def recorded(venue: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every recorded entry of a venue, with its kind."""
    for kind in KINDS:
        path = FIXTURES / kind / f"{venue}.json"
        if path.exists():
            for entry in json.loads(path.read_text()):
                yield kind, entry


def frames(entry: dict[str, Any]) -> Iterator[str]:
    for msg in entry.get("messages") or ():
        if isinstance(msg, dict) and "recv_ts" in msg:  # a recorder's: text, or decoded
            msg = msg["raw"] if "raw" in msg else msg["frame"]
        yield msg if isinstance(msg, str) else json.dumps(msg)


def records_of(codec: Codec, kind: str, entry: dict[str, Any]) -> list[Ticker]:
    """The records a codec makes of one entry; a frame it refuses ends the entry, as the
    session would."""
    symbol = (entry.get("input") or [None])[0]
    symbol = symbol[0] if isinstance(symbol, list) else symbol
    market = codec.table.by_symbol.get(symbol) if isinstance(symbol, str) else None
    if kind.startswith("rest"):
        body = json.dumps(entry["httpResponse"]).encode()
        try:
            return codec.parse_rest(body, 1, market)
        except VenueError:
            return []
    out: list[Ticker] = []
    codec.subscribe([market] if market else list(codec.table.markets))
    for i, raw in enumerate(frames(entry)):
        try:
            out.extend(codec.parse_frame(raw, i + 1))
        except VenueError:
            break
    return out


def publishers() -> Iterator[Any]:
    """Each codec, with the venue whose recordings it reads: its own, and for a codec that
    subclasses another venue's (binanceus, bequant), that venue's as well."""
    for venue in sorted(ADAPTERS):
        cls = codec_class(venue)
        for source in dict.fromkeys(
            c.venue for c in cls.__mro__ if isinstance(c, type) and issubclass(c, Codec)
        ):
            if source and any(recorded(source)):
                yield pytest.param(venue, source, id=f"{venue}-on-{source}")


@pytest.mark.parametrize(("venue", "source"), list(publishers()))
def test_every_codec_publishes_under_its_own_id(venue: str, source: str) -> None:
    cls = codec_class(venue)
    table = codec_class(source).markets_from(snapshot_path(source).read_bytes())
    made = [r for kind, e in recorded(source) for r in records_of(cls(table), kind, e)]
    assert made, f"no record from {source}'s recordings"
    assert {r.exchange for r in made} == {cls.venue} == {venue}


def test_every_venue_has_recordings_its_codec_publishes_from() -> None:
    assert {p.values[0] for p in publishers()} == set(ADAPTERS)


def test_ticker_fields_read_each_declared_key_and_leave_the_rest_null() -> None:
    fields = TickerFields(bid="buy", ask_size="sq", volume="vol", ts_event=("at", ms_to_ns))
    m = Market("BTC/USD", "btcusd")
    t = {"buy": "63318.86", "sq": 2, "vol": "abc", "at": 1786562853489, "ask": "1"}
    rec = fields.record("bitso", m, t, ts_recv=7, ts_event=5)
    assert rec == Ticker(
        "bitso", "BTC/USD", "btcusd", bid=63318.86, ask_size=2.0, volume=BAD,
        ts_event=1786562853489000000, ts_recv=7,
    )  # fmt: skip
    plain = TickerFields(last="c").record("x", m, {"c": "5"}, 9, ts_event=3)
    assert (plain.last, plain.bid, plain.ts_event, plain.ts_recv) == (5.0, None, 3, 9)


def test_ticker_fields_follow_the_order_ticker_takes_its_numbers_in() -> None:
    params = list(inspect.signature(Ticker).parameters)
    assert tuple(params[3 : 3 + len(MARKET_FIELDS)]) == MARKET_FIELDS


def test_ticker_fields_refuse_what_a_record_does_not_hold() -> None:
    with pytest.raises(TypeError, match="no number price"):
        TickerFields(price="p")
    with pytest.raises(TypeError, match=r"not a field name: 'a-b', 'x\.class'"):
        StructFields(bid="a-b", ask="x.class")


class _Level(msgspec.Struct):
    price: Num = None
    size: Num = None


class _Message(msgspec.Struct):
    best: _Level
    close: Num = None
    change: Num = None
    vol: Num = None
    vwap: Num = None
    at: Time = None


def test_struct_fields_map_declared_attributes_nested_and_implied() -> None:
    fields = StructFields(
        bid="best.price", bid_size="best.size", last="close", volume="vol",
        change="change", vwap="vwap", ts_event=("at", ms_to_ns),
    )  # fmt: skip
    m = Market("BTC/USD", "btcusd")
    t = _Message(_Level(63318.86, 2.0), 63297.8, 0.7, 2.0, 1.5, 1786562853489)
    assert fields.record("bitso", m, t, 7) == Ticker(
        "bitso", "BTC/USD", "btcusd", bid=63318.86, bid_size=2.0, last=63297.8, open=63297.1,
        volume=2.0, quote_volume=3.0, ts_event=1786562853489000000, ts_recv=7,
    )  # fmt: skip
    bare = StructFields(last="close").record("x", m, t, 9, ts_event=3)
    assert (bare.last, bare.open, bare.quote_volume, bare.ts_event) == (63297.8, None, None, 3)
    sent = StructFields(open="close", change="change").record("x", m, t, 9)
    assert sent.open == 63297.8  # sent: not implied
    rows = [t, _Message(_Level(1.0), close=2.0), _Message(_Level(), close=3.0)]
    by_close = StructFields(market_id="close", last="close").records("x", {2.0: m}.get, rows, 9)
    assert [(r.last, r.native) for r in by_close] == [(2.0, "btcusd")]  # the others: not followed
    either = StructFields(last=("vwap", "close"), open="vwap", change="change")
    assert either.record("x", m, t, 9).last == 1.5  # the first name not null
    assert either.record("x", m, _Message(_Level(), close=7.5, change=0.5), 9).open == 7.0
    with pytest.raises(TypeError, match="declare its market_id"):
        StructFields(last="close").records("x", {2.0: m}.get, rows, 9)


def test_keyed_tickers_are_those_of_followed_markets_and_objects() -> None:
    c = codec_class("coinmate")(MarketTable([Market("BTC/EUR", "BTC_EUR")]))
    assert list(c.keyed({"BTC_EUR": {"last": 1}, "LTC_EUR": "?"})) == [
        ({"last": 1}, c.table.by_id["BTC_EUR"])
    ]
    with pytest.raises(ParseError, match="ticker of BTC_EUR is not an object"):
        list(c.keyed({"BTC_EUR": ["1"]}))


def test_the_top_of_a_book_is_a_record_of_its_best_levels_only() -> None:
    m = Market("BTC/USD", "btcusd")
    rec = top_of_book("gemini", m, (1.5, 2.0, None, None), ts_recv=9, ts_event=4)
    assert rec == Ticker("gemini", m.symbol, m.native, bid=1.5, bid_size=2.0, ts_event=4, ts_recv=9)


def test_ticker_fields_imply_the_open_and_the_quote_volume_where_declared() -> None:
    m = Market("BTC/MXN", "btc_mxn")
    fields = TickerFields(last="last", volume="volume", change="chg", vwap="vwap")
    t = {"last": "63297.8", "chg": "0.7", "volume": "2", "vwap": "1.5"}
    rec = fields.record("bitso", m, t, 1)
    assert (rec.open, rec.quote_volume) == (63297.1, 3.0)  # rounded as the venue wrote it
    sent = TickerFields(last="last", open="open", change="chg")
    assert sent.record("kucoin", m, {**t, "open": "9"}, 1).open == 9.0  # sent: not implied
    assert sent.record("kucoin", m, {**t, "open": ""}, 1).open == 63297.1
    huge = fields.record("bitso", m, {"volume": "1e300", "vwap": "1e300"}, 1)
    assert huge.quote_volume is BAD  # an overflow is no number: null and flagged
    with pytest.raises(TypeError, match="not both"):
        TickerFields(quote_volume="qv", vwap="vwap")


def test_a_payload_that_must_be_an_object_is_one_or_a_parse_error() -> None:
    assert json_object(b'{"a": 1}') == {"a": 1}
    for body in (b"[1]", b'"pong"', b"<html>"):
        with pytest.raises(ParseError):
            json_object(body)


def test_an_answer_code_is_the_venue_s_ok_its_error_or_missing() -> None:
    answer_code("0", "", ok="0")
    answer_code(200000, None, ok="200000")  # compared as text: "200000" or 200000
    with pytest.raises(VenueError, match="venue error 51001: Instrument ID does not exist"):
        answer_code("51001", "Instrument ID does not exist")
    with pytest.raises(ParseError, match="response without a code"):
        answer_code(None, "")
