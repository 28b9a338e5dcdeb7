"""Derivatives codecs of binance (USDⓈ-M), okx and deribit: recorded and documented frames
to records (units, contract sizes, kinds, expiries), partial updates merged, REST answers,
and each one live against its simulator through the real adapter."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest

from aggregator.adapters.base import Codec
from aggregator.adapters.registry import codec_class
from aggregator.config import kind_of
from aggregator.errors import ParseError, VenueError
from aggregator.records import Derivative, Status, Ticker
from aggregator.symbols import snapshot_path

from .codec_runs import merged, parse_all, run_adapter

FIXTURES = Path(__file__).parent / "fixtures" / "ws-derivatives"
MS = 1_000_000
# The (venue, kind) pairs of this file's codecs.
MINE = [
    ("binance", "perp"),
    ("binance", "future"),
    ("okx", "perp"),
    ("okx", "future"),
    ("deribit", "perp"),
    ("deribit", "future"),
]


def codec(venue: str, kind: str, rows: Any = None) -> Codec:
    """The codec of a venue's kind on its shipped markets (or on ``rows``, as JSON)."""
    cls = codec_class(venue, kind)
    body = snapshot_path(f"{venue}-{kind}").read_bytes() if rows is None else json.dumps(rows)
    return cls(cls.markets_from(body.encode() if isinstance(body, str) else body))


def recorded(name: str, index: int = 0) -> list[dict[str, Any]]:
    """The frames of one recorded entry of tests/fixtures/ws-derivatives/NAME.json."""
    entry = json.loads((FIXTURES / f"{name}.json").read_text())[index]
    return [m["frame"] for m in entry["messages"]]


DERIV = ("mark", "index", "funding_rate", "funding_ts", "open_interest")


# --- every codec of this file --------------------------------------------------------------


@pytest.mark.parametrize(("venue", "kind"), MINE)
def test_markets_of_the_kind_have_unified_symbols_of_that_form(venue: str, kind: str) -> None:
    c = codec(venue, kind)
    of_kind = [m for m in c.table.markets if m.kind == kind]
    assert len(of_kind) >= 2
    for m in of_kind:
        assert kind_of(m.symbol) == kind and m.contract_size > 0
        assert (m.expiry is not None) == (kind == "future")
        assert c.lookup(m.native) is m


@pytest.mark.parametrize(("venue", "kind"), MINE)
def test_bad_payloads_raise_only_codec_errors(venue: str, kind: str) -> None:
    c = codec(venue, kind)
    market = c.table.markets[0]
    bad = [b"", b"<html>502</html>", b'{"x": ', b"[]", b"{}", b"null", b"[null]", b'"text"']
    for payload in bad:
        for parse in (c.parse_frame, lambda raw, ts: c.parse_rest(raw, ts, market)):
            with contextlib.suppress(ParseError, VenueError):
                assert parse(payload, 1) == [], payload
    with pytest.raises(ParseError):
        c.markets_from(b'{"data": null}')


# --- binance -----------------------------------------------------------------------------

BINANCE_ROWS = {
    "symbols": [
        {"symbol": f"{b}USDT", "contractType": "PERPETUAL", "deliveryDate": 4133404800000}
        | {"status": "TRADING", "baseAsset": b, "quoteAsset": "USDT", "marginAsset": "USDT"}
        for b in ("SUSHI", "AKRO", "KEEP", "CTK")
    ]
}


def test_binance_recorded_book_tickers_are_perps_in_base_units() -> None:
    c = codec("binance", "perp", BINANCE_ROWS)
    frames = recorded("binance")  # combined-stream frames: the payload is under "data"
    records = parse_all(c, [json.dumps(f["data"]) for f in frames])
    assert len(records) == len(frames) == 300
    first = records[0]
    assert isinstance(first, Derivative)
    assert (first.symbol, first.native, first.kind, first.expiry) == (
        "SUSHI/USDT:USDT",
        "SUSHIUSDT",
        "perp",
        None,
    )
    assert (first.bid, first.bid_size, first.ask, first.ask_size) == (7.611, 2.0, 7.612, 297.0)
    assert first.ts_event == 1626992741017 * MS
    assert {r.symbol for r in records} == {
        f"{b}/USDT:USDT" for b in ("SUSHI", "AKRO", "KEEP", "CTK")
    }


