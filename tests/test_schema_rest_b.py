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

VENUES = ("digifinex",)


def _answers(venue: str) -> list[str]:
    """The venue's answers, each tagged with the symbol it was asked for."""
    return [
        json.dumps({"symbol": e["input"][0], "body": e["httpResponse"]})
        for kind in ("rest", "rest-doc")
        for path, _, e in fixture_entries(kind)
        if path.stem == venue
    ]


def _parsed(venue: str, answers: list[str]) -> list[Ticker]:
    c = codec(venue)
    out: list[Ticker] = []
    for a in answers:
        doc = json.loads(a)
        body = json.dumps(doc["body"]).encode()
        out.extend(c.parse_rest(body, 1, c.table.by_symbol[doc["symbol"]]))
    return out


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


# --- digifinex ------------------------------------------------------------------------------


def test_digifinex_an_error_code_and_answers_of_another_shape() -> None:
    c = codec("digifinex")
    with pytest.raises(VenueError, match="10004: bad"):
        c.parse_rest(b'{"code":10004,"msg":"bad"}', 1, None)
    for body in (b'{"code":0}', b'{"ticker":{}}', b'{"ticker":[1]}', b"[]", b"<html>"):
        with pytest.raises(ParseError):
            c.parse_rest(body, 1, None)
    row = b'{"symbol":"btc_usdt","buy":"x","sell":"2","vol":"3","base_vol":"6"}'
    (t,) = c.parse_rest(b'{"code":0,"date":"1710328246","ticker":[' + row + b"]}", 1, None)
    assert t.bid is BAD and (t.ask, t.volume, t.quote_volume) == (2.0, 3.0, 6.0)
    assert t.ts_event == 1710328246_000_000_000
