"""Derivatives codecs of bitfinex, bitflyer, coinex, gate, htx, kraken and kucoin: frames
to records with every field checked (units, contract sizes, inverse contracts), the bad
payloads, merges of partial updates, and a live session of each (venue, kind) against its
simulator through the real adapter, streaming and polling.

Recorded frames: tests/fixtures/ws-derivatives/ (gate's book_ticker, kraken futures'
ticker_lite, bitflyer's FX_BTC_JPY ticker, htx's connection frames: 2021-2023 captures) and
ccxt's tBTCF0:USTF0 ticker (tests/fixtures/ws/bitfinex.json). Every other payload here is
written from the venue's documentation (each parser's docstring quotes it), and says so.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from aggregator.adapters.base import Codec
from aggregator.adapters.registry import codec_class
from aggregator.errors import ParseError, VenueError
from aggregator.records import Derivative, Status, Ticker
from aggregator.sim.dialects import simulated_derivatives
from aggregator.symbols import snapshot_path

from .codec_runs import merged, parse_all, run_adapter
from .test_venues import BAD


def settled(records: list[Ticker]) -> dict[str, Ticker]:
    """merged, keyed by unified symbol."""
    return {r.symbol: r for r in merged(records).values()}


FIXTURES = Path(__file__).parent / "fixtures"
NS = 1_000_000_000
MS = 1_000_000
# The (venue, kind) pairs of this file's codecs.
MINE = [
    ("bitfinex", "perp"),
    ("bitflyer", "perp"),
    ("coinex", "perp"),
    ("gate", "perp"),
    ("htx", "perp"),
    ("kraken", "perp"),
    ("kraken", "future"),
    ("kucoin", "perp"),
    ("kucoin", "future"),
]
# The derivatives fields each codec fills, on its stream and when polling.
LIVE_FIELDS: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("bitfinex", "perp"): {
        "ws": ("mark", "index", "funding_rate", "funding_ts", "open_interest"),
        "rest": ("mark", "index", "funding_rate", "funding_ts", "open_interest"),
    },
    ("bitflyer", "perp"): {"ws": (), "rest": ("funding_rate", "funding_ts")},
    ("coinex", "perp"): {
        "ws": ("mark", "index", "funding_rate", "funding_ts", "open_interest"),
        "rest": ("mark", "index", "funding_rate", "funding_ts", "open_interest"),
    },
    ("gate", "perp"): {
        "ws": ("mark", "index", "funding_rate", "funding_ts", "open_interest"),
        "rest": ("mark", "index", "funding_rate", "funding_ts", "open_interest"),
    },
    ("htx", "perp"): {
        "ws": ("mark", "index", "funding_rate", "funding_ts"),  # the open interest: REST only
        "rest": ("mark", "index", "funding_rate", "funding_ts", "open_interest"),
    },
    ("kraken", "perp"): {
        "ws": ("mark", "index", "funding_rate", "funding_ts", "open_interest"),
        "rest": ("mark", "index", "open_interest"),
    },
    ("kraken", "future"): {
        "ws": ("mark", "index", "open_interest"),
        "rest": ("mark", "index", "open_interest"),
    },
    ("kucoin", "perp"): {
        "ws": ("last", "volume", "mark", "index", "funding_rate"),
        "rest": ("mark", "index", "funding_rate", "funding_ts", "open_interest"),
    },
    ("kucoin", "future"): {
        "ws": ("mark", "index"),
        "rest": ("mark", "index", "open_interest"),
    },
}


def codec(venue: str, kind: str, rows: bytes | None = None) -> Codec:
    """The codec of a venue's kind on its shipped markets (or on ``rows``)."""
    cls = codec_class(venue, kind)
    body = rows if rows is not None else snapshot_path(f"{venue}-{kind}").read_bytes()
    return cls(cls.markets_from(body))


def frames(name: str, index: int = 0) -> list[str]:
    """The frames of one recorded entry of tests/fixtures/ws-derivatives/NAME.json."""
    entry = json.loads((FIXTURES / "ws-derivatives" / f"{name}.json").read_text())[index]
    return [json.dumps(m["frame"]) for m in entry["messages"]]


def values(r: Ticker, *names: str) -> tuple[Any, ...]:
    return tuple(getattr(r, n) for n in names)


TOP = ("bid", "bid_size", "ask", "ask_size")
DERIV = ("mark", "index", "funding_rate", "funding_ts", "open_interest")


# --- every codec --------------------------------------------------------------------------


@pytest.mark.parametrize(("venue", "kind"), MINE)
def test_markets_are_of_their_kind_with_unified_symbols(venue: str, kind: str) -> None:
    c = codec(venue, kind)
    assert c.MERGE and c.venue == venue
    assert len(c.table) >= 1
    for m in c.table.markets:
        assert m.kind == kind and ":" in m.symbol and m.contract_size > 0
        assert (m.expiry is not None) == (kind == "future")
        assert c.lookup(m.native) is m