def test_binance_mark_price_and_ticker_merge_with_the_book() -> None:
    c = codec("binance", "perp")
    frames = [
        '{"e":"bookTicker","u":1,"s":"BTCUSDT","b":"64000.10","B":"1.5","a":"64000.20",'
        '"A":"0.25","T":1796630400000,"E":1796630400001}',
        '{"e":"markPriceUpdate","E":1796630401000,"s":"BTCUSDT","p":"64000.15000000",'
        '"i":"63990.5","P":"63991","r":"-0.00012500","T":1796659200000}',
        '{"e":"24hrTicker","E":1796630402000,"s":"BTCUSDT","p":"-100","P":"-0.15","c":"64000.1",'
        '"Q":"0.002","o":"64100.1","h":"64500","l":"63500.5","v":"12345.678","q":"790123456.7"}',
    ]
    last = merged(parse_all(c, frames))["BTCUSDT"]
    assert isinstance(last, Derivative) and last.flags is None
    assert (last.bid, last.bid_size, last.ask, last.ask_size) == (64000.1, 1.5, 64000.2, 0.25)
    assert (last.mark, last.index, last.funding_rate) == (64000.15, 63990.5, -0.000125)
    assert last.funding_ts == 1796659200000 * MS and last.open_interest is None
    assert (last.last, last.open, last.high, last.low) == (64000.1, 64100.1, 64500.0, 63500.5)
    assert (last.volume, last.quote_volume) == (12345.678, 790123456.7)
    assert last.ts_event == 1796630402000 * MS


def test_binance_dated_futures_have_an_expiry_and_no_funding() -> None:
    c = codec("binance", "future")
    m = c.lookup("BTCUSDT_261225")
    assert m is not None and (m.symbol, m.kind) == ("BTC/USDT:USDT-261225", "future")
    assert m.expiry == 1798185600000 * MS  # 2026-12-25 08:00 UTC
    raw = (
        '{"e":"markPriceUpdate","E":1796630401000,"s":"BTCUSDT_261225","p":"64500.1",'
        '"i":"64000","P":"64010","r":"","T":0}'
    )
    (r,) = c.parse_frame(raw, 1)
    assert isinstance(r, Derivative)
    assert (r.kind, r.expiry, r.mark, r.funding_rate, r.funding_ts) == (
        "future",
        m.expiry,
        64500.1,
        None,
        None,
    )
    assert c.lookup("XEMUSDT") is None  # not trading
    coinm = c.lookup("BTCUSD_261225")  # COIN-M: contracts of 100 USD
    assert coinm is not None and (coinm.symbol, coinm.inverse) == ("BTC/USD:BTC-261225", True)


def test_binance_coinm_recorded_book_tickers_in_base_units() -> None:
    """COIN-M's recorded bookTicker frames (2021: perpetuals and quarterly futures of then),
    sizes in contracts of 10 USD (100 for BTC) turned into base units over the price."""
    rows = []
    delivery = {"PERP": 4133404800000, "211231": 1640937600000, "210924": 1632470400000}
    for sym, size in (("BCHUSD_PERP", 10), ("BTCUSD_211231", 100), ("ETHUSD_210924", 10)):
        base, _, rest = sym.partition("USD_")
        kind = "PERPETUAL" if rest == "PERP" else "CURRENT_QUARTER"
        rows.append(
            {"symbol": sym, "contractType": kind, "deliveryDate": delivery[rest]}
            | {"contractStatus": "TRADING", "baseAsset": base, "quoteAsset": "USD"}
            | {"marginAsset": base, "contractSize": size}
        )
    frames = [json.dumps(f["data"]) for f in recorded("binance", 1)]
    perps = parse_all(codec("binance", "perp", {"symbols": rows}), frames)
    bch = perps[0]
    assert isinstance(bch, Derivative) and (bch.symbol, bch.kind) == ("BCH/USD:BCH", "perp")
    assert (bch.bid, bch.ask) == (427.84, 427.9)  # B 24 and A 669 contracts of 10 USD
    assert bch.bid_size == round(24 * 10 / 427.84, 12) and bch.ask_size == round(
        669 * 10 / 427.9, 12
    )
    kinds = {r.symbol: r.kind for r in perps}  # (one codec lists both kinds: the adapter
    assert kinds == {  # of each kind keeps its own)
        "BCH/USD:BCH": "perp",
        "BTC/USD:BTC-211231": "future",
        "ETH/USD:ETH-210924": "future",
    }


