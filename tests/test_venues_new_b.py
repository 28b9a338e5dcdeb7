"""ALP.com, OKX US, Buda and YoBit: what is particular to each (the suites every venue passes
cover the rest), and the table of ids that `aggregator exchanges` prints."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from pathlib import Path
from typing import TypeVar

import pytest

from aggregator import cli, venues
from aggregator.adapters.alp import ALP
from aggregator.adapters.base import Codec
from aggregator.adapters.buda import Buda
from aggregator.adapters.okx import OKX
from aggregator.adapters.okxus import OKXUS
from aggregator.adapters.registry import ADAPTERS, modes
from aggregator.adapters.runner import Adapter
from aggregator.adapters.yobit import MAX_URL, YoBit
from aggregator.config import ExchangeConfig
from aggregator.errors import ClosedExchange, ParseError, VenueError
from aggregator.records import BAD, Status, Ticker
from aggregator.sim import VenueSim
from aggregator.symbols import Market, MarketTable, snapshot_path

from .test_daemon import run_cli

FIXTURES = Path(__file__).parent / "fixtures"
README = Path(__file__).parent.parent / "README.md"


C = TypeVar("C", bound=Codec)


def codec(cls: type[C]) -> C:
    return cls(cls.markets_from(snapshot_path(cls.venue).read_bytes()))


# --- ALP.com -------------------------------------------------------------------------------

# The reference's example push (API v3, "WebSocket API", Ticker), two of its rows.
TK = (
    '["tk",1694003337,["XRP_USDT","0.50057000","2036106.67737645","1024194.48541761",'
    '"-0.28287417","0.50677000","0.49872000","0.50057000","0.50117000"],["BTC_USDT",'
    '"25725.53000000","6074.90520117","156489295.23543299","0.09369121","25889.00000000",'
    '"25629.43000000","25717.69000000","25747.69000000"]]'
)


def test_alp_ticker_push_maps_every_field_of_a_row() -> None:
    c = codec(ALP)
    by = {r.symbol: r for r in c.parse_ws(TK, 7)}
    r = by["BTC/USDT"]
    assert (r.last, r.volume, r.quote_volume) == (25725.53, 6074.90520117, 156489295.23543299)
    assert (r.high, r.low, r.bid, r.ask) == (25889.0, 25629.43, 25717.69, 25747.69)
    assert r.open is None and r.bid_size is None and r.ask_size is None  # not sent
    assert r.ts_event == 1694003337 * 10**9 and r.ts_recv == 7
    assert by["XRP/USDT"].bid == 0.50057


def test_alp_keeps_the_rows_of_its_connections_markets_and_answers_the_keepalive() -> None:
    c = codec(ALP)
    btc = c.table.by_symbol["BTC/USDT"]
    assert c.subscribe([btc]) == ['["subscribe","ticker.*"]']
    assert [r.symbol for r in c.parse_ws(TK, 1)] == ["BTC/USDT"]  # XRP's row: not ours
    for raw in ("1", b"1"):
        assert c.parse_ws(raw, 1) == []
    assert c.replies == ["2", "2"]  # answered, and nothing sent unasked
    for quiet in (
        '["welcome",1694002700,30000000000,65000000000,"5c00d9c2"]',
        '["subscribe",1790139140,"ticker.*"]',
        '["t",1694003848,293107798,"BTC_USDT","0.2","25705.02","buy"]',
    ):
        assert c.parse_ws(quiet, 1) == []
    with pytest.raises(VenueError, match=r"Invalid topic: ticker\.NOPE"):
        c.parse_ws('["error",1790139264,"Invalid topic: ticker.NOPE","subscribe"]', 1)


@pytest.mark.parametrize(
    "frame",
    ['{"op":"pong"}', '["tk",1694003337,"BTC_USDT"]', '["tk"]', '["nope",1]', "[]", "2x"],
)
def test_alp_frames_of_another_shape_are_parse_errors(frame: str) -> None:
    with pytest.raises(ParseError):
        codec(ALP).parse_frame(frame, 1)


def test_alp_bad_values_in_a_row_are_flagged_not_repeated() -> None:
    c = codec(ALP)
    (r,) = c.parse_ws('["tk",1,["BTC_USDT","abc","1","2","0","3","4","","6"]]', 1)
    assert r.last is BAD  # sent badly: flagged and nulled on the way out, never a number
    assert r.volume == 1.0 and r.bid is None and r.ask == 6.0  # "" is not sent


def test_alp_refuses_the_shut_v1_api_and_reads_its_errors() -> None:
    c = codec(ALP)
    # BTC-Alpha's v1 ticker, recorded (ccxt's static test data, ts/src/test/static/response/
    # btcalpha.json at 15c16345): the API that ALP.com shut.
    v1 = {
        "timestamp": "1710328.217553",
        "pair": "BTC_USDT",
        "last": "73356.61",
        "diff": "1261.61",
        "vol": "3077.27262",
        "high": "73663.98",
        "low": "69348.14",
        "buy": "73365.77",
        "sell": "73422.95",
    }
    with pytest.raises(ParseError, match="v1"):
        c.parse_rest(json.dumps(v1).encode(), 1, None)
    with pytest.raises(ParseError):  # v1's list of the same objects has no usable pair
        c.parse_rest(json.dumps([{**v1, "pair": 7}]).encode(), 1, None)
    with pytest.raises(VenueError, match="BAD_REQUEST: pair not found"):
        c.parse_rest(b'{"code":"BAD_REQUEST","message":"pair not found"}', 1, None)
    doc = json.loads((FIXTURES / "rest-doc" / "alp.json").read_text())[0]["httpResponse"]
    by = {r.symbol: r for r in c.parse_rest(json.dumps(doc).encode(), 1, None)}
    assert by["ZEC/USDC"].ts_event is None  # never traded: the venue's 0 is no time


async def test_alp_streams_from_its_simulator_and_answers_its_keepalive(tmp_path: Path) -> None:
    """The real adapter against the simulated venue: records of the two markets asked for
    only, and each keepalive "1" answered "2" (the simulator sends one a second)."""
    sim = VenueSim("alp", rate=100, seed=3)
    await sim.start()
    out: list[Ticker | Status] = []
    cfg = ExchangeConfig(
        venue="alp",
        symbols=("BTC/USDT", "ETH/USDT"),
        stale_after=2.0,
        open_timeout=2.0,
        **sim.endpoints(),  # type: ignore[arg-type]
    )
    task = asyncio.create_task(Adapter(ALP, cfg, out.append, tmp_path).run())
    try:
        async with asyncio.timeout(8):
            while 2 not in sim.received or len({r.symbol for r in _tickers(out)}) < 2:
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sim.stop()
    assert {r.symbol for r in _tickers(out)} == {"BTC/USDT", "ETH/USDT"}
    assert sim.received[0] == ["subscribe", "ticker.*"] and sim.connections == 1
    assert not [r for r in out if isinstance(r, Status) and r.state == "error"]


def _tickers(out: list[Ticker | Status]) -> list[Ticker]:
    return [r for r in out if isinstance(r, Ticker)]


# --- OKX US --------------------------------------------------------------------------------


def test_okxus_is_okx_on_its_own_hosts() -> None:
    assert issubclass(OKXUS, OKX) and OKXUS.parse_ws is OKX.parse_ws
    assert OKXUS.WS_URL == "wss://wsus.okx.com:443/ws/v5/public"
    assert OKXUS.REST_URL == "https://us.okx.com" and OKXUS.MARKETS_URL.startswith(OKXUS.REST_URL)
    assert modes("okxus") == ("ws", "rest")


def test_okxus_reads_the_recorded_okcoin_v5_tickers() -> None:
    """OKCoin's v5 frames (2023), the protocol OKX US serves: every push of a market
    followed is a record of okxus with the frame's values."""
    entry = json.loads((FIXTURES / "ws-beyond" / "okcoin.json").read_text())[0]
    c = codec(OKXUS)
    pushes = 0
    for m in entry["messages"]:
        frame = m["frame"]
        records = c.parse_ws(json.dumps(frame), 1)
        if "data" not in frame:
            assert records == []
            continue
        d = frame["data"][0]
        if c.lookup(d["instId"]) is None:
            assert records == []
            continue
        pushes += 1
        (r,) = records
        assert r.exchange == "okxus" and r.native == d["instId"]
        assert (r.bid, r.ask, r.last) == (float(d["bidPx"]), float(d["askPx"]), float(d["last"]))
        assert (r.volume, r.quote_volume) == (float(d["vol24h"]), float(d["volCcy24h"]))
        assert r.ts_event == int(d["ts"]) * 10**6
    assert pushes >= 6


