"""REST codecs on declared answers (aggregator/adapters/schema.py): bigone, bitbank, bitso,
btcmarkets, btcturk, coincheck and bit2c.

Each recorded answer, spoiled value by value, keeps every record and nulls (and flags, once
settled) the spoiled field only: the checks of tests/test_schema.py over REST answers. The
answers of other shapes (one ticker, an error, rows of markets not followed) are checked per
venue. tests/test_codecs.py and tests/test_values.py check the clean records against the
reference.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from aggregator.errors import ParseError, VenueError
from aggregator.records import BAD, Ticker

from .test_codecs import codec, fixture_entries
from .test_schema import SPOILERS, _spoil

VENUES = (
    "bigone",
    "bitbank",
    "bitso",
    "btcmarkets",
    "btcturk",
    "coincheck",
    "bit2c",
    "coinmate",
    "btcbox",
)


def _answers(venue: str) -> list[tuple[Any, Any]]:
    """The venue's recorded answers, each with the market its request named (if one)."""
    out = []
    for kind in ("rest", "rest-doc"):
        for path, _, e in fixture_entries(kind):
            if path.stem == venue:
                symbol = (e.get("input") or [None])[0]
                out.append((e["httpResponse"], symbol if isinstance(symbol, str) else None))
    return out


def _target(records: list[Ticker]) -> tuple[str, float]:
    """The last record's last (or bid, or ask) price, and that field's name."""
    for r in reversed(records):
        for name in ("last", "bid", "ask"):
            if getattr(r, name) is not None:
                return name, getattr(r, name)
    raise AssertionError("no record has a price")


def _records(venue: str, answers: list[tuple[Any, Any]]) -> list[Ticker]:
    c = codec(venue)
    out: list[Ticker] = []
    for doc, symbol in answers:
        m = c.table.by_symbol.get(symbol) if symbol else None
        out.extend(c.parse_rest(json.dumps(doc).encode(), 1, m))
    return out


@pytest.mark.parametrize("bad", SPOILERS, ids=repr)
@pytest.mark.parametrize("venue", VENUES)
def test_a_spoiled_value_nulls_that_field_only(venue: str, bad: Any) -> None:
    answers = _answers(venue)
    clean = _records(venue, answers)
    assert clean, f"{venue}: no recorded answer makes a record"
    field, value = _target(clean)
    spoiled_answers = []
    replaced = 0
    for doc, symbol in answers:
        spoiled_doc, n = _spoil(doc, value, bad, text=True)
        spoiled_answers.append((spoiled_doc, symbol))
        replaced += n
    assert replaced
    spoiled = _records(venue, spoiled_answers)
    assert len(spoiled) == len(clean)  # no answer, no row dropped
    for before, after in zip(clean, spoiled, strict=True):
        for name, was in msgspec.structs.asdict(before).items():
            now = getattr(after, name)
            if isinstance(was, float) and was == value:
                assert now is BAD or name == "open", (name, now)  # an implied open is bad too
                continue
            same = now == was or (now != now and was != was)
            assert same or name == "open", (name, was, now)
    settled = [r for r in spoiled if getattr(r, field) is BAD]
    assert settled
    for r in settled:
        r.settle(None)
        assert getattr(r, field) is None and r.flags is not None and "bad_value" in r.flags


@pytest.mark.parametrize("venue", VENUES)
def test_an_empty_string_is_not_sent(venue: str) -> None:
    answers = _answers(venue)
    clean = _records(venue, answers)
    field, value = _target(clean)
    spoiled = _records(venue, [(_spoil(d, value, "", True)[0], s) for d, s in answers])
    assert len(spoiled) == len(clean)
    assert all(getattr(r, field) != value for r in spoiled)
    assert any(getattr(r, field) is None for r in spoiled)


def _parse(venue: str, doc: Any, native: str | None = None) -> list[Ticker]:
    c = codec(venue)
    m = c.table.by_id[native] if native else None
    return c.parse_rest(json.dumps(doc).encode(), 1, m)  # type: ignore[no-any-return]


# --- bigone: best levels as objects, an empty side as null or {} -----------------------------


def test_bigone_levels_one_ticker_and_errors() -> None:
    row = {"asset_pair_name": "BTC-USDT", "bid": {"price": "1", "quantity": "abc"}, "ask": None}
    other = {"asset_pair_name": "NOT-LISTED", "close": "x", "bid": {}}
    (r,) = _parse("bigone", {"code": 0, "data": [row, other]})
    assert (r.bid, r.ask, r.ask_size, r.last) == (1.0, None, None, None)
    assert r.bid_size is BAD and r.ts_event is None
    (r,) = _parse("bigone", {"code": "0", "data": {**row, "ask": {}, "close": "2"}})
    assert r.ask is None and r.last == 2.0
    with pytest.raises(VenueError, match="venue error 10013: Resource not found"):
        _parse("bigone", {"code": 10013, "message": "Resource not found"})
    with pytest.raises(ParseError, match="without a data list"):
        _parse("bigone", {"code": 0})
    with pytest.raises(ParseError):
        _parse("bigone", {"code": 0, "data": [row, 5]})