@pytest.mark.parametrize(("venue", "kind"), MINE)
def test_bad_payloads_raise_only_codec_errors(venue: str, kind: str) -> None:
    c = codec(venue, kind)
    market = next(iter(c.table.markets))
    for payload in BAD:
        for parse in (c.parse_frame, lambda raw, ts: c.parse_rest(raw, ts, market)):
            try:
                records = parse(payload, 1)
            except (ParseError, VenueError):
                continue
            assert records == [], payload
    with pytest.raises(ParseError):
        c.markets_from(b'{"data": null}')


# --- bitfinex -----------------------------------------------------------------------------


def bitfinex_entry() -> dict[str, Any]:
    """ccxt's recorded tBTCF0:USTF0 ticker (tests/fixtures/ws/bitfinex.json)."""
    entries = json.loads((FIXTURES / "ws" / "bitfinex.json").read_text())
    return next(e for e in entries if e["input"] == ["BTC/USDT:USDT"])


def test_bitfinex_recorded_ticker_and_documented_status_merge() -> None:
    c = codec("bitfinex", "perp")
    subs = c.subscribe([c.table.by_symbol["BTC/USDT:USDT"]])
    assert [json.loads(s) for s in subs] == [
        {"event": "subscribe", "channel": "ticker", "symbol": "tBTCF0:USTF0"},
        {"event": "subscribe", "channel": "status", "key": "deriv:tBTCF0:USTF0"},
    ]
    raws = [json.dumps(m) for m in bitfinex_entry()["messages"]]
    raws += [
        '{"event":"subscribed","channel":"status","chanId":7,"key":"deriv:tBTCF0:USTF0"}',
        "[7,[1596124822000,null,78557,78540.5,null,1.0e6,null,1596153600000,-3.1e-8,0,"
        "null,6.2e-5,null,null,78551.2,null,null,1000.5,null,null,null,0.001,0.01]]",
        '[7,"hb"]',
    ]
    recs = parse_all(c, raws)
    assert len(recs) == 2 and all(isinstance(r, Derivative) for r in recs)
    (r,) = settled(recs).values()
    assert (r.symbol, r.native, r.kind) == ("BTC/USDT:USDT", "tBTCF0:USTF0", "perp")
    assert values(r, *TOP) == (78544.0, None, 78564.0, None)  # sizes: sums of 25 levels
    assert values(r, "last", "open", "high", "low", "volume", "quote_volume") == (
        78557.0, 77203.0, 78740.0, 76418.0, 182.3244794, None
    )  # fmt: skip
    assert values(r, *DERIV) == (78551.2, 78540.5, 6.2e-5, 1596153600000 * MS, 1000.5)
    assert r.ts_event == 1596124822000 * MS
    with pytest.raises(ParseError, match="status row"):
        c.parse_frame("[7,[1596124822000,null,1]]", 1)
    (bad,) = c.parse_frame('[105,["abc",1,78564,1,1354,0.0175,78557,182.3,78740,76418]]', 9)
    assert bad.settle(r) and bad.bid is None and bad.flags == ("bad_value",)


def test_bitfinex_rest_tickers_and_status_rows() -> None:
    c = codec("bitfinex", "perp")
    tickers = b'[["tETHF0:USTF0",3045,2,3046,3,45,0.015,3045.5,1200.5,3050,2990]]'
    status = (
        b'[["tETHF0:USTF0",1765100000000,null,3045.5,3046.1,null,1.0e6,null,1765123200000,'
        b"0,0,null,-0.0001,null,null,3045.8,null,null,5000.25,null,null,null,0.001,0.01]]"
    )
    recs = c.parse_rest(tickers, 1, None) + c.parse_rest(status, 2, None)
    r = settled(recs)["ETH/USDT:USDT"]
    assert values(r, "bid", "ask", "last", "open", "volume") == (
        3045.0, 3046.0, 3045.5, 3000.5, 1200.5
    )  # fmt: skip
    assert values(r, *DERIV) == (3045.8, 3046.1, -0.0001, 1765123200000 * MS, 5000.25)
    with pytest.raises(VenueError, match="10020"):
        c.parse_rest(b'["error",10020,"symbol: invalid"]', 1, None)


# --- bitflyer -----------------------------------------------------------------------------


def test_bitflyer_recorded_cfd_tickers_and_polled_funding() -> None:
    c = codec("bitflyer", "perp")
    assert [m.symbol for m in c.table.markets] == ["BTC/JPY:JPY"]  # dated futures: not followed
    recs = parse_all(c, frames("bitflyer"))
    assert recs and {r.native for r in recs} == {"FX_BTC_JPY"}
    r = recs[0]
    assert isinstance(r, Derivative) and (r.symbol, r.kind) == ("BTC/JPY:JPY", "perp")
    assert values(r, *TOP) == (5859870.0, 0.04, 5862038.0, 0.02)
    assert values(r, "last", "volume") == (5860832.0, 4226.3508901)
    assert r.ts_event == 1639350330137145700
    m = c.table.by_symbol["BTC/JPY:JPY"]
    body = b'{"current_funding_rate":-0.00375,"next_funding_rate_settledate":"2026-12-07T09:00:00"}'
    (f,) = c.parse_rest(body, 1, m)
    assert values(f, *DERIV) == (None, None, -0.00375, 1796634000 * NS, None)
    with pytest.raises(VenueError, match="Invalid product"):
        c.parse_rest(b'{"status":-1,"error_message":"Invalid product","data":null}', 1, m)


