"""Declared messages (aggregator/adapters/schema.py): numbers exactly as float() reads them,
times as the timestamps helpers read them, and a bad value null and flagged as num() makes it,
never a frame dropped whole for it.

The codecs on top (okx, coinbase, kraken, bitfinex, gate) are checked here with their
recorded frames spoiled value by value; tests/test_codecs.py and tests/test_values.py check
their records against the reference.
"""

from __future__ import annotations

import json
import math
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.adapters.schema import Num, Schema, Time
from aggregator.errors import ParseError
from aggregator.records import BAD, Ticker, num
from aggregator.timestamps import ms_to_ns, seconds_to_ns

from .test_codecs import codec, fixture_entries


class Quote(msgspec.Struct):
    price: Num = None
    ts: Time = None
    name: str = ""


class Level(msgspec.Struct, array_like=True):
    price: Num
    size: Num


class Book(msgspec.Struct):
    bids: list[list[Num]] | None = None
    quotes: list[Quote] | None = None
    one: Quote | list[Quote] | None = None
    top: Level | None = None
    code: Any = msgspec.UNSET


QUOTE = Schema(Quote)
BOOK = Schema(Book)


def price_of(value: Any) -> float | None:
    return QUOTE(json.dumps({"price": value})).price


# --- numbers: exactly what float() makes of the venue's text ------------------------------


@st.composite
def decimal_text(draw: st.DrawFn) -> str:
    """Decimal strings as venues write them and as they should not: up to 17 significant
    digits, leading zeros, a sign, a fraction, an exponent."""
    digits = draw(st.text("0123456789", min_size=1, max_size=17))
    point = draw(st.integers(0, len(digits)))
    whole, frac = digits[:point], digits[point:]
    text = "0" * draw(st.integers(0, 2)) + whole
    if frac or draw(st.booleans()):
        text += "." + frac
    if draw(st.booleans()):
        exp = draw(st.integers(-330, 330))
        text += draw(st.sampled_from("eE")) + (draw(st.sampled_from(["", "+"])) if exp >= 0 else "")
        text += str(exp)
    return draw(st.sampled_from(["", "-", "+"])) + text


# CPU-bound (about 13 s alone, mostly Hypothesis's own work): beside the suite's other
# workers on 2 CPUs it has taken 70 s, past the suite's default of 60.
@pytest.mark.timeout(180)
@settings(max_examples=3000, deadline=None, derandomize=True, database=None)
@given(decimal_text())
def test_a_decimal_string_is_the_float_float_makes(text: str) -> None:
    """Read on the declared path or, where msgspec refuses the form ("1.", ".5", "+1",
    "00.5"), by num() on the permissive one: either way the double float() gives, or BAD
    where float() refuses it or overflows."""
    try:
        want = float(text)
    except ValueError:
        want = BAD
    if not math.isfinite(want):
        want = BAD
    got = price_of(text)
    if want is BAD:
        assert got is BAD
    elif text == "-0":  # the one form whose sign the lax decoder drops
        assert got == 0.0
    else:
        assert type(got) is float and repr(got) == repr(want), (text, got, want)


@settings(max_examples=1000, deadline=None, derandomize=True, database=None)
@given(st.integers(1, 10**15 - 1), st.integers(0, 15))
def test_fifteen_significant_digits_come_out_as_written(mantissa: int, decimals: int) -> None:
    """The records' formatting: a price of up to 15 significant digits prints back as sent."""
    text = f"{mantissa / 10**decimals:.{decimals}f}"
    got = price_of(text)
    assert got is not None and float(repr(got)) == float(text)
    assert repr(got) == repr(float(text))


def test_numbers_sent_as_json_numbers_are_floats() -> None:
    for value in (1, 63297.7, 10**30, 5e-324, 1.7976931348623157e308):
        got = price_of(value)
        assert type(got) is float and got == float(value)


def test_negative_zero_as_text_loses_only_its_sign() -> None:
    assert repr(price_of("-0")) == "0.0"
    assert repr(price_of("-0.0")) == "-0.0" and repr(price_of("-00")) == "-0.0"


# --- times: integers from strings, as the timestamps helpers read them --------------------