def test_old_ids_lead_to_the_successors_with_a_warning() -> None:
    for old, new in (("okcoinusd", "okxus"), ("btcalpha", "alp")):
        r = venues.resolve(old)
        assert r.venue == new and r.warning and f"{old!r} is now {new!r}" in r.warning
    for eid in ("buda", "yobit"):
        assert venues.resolve(eid).warning is None


# --- YoBit ---------------------------------------------------------------------------------


def test_yobit_splits_many_pairs_into_urls_of_bounded_length() -> None:
    markets = [Market(f"C{i}/USDT", f"c{i}_usdt") for i in range(600)]
    reqs = YoBit(MarketTable(markets)).rest_requests("https://yobit.net", markets)
    assert len(reqs) > 1 and all(len(r.url) <= MAX_URL for r in reqs)
    asked = [p for r in reqs for p in r.url.split("/ticker/")[1].split("?")[0].split("-")]
    assert asked == [m.native for m in markets]  # each pair once, in order
    assert all(r.url.endswith("?ignore_invalid=1") for r in reqs)


def test_yobit_reads_its_recording_and_its_errors() -> None:
    c = codec(YoBit)
    body = json.loads((FIXTURES / "rest" / "yobit.json").read_text())[0]["httpResponse"]
    (r,) = c.parse_rest(json.dumps(body).encode(), 1, None)
    assert (r.volume, r.quote_volume) == (2.10398282, 151292.61340729)  # vol_cur, vol
    assert r.ts_event == 1710328237 * 10**9
    with pytest.raises(VenueError, match="Invalid pair name"):
        c.parse_rest(b'{"success":0,"error":"Invalid pair name: xxx_usdt"}', 1, None)
    hidden = YoBit.markets_from(snapshot_path("yobit").read_bytes())
    assert hidden.lookup("nmc_btc") is None  # "hidden": 1 is not traded