# --- coinex -------------------------------------------------------------------------------


def test_coinex_state_and_bbo_merge_gzipped() -> None:
    c = codec("coinex", "perp")
    assert "BTC/USD:BTC" not in c.table.by_symbol  # inverse contracts are not followed
    state = (
        '{"method":"state.update","data":{"state_list":[{"market":"ETHUSDT","last":"1892.29",'
        '"open":"1884.62","close":"1892.29","high":"1894.09","low":"1863.72","volume":"1149.1",'
        '"value":"2169004.2","volume_sell":"520.3","volume_buy":"628.8",'
        '"open_interest_size":"3721.94","insurance_fund_size":"0.0","mark_price":"1892.25",'
        '"index_price":"1892.94","latest_funding_rate":"0.00001","next_funding_rate":"0.00002",'
        '"latest_funding_time":1642145000000,"next_funding_time":1642174800000,'
        '"period":86400}]},"id":null}'
    )
    bbo = (
        '{"method":"bbo.update","data":{"market":"ETHUSDT","updated_at":1642145331234,'
        '"best_bid_price":"1892.2","best_bid_size":"0.1","best_ask_price":"1892.3",'
        '"best_ask_size":"0.15"},"id":null}'
    )
    (r,) = settled(parse_all(c, [gz(bbo), gz(state)])).values()
    assert (r.symbol, r.native, r.kind) == ("ETH/USDT:USDT", "ETHUSDT", "perp")
    assert values(r, *TOP) == (1892.2, 0.1, 1892.3, 0.15)
    assert values(r, "last", "open", "high", "low", "volume", "quote_volume") == (
        1892.29, 1884.62, 1894.09, 1863.72, 1149.1, 2169004.2
    )  # fmt: skip
    assert values(r, *DERIV) == (1892.25, 1892.94, 0.00001, 1642174800000 * MS, 3721.94)
    assert r.ts_event is None  # state pushes carry no time
    with pytest.raises(VenueError, match="20001"):
        c.parse_frame('{"id":1,"code":20001,"message":"invalid argument"}', 1)


def test_coinex_rest_ticker_and_depth() -> None:
    c = codec("coinex", "perp")
    btc = c.table.by_symbol["BTC/USDT:USDT"]
    ticker = (
        b'{"code":0,"data":[{"market":"BTCUSDT","last":"89712.5","open":"88620.1",'
        b'"close":"89712.5","high":"90300","low":"88100","volume":"13740.5",'
        b'"value":"1228963389.5","open_interest_size":"8724.443","mark_price":"89716.52",'
        b'"index_price":"89720.23","latest_funding_rate":"0.0001",'
        b'"next_funding_time":1765123200000,"period":86400}],"message":"OK"}'
    )
    depth = (
        b'{"code":0,"data":{"market":"BTCUSDT","is_full":true,"depth":{"asks":[["89712.6",'
        b'"0.3"]],"bids":[["89712.5","1.2"]],"last":"89712.5","updated_at":1765100000000,'
        b'"checksum":1}},"message":"OK"}'
    )
    recs = c.parse_rest(depth, 1, btc) + c.parse_rest(ticker, 2, None)
    r = settled(recs)["BTC/USDT:USDT"]
    assert values(r, *TOP) == (89712.5, 1.2, 89712.6, 0.3)
    assert values(r, *DERIV) == (89716.52, 89720.23, 0.0001, 1765123200000 * MS, 8724.443)
    with pytest.raises(VenueError, match="3639"):
        c.parse_rest(b'{"code":3639,"data":{},"message":"market not found"}', 1, btc)


# --- gate ---------------------------------------------------------------------------------

GATE_ROWS = json.dumps(
    [
        {"name": n, "type": "direct", "quanto_multiplier": q, "in_delisting": False}
        for n, q in (("PHB_USDT", "10"), ("RDNT_USDT", "1"), ("WOO_USDT", "0.1"))
    ]
).encode()


def test_gate_recorded_book_tickers_in_base_units() -> None:
    """The 2023 capture's sizes are integer contracts; the multipliers here are this test's."""
    c = codec("gate", "perp", GATE_ROWS)
    recs = parse_all(c, frames("gate"))
    assert {r.symbol for r in recs} == {"PHB/USDT:USDT", "RDNT/USDT:USDT", "WOO/USDT:USDT"}
    phb = next(r for r in recs if r.native == "PHB_USDT")
    assert isinstance(phb, Derivative) and phb.kind == "perp" and phb.exchange == "gate"
    assert values(phb, *TOP) == (0.7379, 8140.0, 0.739, 6770.0)
    assert phb.ts_event == 1684930165621 * MS and phb.ts_recv == 2
    assert values(phb, "last", "volume", *DERIV) == (None,) * 7
    woo = next(r for r in recs if r.native == "WOO_USDT")
    assert values(woo, *TOP) == (0.21, 331.9, 0.2102, 74.8)