def test_binance_routes_split_the_channels_over_endpoints() -> None:
    cls = codec_class("binance", "perp")
    c = codec("binance", "perp")
    markets = [c.lookup("BTCUSDT")]
    public, market, coinm = cls.routes()
    assert public.route_url("wss://fstream.binance.com") == "wss://fstream.binance.com/public/ws"
    assert market.route_url("ws://127.0.0.1:9/") == "ws://127.0.0.1:9/market/ws"
    assert coinm.route_url(cls.WS_URL) == "wss://dstream.binance.com/ws"
    assert coinm.route_url("ws://127.0.0.1:9") == "ws://127.0.0.1:9/dstream/ws"
    every = list(c.table.markets)
    coinm_ids = ["BTCUSD_PERP", "BTCUSD_261225", "ETHUSD_PERP"]
    assert [m.native for m in coinm.route_markets(every)] == coinm_ids
    assert not {m.native for m in public.route_markets(every)} & set(coinm_ids)
    assert cls.markets_urls(cls.MARKETS_URL)[1] == "https://dapi.binance.com/dapi/v1/exchangeInfo"
    assert (
        cls.markets_urls("http://h:1/fapi/v1/exchangeInfo")[1] == "http://h:1/dapi/v1/exchangeInfo"
    )
    streams = [json.loads(public(c.table).subscribe(markets)[0])["params"]]  # type: ignore[arg-type]
    streams.append(json.loads(market(c.table).subscribe(markets)[0])["params"])  # type: ignore[arg-type]
    assert streams == [["btcusdt@bookTicker"], ["btcusdt@markPrice@1s", "btcusdt@ticker"]]
    assert c.parse_frame('{"result":null,"id":1}', 1) == []
    with pytest.raises(VenueError, match="Invalid"):
        c.parse_frame('{"error":{"code":2,"msg":"Invalid request"},"id":1}', 1)


def test_binance_rest_lists_merge_into_whole_records() -> None:
    c = codec("binance", "perp")
    bodies = [
        b'[{"symbol":"BTCUSDT","bidPrice":"64000.1","bidQty":"2","askPrice":"64000.2",'
        b'"askQty":"3","time":1796630400000},{"symbol":"NOPE","bidPrice":"1"}]',
        b'[{"symbol":"BTCUSDT","markPrice":"64000.12","indexPrice":"63999","lastFundingRate":'
        b'"0.0001","nextFundingTime":1796659200000,"time":1796630400500}]',
        b'[{"symbol":"BTCUSDT","lastPrice":"64000.1","openPrice":"63000","highPrice":"65000",'
        b'"lowPrice":"62000","volume":"100.5","quoteVolume":"6432000","closeTime":1796630400900}]',
    ]
    records = [r for b in bodies for r in c.parse_rest(b, 1, None)]
    last = merged(records)["BTCUSDT"]
    assert isinstance(last, Derivative)
    assert (last.bid, last.ask_size, last.mark, last.funding_rate) == (
        64000.1,
        3.0,
        64000.12,
        0.0001,
    )
    assert (last.volume, last.quote_volume, last.funding_ts) == (
        100.5,
        6432000.0,
        1796659200000 * MS,
    )
    with pytest.raises(VenueError, match="-1121"):
        c.parse_rest(b'{"code":-1121,"msg":"Invalid symbol."}', 1, None)
    # COIN-M's (dapi): sizes in contracts of 100 USD, the 24 h volume in contracts and base
    coinm = [
        b'[{"symbol":"BTCUSD_PERP","bidPrice":"64000","bidQty":"64","askPrice":"64000.1",'
        b'"askQty":"32","time":1}]',
        b'[{"symbol":"BTCUSD_PERP","lastPrice":"64000","volume":"640","baseVolume":"1.1",'
        b'"closeTime":2}]',
    ]
    last = merged([r for b in coinm for r in c.parse_rest(b, 1, None)])["BTCUSD_PERP"]
    assert (last.bid_size, last.volume, last.quote_volume) == (0.1, 1.1, 64000.0)
    urls = [r.url for r in c.rest_requests(c.REST_URL, list(c.table.markets))]
    assert "https://dapi.binance.com/dapi/v1/ticker/24hr" in urls
    assert "https://fapi.binance.com/fapi/v1/ticker/24hr" in urls


# --- okx ---------------------------------------------------------------------------------


