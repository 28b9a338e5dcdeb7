"""CoinEx and AscendEX: what is particular to each, beyond the suite every venue passes.

CoinEx's frames below are the examples of its API v2 documentation (no recording of its v2
stream exists here), gzip'd as the venue sends them. AscendEX's bbo frames are its
documentation's too (its recording, tests/fixtures/ws-beyond/ascendex.json, is a 2021 session
of pings, acks and trades, without bbo); its REST answer is the recorded one.
"""

from __future__ import annotations

import contextlib
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from aggregator.adapters.registry import codec_class
from aggregator.errors import ParseError, RateLimited, VenueError, VenueNotice
from aggregator.records import Status, Ticker
from aggregator.sim import VenueSim
from aggregator.symbols import snapshot_path
from aggregator.venues import resolve

from .test_adapters_live import start  # noqa: F401 (the fixture)
from .test_venues import BAD

FIXTURES = Path(__file__).parent / "fixtures"

# CoinEx API v2 documentation, "BBO (Best-bid-offer) Update Push" and "24h Market Status Push".
COINEX_BBO = {
    "method": "bbo.update",
    "data": {
        "market": "BTCUSDT",
        "updated_at": 1642145331234,
        "best_bid_price": "20000",
        "best_bid_size": "0.1",
        "best_ask_price": "20001",
        "best_ask_size": "0.15",
    },
    "id": None,
}
COINEX_STATE = {
    "method": "state.update",
    "data": {
        "state_list": [
            {
                "market": "BTCUSDT",
                "last": "20000.5",
                "open": "19500",
                "close": "20000.5",
                "high": "20100",
                "low": "19400",
                "volume": "807714.49139758",
                "volume_sell": "286170.69645599",
                "volume_buy": "266161.23236408",
                "value": "6689.21644207",
                "period": 86400,
            },
            {"market": "NOTFOLLOWED", "last": "1"},
        ]
    },
    "id": None,
}
# AscendEX Pro API documentation, "Channel: Level 1 Order Book Data (BBO)".
ASCENDEX_BBO = {
    "m": "bbo",
    "symbol": "BTC/USDT",
    "data": {"ts": 1573068442532, "bid": ["9309.11", "0.0197172"], "ask": ["9309.12", "0.8851266"]},
}


def codec(venue: str) -> Any:
    cls = codec_class(venue)
    return cls(cls.markets_from(snapshot_path(venue).read_bytes()))


def gz(obj: Any) -> bytes:
    return gzip.compress(json.dumps(obj).encode())


def merged(records: list[Ticker]) -> Ticker:
    """The records of one market settled in turn, as the emitter merges a MERGE venue's."""
    prev = None
    for r in records:
        r.settle(prev)
        prev = r
    assert prev is not None
    return prev


@pytest.mark.parametrize("venue", ["coinex", "ascendex"])
@pytest.mark.parametrize("payload", BAD)
def test_bad_frames_raise_only_codec_errors(venue: str, payload: bytes) -> None:
    """The ten bad payloads every REST parser is given (tests/test_venues.py), as frames, and
    gzip'd as CoinEx sends its frames."""
    c = codec(venue)
    c.subscribe(list(c.table.markets))
    for frame in (payload, gzip.compress(payload)):
        with contextlib.suppress(VenueError):  # ParseError, VenueNotice: what the runner counts
            assert c.parse_frame(frame, 1) == []


# --- CoinEx ---------------------------------------------------------------------------------


def test_coinex_gzip_frames_decoded_and_bbo_merged_with_state() -> None:
    c = codec("coinex")
    (state,) = c.parse_ws(gz(COINEX_STATE), 7)  # the market not followed makes nothing
    assert (state.last, state.open, state.high, state.low) == (20000.5, 19500.0, 20100.0, 19400.0)
    assert (state.volume, state.quote_volume) == (807714.49139758, 6689.21644207)
    # volume_buy/volume_sell are the day's taker volumes, not the best bid and ask sizes
    assert state.bid is state.bid_size is state.ask_size is None and state.ts_event is None
    (bbo,) = c.parse_ws(gz(COINEX_BBO), 8)
    assert (bbo.bid, bbo.bid_size, bbo.ask, bbo.ask_size) == (20000.0, 0.1, 20001.0, 0.15)
    assert bbo.ts_event == 1642145331234 * 1_000_000 and bbo.last is None
    rec = merged([state, bbo])
    assert (rec.bid, rec.ask, rec.last, rec.volume, rec.ts_recv) == (
        20000.0,
        20001.0,
        20000.5,
        807714.49139758,
        8,
    )
    # the same JSON as text reads the same; a gzip stream cut short is a ParseError
    assert c.parse_ws(json.dumps(COINEX_BBO), 1)[0].bid == 20000.0
    with pytest.raises(ParseError, match="bad gzip frame"):
        c.parse_ws(gz(COINEX_BBO)[:20], 1)
    with pytest.raises(ParseError):
        c.parse_frame(gz({"method": "bbo.update", "data": [1, 2]}), 1)