def test_gate_tickers_and_string_sizes_merge_into_one_record() -> None:
    c = codec("gate", "perp")  # BTC_USDT: 0.0001 BTC a contract
    book = '{"time":1765100000,"time_ms":1765100000123,"channel":"futures.book_ticker",'
    book += '"event":"update","result":{"t":1765100000120,"u":1,"s":"BTC_USDT",'
    book += '"b":"89270.1","B":"1500","a":"89270.2","A":"250.5"}}'
    ticker = (
        '{"time":1765100001,"time_ms":1765100001000,"channel":"futures.tickers",'
        '"event":"update","result":[{"contract":"BTC_USDT","last":"89270.3",'
        '"change_percentage":"0.77","funding_rate":"-0.000114","mark_price":"89271.5",'
        '"index_price":"89280.9","total_size":"487621033","volume_24h":"1200000",'
        '"volume_24h_base":"120","volume_24h_quote":"10712400","high_24h":"90000",'
        '"low_24h":"88000","funding_rate_indicative":"0.0001","funding_interval":28800,'
        '"funding_next_apply":1765123200}]}'
    )
    (r,) = settled(parse_all(c, [book, ticker])).values()
    assert r.symbol == "BTC/USDT:USDT" and r.native == "BTC_USDT"
    assert values(r, *TOP) == (89270.1, 0.15, 89270.2, 0.02505)
    assert values(r, "last", "high", "low", "volume", "quote_volume") == (
        89270.3, 90000.0, 88000.0, 120.0, 10712400.0
    )  # fmt: skip
    assert values(r, *DERIV) == (89271.5, 89280.9, -0.000114, 1765123200 * NS, 48762.1033)
    assert r.ts_event == 1765100001000 * MS and r.flags is None
    with pytest.raises(VenueError, match="unknown contract"):
        c.parse_frame(
            '{"time":1,"channel":"futures.tickers","event":"subscribe",'
            '"error":{"code":2,"message":"unknown contract X"},"result":null}',
            1,
        )


def test_gate_rest_tickers_and_contracts_give_the_next_funding() -> None:
    c = codec("gate", "perp")
    tickers = (
        b'[{"contract":"ETH_USDT","last":"3045.2","total_size":"100","mark_price":"3045.1",'
        b'"index_price":"3046","funding_rate":"0.0001","highest_bid":"3045.1",'
        b'"highest_size":"20","lowest_ask":"3045.3","lowest_size":"3"},'
        b'{"contract":"XYZ_USDT","last":"1"}]'
    )
    recs = c.parse_rest(tickers, 5, None)
    recs += c.parse_rest(snapshot_path("gate-perp").read_bytes(), 6, None)
    r = settled(recs)["ETH/USDT:USDT"]
    assert values(r, *TOP) == (3045.1, 0.2, 3045.3, 0.03)
    assert values(r, *DERIV) == (3045.1, 3046.0, 0.0001, 1765137600 * NS, 1.0)
    with pytest.raises(VenueError, match="CONTRACT_NOT_FOUND"):
        c.parse_rest(b'{"label":"CONTRACT_NOT_FOUND","message":"no"}', 1, None)


# --- htx ----------------------------------------------------------------------------------


def gz(text: str) -> bytes:
    return gzip.compress(text.encode())


def test_htx_bbo_and_detail_merge_in_base_units() -> None:
    c = codec("htx", "perp")  # BTC-USDT: 0.001 BTC a contract
    bbo = (
        '{"ch":"market.BTC-USDT.bbo","ts":1603707934525,"tick":{"mrid":131471,'
        '"id":1603707934,"bid":[13064,38],"ask":[13072,3],"ts":1603707934520,'
        '"version":131471,"ch":"market.BTC-USDT.bbo"}}'
    )
    detail = (
        '{"ch":"market.BTC-USDT.detail","ts":1603707935000,"tick":{"id":1603707934,'
        '"mrid":131471,"open":13082.6,"close":13070.1,"high":13149.9,"low":13022.6,'
        '"amount":"137.262","vol":137262,"trade_turnover":1795390.3062,"count":1104,'
        '"ask":[13072,4],"bid":[13064,38]}}'
    )
    recs = [*c.parse_frame(gz(bbo), 1), *c.parse_frame(detail, 2)]
    assert recs[0].ts_event == 1603707934520 * MS
    (r,) = settled(recs).values()
    assert (r.symbol, r.native, r.kind) == ("BTC/USDT:USDT", "BTC-USDT", "perp")
    assert values(r, *TOP) == (13064.0, 0.038, 13072.0, 0.004)
    assert values(r, "last", "open", "high", "low", "volume", "quote_volume") == (
        13070.1, 13082.6, 13149.9, 13022.6, 137.262, 1795390.3062
    )  # fmt: skip
    assert values(r, *DERIV) == (None,) * 5 and r.ts_event == 1603707935000 * MS