def okx_rows(*rows: tuple[str, str, str, str, str, str]) -> dict[str, Any]:
    """instruments rows: (type, instId, uly, settleCcy, ctVal, ctType); futures expire in 2022."""
    out = []
    for t, inst, uly, settle, ct_val, ct_type in rows:
        expiry = "1653638400000" if t == "FUTURES" else ""  # 2022-05-27 08:00 UTC
        out.append(
            {"instType": t, "instId": inst, "uly": uly, "settleCcy": settle, "ctVal": ct_val}
            | {"ctMult": "1", "ctType": ct_type, "expTime": expiry, "state": "live"}
        )
    return {"code": "0", "msg": "", "data": out}


def test_okx_recorded_tickers_of_an_inverse_swap_and_future_in_base_units() -> None:
    frames = [json.dumps(f) for f in recorded("okx")]
    swap = codec(
        "okx", "perp", okx_rows(("SWAP", "UNI-USD-SWAP", "UNI-USD", "UNI", "10", "inverse"))
    )
    futures = okx_rows(("FUTURES", "BTC-USD-220527", "BTC-USD", "BTC", "100", "inverse"))
    future = codec("okx", "future", futures)
    (uni, *_) = parse_all(swap, frames)
    assert isinstance(uni, Derivative)
    assert (uni.symbol, uni.kind, uni.expiry, uni.last) == ("UNI/USD:UNI", "perp", None, 5.123)
    # sizes: contracts of 10 USD over the price; volume in UNI as sent; quote volume in USD
    assert uni.bid_size == round(96 * 10 / 5.134, 12) and uni.ask_size == round(25 * 10 / 5.142, 12)
    assert (uni.volume, uni.quote_volume) == (577730.7823, 2894250.0)
    btc = parse_all(future, frames)[-1]
    assert isinstance(btc, Derivative)
    assert (btc.symbol, btc.kind) == ("BTC/USD:BTC-220527", "future")
    assert btc.expiry == 1653638400000 * MS and btc.ts_event == 1652459234474 * MS
    assert btc.ask_size == round(695 * 100 / 30217.8, 12)


def test_okx_derivatives_channels_merge_into_one_linear_swap_record() -> None:
    c = codec("okx", "perp")
    m = c.lookup("BTC-USDT-SWAP")
    assert m is not None and (m.symbol, m.contract_size, m.inverse) == (
        "BTC/USDT:USDT",
        0.01,
        False,
    )
    arg = '{"arg":{"channel":"%s","instId":"%s"},"data":[%s]}'
    frames = [
        arg % ("bbo-tbt", "BTC-USDT-SWAP", '{"asks":[["64001.5","12","0","3"]],"bids":'
               '[["64001.4","250","0","2"]],"ts":"1796630400000","seqId":5}'),
        arg % ("mark-price", "BTC-USDT-SWAP", '{"instId":"BTC-USDT-SWAP","markPx":"64001.2",'
               '"ts":"1796630400100"}'),
        arg % ("funding-rate", "BTC-USDT-SWAP", '{"instId":"BTC-USDT-SWAP","fundingRate":'
               '"-0.0000312","fundingTime":"1796659200000","nextFundingTime":"1796688000000",'
               '"ts":"1796630400200"}'),
        arg % ("open-interest", "BTC-USDT-SWAP", '{"instId":"BTC-USDT-SWAP","oi":"2500000",'
               '"oiCcy":"25000","ts":"1796630400300"}'),
        arg % ("index-tickers", "BTC-USDT", '{"instId":"BTC-USDT","idxPx":"63990.1",'
               '"ts":"1796630400400"}'),
        arg % ("tickers", "BTC-USDT-SWAP", '{"instId":"BTC-USDT-SWAP","last":"64001.4",'
               '"askPx":"64001.5","askSz":"10","bidPx":"64001.4","bidSz":"240","open24h":"63000",'
               '"high24h":"65000","low24h":"62000","vol24h":"900000","volCcy24h":"9000",'
               '"ts":"1796630400500"}'),
    ]  # fmt: skip
    records = parse_all(c, frames)
    assert [r.native for r in records] == ["BTC-USDT-SWAP"] * 6  # the index: its swap's
    last = merged(records)["BTC-USDT-SWAP"]
    assert isinstance(last, Derivative) and last.flags is None
    assert (last.bid, last.bid_size, last.ask, last.ask_size) == (64001.4, 2.4, 64001.5, 0.1)
    assert (last.mark, last.index, last.funding_rate) == (64001.2, 63990.1, -0.0000312)
    assert (last.funding_ts, last.open_interest) == (1796659200000 * MS, 25000.0)
    assert (last.volume, last.quote_volume) == (9000.0, None)  # a linear one's: not sent
    subscribed = json.loads(c.subscribe([m])[0])["args"]
    assert {a["channel"] for a in subscribed} == {
        "tickers", "bbo-tbt", "mark-price", "open-interest", "funding-rate", "index-tickers"
    }  # fmt: skip
    future = codec("okx", "future")
    fm = future.lookup("BTC-USDT-261225")
    assert fm is not None and fm.expiry == 1798185600000 * MS
    channels = {a["channel"] for a in json.loads(future.subscribe([fm])[0])["args"]}
    assert "funding-rate" not in channels  # a dated future has no funding
    with pytest.raises(VenueError, match="60014"):
        c.parse_frame('{"event":"error","code":"60014","msg":"Requests too frequent"}', 1)


