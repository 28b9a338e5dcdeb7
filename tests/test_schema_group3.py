"""Declared messages in the codecs of coinbaseexchange, bitflyer, cex and independentreserve
(gemini's stream, best bid/ask updates now, is tested in test_api_changes.py). A spoiled
value in a ticker nulls (and flags) that field only, an empty string is a value not sent,
and the frame is never dropped whole for it; a spoiled level of a book kept here puts that
book out of step (the session renews), as it did.

The frames are the venue's recorded ones (tests/fixtures/ws/ and tests/fixtures/sessions/),
read by a codec whose table holds every market they name; cex, with none recorded, is fed
the frames its documentation shows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from aggregator.adapters.independentreserve import ChecksumMismatch
from aggregator.adapters.registry import codec_class
from aggregator.errors import ParseError, SequenceGap, VenueError, VenueNotice
from aggregator.records import BAD, Ticker
from aggregator.symbols import Market, MarketTable

from .test_schema import SPOILERS, _spoil

FIXTURES = Path(__file__).parent / "fixtures"
# Venues whose stream carries its prices as ticker values (not book levels).
TICKER_VENUES = ("coinbaseexchange", "bitflyer")


def frames_of(venue: str) -> list[str]:
    """The venue's recorded frames as text: ws/ entries' messages, sessions/ entries' raws."""
    frames: list[str] = []
    for kind in ("ws", "sessions"):
        path = FIXTURES / kind / f"{venue}.json"
        if not path.exists():
            continue
        for entry in json.loads(path.read_text()):
            for m in entry.get("messages", []):
                frames.append(m["raw"] if kind == "sessions" else json.dumps(m))
    return frames


class EveryMarket(MarketTable):
    """A table with a market for every id a codec looks up (its symbol made of the id)."""

    def __init__(self) -> None:
        super().__init__([])
        self.lookup = self.market  # type: ignore[method-assign]

    @staticmethod
    def market(native: object) -> Market | None:
        return Market(f"{native}/ANY", native) if isinstance(native, str) and native else None


def codec_of(venue: str) -> Any:
    c = codec_class(venue)(EveryMarket())
    c.subscribe([])
    return c


def records(venue: str, frames: list[str]) -> list[Ticker]:
    c = codec_of(venue)
    return [r for f in frames for r in c.parse_ws(f, 1)]


def flagged(recs: list[Ticker], field: str) -> None:
    """Some records have ``field`` BAD; settled, each is null there and flagged."""
    bad = [r for r in recs if getattr(r, field) is BAD]
    assert bad
    for r in bad:
        r.settle(None)
        assert getattr(r, field) is None and r.flags is not None and "bad_value" in r.flags


def spoiled(frames: list[str], value: float, bad: Any) -> tuple[list[str], int]:
    out, replaced = [], 0
    for f in frames:
        try:
            doc = json.loads(f)
        except ValueError:
            out.append(f)
            continue
        doc, n = _spoil(doc, value, bad, text=True)
        out.append(json.dumps(doc))
        replaced += n
    return out, replaced


def target(clean: list[Ticker]) -> tuple[str, float]:
    """A price field of the last record, and its value."""
    last = clean[-1]
    field = next(n for n in ("bid", "ask", "last") if getattr(last, n) is not None)
    return field, getattr(last, field)


@pytest.mark.parametrize("bad", SPOILERS, ids=repr)
@pytest.mark.parametrize("venue", TICKER_VENUES)
def test_a_spoiled_price_nulls_that_field_only(venue: str, bad: Any) -> None:
    frames = frames_of(venue)
    clean = records(venue, frames)
    assert clean, f"{venue}: no recorded frame makes a record"
    field, value = target(clean)
    spoiled_frames, replaced = spoiled(frames, value, bad)
    assert replaced
    after = records(venue, spoiled_frames)
    assert len(after) == len(clean)  # no frame dropped
    for was_rec, now_rec in zip(clean, after, strict=True):
        for name, was in msgspec.structs.asdict(was_rec).items():
            now = getattr(now_rec, name)
            if isinstance(was, float) and was == value:
                assert now is BAD, (name, now)
            else:
                assert now == was or (now != now and was != was), (name, was, now)
    flagged(after, field)


@pytest.mark.parametrize("venue", TICKER_VENUES)
def test_an_empty_string_is_a_value_not_sent(venue: str) -> None:
    frames = frames_of(venue)
    clean = records(venue, frames)
    field, value = target(clean)
    after = records(venue, spoiled(frames, value, "")[0])
    assert len(after) == len(clean)
    assert all(getattr(r, field) != value for r in after)
    assert any(getattr(r, field) is None for r in after)
    assert all(r.flags is None for r in after)