int_text = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.builds(lambda z, n: "0" * z + str(n), st.integers(1, 3), st.integers(0, 10**13)),
    st.builds(lambda n, f: f"{n}.{f}", st.integers(0, 10**13), st.text("0123456789", max_size=9)),
    st.builds(lambda m, e: f"{m}e{e}", st.integers(-99, 10**6), st.integers(-3, 12)),
    st.builds(lambda s, n: f"{s}{n}", st.sampled_from(["+", "-", " "]), st.integers(0, 10**13)),
)


@settings(max_examples=2000, deadline=None, derandomize=True, database=None)
@given(int_text)
def test_a_time_in_text_is_read_as_the_timestamps_helpers_read_it(text: str) -> None:
    got = QUOTE(json.dumps({"ts": text})).ts
    assert ms_to_ns(got) == ms_to_ns(text), (text, got)
    assert seconds_to_ns(got) == seconds_to_ns(text), (text, got)


@pytest.mark.parametrize("value", [1786613174873, "1786613174873", 1786613174873.5, "x", None])
def test_a_time_of_any_kind_reaches_the_helper(value: Any) -> None:
    assert ms_to_ns(QUOTE(json.dumps({"ts": value})).ts) == ms_to_ns(value)


# --- values sent badly: the field is BAD (null and flagged), the frame is kept -------------

SENT_BADLY = ["abc", "NaN", "nan", "Infinity", "-inf", "1e400", "0x10", " ", True, False]
SENT_BADLY += [{"v": 1}, [1.5]]


@pytest.mark.parametrize("value", SENT_BADLY, ids=repr)
def test_a_value_sent_badly_is_bad_and_the_rest_of_the_frame_is_read(value: Any) -> None:
    frame = {"price": value, "ts": "1786613174873", "name": "BTC-USDT"}
    got = QUOTE(json.dumps(frame))
    assert got.price is BAD and num(value) is BAD
    # the time as sent (the twin takes it so): the helper reads it as on the declared path
    assert ms_to_ns(got.ts) == 1786613174873_000000 and got.name == "BTC-USDT"


@pytest.mark.parametrize("value", ["", None])
def test_a_value_not_sent_is_none(value: Any) -> None:
    assert price_of(value) is None and num(value) is None


def test_an_unparsable_number_drops_the_frame_as_orjson_did() -> None:
    """A literal out of double range is not JSON to either parser: the frame is refused."""
    with pytest.raises(ParseError, match="not JSON"):
        QUOTE(b'{"price": 1e400}')


def test_nested_declarations_read_bad_values_where_they_are() -> None:
    frame = {
        "bids": [["1.5", "abc"], ["NaN", "2"], [None, "3"]],
        "quotes": [{"price": "2.5"}, {"price": True, "ts": "x", "name": 7}],
        "one": [{"price": "Infinity"}],
        "top": ["1", {}],
        "code": None,
    }
    got = BOOK(json.dumps(frame))
    assert got.bids == [[1.5, BAD], [BAD, 2.0], [None, 3.0]]
    assert got.bids[0][1] is BAD and got.bids[1][0] is BAD
    assert got.quotes == [Quote(2.5), Quote(BAD, "x", 7)]  # type: ignore[arg-type]
    assert isinstance(got.one, list) and got.one[0].price is BAD
    assert got.top == Level(1.0, BAD) and got.top.size is BAD
    assert got.code is None  # sent as null: not UNSET
    assert BOOK(b"{}").code is msgspec.UNSET


def test_a_side_that_is_not_a_list_is_passed_on_as_sent() -> None:
    """Lists of numbers in the twin take any value: the codec sees what the venue sent
    (best_level reads it as it always did)."""
    assert BOOK(b'{"bids": "Infinity"}').bids == "Infinity"
    assert BOOK(b'{"bids": [["1", "2"], "x"]}').bids == [[1.0, 2.0], "x"]


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b'{"quotes": 5}', r"unexpected payload: .*\$\.quotes"),
        (b'{"top": ["1"]}', r"unexpected payload: .*\$\.top"),
        (b"[1, 2]", "unexpected payload"),
        (b"<html>", "not JSON"),
        (b'{"quotes": [', "not JSON"),
    ],
)
def test_a_frame_of_another_shape_is_a_parse_error(raw: bytes, match: str) -> None:
    with pytest.raises(ParseError, match=match):
        BOOK(raw)