def test_okx_rest_lists_fill_mark_and_open_interest() -> None:
    c = codec("okx", "perp")
    bodies = [
        b'{"code":"0","msg":"","data":[{"instId":"BTC-USD-SWAP","last":"64000","askPx":'
        b'"64000.1","askSz":"64","bidPx":"64000","bidSz":"128","vol24h":"100","ts":"1"}]}',
        b'{"code":"0","msg":"","data":[{"instId":"BTC-USD-SWAP","markPx":"64000.05","ts":"2"}]}',
        b'{"code":"0","msg":"","data":[{"instId":"BTC-USD-SWAP","oi":"1","oiCcy":"7.5","ts":"3"}]}',
    ]
    last = merged([r for b in bodies for r in c.parse_rest(b, 1, None)])["BTC-USD-SWAP"]
    assert isinstance(last, Derivative)
    assert (last.bid_size, last.mark, last.open_interest) == (0.2, 64000.05, 7.5)
    assert last.quote_volume == 10000.0  # 100 contracts of 100 USD
    with pytest.raises(VenueError, match="51000"):
        c.parse_rest(b'{"code":"51000","msg":"Parameter instType error","data":[]}', 1, None)


# --- deribit -----------------------------------------------------------------------------


def test_deribit_recorded_perpetual_ticker_in_base_units() -> None:
    entry = json.loads((FIXTURES.parent / "ws" / "deribit.json").read_text())[0]
    c = codec("deribit", "perp")
    records = parse_all(c, [json.dumps(m) for m in entry["messages"]])  # the ack, then two
    assert len(records) == 2
    r = records[0]
    assert isinstance(r, Derivative) and r.flags is None
    assert (r.symbol, r.native, r.kind, r.expiry) == ("BTC/USD:BTC", "BTC-PERPETUAL", "perp", None)
    # amounts and open interest are USD: base units over the price (the mark for the OI)
    assert (r.bid, r.ask, r.last) == (63344.0, 63344.5, 63344.0)
    assert r.bid_size == round(58060 / 63344, 12) and r.ask_size == round(9980 / 63344.5, 12)
    assert r.open_interest == round(716004750 / 63346.33, 12)
    assert (r.mark, r.index, r.funding_rate, r.funding_ts) == (63346.33, 63329.18, 0.00010036, None)
    assert (r.high, r.low, r.volume, r.quote_volume) == (
        64422.0,
        63261.0,
        2778.68467406,
        177187410.0,
    )
    assert r.ts_event == 1786563120494 * MS and r.open is None  # (price_change: a percentage)


def test_deribit_futures_linear_contracts_and_options_left_out() -> None:
    future = codec("deribit", "future")
    m = future.lookup("BTC-25DEC26")
    assert m is not None and (m.symbol, m.expiry) == ("BTC/USD:BTC-261225", 1798185600000 * MS)
    linear = codec("deribit", "perp").lookup("BTC_USDC-PERPETUAL")
    assert linear is not None and (linear.symbol, linear.inverse) == ("BTC/USDC:USDC", False)
    raw = (
        '{"jsonrpc":"2.0","method":"subscription","params":{"channel":'
        '"ticker.BTC_USDC-PERPETUAL.100ms","data":{"timestamp":1,"instrument_name":'
        '"BTC_USDC-PERPETUAL","best_bid_price":64000,"best_bid_amount":0.25,'
        '"best_ask_price":64001,"best_ask_amount":0.5,"open_interest":12.5,"mark_price":64000.5}}}'
    )
    (r,) = codec("deribit", "perp").parse_frame(raw, 1)
    assert isinstance(r, Derivative)
    assert (r.bid_size, r.ask_size, r.open_interest) == (0.25, 0.5, 12.5)
    # the recorded option tickers are of no followed market
    options = [json.dumps(f) for f in recorded("deribit")]
    assert parse_all(future, options) == []