def test_htx_routes_subscribe_their_channels_and_merge_mark_index_funding() -> None:
    c = codec("htx", "perp")
    btc = c.table.by_symbol["BTC/USDT:USDT"]
    routes = {r.route_url("wss://api.hbdm.com"): r(c.table) for r in c.routes()}
    assert [r.STALE_AFTER for r in c.routes()] == [30.0, 30.0, 150.0]  # funding: every 60 s
    subs = {url: [json.loads(s) for s in r.subscribe([btc])] for url, r in routes.items()}
    assert subs == {
        "wss://api.hbdm.com/linear-swap-ws": [
            {"sub": "market.BTC-USDT.bbo", "id": "market.BTC-USDT.bbo"},
            {"sub": "market.BTC-USDT.detail", "id": "market.BTC-USDT.detail"},
        ],
        "wss://api.hbdm.com/ws_index": [
            {"sub": "market.BTC-USDT.mark_price.1min", "id": "market.BTC-USDT.mark_price.1min"},
            {"sub": "market.BTC-USDT.index.1min", "id": "market.BTC-USDT.index.1min"},
        ],
        "wss://api.hbdm.com/linear-swap-notification": [
            {"op": "sub", "cid": "public.BTC-USDT.funding_rate",
             "topic": "public.BTC-USDT.funding_rate"},
        ],
    }  # fmt: skip
    raws = [
        '{"ch":"market.BTC-USDT.mark_price.1min","ts":1603707934525,"tick":{"id":1603707900,'
        '"open":"13069.1","close":"13070.2","high":"13071","low":"13068.5","amount":"0",'
        '"vol":"0","count":"0","trade_turnover":"0"}}',
        '{"ch":"market.BTC-USDT.index.1min","ts":1603707934600,"tick":{"id":1603707900,'
        '"open":"13070","close":"13071.4","high":"13072","low":"13069"}}',
        '{"op":"notify","topic":"public.BTC-USDT.funding_rate","ts":1603778748166,"data":['
        '{"symbol":"BTC","contract_code":"BTC-USDT","fee_asset":"USDT",'
        '"funding_time":"1603778748166","funding_rate":"-0.000220068774978695",'
        '"estimated_rate":"-0.000220068774978695","settlement_time":"1603785600000"}]}',
        '{"op":"ping","ts":"1603778748166"}',
        '{"op":"sub","cid":"x","topic":"public.BTC-USDT.funding_rate","ts":1,"err-code":0}',
    ]
    (r,) = settled(parse_all(c, [gz(r) for r in raws])).values()
    assert values(r, *DERIV) == (
        13070.2, 13071.4, -0.000220068774978695, 1603785600000 * MS, None
    )  # fmt: skip
    assert c.replies == ['{"op":"pong","ts":"1603778748166"}']
    with pytest.raises(VenueError, match="2002"):
        c.parse_frame('{"op":"sub","topic":"public.X.funding_rate","err-code":2002}', 1)


def test_htx_recorded_connection_frames_and_pings() -> None:
    """The 2022 capture of the linear-swap socket: acks and pings, each ping answered."""
    c = codec("htx", "perp")
    raws = frames("htx", 1)
    assert parse_all(c, [gz(r) for r in raws]) == []
    pings = [json.loads(r)["ping"] for r in raws if '"ping"' in r]
    assert pings and c.replies == [json.dumps({"pong": p}, separators=(",", ":")) for p in pings]
    with pytest.raises(VenueError, match="invalid topic"):
        c.parse_frame(
            '{"id":"1","status":"error","err-code":"bad-request","err-msg":"invalid topic x"}', 1
        )


