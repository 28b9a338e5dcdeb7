"""Declared messages of hitbtc (and bequant, its subclass), deribit, upbit, bithumb, coinone
and lbank: a spoiled value in a recorded frame nulls and flags that field only, and the rest
of the frame is read, as tests/test_schema.py checks for the codecs converted first."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from aggregator.errors import ParseError
from aggregator.records import BAD, EMPTY

from . import test_schema as declared
from .test_codecs import codec

VENUES = ("hitbtc", "deribit", "upbit", "bithumb", "coinone", "lbank")

# Real frames of venues with no recorded one that makes a spot record (deribit's are of a
# perpetual), from the codec's docstring.
SAMPLES: dict[str, list[Any]] = {
    "deribit": [
        {
            "jsonrpc": "2.0",
            "method": "subscription",
            "params": {
                "channel": "ticker.BTC_USDT.100ms",
                "data": {
                    "timestamp": 1786563120494,
                    "instrument_name": "BTC_USDT",
                    "state": "open",
                    "last_price": 63344,
                    "best_bid_price": 63344,
                    "best_bid_amount": 0.58,
                    "best_ask_price": 63344.5,
                    "best_ask_amount": 0.1,
                    "stats": {
                        "high": 64422,
                        "low": 63261,
                        "price_change": -0.0095,
                        "volume": 27.78,
                        "volume_notional": 1771874.1,
                    },
                },
            },
        },
        {
            "jsonrpc": "2.0",
            "method": "subscription",
            "params": {
                "channel": "quote.BTC_USDT",
                "data": {
                    "timestamp": 1786563120630,
                    "instrument_name": "BTC_USDT",
                    "best_bid_price": 63344,
                    "best_bid_amount": 0.49,
                    "best_ask_price": 63344.5,
                    "best_ask_amount": 0.2,
                },
            },
        },
    ],
    "coinone": [
        {
            "response_type": "SUBSCRIBED",
            "channel": "TICKER",
            "data": {"quote_currency": "KRW", "target_currency": "BTC"},
        },
        {
            "response_type": "DATA",
            "channel": "TICKER",
            "data": {
                "quote_currency": "KRW",
                "target_currency": "BTC",
                "timestamp": 1705301117198,
                "quote_volume": "19521465345.504",
                "target_volume": "334.81445168",
                "high": "58710000",
                "low": "57276000",
                "first": "57293000",
                "last": "58532000",
                "volume_power": "100",
                "ask_best_price": "58537000",
                "ask_best_qty": "0.1961",
                "bid_best_price": "58532000",
                "bid_best_qty": "0.00009258",
                "id": "1705301117198001",
                "yesterday_high": "59140000",
            },
        },
    ],
    "lbank": [
        {
            "depth": {"asks": [[0.0252, 0.5833], [0.025215, 4.377]], "bids": [[0.025135, 3.962]]},
            "count": 10,
            "type": "depth",
            "pair": "eth_btc",
            "SERVER": "V2",
            "TS": "2019-06-28T17:49:22.722",
        },
        {
            "tick": {
                "to_cny": 76643.5,
                "high": 0.02719761,
                "vol": 497529.7686,
                "low": 0.02603071,
                "change": 2.54,
                "usd": 299.12,
                "to_usd": 11083.66,
                "dir": "sell",
                "turnover": 13224.0186,
                "latest": 0.02698749,
                "cny": 2068.41,
            },
            "type": "tick",
            "pair": "eth_btc",
            "SERVER": "V2",
            "TS": "2019-07-01T11:33:55.188",
        },
    ],
}


@pytest.fixture(autouse=True)
def _samples_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks of tests/test_schema.py run on the recorded frames and the samples."""
    recorded = declared._frames
    monkeypatch.setattr(
        declared, "_frames", lambda v: recorded(v) + [json.dumps(f) for f in SAMPLES.get(v, [])]
    )


@pytest.mark.parametrize("bad", declared.SPOILERS, ids=repr)
@pytest.mark.parametrize("venue", VENUES)
def test_a_spoiled_value_nulls_only_its_field(venue: str, bad: Any) -> None:
    declared.test_each_codec_keeps_the_frame_and_nulls_only_the_spoiled_field(venue, bad)


@pytest.mark.parametrize("venue", [v for v in VENUES if v != "deribit"])
def test_an_empty_string_is_not_sent(venue: str) -> None:
    declared.test_each_codec_reads_an_empty_string_as_not_sent(venue)