# --- bitbank: one pair's ticker needs its market; an error's code ----------------------------


def test_bitbank_one_ticker_and_errors() -> None:
    t = {"sell": "2", "buy": "1", "last": "abc", "vol": "", "timestamp": "1733961600123"}
    (r,) = _parse("bitbank", {"success": 1, "data": t}, "btc_jpy")
    assert (r.bid, r.ask, r.volume, r.ts_event) == (1.0, 2.0, None, 1733961600123_000000)
    assert r.last is BAD
    with pytest.raises(ParseError, match="needs its market"):
        _parse("bitbank", {"success": 1, "data": t})
    with pytest.raises(VenueError, match="venue error 10000"):
        _parse("bitbank", {"success": 0, "data": {"code": 10000}})
    with pytest.raises(ParseError, match="without a success flag"):
        _parse("bitbank", {"data": []})
    with pytest.raises(ParseError, match="without a data list"):
        _parse("bitbank", {"success": 1})


# --- bitso: the open and the quote volume implied, one book's payload, errors ---------------


def test_bitso_implied_values_one_book_and_errors() -> None:
    t = {"book": "btc_mxn", "last": "100.5", "change_24": "0.7", "volume": "2", "vwap": "abc"}
    (r,) = _parse("bitso", {"success": True, "payload": {**t, "created_at": None}})
    assert (r.last, r.open, r.volume, r.ts_event) == (100.5, 99.8, 2.0, None)
    assert r.quote_volume is BAD  # implied from a bad vwap
    with pytest.raises(VenueError, match="venue error 0301: Unknown OrderBook"):
        _parse(
            "bitso", {"success": False, "error": {"code": "0301", "message": "Unknown OrderBook"}}
        )
    with pytest.raises(ParseError, match="without success"):
        _parse("bitso", {"payload": [t]})
    with pytest.raises(ParseError, match="without a payload"):
        _parse("bitso", {"success": True})


# --- btcmarkets: a list of tickers or one; an error is an object without marketId -----------


def test_btcmarkets_one_ticker_rows_without_a_market_and_errors() -> None:
    t = {"marketId": "BTC-AUD", "lastPrice": "100.5", "price24h": "abc", "bestBid": "1"}
    (r,) = _parse("btcmarkets", t)
    assert (r.last, r.bid, r.ts_event) == (100.5, 1.0, None) and r.open is BAD
    assert _parse("btcmarkets", [{"marketId": "NOT-LISTED", "lastPrice": True}]) == []
    with pytest.raises(VenueError, match="venue error InvalidMarketId: invalid marketId"):
        _parse("btcmarkets", {"code": "InvalidMarketId", "message": "invalid marketId"})
    with pytest.raises(ParseError, match="ticker without marketId"):
        _parse("btcmarkets", [t, {"lastPrice": "1"}])
    for shape in ([t, 5], "x"):
        with pytest.raises(ParseError):
            _parse("btcmarkets", shape)


# --- btcturk: JSON numbers, a price of 0 is no price ----------------------------------------


def test_btcturk_a_zero_price_is_none_a_bad_one_bad_and_errors() -> None:
    t = {"pair": "BTCUSDT", "last": 79152, "open": 0, "bid": "abc", "volume": 0, "timestamp": 5}
    (r,) = _parse("btcturk", {"data": [t], "success": True})
    assert (r.last, r.open, r.volume, r.ts_event) == (79152.0, None, 0.0, 5_000_000)
    assert r.bid is BAD
    with pytest.raises(VenueError, match="venue error 1: no such pair"):
        _parse("btcturk", {"data": None, "success": False, "code": 1, "message": "no such pair"})
    with pytest.raises(ParseError, match="without a data list"):
        _parse("btcturk", {"success": True})
    with pytest.raises(ParseError):
        _parse("btcturk", {"data": {"pair": "BTCUSDT"}, "success": True})


# --- coincheck: one pair per answer, which does not name it ---------------------------------


def test_coincheck_a_ticker_needs_its_market_and_its_time() -> None:
    t = {"last": 10012345.0, "bid": "abc", "ask": None, "volume": "", "timestamp": "1713772800"}
    (r,) = _parse("coincheck", t, "btc_jpy")
    assert (r.last, r.ask, r.volume, r.ts_event) == (10012345.0, None, None, 1713772800 * 10**9)
    assert r.bid is BAD
    (r,) = _parse("coincheck", {**t, "error": None}, "btc_jpy")  # an error with a ticker
    assert r.last == 10012345.0
    with pytest.raises(ParseError, match="needs its market"):
        _parse("coincheck", t)
    with pytest.raises(ParseError, match="without a timestamp"):
        _parse("coincheck", {"last": 1}, "btc_jpy")
    with pytest.raises(VenueError, match="venue error: not found"):
        _parse("coincheck", {"success": False, "error": "not found"}, "btc_jpy")
    with pytest.raises(VenueError, match="venue error: None"):
        _parse("coincheck", {"success": False, "last": 1}, "btc_jpy")
    with pytest.raises(VenueError, match="venue error: busy"):
        _parse("coincheck", {"error": "busy"}, "btc_jpy")


