"""Declared answers of the REST-only codecs digifinex, foxbit, indodax, latoken, luno,
mercado, paymium, zaif and coinspot: a spoiled value in a ticker nulls (and flags) that
field only, an empty string is a value not sent, and the answer is never dropped whole for
it. The checks are those of tests/test_schema.py, run on the venues' recorded and
documented answers (tests/fixtures/rest/, rest-doc/) through parse_rest.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from aggregator.errors import ParseError, VenueError
from aggregator.records import BAD, Ticker

from . import test_schema as declared
from .test_codecs import codec, fixture_entries

VENUES = (
    "digifinex",
    "foxbit",
    "indodax",
    "latoken",
    "luno",
    "mercado",
    "paymium",
    "zaif",
    "coinspot",
)


def _answers(venue: str) -> list[str]:
    """The venue's ticker answers, each tagged with the symbol it was asked for."""
    return [
        json.dumps({"symbol": e["input"][0], "body": e["httpResponse"]})
        for kind in ("rest", "rest-doc")
        for path, _, e in fixture_entries(kind)
        if path.stem == venue and e["method"] == "fetchTicker"
    ]


def _parsed(venue: str, answers: list[str]) -> list[Ticker]:
    c = codec(venue)
    out: list[Ticker] = []
    for a in answers:
        doc = json.loads(a)
        body = json.dumps(doc["body"]).encode()
        out.extend(c.parse_rest(body, 1, c.table.by_symbol[doc["symbol"]]))
    return out


# Answers of another shape than the venue's: each is a ParseError.
ANOTHER_SHAPE = {
    "digifinex": (b'{"code":0}', b'{"ticker":{}}', b'{"ticker":[1]}', b"[]", b"<html>"),
    "foxbit": (b"{}", b'{"data":5}', b'{"data":[1]}', b"[]", b"<html>"),
    "latoken": (b"[1]", b"5", b"<html>", b'[{"bestBid":{}}, 2]'),
    "luno": (b'{"tickers":5}', b'{"tickers":[1]}', b'{"tickers":[{"bid":"1"}]}', b"[]"),
    "mercado": (b"{}", b'{"pair":"BTC-BRL"}', b"[1]", b"5", b"<html>"),
    "paymium": (b"{}", b'{"ask":"1","currency":"EUR"}', b"[]", b"<html>"),
    "zaif": (b"{}", b'{"bid":1}', b"[]", b"<html>"),
    "coinspot": (b'{"status":"ok"}', b'{"prices":[]}', b"[]", b"<html>"),
    "indodax": (b"{}", b'{"tickers":[]}', b'{"ticker":null}', b"[]", b"<html>"),
}