def test_deribit_rest_ticker_and_errors() -> None:
    c = codec("deribit", "perp")
    body = (
        b'{"jsonrpc":"2.0","result":{"instrument_name":"ETH-PERPETUAL","timestamp":2,'
        b'"best_bid_price":3000,"best_bid_amount":300,"best_ask_price":0,"best_ask_amount":0,'
        b'"mark_price":3000.5,"index_price":2999,"open_interest":30005,"funding_8h":-0.0001}}'
    )
    (r,) = c.parse_rest(body, 1, None)
    assert isinstance(r, Derivative) and r.settle(None) == 0  # the empty ask side: null
    assert (r.bid_size, r.ask, r.open_interest, r.funding_rate) == (0.1, None, 10.0, -0.0001)
    with pytest.raises(VenueError, match="10020"):
        c.parse_rest(b'{"jsonrpc":"2.0","error":{"code":10020,"message":"not found"}}', 1, None)


# --- live, through the adapter -----------------------------------------------------------


# What each codec's records carry once merged, streaming and polling (besides bid and ask).
LIVE_FIELDS: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("binance", "perp"): {"ws": ("mark", "index", "funding_rate", "funding_ts"), "rest": ()},
    ("binance", "future"): {"ws": ("mark", "index"), "rest": ()},
    ("okx", "perp"): {"ws": DERIV, "rest": ("mark", "open_interest")},
    ("okx", "future"): {"ws": ("mark", "index", "open_interest"), "rest": ("mark",)},
    ("deribit", "perp"): {"ws": ("mark", "index", "funding_rate", "open_interest")},
    ("deribit", "future"): {"ws": ("mark", "index", "open_interest")},
}
for fields in LIVE_FIELDS[("deribit", "perp")], LIVE_FIELDS[("deribit", "future")]:
    fields["rest"] = fields["ws"]  # (its REST ticker is the channel's)
for fields in LIVE_FIELDS[("binance", "perp")], LIVE_FIELDS[("binance", "future")]:
    fields["rest"] = fields["ws"]  # (binance's REST lists carry the same)


def symbols_of(out: list[Ticker | Status]) -> set[str]:
    return {r.symbol for r in out if isinstance(r, Ticker)}


@pytest.mark.parametrize("mode", ["ws", "rest"])
@pytest.mark.parametrize(("venue", "kind"), MINE)
async def test_streams_and_polls_the_simulator(
    venue: str, kind: str, mode: str, tmp_path: Path
) -> None:
    symbols = [m.symbol for m in codec(venue, kind).table.markets if m.kind == kind][:2]
    live = LIVE_FIELDS[(venue, kind)][mode]
    out, _ = await run_adapter(venue, kind, mode, tmp_path, live, rate=400, symbols=symbols)
    statuses = [r for r in out if isinstance(r, Status)]
    assert "live" in [s.state for s in statuses]
    assert {s.kind for s in statuses} == {kind}
    routes = codec_class(venue, kind).routes()
    if mode == "ws" and len(routes) > 1:  # one connection per route with markets
        followed = [m for m in codec(venue, kind).table.markets if m.symbol in symbols_of(out)]
        serving = {j for j, route in enumerate(routes) if route.route_markets(followed)}
        assert {s.conn for s in statuses if s.state == "subscribed"} == serving
    tickers = [t for t in out if isinstance(t, Ticker)]
    for t in tickers:
        assert isinstance(t, Derivative) and t.kind == kind and t.flags is None
        assert (t.expiry is not None) == (kind == "future")
    for t in {t.symbol: t for t in tickers}.values():
        assert isinstance(t, Derivative)
        assert t.bid is not None and t.ask is not None and t.bid < t.ask
        assert t.mark is not None and t.bid * 0.99 < t.mark < t.ask * 1.01
        for name in LIVE_FIELDS[(venue, kind)][mode]:
            assert getattr(t, name) is not None, name
        if kind == "future":
            assert t.funding_rate is None and t.funding_ts is None