def test_coinex_requests_answers_and_refusals() -> None:
    c = codec("coinex")
    markets = [c.table.by_symbol["BTC/USDT"], c.table.by_symbol["ETH/USDT"]]
    subs = [json.loads(s) for s in c.subscribe(markets)]
    assert [s["method"] for s in subs] == ["state.subscribe", "bbo.subscribe"]
    assert all(s["params"] == {"market_list": ["BTCUSDT", "ETHUSDT"]} for s in subs)
    ping = json.loads(c.app_ping())
    assert ping["method"] == "server.ping" and ping["params"] == {}
    assert len({s["id"] for s in [*subs, ping]}) == 3  # each request its own id
    pong = {"id": ping["id"], "code": 0, "data": {"result": "pong"}, "message": "OK"}
    assert c.parse_ws(gz(pong), 1) == [] and c.replies == []
    assert c.parse_ws(gz({"id": 1, "code": 0, "message": "OK"}), 1) == []
    with pytest.raises(VenueNotice, match="20001: invalid argument"):
        c.parse_ws(gz({"id": 2, "code": 20001, "message": "invalid argument"}), 1)
    with pytest.raises(VenueError, match="23002") as e:  # too frequent: a new session
        c.parse_ws(gz({"id": 3, "code": 23002, "message": "too frequent"}), 1)
    assert not isinstance(e.value, VenueNotice)


def test_coinex_rest_polls_each_book_then_all_tickers() -> None:
    c = codec("coinex")
    m = c.table.by_symbol["BTC/USDT"]
    reqs = c.rest_requests("http://h", [m])
    assert [r.url for r in reqs] == [
        "http://h/v2/spot/depth?limit=5&interval=0&market=BTCUSDT",
        "http://h/v2/spot/ticker",
    ]
    assert reqs[0].market is m
    # the documentation's depth answer: the best levels, whatever their order
    depth = {
        "market": "BTCUSDT",
        "is_full": True,
        "depth": {
            "asks": [["30769.00", "1.45155000"], ["30740.00", "0.31763545"]],
            "bids": [["30736.00", "0.04857373"], ["30733.00", "0.84696320"]],
            "last": "30746.28",
            "updated_at": 1689152421692,
            "checksum": 2578768879,
        },
    }
    body = json.dumps({"code": 0, "data": depth, "message": "OK"}).encode()
    (top,) = c.parse_rest(body, 1, m)
    assert (top.bid, top.bid_size, top.ask, top.ask_size) == (
        30736.0,
        0.04857373,
        30740.0,
        0.31763545,
    )
    assert top.last == 30746.28 and top.ts_event == 1689152421692 * 1_000_000
    other = json.dumps({"code": 0, "data": {**depth, "market": "NOPEUSDT"}}).encode()
    assert c.parse_rest(other, 1, m) == []  # another market's book is not taken for m's
    error = json.dumps({"code": 3639, "data": {}, "message": "market not found"}).encode()
    with pytest.raises(VenueError, match="3639") as e:
        c.parse_rest(error, 1, m)
    assert not isinstance(e.value, RateLimited)
    busy = json.dumps({"code": 4213, "data": {}, "message": "too frequent"}).encode()
    with pytest.raises(RateLimited, match="4213"):
        c.parse_rest(busy, 1, m)


def test_coinex_keeps_its_id_and_is_no_longer_closed() -> None:
    assert resolve("coinex").venue == "coinex" and resolve("coinex").warning is None


# --- AscendEX -------------------------------------------------------------------------------


def test_ascendex_recorded_session_pings_answered_nothing_else() -> None:
    """The 2021 session: its connected frame, acks and trades make no record and no error;
    each of its server pings is answered with a pong echoing the hp."""
    (entry,) = json.loads((FIXTURES / "ws-beyond" / "ascendex.json").read_text())
    c = codec("ascendex")
    pings = 0
    for m in entry["messages"]:
        frame = m["frame"]
        assert c.parse_frame(json.dumps(frame), 1) == []
        if frame.get("m") == "ping":
            pings += 1
            assert [json.loads(r) for r in c.replies] == [{"op": "pong", "hp": frame["hp"]}]
            c.replies.clear()
        assert c.replies == []
    assert pings >= 1