# --- bit2c: one pair per answer; an error under "error" or "Error" --------------------------


def test_bit2c_a_ticker_of_nulls_is_a_ticker_and_errors() -> None:
    (r,) = _parse("bit2c", {"ll": 372150.0, "h": "abc", "l": None, "a": 3.5, "av": 1}, "BtcNis")
    assert (r.last, r.ask, r.volume, r.ts_event) == (372150.0, None, 3.5, None)
    assert r.bid is BAD
    (r,) = _parse("bit2c", {"ll": None}, "BtcNis")  # sent, as null: a ticker without values
    assert (r.last, r.bid, r.ask, r.volume) == (None, None, None, None)
    with pytest.raises(ParseError, match="not a ticker"):
        _parse("bit2c", {"av": 1}, "BtcNis")
    with pytest.raises(ParseError, match="needs its market"):
        _parse("bit2c", {"ll": 1})
    with pytest.raises(VenueError, match="venue error: no pair"):
        _parse("bit2c", {"Error": "no pair"}, "BtcNis")
    with pytest.raises(VenueError, match="venue error: busy"):
        _parse("bit2c", {"error": "busy", "Error": None}, "BtcNis")
    (r,) = _parse("bit2c", {"error": None, "Error": "ignored", "ll": 1}, "BtcNis")
    assert r.last == 1.0  # "error" sent as null: no error, whatever "Error" says


# --- coinmate: tickers keyed by pair, or one pair's ticker; a row not an object -------------


def test_coinmate_keyed_tickers_one_ticker_and_rows_not_objects() -> None:
    t = {"last": "61200.5", "bid": "abc", "amount": "", "timestamp": "1728630559"}
    for native in (None, "BTC_EUR"):  # asked for one pair or all: the answer says which
        (r,) = _parse("coinmate", {"error": False, "data": {"BTC_EUR": t, "XX_YY": 5}}, native)
        assert (r.native, r.last, r.volume, r.ts_event) == (
            "BTC_EUR",
            61200.5,
            None,
            1728630559 * 10**9,
        )
        assert r.bid is BAD
    (r,) = _parse("coinmate", {"error": False, "data": {**t, "bid": "1"}}, "BTC_EUR")
    assert (r.last, r.bid) == (61200.5, 1.0)
    (r,) = _parse("coinmate", {"error": False, "data": {"last": None}}, "BTC_EUR")
    assert (r.last, r.ts_event) == (None, None)  # a ticker of nulls, not a keyed answer
    (r,) = _parse("coinmate", {"error": False, "data": {"timestamp": 5, "open": "x"}}, "BTC_EUR")
    assert r.ts_event == 5 * 10**9 and r.open is BAD
    with pytest.raises(ParseError, match="needs its market"):
        _parse("coinmate", {"error": False, "data": t})
    with pytest.raises(ParseError, match="ticker of BTC_EUR is not an object"):
        _parse("coinmate", {"error": False, "data": {"BTC_EUR": ["1"]}})
    for native in (None, "BTC_EUR"):
        with pytest.raises(VenueError, match="venue error: Invalid pair"):
            _parse(
                "coinmate", {"error": True, "errorMessage": "Invalid pair", "data": None}, native
            )
        with pytest.raises(ParseError, match="without a data object"):
            _parse("coinmate", {"error": False, "data": [t]}, native)
        with pytest.raises(ParseError, match="not JSON"):
            codec("coinmate").parse_rest(b"<html>", 1, None)


# --- btcbox: tickers keyed by market, or one coin's ticker; a row not an object -------------


def test_btcbox_keyed_tickers_one_coin_and_rows_not_objects() -> None:
    t = {"buy": 2774453, "sell": "abc", "last": 2774210, "vol": 566.6947, "volume": ""}
    (r,) = _parse("btcbox", {"BTC_JPY": t, "XX_JPY": "?"})
    assert (r.native, r.bid, r.last, r.volume, r.quote_volume) == (
        "BTC_JPY",
        2774453.0,
        2774210.0,
        566.6947,
        None,
    )
    assert r.ask is BAD and r.ts_event is None
    (r,) = _parse("btcbox", {"BTC_JPY": {**t, "sell": 1, "volume": 2}})
    assert (r.ask, r.quote_volume) == (1.0, 2.0)
    (r,) = _parse("btcbox", t, "BTC_JPY")  # one coin's ticker
    assert r.last == 2774210.0 and r.ask is BAD
    with pytest.raises(ParseError, match="needs its market"):
        _parse("btcbox", t)
    with pytest.raises(ParseError, match="ticker of BTC_JPY is not an object"):
        _parse("btcbox", {"BTC_JPY": [1]})
    with pytest.raises(VenueError, match="venue error 401"):
        _parse("btcbox", {"result": False, "code": "401"})
    with pytest.raises(ParseError):
        _parse("btcbox", [t])