# --- Buda ----------------------------------------------------------------------------------


def test_buda_polls_each_market_within_its_limit_and_reads_amount_pairs() -> None:
    c = codec(Buda)
    ms = list(c.table.markets)[:3]
    reqs = c.rest_requests("http://127.0.0.1:1", ms)
    assert [r.url for r in reqs] == [
        f"http://127.0.0.1:1/api/v2/markets/{m.native.lower()}/ticker" for m in ms
    ]
    assert Buda.REST_RATE * 60 < 120  # 120 requests a minute unauthenticated
    assert modes("buda") == ("rest",)  # the realtime messages are not documented
    body = b'{"tickers":[{"market_id":"ETH-CLP","last_price":["1","CLP"],"volume":["2","ETH"]}]}'
    (r,) = c.parse_rest(body, 1, None)
    assert (r.symbol, r.last, r.volume, r.bid, r.ts_event) == ("ETH/CLP", 1.0, 2.0, None, None)
    with pytest.raises(VenueError, match="not_found"):
        c.parse_rest(b'{"message":"Not found","code":"not_found"}', 1, None)


# --- the table of ids ----------------------------------------------------------------------


def test_exchanges_prints_every_2019_id_and_the_venues_they_lead_to(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One row per 2019 id (124) and per venue an old id leads to under a new id; every
    row's detail says something; the README's counts are the command's. (The whole table
    in process; the filtered one through the command line.)"""
    assert cli.cmd_exchanges(argparse.Namespace(status=None)) == 0
    out = capsys.readouterr().out
    rows = [re.split(r"\s{2,}", line.strip(), maxsplit=2) for line in out.splitlines()[1:]]
    by = {row[0]: row for row in rows}
    assert len(by) == len(rows) and set(venues.all_2019_ids()) <= set(by)
    assert len(venues.all_2019_ids()) == 124
    new_ids = set(by) - set(venues.all_2019_ids())
    assert new_ids == venues.NEW_SINCE_2019 and {"alp", "okxus"} <= new_ids
    counts = {s: sum(row[1] == s for row in rows) for s in ("trading", "renamed", "closed")}
    assert sum(counts.values()) == len(rows) == 124 + len(new_ids)
    assert counts["trading"] == len(ADAPTERS) == len(venues.VENUES) == 48
    assert (counts["renamed"], counts["closed"], len(rows)) == (11, 72, 131)
    for eid, status, detail in rows:
        assert detail and detail != status, (eid, status, detail)  # never "closed  closed"
    assert by["alp"][2] == "adapter: ws+rest; successor of btcalpha"
    assert by["okcoinusd"][1:] == ["renamed", "now okxus"]
    assert by["bitmex"][1:] == ["closed", "closed 2026-09-23"]
    assert by["bitmart"][1:] == ["closed", "trading ended 2026-08-26"]
    assert by["exmo"][2] == "closing (2026)" and "liquidation (2026)" in by["bitbay"][2]
    assert by["yobit"][1:] == ["trading", "adapter: rest"]
    with pytest.raises(ClosedExchange, match=r"'bitmart' is closed \(trading ended 2026-08-26\)"):
        venues.resolve("bitmart")
    trading = run_cli("exchanges", "--status", "trading")
    assert trading.returncode == 0, trading.stderr
    listed = [line.split()[0] for line in trading.stdout.splitlines()[1:]]
    assert len(listed) == counts["trading"] and set(listed) == set(venues.VENUES)
    # The README says the same.
    intro = README.read_text().split("## Quick start")[0].replace("\n", " ")
    assert f"All {counts['trading']} venues that still trade" in intro
    assert f"lead to under a new id ({len(rows)} rows)" in intro
    assert f"the {len(new_ids)} venues that old ids" in intro
    assert f"the {counts['renamed']} old ids" in intro and f"the {counts['closed']} closed" in intro
    section = README.read_text().split("## Venues")[1].split("Each adapter is a codec")[0]
    for title, mode in (("fallback (", "ws"), ("REST polling only (", "rest")):
        n, names = section.split(title)[1].split(")", 1)[0].split(";")[0], section.split(title)[1]
        listed_names = names.split(":", 1)[1].split(".")[0].replace("\n", " ").split(", ")
        want = sorted(v for v in ADAPTERS if ("ws" in modes(v)) == (mode == "ws"))
        assert int(n) == len(want) and [s.strip() for s in listed_names] == want, title
