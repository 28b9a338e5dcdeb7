"""Codecs on declared messages (aggregator/adapters/schema.py): binance, htx, kucoin,
bitstamp, poloniex and whitebit, each with its recorded frames spoiled value by value.

A spoiled value nulls and flags that field only; the rest of the frame makes the record it
made before: the checks of tests/test_schema.py, over these venues' recorded frames
(bitstamp's recorded stream is of a channel it does not read: its book is checked on frames
written here). tests/test_codecs.py and tests/test_values.py check the clean records against
the reference.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from aggregator.errors import ParseError, VenueError, VenueNotice
from aggregator.records import BAD, EMPTY

from . import test_schema as declared
from .test_codecs import codec
from .test_schema import SPOILERS

VENUES = ("binance", "htx", "kucoin", "poloniex", "whitebit")


@pytest.mark.parametrize("bad", SPOILERS, ids=repr)
@pytest.mark.parametrize("venue", VENUES)
def test_each_codec_keeps_the_frame_and_nulls_only_the_spoiled_field(venue: str, bad: Any) -> None:
    declared.test_each_codec_keeps_the_frame_and_nulls_only_the_spoiled_field(venue, bad)


@pytest.mark.parametrize("venue", VENUES)
def test_each_codec_reads_an_empty_string_as_not_sent(venue: str) -> None:
    declared.test_each_codec_reads_an_empty_string_as_not_sent(venue)


# --- binance --------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"{", b"[1]", b'"x"', "{"])
def test_binance_refuses_what_is_not_an_object_of_its_shape(raw: str | bytes) -> None:

    with pytest.raises(ParseError):
        codec("binance").parse_ws(raw, 1)


def test_binance_acks_errors_and_other_events() -> None:

    c = codec("binance")
    assert c.parse_ws(b'{"result":null,"id":1}', 1) == []
    assert c.parse_ws(b'{"e":"trade","s":"BTCUSDT","p":"1"}', 1) == []
    with pytest.raises(VenueError, match="venue error"):
        c.parse_ws(b'{"error":{"code":2,"msg":"Invalid request"},"id":1}', 1)
    with pytest.raises(ParseError, match="unexpected message"):
        c.parse_ws(b'{"id":1}', 1)


# --- htx: gzip'd frames, pings answered with the value sent --------------------------------


def test_htx_answers_a_ping_and_reads_a_gzipped_push() -> None:
    c = codec("htx")
    assert c.parse_ws(gzip.compress(b'{"ping":1786563068868}'), 1) == []
    assert c.replies[-1] == '{"pong":1786563068868}'
    push = (
        b'{"ch":"market.btcusdt.bbo","ts":1630982370526,"tick":{"seqId":1,"ask":"abc",'
        b'"askSize":0.58,"bid":52732.88,"bidSize":0.036,"quoteTime":1630982370520}}'
    )
    (r,) = c.parse_ws(gzip.compress(push), 1)
    assert r.ask is BAD and r.bid == 52732.88 and r.ts_event == 1630982370520_000000
    with pytest.raises(ParseError, match=r"unexpected market\.btcusdt\.bbo"):
        c.parse_ws(b'{"ch":"market.btcusdt.bbo","ts":1}', 1)


# --- kucoin, bitstamp: an error's data as sent; bitstamp's best levels ------------------------


def test_kucoin_an_error_names_the_request_and_its_data() -> None:
    c = codec("kucoin")
    with pytest.raises(VenueNotice, match="request 1 rejected: 404: topic /x"):
        c.parse_ws(b'{"id":"1","type":"error","code":404,"data":"topic /x is not found"}', 1)


BOOK_FRAME = {
    "data": {
        "timestamp": "1786614357",
        "microtimestamp": "1786614357909624",
        "bids": [["63706.26", "0.07856313"], ["63704.51", "0.12570851"]],
        "asks": [["63711.04", "0.07857225"], ["63712.00", "1"]],
    },
    "channel": "order_book_btcusdt",
    "event": "data",
}


def _book(bids: Any, asks: Any, micro: Any = "1786614357909624") -> bytes:
    data = {**BOOK_FRAME["data"], "bids": bids, "asks": asks, "microtimestamp": micro}  # type: ignore[dict-item]
    return json.dumps({**BOOK_FRAME, "data": data}).encode()


def test_bitstamp_reads_the_best_levels_and_skips_an_unchanged_top() -> None:
    c = codec("bitstamp")
    (r,) = c.parse_ws(json.dumps(BOOK_FRAME), 1)
    assert (r.bid, r.bid_size, r.ask, r.ask_size) == (63706.26, 0.07856313, 63711.04, 0.07857225)
    assert r.ts_event == 1786614357909624000 and r.last is None
    # deeper levels changed, the top did not: no record
    assert c.parse_ws(_book([["63706.26", "0.07856313"]], [["63711.04", "0.07857225"]]), 1) == []
    (r,) = c.parse_ws(_book([["63706.26", "abc"]], [], micro=None), 1)
    assert r.bid == 63706.26 and r.bid_size is BAD and r.ask is None and r.ask_size is None
    assert r.ts_event == 1786614357_000000000  # the seconds, where no microseconds come
    with pytest.raises(ParseError, match="without bids and asks"):
        c.parse_ws(_book(None, []), 1)
    with pytest.raises(ParseError):
        c.parse_ws(_book("x", []), 1)


def test_bitstamp_an_error_with_nothing_left_subscribed_ends_the_session() -> None:
    c = codec("bitstamp")
    c.subscribe(list(c.table.markets)[:2])
    error = b'{"event":"bts:error","channel":"","data":{"code":null,"message":"Bad subscription."}}'
    with pytest.raises(VenueNotice, match="venue error: Bad subscription"):
        c.parse_ws(error, 1)
    with pytest.raises(VenueError, match="subscription rejected: Bad subscription"):
        c.parse_ws(error, 1)


# --- poloniex: whole book sides, the best found wherever it is ------------------------------


def _poloniex_book(bids: Any, asks: Any) -> bytes:
    item = {"symbol": "BTC_USDT", "createTime": 1694469187745, "bids": bids, "asks": asks}
    return json.dumps({"channel": "book", "data": [item]}).encode()


def test_poloniex_reads_a_book_top_and_skips_it_unchanged() -> None:
    c = codec("poloniex")
    bids = [["25148.61", "0.046041"], ["25149.00", "1"]]  # not sorted: the best is found
    (r,) = c.parse_ws(_poloniex_book(bids, [["25157.24", "0.444294"]]), 1)
    assert (r.bid, r.bid_size, r.ask, r.ask_size) == (25149.0, 1.0, 25157.24, 0.444294)
    assert r.ts_event == 1694469187745_000000
    assert c.parse_ws(_poloniex_book(bids, [["25157.24", "0.444294"]]), 1) == []
    (r,) = c.parse_ws(_poloniex_book([["abc", "1"]], []), 1)
    assert r.bid is BAD and r.bid_size is BAD and r.ask is EMPTY  # no level: null, not kept
    with pytest.raises(ParseError, match="book message without a data list"):
        c.parse_ws(b'{"channel":"book"}', 1)
    with pytest.raises(ParseError):
        c.parse_ws(b'{"channel":"book","data":[5]}', 1)


# --- whitebit: JSON-RPC pushes, params read by the method's declaration ----------------------


def test_whitebit_book_rows_answers_and_refusals() -> None:
    c = codec("whitebit")
    row = [1751958383.593387, 1751958383.593557, "BTC_USDT", 80670102, "1", "abc", "2", "3"]
    push = {"id": None, "method": "bookTicker_update", "params": [row, [*row[:2], "X_Y", 1]]}
    with pytest.raises(ParseError):  # a row too short to hold a book's top
        c.parse_ws(json.dumps(push), 1)
    push["params"] = [row]
    (r,) = c.parse_ws(json.dumps(push), 1)
    assert (r.bid, r.ask, r.ask_size) == (1.0, 2.0, 3.0) and r.bid_size is BAD
    assert r.ts_event == 1751958383593387000
    assert c.parse_ws(b'{"id":null,"method":"bookTicker_update","params":null}', 1) == []
    assert c.parse_ws(b'{"id":0,"result":"pong","error":null}', 1) == []
    with pytest.raises(ParseError, match="without statistics"):
        c.parse_ws(b'{"id":null,"method":"market_update","params":["BTC_USDT"]}', 1)
    with pytest.raises(ParseError, match="unexpected message"):
        c.parse_ws(b'{"id":3}', 1)
    refused = '{"id":%d,"result":null,"error":{"code":1,"message":"invalid argument"}}'
    with pytest.raises(VenueNotice, match="market subscription rejected: invalid argument"):
        c.parse_ws(refused % 1, 1)
    with pytest.raises(VenueError, match="bookTicker subscription rejected"):
        c.parse_ws(refused % 2, 1)
