"""Derivatives codecs of bitfinex, htx, gate, kucoin, kraken, bitflyer and coinex: recorded
or documented frames to records (units, contract sizes), bad payloads, merges of partial
updates, and a live session of each against its simulator through the real adapter."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from aggregator.adapters.base import Codec
from aggregator.adapters.registry import codec_class
from aggregator.adapters.runner import Adapter
from aggregator.config import ExchangeConfig
from aggregator.errors import ParseError, VenueError
from aggregator.records import Derivative, Status, Ticker
from aggregator.sim import VenueSim
from aggregator.sim.dialects import simulated_derivatives
from aggregator.symbols import snapshot_path

FIXTURES = Path(__file__).parent / "fixtures"
NS = 1_000_000_000
MS = 1_000_000
BAD = [
    b"",
    b"<html><body>502 Bad Gateway</body></html>",
    b'{"truncated": ',
    b"[]",
    b"{}",
    b"null",
    b"[null]",
    b'{"data": null}',
    b'{"result": "NaN"}',
    b'"text"',
]
# The (venue, kind) pairs of this file's codecs.
MINE = [
    ("gate", "perp"),
]


def codec(venue: str, kind: str, rows: bytes | None = None) -> Codec:
    """The codec of a venue's kind on its shipped markets (or on ``rows``)."""
    cls = codec_class(venue, kind)
    body = rows if rows is not None else snapshot_path(f"{venue}-{kind}").read_bytes()
    return cls(cls.markets_from(body))


def frames(name: str, index: int = 0) -> list[str]:
    """The frames of one recorded entry of tests/fixtures/ws-derivatives/NAME.json."""
    entry = json.loads((FIXTURES / "ws-derivatives" / f"{name}.json").read_text())[index]
    return [json.dumps(m["frame"]) for m in entry["messages"]]


def parse_all(c: Codec, raws: list[str]) -> list[Ticker]:
    out: list[Ticker] = []
    for i, raw in enumerate(raws):
        out.extend(c.parse_frame(raw, i + 1))
    return out


def settled(records: list[Ticker]) -> dict[str, Ticker]:
    """The records merged per market as the runner merges them (MERGE codecs)."""
    last: dict[str, Ticker] = {}
    for r in records:
        r.settle(last.get(r.symbol))
        last[r.symbol] = r
    return last


def values(r: Ticker, *names: str) -> tuple[Any, ...]:
    return tuple(getattr(r, n) for n in names)


TOP = ("bid", "bid_size", "ask", "ask_size")
DERIV = ("mark", "index", "funding_rate", "funding_ts", "open_interest")


# --- every codec --------------------------------------------------------------------------


@pytest.mark.parametrize(("venue", "kind"), MINE)
def test_markets_are_of_their_kind_with_unified_symbols(venue: str, kind: str) -> None:
    c = codec(venue, kind)
    assert c.MERGE and c.venue == venue
    assert len(c.table) >= 2
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
        '"low_24h":"88000","funding_rate_indicative":"0.0001"}]}'
    )
    (r,) = settled(parse_all(c, [book, ticker])).values()
    assert r.symbol == "BTC/USDT:USDT" and r.native == "BTC_USDT"
    assert values(r, *TOP) == (89270.1, 0.15, 89270.2, 0.02505)
    assert values(r, "last", "high", "low", "volume", "quote_volume") == (
        89270.3, 90000.0, 88000.0, 120.0, 10712400.0
    )  # fmt: skip
    assert values(r, *DERIV) == (89271.5, 89280.9, -0.000114, None, 48762.1033)
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


# --- live sessions against the simulators ---------------------------------------------------


def of_kind(kind: str) -> dict[str, str]:
    """The config's kind of market, where the config has one (an adapter per kind)."""
    return {"kind": kind} if "kind" in {f.name for f in dataclasses.fields(ExchangeConfig)} else {}


async def run_adapter(
    venue: str, kind: str, mode: str, tmp: Path, until: int = 2
) -> list[Ticker | Status]:
    """An adapter of the venue's kind against its simulator until every symbol has a record
    with a mark (or ``until`` records per symbol in REST mode); what it published."""
    sim = VenueSim(venue, rate=200, seed=7, kind=kind)
    await sim.start()
    markets = sim.dialect.markets[:2]
    settings: dict[str, Any] = dict(
        venue=venue,
        mode=mode,
        symbols=tuple(m.symbol for m in markets),
        stale_after=2.0,
        backoff_initial=0.05,
        backoff_max=0.2,
        poll_interval=0.1,
        open_timeout=2.0,
        request_timeout=2.0,
        **sim.endpoints(),
        **of_kind(kind),
    )
    cfg = ExchangeConfig(**settings)
    out: list[Ticker | Status] = []
    adapter = Adapter(codec_class(venue, kind), cfg, out.append, tmp / "state")
    task = asyncio.create_task(adapter.run())

    def done() -> bool:
        full = [t for t in out if isinstance(t, Derivative) and t.mark and t.bid]
        return {t.symbol for t in full} == set(cfg.symbols) and len(full) >= until

    try:
        async with asyncio.timeout(8):
            while not done():
                await asyncio.sleep(0.02)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sim.stop()
    return out


@pytest.mark.parametrize("mode", ["ws", "rest"])
@pytest.mark.parametrize(("venue", "kind"), MINE)
async def test_streams_and_polls_the_simulator(
    venue: str, kind: str, mode: str, tmp_path: Path
) -> None:
    assert (venue, kind) in simulated_derivatives()
    out = await run_adapter(venue, kind, mode, tmp_path)
    states = [r.state for r in out if isinstance(r, Status)]
    assert states[:2] == ["starting", "connecting"] and "live" in states
    full = [t for t in out if isinstance(t, Derivative) and t.mark and t.bid]
    for t in full:
        assert t.exchange == venue and t.kind == kind and t.flags is None
        assert t.bid is not None and t.ask is not None and t.bid < t.ask
        assert t.mark is not None and t.bid * 0.99 < t.mark < t.ask * 1.01
        assert t.bid_size is not None and t.bid_size > 0
        assert t.funding_rate is not None