def test_deribit_a_side_without_a_price_is_empty_and_a_bad_price_bad() -> None:
    """A best price of 0, null or "" is an empty side (EMPTY, both fields), not a value
    the merge keeps; a bad one is BAD, its size read."""
    c = codec("deribit")
    frame = copy.deepcopy(SAMPLES["deribit"][1])
    for empty in (0, None, ""):
        frame["params"]["data"] |= {"best_bid_price": empty, "best_ask_price": "abc"}
        (r,) = c.parse_ws(json.dumps(frame), 1)
        assert r.bid is EMPTY and r.bid_size is EMPTY
        assert r.ask is BAD and r.ask_size == 0.2
        assert r.ts_event == 1786563120630 * 10**6


def test_hitbtc_reads_each_row_of_a_notification_apart() -> None:
    """One market's bad number or a row that is no object spoils nothing else."""
    c = codec("hitbtc")
    frame = {
        "ch": "orderbook/top/100ms",
        "data": {
            "BTCUSDT": {"t": 1790512925999, "a": "abc", "A": "0.00732", "b": "84999.49"},
            "ETHUSDT": {"t": 1790512925999, "a": "3000.5", "b": "", "B": True},
            "LTCUSDT": [1, 2],
        },
    }
    btc, eth = c.parse_ws(json.dumps(frame), 1)
    assert (btc.native, btc.ask, btc.ask_size, btc.bid, btc.bid_size) == (
        "BTCUSDT",
        BAD,
        0.00732,
        84999.49,
        None,
    )
    assert btc.ts_event == 1790512925999 * 10**6
    assert (eth.ask, eth.bid, eth.bid_size) == (3000.5, None, BAD)


@pytest.mark.parametrize(
    "raw", ['["ch"]', "{", '{"ch":"ticker/price/1s","data":{"BTCUSDT":{"c":1e400}}}']
)
def test_hitbtc_a_frame_it_cannot_read_is_a_parse_error(raw: str) -> None:
    with pytest.raises(ParseError):
        codec("hitbtc").parse_ws(raw, 1)


@pytest.mark.parametrize("venue", ["upbit", "bithumb"])
def test_quotation_book_top_reads_its_first_level_and_skips_deeper_changes(venue: str) -> None:
    """The first unit is the top: a bad price there is BAD, a change below it no record; a
    REST answer of order books gives the same top."""
    c = codec(venue)
    units: list[dict[str, Any]] = [
        {"ask_price": "abc", "bid_price": 137001000, "ask_size": 0.1, "bid_size": ""},
        {"ask_price": 137003000, "bid_price": 137000000, "ask_size": 1, "bid_size": 2},
    ]
    book = {"type": "orderbook", "code": "KRW-BTC", "timestamp": 1746601573804}
    (r,) = c.parse_ws(json.dumps(book | {"orderbook_units": units}), 1)
    assert (r.bid, r.bid_size, r.ask, r.ask_size) == (137001000.0, None, BAD, 0.1)
    assert r.ts_event == 1746601573804 * 10**6 and r.last is None
    units[1]["ask_size"] = 3
    assert c.parse_ws(json.dumps(book | {"orderbook_units": units}), 1) == []
    polled = [{"market": "KRW-BTC", "timestamp": 1746601573804, "orderbook_units": units}]
    (p,) = c.parse_rest(json.dumps(polled).encode(), 1, None)
    assert (p.bid, p.ask_size, p.ts_event) == (r.bid, r.ask_size, r.ts_event) and p.ask is BAD
    with pytest.raises(ParseError):
        c.parse_ws(json.dumps(book | {"orderbook_units": "x"}), 1)


def test_lbank_depth_reads_its_best_levels_in_a_push_and_in_an_answer() -> None:
    """A push has the levels under "depth", a request's answer at the top; a bad price
    makes its side BAD, the other side read."""
    c = codec("lbank")
    push = copy.deepcopy(SAMPLES["lbank"][0])
    push["depth"]["asks"][1][0] = "abc"
    (r,) = c.parse_ws(json.dumps(push), 1)
    assert (r.bid, r.bid_size, r.ask, r.ask_size) == (0.025135, 3.962, BAD, BAD)
    assert r.ts_event == 1561715362722 * 10**6  # 17:49:22.722 UTC+8
    answer = {k: v for k, v in push.items() if k != "depth"} | {
        "asks": [[0.0251, "0.5"]],
        "bids": [],
    }
    (a,) = c.parse_ws(json.dumps(answer), 1)
    assert (a.ask, a.ask_size, a.bid, a.bid_size) == (0.0251, 0.5, EMPTY, EMPTY)