def test_htx_rest_answers_fill_mark_index_funding_and_open_interest() -> None:
    c = codec("htx", "perp")
    eth = c.table.by_symbol["ETH/USDT:USDT"]
    bodies = [
        b'{"status":"ok","ticks":[{"id":1,"ts":1603707934525,"ask":[3046,5],"bid":[3045,20],'
        b'"business_type":"swap","contract_code":"ETH-USDT","open":"3000","close":"3045.5",'
        b'"low":"2990","high":"3050","amount":"1200.5","count":10,"vol":"120050",'
        b'"trade_turnover":"3650000"}],"ts":1603707934525}',
        b'{"status":"ok","data":[{"estimated_rate":null,"funding_rate":"-0.000100",'
        b'"contract_code":"ETH-USDT","symbol":"ETH","fee_asset":"USDT",'
        b'"funding_time":"1603872000000","next_funding_time":null}],"ts":1603707934525}',
        b'{"status":"ok","data":[{"volume":7192610,"amount":71926.1,"symbol":"ETH",'
        b'"value":219000000,"contract_code":"ETH-USDT"}],"ts":1603707934525}',
        b'{"status":"ok","data":[{"index_price":3046.2,"index_ts":1603707934000,'
        b'"contract_code":"ETH-USDT"}],"ts":1603707934525}',
        b'{"ch":"market.ETH-USDT.mark_price.1min","status":"ok","ts":1603707934525,'
        b'"data":[{"id":1603707900,"open":"3045.9","close":"3045.8","high":"3046",'
        b'"low":"3045","amount":"0","vol":"0","trade_turnover":"0","count":"0"}]}',
    ]
    recs = [r for b in bodies for r in c.parse_rest(b, 1, eth)]
    r = settled(recs)["ETH/USDT:USDT"]
    assert values(r, *TOP) == (3045.0, 0.2, 3046.0, 0.05)
    assert values(r, "last", "volume", "quote_volume") == (3045.5, 1200.5, 3650000.0)
    assert values(r, *DERIV) == (3045.8, 3046.2, -0.0001, 1603872000000 * MS, 71926.1)
    with pytest.raises(VenueError, match="1014"):
        c.parse_rest(b'{"status":"error","err_code":1014,"err_msg":"no"}', 1, eth)


# --- kraken -------------------------------------------------------------------------------

KRAKEN_ROWS = json.dumps(
    {
        "result": "success",
        "instruments": [
            {"symbol": "PF_SOLUSD", "type": "flexible_futures", "tradeable": True,
             "contractSize": 1, "base": "SOL", "quote": "USD", "pair": "SOL:USD"},
            {"symbol": "PI_ETHUSD", "type": "futures_inverse", "tradeable": True,
             "contractSize": 1},
            {"symbol": "FI_XBTUSD_210730", "type": "futures_inverse", "tradeable": True,
             "contractSize": 1, "lastTradingTime": "2021-07-30T15:00:00.000Z"},
        ],
    }
).encode()  # fmt: skip


def test_kraken_documented_linear_ticker_has_every_field_in_base_units() -> None:
    c = codec("kraken", "perp", KRAKEN_ROWS)
    frame = (
        '{"time":1721213867738,"product_id":"PF_SOLUSD","funding_rate":0.001318439968712204,'
        '"funding_rate_prediction":0.00193406121869099,"relative_funding_rate":8.060811111111e-6,'
        '"relative_funding_rate_prediction":0.000011884326388889,'
        '"next_funding_rate_time":1721214000000,"leverage":"50x","premium":0.1,"feed":"ticker",'
        '"bid":162.74,"ask":162.75,"bid_size":23.4,"ask_size":9.5,"volume":378480.79,"dtm":0,'
        '"index":162.6634,"last":162.74,"change":3.87,"suspended":false,"tag":"perpetual",'
        '"pair":"SOL:USD","openInterest":156019.07,"markPrice":162.75734404771,'
        '"maturityTime":0,"post_only":false,"volumeQuote":60666084.9734,"open":156.67,'
        '"high":163.89,"low":154.57}'
    )
    (r,) = c.parse_frame(frame, 9)
    assert isinstance(r, Derivative)
    assert (r.exchange, r.symbol, r.native, r.kind, r.expiry) == (
        "kraken", "SOL/USD:USD", "PF_SOLUSD", "perp", None
    )  # fmt: skip
    assert values(r, *TOP) == (162.74, 23.4, 162.75, 9.5)
    assert values(r, "last", "open", "high", "low", "volume", "quote_volume") == (
        162.74, 156.67, 163.89, 154.57, 378480.79, 60666084.9734
    )  # fmt: skip
    assert values(r, *DERIV) == (
        162.75734404771, 162.6634, 8.060811111111e-6, 1721214000000 * MS, 156019.07
    )  # fmt: skip
    assert (r.ts_event, r.ts_recv) == (1721213867738 * MS, 9)


def test_kraken_inverse_sizes_are_usd_contracts_over_the_price() -> None:
    c = codec("kraken", "perp", KRAKEN_ROWS)
    frame = (
        '{"time":1,"product_id":"PI_ETHUSD","feed":"ticker","bid":2000.0,"ask":2000.5,'
        '"bid_size":5000,"ask_size":1000,"volume":1000000,"markPrice":2000.0,"index":2001.0,'
        '"openInterest":40000000,"relative_funding_rate":-0.00001,'
        '"next_funding_rate_time":3600000}'
    )
    (r,) = c.parse_frame(frame, 1)
    assert r.symbol == "ETH/USD:ETH"
    assert values(r, *TOP) == (2000.0, 2.5, 2000.5, 0.5)  # 5000 USD / 2000 = 2.5 ETH
    assert (r.volume, r.quote_volume) == (None, 1000000.0)  # USD contracts: the quote volume
    assert values(r, *DERIV) == (2000.0, 2001.0, -0.00001, 3600 * NS, 20000.0)