@pytest.mark.parametrize("bad", [*SPOILERS, "", None], ids=repr)
@pytest.mark.parametrize("key", ["Price", "Volume"])
def test_independentreserve_a_spoiled_level_drops_the_book(key: str, bad: Any) -> None:
    """A level the book cannot place leaves it out of step: the frame is refused and the
    book dropped, so the next change is a checksum mismatch too (the session renews)."""
    frames = frames_of("independentreserve")
    c = codec_of("independentreserve")
    snapshot, change = (json.loads(f) for f in frames[:2])
    assert snapshot["Event"] == "OrderBookSnapshot" and change["Event"] == "OrderBookChange"
    [record] = c.parse_ws(frames[0], 1)
    assert (record.bid, record.bid_size, record.ask) == (3423.6, 2.5, 3427.19)
    snapshot["Data"]["Offers"][0][key] = bad
    with pytest.raises(ChecksumMismatch, match="book out of step"):
        c.parse_ws(json.dumps(snapshot), 1)
    with pytest.raises(ChecksumMismatch, match="before a snapshot"):
        c.parse_ws(frames[1], 1)


def test_independentreserve_a_level_without_its_volume_is_refused() -> None:
    frames = frames_of("independentreserve")
    c = codec_of("independentreserve")
    snapshot = json.loads(frames[0])
    del snapshot["Data"]["Bids"][0]["Volume"]
    with pytest.raises(ParseError):
        c.parse_ws(json.dumps(snapshot), 1)


# CEX.IO: no recorded stream; frames as its documentation shows them.
CEX_SNAPSHOT = {
    "e": "order_book_subscribe",
    "oid": "1790135070649_1_order_book_subscribe",
    "data": {
        "seqId": 8676229,
        "pair": "BTC-USD",
        "bids": [["86875", "0.04301025"], ["86870", "1.5"]],
        "asks": [["86875.1", "3.40529629"], ["86875.2", "0.12122756"]],
    },
    "ok": "ok",
}
CEX_INCREMENT = {
    "e": "order_book_increment",
    "data": {
        "seqId": 8676230,
        "pair": "BTC-USD",
        "bids": [["86775", "0.05005228"], ["86875", "0.00000000"]],
        "asks": [],
    },
    "ok": "ok",
}
CEX_TICKER = {
    "e": "get_ticker",
    "oid": "1790135070649_2_get_ticker",
    "data": {
        "BTC-USD": {
            "bestBid": "86875.0",
            "bestAsk": "86875.1",
            "last": "86875.1",
            "lastTradePrice": "86875.1",
            "high": "87500",
            "low": "85000.5",
            "volume": "51.55342986",
            "quoteVolume": "4438140.14",
        }
    },
    "ok": "ok",
}


def cex_codec() -> Any:
    c = codec_class("cex")(MarketTable([Market("BTC/USD", "BTC-USD")]))
    c.subscribe(list(c.table.markets))
    return c


def test_cex_a_book_and_its_statistics_make_one_record() -> None:
    c = cex_codec()
    [snap] = c.parse_ws(json.dumps(CEX_SNAPSHOT), 1)
    assert (snap.bid, snap.bid_size, snap.ask, snap.ask_size) == (
        86875.0,
        0.04301025,
        86875.1,
        3.40529629,
    )
    [stats] = c.parse_ws(json.dumps(CEX_TICKER), 2)
    assert (stats.bid, stats.ask, stats.last, stats.high, stats.volume) == (
        86875.0,
        86875.1,
        86875.1,
        87500.0,
        51.55342986,
    )
    # the best bid left: the next one, with the last get_ticker's statistics
    [inc] = c.parse_ws(json.dumps(CEX_INCREMENT), 3)
    assert inc.bid == 86870.0 and inc.bid_size == 1.5
    assert inc.last == 86875.1 and inc.quote_volume == 4438140.14


@pytest.mark.parametrize("bad", [*SPOILERS, ""], ids=repr)
def test_cex_a_spoiled_level_renews_the_book(bad: Any) -> None:
    c = cex_codec()
    c.parse_ws(json.dumps(CEX_SNAPSHOT), 1)
    spoiled = json.loads(json.dumps(CEX_INCREMENT))
    spoiled["data"]["bids"][0][0] = bad
    with pytest.raises(SequenceGap, match="book out of step"):
        c.parse_ws(json.dumps(spoiled), 2)
    with pytest.raises(SequenceGap, match="expected a snapshot"):  # no book till then
        c.parse_ws(json.dumps(CEX_INCREMENT), 3)


@pytest.mark.parametrize("bad", SPOILERS, ids=repr)
def test_cex_a_spoiled_statistic_nulls_and_flags_that_field_only(bad: Any) -> None:
    c = cex_codec()
    spoiled = json.loads(json.dumps(CEX_TICKER))
    spoiled["data"]["BTC-USD"]["high"] = bad
    [rec] = c.parse_ws(json.dumps(spoiled), 1)
    assert rec.low == 85000.5 and rec.last == 86875.1
    flagged([rec], "high")


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        ({"e": "order_book_increment"}, ParseError),
        ({"e": "order_book_increment", "data": {"seqId": 1}}, ParseError),
        ({"e": "order_book_subscribe", "data": [1]}, ParseError),
        ({"e": "get_ticker", "data": "x"}, ParseError),
        ({"e": "order_book_subscribe", "data": {"error": "Pair X is not supported"}}, VenueNotice),
        ({"e": "get_ticker", "data": {"error": "Under maintenance"}}, VenueError),
        ({"e": "disconnected"}, VenueError),
    ],
    ids=repr,
)
def test_cex_messages_of_another_shape_and_rejections(frame: Any, error: type) -> None:
    with pytest.raises(error):
        cex_codec().parse_ws(json.dumps(frame), 1)