@pytest.fixture(autouse=True)
def _through_parse_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks of tests/test_schema.py read answers through parse_rest (the symbol a
    tagged answer names is not a number: spoiling leaves it)."""
    monkeypatch.setattr(declared, "_frames", _answers)
    monkeypatch.setattr(declared, "_records", _parsed)


@pytest.mark.parametrize("bad", declared.SPOILERS, ids=repr)
@pytest.mark.parametrize("venue", VENUES)
def test_a_spoiled_value_nulls_only_its_field(venue: str, bad: Any) -> None:
    declared.test_each_codec_keeps_the_frame_and_nulls_only_the_spoiled_field(venue, bad)


@pytest.mark.parametrize("venue", VENUES)
def test_an_empty_string_is_not_sent(venue: str) -> None:
    declared.test_each_codec_reads_an_empty_string_as_not_sent(venue)


@pytest.mark.parametrize(
    ("venue", "body"), [(v, b) for v, bodies in ANOTHER_SHAPE.items() for b in bodies]
)
def test_an_answer_of_another_shape_is_a_parse_error(venue: str, body: bytes) -> None:
    c = codec(venue)
    symbol = json.loads(_answers(venue)[0])["symbol"]
    with pytest.raises(ParseError):
        c.parse_rest(body, 1, c.table.by_symbol[symbol])


# --- digifinex ------------------------------------------------------------------------------


def test_digifinex_an_error_code_and_answers_of_another_shape() -> None:
    c = codec("digifinex")
    with pytest.raises(VenueError, match="10004: bad"):
        c.parse_rest(b'{"code":10004,"msg":"bad"}', 1, None)
    row = b'{"symbol":"btc_usdt","buy":"x","sell":"2","vol":"3","base_vol":"6"}'
    (t,) = c.parse_rest(b'{"code":0,"date":"1710328246","ticker":[' + row + b"]}", 1, None)
    assert t.bid is BAD and (t.ask, t.volume, t.quote_volume) == (2.0, 3.0, 6.0)
    assert t.ts_event == 1710328246_000_000_000


# --- foxbit ---------------------------------------------------------------------------------


@pytest.mark.parametrize("part", ["last_trade", "rolling_24h", "best", "bid"])
@pytest.mark.parametrize("sent", ["x", 5, [1], None])
def test_foxbit_a_part_of_a_row_that_is_not_an_object_is_not_sent(part: str, sent: Any) -> None:
    row: dict[str, Any] = {
        "market_symbol": "btcbrl",
        "last_trade": {"price": "1.7751", "date": "2024-08-02T00:12:21.000Z"},
        "rolling_24h": {"open": "1.7863", "volume": "68017.36"},
        "best": {"ask": {"price": "1.7893"}, "bid": {"price": "1.7816", "volume": "5116.5"}},
    }
    if part == "bid":
        row["best"]["bid"] = sent
    else:
        row[part] = sent
    (t,) = codec("foxbit").parse_rest(json.dumps({"data": [row]}).encode(), 1, None)
    by_part = {
        "last_trade": ("last", 1.7751),
        "rolling_24h": ("open", 1.7863),
        "best": ("ask", 1.7893),
        "bid": ("bid", 1.7816),
    }
    field = by_part[part][0]
    assert getattr(t, field) is None
    for other, value in by_part.values():
        if other != field and not (part == "best" and other == "bid"):
            assert getattr(t, other) == value
    assert (t.ts_event is None) == (part == "last_trade")


def test_foxbit_errors_and_answers_of_another_shape() -> None:
    c = codec("foxbit")
    with pytest.raises(VenueError, match="venue error 429: slow down"):
        c.parse_rest(b'{"error":{"message":"slow down","code":429}}', 1, None)
    with pytest.raises(VenueError, match="venue error: down"):
        c.parse_rest(b'{"error":"down"}', 1, None)


# --- latoken --------------------------------------------------------------------------------


def test_latoken_one_pair_a_list_and_errors() -> None:
    c = codec("latoken")
    m = c.table.by_symbol["BTC/USDT"]
    one = {"symbol": m.native, "bestBid": "1.5", "lastPrice": "abc", "updateTimestamp": "1000"}
    (t,) = c.parse_rest(json.dumps(one).encode(), 1, None)
    assert (t.bid, t.last, t.ts_event) == (1.5, BAD, 1_000_000_000)
    by_ids = {"symbol": "x", "baseCurrency": m.base_id, "quoteCurrency": m.quote_id}
    assert [r.symbol for r in c.parse_rest(json.dumps([by_ids]).encode(), 1, None)] == [m.symbol]
    with pytest.raises(VenueError, match="venue error NOT_FOUND: no pair"):
        c.parse_rest(b'{"status":"FAILURE","error":"NOT_FOUND","message":"no pair"}', 1, None)


# --- luno -----------------------------------------------------------------------------------


def test_luno_all_tickers_one_pair_and_errors() -> None:
    c = codec("luno")
    m = c.table.by_symbol["BTC/USDT"]
    row = {"pair": m.native, "bid": "1.5", "ask": True, "timestamp": 1710328244969}
    for body in ({"tickers": [row, {"pair": "NOSUCH"}]}, row):
        (t,) = c.parse_rest(json.dumps(body).encode(), 1, None)
        assert (t.bid, t.ask, t.ts_event) == (1.5, BAD, 1710328244969_000_000)
    with pytest.raises(VenueError, match="venue error ErrInvalidMarketPair: no such pair"):
        c.parse_rest(b'{"error":"no such pair","error_code":"ErrInvalidMarketPair"}', 1, None)
    with pytest.raises(VenueError, match="venue error None: down"):
        c.parse_rest(b'{"error":"down"}', 1, None)


# --- mercado --------------------------------------------------------------------------------


def test_mercado_errors_and_answers_of_another_shape() -> None:
    c = codec("mercado")
    with pytest.raises(VenueError, match="venue error API_INVALID_SYMBOL: no such symbol"):
        c.parse_rest(b'{"code":"API_INVALID_SYMBOL","message":"no such symbol"}', 1, None)
    rows = b'[{"pair":"BTC-BRL","buy":"1","sell":"NaN","date":1710328240},{"pair":"NO-SUCH"}]'
    (t,) = c.parse_rest(rows, 1, None)
    assert (t.bid, t.ask, t.ts_event) == (1.0, BAD, 1710328240_000_000_000)


# --- paymium --------------------------------------------------------------------------------


def test_paymium_a_ticker_its_vwap_and_errors() -> None:
    c = codec("paymium")
    quote = b'{"price":"2","volume":"3","vwap":"1.5","at":1710328242,"currency":"EUR"}'
    (t,) = c.parse_rest(quote, 1, None)
    assert (t.symbol, t.last, t.quote_volume, t.ts_event) == ("BTC/EUR", 2.0, 4.5, 1710328242e9)
    (t,) = c.parse_rest(quote.replace(b'"1.5"', b'"x"'), 1, None)
    assert t.quote_volume is BAD and t.volume == 3.0
    (t,) = c.parse_rest(b'{"price":null,"bid":null,"currency":"EUR"}', 1, None)
    assert (t.last, t.bid) == (None, None)  # sent, though null: a ticker still
    assert c.parse_rest(b'{"price":"2","currency":"USD"}', 1, None) == []
    with pytest.raises(VenueError, match="venue error: \\['Not found'\\]"):
        c.parse_rest(b'{"errors":["Not found"]}', 1, None)


# --- zaif -----------------------------------------------------------------------------------


def test_zaif_a_ticker_its_vwap_and_errors() -> None:
    c = codec("zaif")
    m = c.table.by_symbol["BTC/JPY"]
    (t,) = c.parse_rest(b'{"last":null,"volume":2,"vwap":"1e3","bid":"x"}', 1, m)
    assert (t.last, t.quote_volume, t.bid, t.ts_event) == (None, 2000.0, BAD, None)
    with pytest.raises(VenueError, match="venue error: unsupported currency_pair"):
        c.parse_rest(b'{"error":"unsupported currency_pair"}', 1, m)
    with pytest.raises(ParseError, match="needs its market"):
        c.parse_rest(b'{"last":1}', 1, None)


# --- coinspot -------------------------------------------------------------------------------


def test_coinspot_reads_the_coins_followed_only() -> None:
    c = codec("coinspot")
    body = b'{"status":"ok","prices":{"btc":{"bid":"1","last":"x"},"nosuch":5,"zzz":[1]}}'
    (t,) = c.parse_rest(body, 1, None)
    assert (t.symbol, t.bid, t.last) == ("BTC/AUD", 1.0, BAD)
    with pytest.raises(ParseError):  # a coin followed whose prices are not an object
        c.parse_rest(b'{"status":"ok","prices":{"btc":5}}', 1, None)
    with pytest.raises(VenueError, match="venue error: invalid coin"):
        c.parse_rest(b'{"status":"error","message":"invalid coin","prices":[]}', 1, None)


# --- indodax --------------------------------------------------------------------------------


def test_indodax_reads_the_pairs_followed_with_volumes_named_after_their_currencies() -> None:
    c = codec("indodax")
    m = c.table.by_symbol["BTC/USDT"]
    row = {"last": "2", "buy": "x", "vol_btc": "3", "vol_usdt": "6", "server_time": 1710328244}
    body = {"tickers": {m.native: row, "nosuch_idr": 5}}
    (t,) = c.parse_rest(json.dumps(body).encode(), 1, None)
    assert (t.symbol, t.last, t.bid, t.volume, t.quote_volume) == ("BTC/USDT", 2.0, BAD, 3.0, 6.0)
    assert t.ts_event == 1710328244_000_000_000
    (t,) = c.parse_rest(json.dumps({"ticker": row}).encode(), 1, m)
    assert (t.last, t.volume, t.quote_volume) == (2.0, 3.0, 6.0)
    with pytest.raises(ParseError):  # a pair followed whose ticker is not an object
        c.parse_rest(json.dumps({"tickers": {m.native: 5}}).encode(), 1, None)
    with pytest.raises(ParseError, match="needs its market"):
        c.parse_rest(json.dumps({"ticker": row}).encode(), 1, None)
    with pytest.raises(VenueError, match="venue error invalid_pair: Invalid Pair"):
        c.parse_rest(b'{"error":"invalid_pair","error_description":"Invalid Pair"}', 1, None)