def test_kraken_recorded_ticker_lite_of_perpetuals_and_futures() -> None:
    c = codec("kraken", "perp", KRAKEN_ROWS)
    recs = parse_all(c, frames("krakenfutures"))
    fi = [r for r in recs if r.native == "FI_XBTUSD_210730"]
    assert fi and all(r.symbol == "BTC/USD:BTC-210730" and r.kind == "future" for r in fi)
    assert values(fi[0], "expiry") == (1627657200 * NS,)
    assert values(fi[0], "bid", "ask", "bid_size", "volume", "quote_volume") == (
        32170.5, 32192.5, None, None, 2375190.0
    )  # fmt: skip
    pi = [r for r in recs if r.native == "PI_ETHUSD"]
    assert pi and values(pi[0], "mark", "ts_event") == (None, None)
    with pytest.raises(VenueError, match="Invalid product id"):
        c.parse_frame('{"event":"error","message":"Invalid product id"}', 1)


def test_kraken_rest_tickers() -> None:
    c = codec("kraken", "perp")
    body = (
        b'{"result":"success","tickers":[{"symbol":"PF_XBTUSD","last":89712.0,'
        b'"tag":"perpetual","pair":"XBT:USD","markPrice":89715.2,"bid":89711.0,"bidSize":0.5,'
        b'"ask":89712.0,"askSize":1.2,"vol24h":3021.5,"volumeQuote":270000000.0,'
        b'"openInterest":2189.78,"open24h":88900.0,"indexPrice":89716.9,"high24h":90100.0,'
        b'"low24h":88500.0,"fundingRate":0.95,"suspended":false},{"symbol":"in_xbtusd",'
        b'"last":89716.9}],"serverTime":"2025-12-07T12:00:00.123Z"}'
    )
    (r,) = c.parse_rest(body, 3, None)
    assert values(r, *TOP) == (89711.0, 0.5, 89712.0, 1.2)
    assert values(r, "open", "high", "low", "volume", "quote_volume") == (
        88900.0, 90100.0, 88500.0, 3021.5, 270000000.0
    )  # fmt: skip
    assert values(r, *DERIV) == (89715.2, 89716.9, None, None, 2189.78)
    assert r.ts_event == 1765108800123 * MS
    with pytest.raises(VenueError, match="apiLimitExceeded"):
        c.parse_rest(b'{"result":"error","error":"apiLimitExceeded"}', 1, None)


# --- kucoin -------------------------------------------------------------------------------


def kucoin_push(topic: str, subject: str, data: str) -> str:
    return f'{{"type":"message","topic":"{topic}","subject":"{subject}","data":{data}}}'


def test_kucoin_ticker_and_instrument_pushes_merge_in_base_units() -> None:
    c = codec("kucoin", "perp")  # XBTUSDTM: 0.001 BTC a lot; XBTUSDM: one USD, inverse
    c.subscribe(list(c.table.markets))
    c.parse_frame('{"id":"x","type":"welcome"}', 1)
    topics = [json.loads(r)["topic"] for r in c.replies]
    assert topics == [
        "/contractMarket/tickerV2:XBTUSDM,XBTUSDTM,ETHUSDTM",
        "/contract/instrument:XBTUSDM,XBTUSDTM,ETHUSDTM",
        "/contractMarket/snapshot:XBTUSDM,XBTUSDTM,ETHUSDTM",
    ]
    raws = [
        kucoin_push("/contractMarket/tickerV2:XBTUSDTM", "tickerV2",
                    '{"symbol":"XBTUSDTM","sequence":1638382917,"bestBidSize":795,'
                    '"bestBidPrice":"89712.1","bestAskPrice":"89712.2","bestAskSize":284,'
                    '"ts":1765100000123456789}'),
        kucoin_push("/contract/instrument:XBTUSDTM", "mark.index.price",
                    '{"granularity":1000,"indexPrice":89720.23,"markPrice":89716.52,'
                    '"timestamp":1765100001000}'),
        kucoin_push("/contract/instrument:XBTUSDTM", "funding.rate",
                    '{"granularity":60000,"fundingRate":-0.000296,"timestamp":1765100002000}'),
        kucoin_push("/contractMarket/tickerV2:XBTUSDM", "tickerV2",
                    '{"symbol":"XBTUSDM","bestBidSize":5000,"bestBidPrice":"80000",'
                    '"bestAskPrice":"80000.5","bestAskSize":1000,"ts":1765100000000000000}'),
        kucoin_push("/contractMarket/snapshot:XBTUSDTM", "snapshot.24h",
                    '{"highPrice":89299.9,"lastPrice":86262.6,"lowPrice":82205.2,'
                    '"price24HoursBefore":88762.5,"priceChg":-2499.9,"priceChgPct":-0.0281,'
                    '"symbol":"XBTUSDTM","turnover":1033552780.2532196,"volume":12062.039,'
                    '"ts":1740643185017646670}'),
        kucoin_push("/contractMarket/snapshot:XBTUSDM", "snapshot.24h",
                    '{"symbol":"XBTUSDM","volume":590275,"turnover":19.41544404913293,'
                    '"lastPrice":29912,"lowPrice":29332.0,"highPrice":31884.0,'
                    '"ts":1654165755087785336}'),
    ]  # fmt: skip
    recs = parse_all(c, raws)
    assert recs[0].ts_event == 1765100000123456789
    last = settled(recs)
    r = last["BTC/USDT:USDT"]
    assert values(r, *TOP) == (89712.1, 0.795, 89712.2, 0.284)
    assert values(r, *DERIV) == (89716.52, 89720.23, -0.000296, None, None)
    assert values(r, "last", "open", "high", "low", "volume", "quote_volume") == (
        86262.6, 88762.5, 89299.9, 82205.2, 12062.039, 1033552780.2532196
    )  # fmt: skip
    inv = last["BTC/USD:BTC"]
    assert values(inv, *TOP) == (80000.0, 0.0625, 80000.5, pytest.approx(1000 / 80000.5))
    # an inverse contract's volume is USD (the quote), its turnover BTC
    assert values(inv, "last", "volume", "quote_volume") == (29912.0, 19.41544404913293, 590275.0)
    with pytest.raises(VenueError, match="404"):
        c.parse_frame('{"id":"sub1","type":"error","code":404,"data":"topic not found"}', 1)