def test_an_object_decoded_elsewhere_converts_as_its_json_would() -> None:
    assert BOOK.convert({"top": ["1", 2]}).top == Level(1.0, 2.0)
    assert QUOTE.convert({"price": "abc"}).price is BAD
    with pytest.raises(ParseError):
        BOOK.convert({"top": "x"})


# --- the codecs on the declarations: a spoiled value nulls that field only ------------------

VENUES = ("okx", "coinbase", "kraken", "bitfinex", "gate")
SPOILERS = ["abc", "NaN", "Infinity", "-inf", "1e400", True, {"v": 1}, [1.5], "0x10"]


def _frames(venue: str) -> list[str]:
    return [
        json.dumps(m)
        for path, _, e in fixture_entries("ws")
        if path.stem == venue
        for m in e.get("messages", [])
    ]


def _records(venue: str, frames: list[str]) -> list[Ticker]:
    c = codec(venue)
    out: list[Ticker] = []
    for f in frames:
        out.extend(c.parse_ws(f, 1))
    return out


def _spoil(doc: Any, value: float, bad: Any, text: bool) -> tuple[Any, int]:
    """Every number equal to ``value`` (as a string too, when ``text``) replaced by ``bad``."""
    if isinstance(doc, dict):
        items = {k: _spoil(v, value, bad, text) for k, v in doc.items()}
        return {k: v for k, (v, _) in items.items()}, sum(n for _, n in items.values())
    if isinstance(doc, list):
        pairs = [_spoil(v, value, bad, text) for v in doc]
        return [v for v, _ in pairs], sum(n for _, n in pairs)
    if isinstance(doc, float | int) and not isinstance(doc, bool) and doc == value:
        return bad, 1
    if text and isinstance(doc, str):
        try:
            if float(doc) == value:
                return bad, 1
        except ValueError:
            pass
    return doc, 0


@pytest.mark.parametrize("bad", SPOILERS, ids=repr)
@pytest.mark.parametrize("venue", VENUES)
def test_each_codec_keeps_the_frame_and_nulls_only_the_spoiled_field(venue: str, bad: Any) -> None:
    frames = _frames(venue)
    clean = _records(venue, frames)
    assert clean, f"{venue}: no recorded frame makes a record"
    target = clean[-1]
    field = next(n for n in ("bid", "ask", "last") if getattr(target, n) is not None)
    value = getattr(target, field)
    spoiled_frames = []
    replaced = 0
    for f in frames:
        doc, n = _spoil(json.loads(f), value, bad, text=True)
        spoiled_frames.append(json.dumps(doc))
        replaced += n
    assert replaced
    spoiled = _records(venue, spoiled_frames)
    assert len(spoiled) == len(clean)  # no frame dropped
    for before, after in zip(clean, spoiled, strict=True):
        for name, was in msgspec.structs.asdict(before).items():
            now = getattr(after, name)
            if isinstance(was, float) and was == value and name in ("bid", "ask", "last"):
                assert now is BAD, (name, now)
                continue
            if name == "open" and venue in ("kraken", "bitfinex") and field == "last":
                continue  # implied from the last price: bad with it
            same = now == was or (now != now and was != was)
            assert same or (isinstance(was, float) and was == value), (name, was, now)
    settled = [r for r in spoiled if getattr(r, field) is BAD]
    assert settled
    for r in settled:
        r.settle(None)
        assert getattr(r, field) is None and r.flags is not None and "bad_value" in r.flags


@pytest.mark.parametrize("venue", VENUES)
def test_each_codec_reads_an_empty_string_as_not_sent(venue: str) -> None:
    frames = _frames(venue)
    clean = _records(venue, frames)
    target = clean[-1]
    field = next(n for n in ("bid", "ask", "last") if getattr(target, n) is not None)
    value = getattr(target, field)
    spoiled = _records(
        venue, [json.dumps(_spoil(json.loads(f), value, "", True)[0]) for f in frames]
    )
    assert len(spoiled) == len(clean)
    assert all(getattr(r, field) != value for r in spoiled)
    assert any(getattr(r, field) is None for r in spoiled)
