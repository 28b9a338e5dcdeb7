"""Declared messages of hitbtc (and bequant, its subclass), deribit, upbit, bithumb, coinone
and lbank: a spoiled value in a recorded frame nulls and flags that field only, and the rest
of the frame is read, as tests/test_schema.py checks for the codecs converted first."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aggregator.errors import ParseError
from aggregator.records import BAD

from . import test_schema as declared
from .test_codecs import codec

VENUES = ("hitbtc",)


@pytest.mark.parametrize("bad", declared.SPOILERS, ids=repr)
@pytest.mark.parametrize("venue", VENUES)
def test_a_spoiled_value_nulls_only_its_field(venue: str, bad: Any) -> None:
    declared.test_each_codec_keeps_the_frame_and_nulls_only_the_spoiled_field(venue, bad)


@pytest.mark.parametrize("venue", VENUES)
def test_an_empty_string_is_not_sent(venue: str) -> None:
    declared.test_each_codec_reads_an_empty_string_as_not_sent(venue)


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