def test_kucoin_rest_contracts_and_tickers() -> None:
    c = codec("kucoin", "future")
    contracts = snapshot_path("kucoin-future").read_bytes()
    tickers = (
        b'{"code":"200000","data":[{"sequence":1,"symbol":"XBTMZ26","side":"buy","size":1,'
        b'"price":"90200","bestBidPrice":"90000","bestBidSize":9000,"bestAskPrice":"90001",'
        b'"bestAskSize":100,"ts":1765100000000000000}]}'
    )
    recs = c.parse_rest(contracts, 1, None) + c.parse_rest(tickers, 2, None)
    r = settled(recs)["BTC/USD:BTC-261225"]
    assert isinstance(r, Derivative) and r.kind == "future"
    assert r.expiry == 1798185600 * NS
    assert values(r, *TOP) == (90000.0, 0.1, 90001.0, pytest.approx(100 / 90001))
    assert values(r, "last", "volume") == (90200.0, None)
    assert values(r, *DERIV) == (90210.0, 89719.9, None, None, pytest.approx(120400 / 90210))
    with pytest.raises(VenueError, match="400100"):
        c.parse_rest(b'{"code":"400100","msg":"bad"}', 1, None)


# --- live sessions against the simulators ---------------------------------------------------


@pytest.mark.parametrize("mode", ["ws", "rest"])
@pytest.mark.parametrize(("venue", "kind"), MINE)
async def test_streams_and_polls_the_simulator(
    venue: str, kind: str, mode: str, tmp_path: Path
) -> None:
    assert (venue, kind) in simulated_derivatives()
    out, _ = await run_adapter(venue, kind, mode, tmp_path, LIVE_FIELDS[(venue, kind)][mode])
    states = [r.state for r in out if isinstance(r, Status)]
    assert states[:2] == ["starting", "connecting"] and "live" in states
    tickers = [t for t in out if isinstance(t, Ticker)]
    assert tickers and all(isinstance(t, Derivative) for t in tickers)
    for t in tickers:
        assert isinstance(t, Derivative)
        assert t.exchange == venue and t.kind == kind and t.flags is None
        assert (t.expiry is not None) == (kind == "future")
    for t in {t.symbol: t for t in tickers}.values():  # each symbol's last: merged whole
        assert isinstance(t, Derivative)
        assert t.bid is not None and t.ask is not None and t.bid < t.ask
        if venue != "bitfinex":  # its sizes are sums of 25 levels: not mapped
            assert t.bid_size is not None and t.bid_size > 0
        if "mark" in LIVE_FIELDS[(venue, kind)][mode]:
            assert t.mark is not None and t.bid * 0.99 < t.mark < t.ask * 1.01


async def test_htx_routes_reconnect_and_resubscribe_each_after_a_drop(tmp_path: Path) -> None:
    """Three connections (market, index, funding); dropped, each comes back subscribed."""
    live = LIVE_FIELDS[("htx", "perp")]["ws"]
    out, sim = await run_adapter("htx", "perp", "ws", tmp_path, live, drop=True)
    assert sim.connections == 6
    states = [(i, r) for i, r in enumerate(out) if isinstance(r, Status)]
    dropped = next(i for i, r in states if r.state == "disconnected")
    relive = {r.conn for i, r in states if i > dropped and r.state == "live"}
    assert relive == {0, 1, 2}
    subs = [m.get("sub") or m.get("topic") for m in sim.received if m.get("op") != "pong"]
    subs = [t for t in subs if t]
    assert len(subs) == 20 and all(subs.count(t) == 2 for t in subs)  # 10 topics, twice