def test_ascendex_bbo_and_what_ends_a_session() -> None:
    c = codec("ascendex")
    (r,) = c.parse_ws(json.dumps(ASCENDEX_BBO), 3)
    assert (r.symbol, r.native) == ("BTC/USDT", "BTC/USDT")
    assert (r.bid, r.bid_size, r.ask, r.ask_size) == (9309.11, 0.0197172, 9309.12, 0.8851266)
    assert r.ts_event == 1573068442532 * 1_000_000 and r.last is None and r.volume is None
    empty = {**ASCENDEX_BBO, "data": {"ts": 1, "bid": [], "ask": ["9309.12", "1"]}}
    (r,) = c.parse_ws(json.dumps(empty), 3)
    r.settle(None)
    assert r.bid is None and r.bid_size is None and r.ask == 9309.12  # an empty side: null
    other = {**ASCENDEX_BBO, "symbol": "NOPE/USDT"}
    assert c.parse_ws(json.dumps(other), 3) == []
    refused = {"m": "error", "id": "bbo1", "code": 100005, "reason": "INVALID_WS_REQUEST_DATA"}
    with pytest.raises(VenueNotice, match="100005"):
        c.parse_ws(json.dumps(refused), 1)
    gone = {"m": "disconnected", "code": 100005, "reason": "INVALID_WS_REQUEST_DATA", "info": "x"}
    with pytest.raises(VenueError, match="disconnected by the venue"):
        c.parse_ws(json.dumps(gone), 1)
    with pytest.raises(ParseError):
        c.parse_frame(json.dumps({"m": "bbo", "symbol": "BTC/USDT", "data": [1]}), 1)


def test_ascendex_subscribes_ten_symbols_a_message() -> None:
    c = codec("ascendex")
    markets = list(c.table.markets)
    subs = [json.loads(s) for s in c.subscribe(markets * 2)]  # 20 ids
    assert [len(s["ch"].removeprefix("bbo:").split(",")) for s in subs] == [10, 10]
    assert all(s["op"] == "sub" for s in subs) and subs[0]["id"] != subs[1]["id"]


def test_ascendex_rest_list_and_error() -> None:
    c = codec("ascendex")
    rows = [
        {"symbol": "BTC/USDT", "open": "1", "close": "2", "high": "3", "low": "0.5",
         "volume": "10", "ask": ["2.1", "1"], "bid": ["1.9", "2"]},
        {"symbol": "BTC-PERP", "open": "1", "close": "2"},
    ]  # fmt: skip
    (r,) = c.parse_rest(json.dumps({"code": 0, "data": rows}).encode(), 1, None)
    assert (r.bid, r.ask, r.last, r.volume, r.quote_volume) == (1.9, 2.1, 2.0, 10.0, None)
    err = {"code": 100002, "reason": "DATA_NOT_AVAILABLE", "message": "no data"}
    with pytest.raises(VenueError, match="100002"):
        c.parse_rest(json.dumps(err).encode(), 1, None)


def test_ascendex_markets_from_either_product_list_with_its_renames() -> None:
    cls = codec_class("ascendex")
    cash = {"symbol": "BTCBULL/USDT", "statusCode": "Normal", "domain": "USDS"}
    general = {"symbol": "BOND/USDT", "baseAsset": "BOND", "quoteAsset": "USDT", "status": "Normal"}
    halted = {**cash, "symbol": "ETH/USDT", "statusCode": "NoTrading"}
    body = json.dumps({"code": 0, "data": [cash, general, halted]}).encode()
    t = cls.markets_from(body)
    assert [(m.symbol, m.native) for m in t.markets] == [
        ("BONDED/USDT", "BOND/USDT"),
        ("BULL/USDT", "BTCBULL/USDT"),
    ]


def test_bitmax_is_an_old_id_of_ascendex() -> None:
    r = resolve("bitmax")
    assert r.venue == "ascendex" and r.warning and "'ascendex'" in r.warning


async def test_streams_down_fall_back_to_rest_and_back(start) -> None:  # noqa: F811
    """Both venues at once, their streams refused: REST polling meanwhile (CoinEx's with the
    best bid and ask from its depth requests, merged with its tickers), stopped once the
    streams are back; then AscendEX's server pings (every second from the simulator, which
    counts the pongs that echo its hp) are answered over the socket."""
    runs = {}
    for venue in ("coinex", "ascendex"):
        sim = VenueSim(venue, rate=200, seed=11)
        sim.faults.refuse_ws = True
        await sim.start()
        runs[venue] = await start(venue, sim=sim, fallback_after=1.0)
    for run in runs.values():
        await run.until_state("fallback")
        await run.until(lambda run=run: len(run.tickers()) >= 2)
        assert run.sim.connections == 0
        for t in run.tickers():
            assert t.bid is not None and t.ask is not None and t.last is not None
    assert runs["coinex"].sim.requests >= 3  # two books and the tickers, at least
    for run in runs.values():
        run.sim.faults.refuse_ws = False
    for run in runs.values():
        await run.until(
            lambda run=run: any(
                isinstance(r, Status) and r.detail == "stream recovered; REST polling stopped"
                for r in run.out
            )
        )
        assert run.sim.connections >= 1
    ascendex = runs["ascendex"].sim
    await runs["ascendex"].until(lambda: ascendex.dialect.pongs >= 1)  # type: ignore[attr-defined]
    assert {"op": "pong", "hp": 3} in ascendex.received
    assert ascendex.connections == 1  # the session was not ended for a missed pong
