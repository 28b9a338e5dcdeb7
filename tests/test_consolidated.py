"""The consolidated view against books computed by hand: the best bid and ask across venues,
venues left out while down or flagged, crossed books, merged quote currencies, the throttle;
and the incremental best against a full reading of the book, on random updates."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.config import ConsolidatedConfig, loads
from aggregator.consolidated import BBO, BBO_FIELDS, Book, ConsolidatedView
from aggregator.errors import ConfigError
from aggregator.filters import check
from aggregator.hub import Hub
from aggregator.records import CROSSED, FLAGS, Derivative, Status, Ticker, dumps


class Bbos:
    """A sink that keeps the bbo records the hub is offered."""

    name = "bbos"

    def __init__(self) -> None:
        self.got: list[BBO] = []

    def offer(self, record: Any, line: bytes) -> None:
        if record.type == "bbo":
            assert orjson.loads(line)["seq"] == record.seq
            self.got.append(record)

    def offer_batch(self, records: list[Any], lines: list[bytes], venue: str | None = None) -> None:
        for r, line in zip(records, lines, strict=True):
            self.offer(r, line)


def make(interval: float = 0.001, groups: Any = ()) -> tuple[Hub, ConsolidatedView, Bbos]:
    hub = Hub()
    view = ConsolidatedView(ConsolidatedConfig(True, interval, groups), hub.latest, hub.publish)
    out = Bbos()
    hub.add_sink(view)
    hub.add_sink(out)
    return hub, view, out


_seq = 0


def quote(ex: str, sym: str, bid: float | None, bsz: float | None, ask: float | None,
          asz: float | None, flags: int = 0) -> Ticker:  # fmt: skip
    global _seq
    _seq += 1
    t = Ticker(ex, sym, sym.replace("/", ""), bid, bsz, ask, asz, ts_recv=_seq, seq=_seq)
    t.flags = FLAGS[flags]
    return t


async def settle(view: ConsolidatedView) -> None:
    """Until the view has nothing due (its records go out on the loop, never in an offer)."""
    for _ in range(200):
        await asyncio.sleep(0.002)
        if not any(b.pending for b in view.books.values()):
            return
    raise AssertionError("the view kept records due")


def side(r: BBO) -> tuple[Any, ...]:
    return (r.bid, r.bid_size, r.bid_exchange, r.ask, r.ask_size, r.ask_exchange, r.venues)


async def test_best_bid_and_ask_across_venues_as_computed_by_hand() -> None:
    hub, view, out = make()
    hub.publish(quote("kraken", "BTC/USD", 100.0, 1.0, 101.0, 2.0))
    hub.publish(quote("coinbase", "BTC/USD", 100.5, 0.5, 101.5, 1.0))
    hub.publish(quote("bitstamp", "BTC/USD", 99.0, 3.0, 100.8, 0.25))
    hub.publish(quote("kraken", "ETH/USD", 10.0, 1.0, 10.1, 1.0))
    assert out.got == []  # nothing published from inside an offer
    await settle(view)
    last = {r.symbol: r for r in out.got}
    btc = last["BTC/USD"]
    # bids 100.0, 100.5, 99.0: coinbase's; asks 101.0, 101.5, 100.8: bitstamp's
    assert side(btc) == (100.5, 0.5, "coinbase", 100.8, 0.25, "bitstamp", 3)
    assert (btc.type, btc.exchange, btc.quotes, btc.crossed) == ("bbo", "consolidated", None, False)
    assert side(last["ETH/USD"]) == (10.0, 1.0, "kraken", 10.1, 1.0, "kraken", 1)
    assert hub.latest[("bbo", "consolidated", "BTC/USD")] is btc  # in the socket's snapshot
    line = orjson.loads(dumps(btc))  # type: ignore[arg-type]
    assert tuple(line) == BBO_FIELDS
    # a best quote getting worse hands the side to the next: kraken's 100.0
    hub.publish(quote("coinbase", "BTC/USD", 98.0, 0.5, 101.5, 1.0))
    await settle(view)
    assert side(out.got[-1]) == (100.0, 1.0, "kraken", 100.8, 0.25, "bitstamp", 3)
    # an equal price: the larger size; then the exchange that sorts first
    hub.publish(quote("bitstamp", "BTC/USD", 100.0, 2.0, 100.8, 0.25))
    await settle(view)
    assert out.got[-1].bid_exchange == "bitstamp"
    hub.publish(quote("bitstamp", "BTC/USD", 100.0, 1.0, 100.8, 0.25))
    await settle(view)
    assert out.got[-1].bid_exchange == "bitstamp"  # ("bitstamp" < "kraken", same size)
    assert [r.seq for r in out.got] == sorted({r.seq for r in out.got})


async def test_stale_disconnected_and_flagged_venues_are_left_out_until_they_send_again() -> None:
    hub, view, out = make()
    hub.publish(quote("kraken", "BTC/USD", 100.0, 1.0, 101.0, 2.0))
    hub.publish(quote("coinbase", "BTC/USD", 100.5, 0.5, 101.5, 1.0))
    await settle(view)
    assert side(out.got[-1]) == (100.5, 0.5, "coinbase", 101.0, 2.0, "kraken", 2)
    hub.publish(Status("coinbase", "stale", "no data for 30s", seq=_seq + 1))
    await settle(view)
    assert side(out.got[-1]) == (100.0, 1.0, "kraken", 101.0, 2.0, "kraken", 1)
    hub.publish(Status("kraken", "disconnected", "reset", seq=_seq + 1))
    await settle(view)
    assert side(out.got[-1]) == (None, None, None, None, None, None, 0)  # said, not kept
    n = len(out.got)
    hub.publish(Status("kraken", "live", None, seq=_seq + 1))  # no quote yet: no change
    hub.publish(Status("coinbase", "fallback", "polling REST", seq=_seq + 1))
    await settle(view)
    assert len(out.got) == n
    hub.publish(quote("coinbase", "BTC/USD", 100.2, 0.5, 101.2, 1.0))
    await settle(view)
    assert side(out.got[-1]) == (100.2, 0.5, "coinbase", 101.2, 1.0, "coinbase", 1)
    # a venue's own crossed (flagged) book is left out; its next clean one comes back
    hub.publish(quote("kraken", "BTC/USD", 102.0, 1.0, 99.0, 1.0, CROSSED))
    await settle(view)
    assert out.got[-1].venues == 1 and out.got[-1].bid == 100.2
    hub.publish(quote("kraken", "BTC/USD", 100.1, 1.0, 100.9, 1.0))
    await settle(view)
    assert side(out.got[-1]) == (100.2, 0.5, "coinbase", 100.9, 1.0, "kraken", 2)


async def test_a_venues_spot_and_derivatives_go_down_apart() -> None:
    """One adapter per kind: a status of a venue's perpetuals leaves its spot quotes in."""
    hub, view, out = make()
    hub.publish(quote("binance", "BTC/USDT", 100.0, 1.0, 101.0, 1.0))
    perp = Derivative("binance", "BTC/USDT:USDT", "BTCUSDT", 100.2, 1.0, 100.3, 1.0, kind="perp")
    hub.publish(perp)
    await settle(view)
    assert {r.symbol: r.venues for r in out.got} == {"BTC/USDT": 1, "BTC/USDT:USDT": 1}
    hub.publish(Status("binance", "disconnected", "reset", kind="perp"))
    await settle(view)
    last = {r.symbol: r.venues for r in out.got}
    assert last == {"BTC/USDT": 1, "BTC/USDT:USDT": 0}


async def test_a_book_crossed_across_venues_is_said() -> None:
    hub, view, out = make()
    hub.publish(quote("kraken", "BTC/USD", 101.0, 1.0, 102.0, 1.0))
    hub.publish(quote("coinbase", "BTC/USD", 99.0, 1.0, 100.0, 1.0))
    await settle(view)
    r = out.got[-1]
    assert (r.bid, r.bid_exchange, r.ask, r.ask_exchange, r.crossed) == (
        101.0, "kraken", 100.0, "coinbase", True,
    )  # fmt: skip
    hub.publish(quote("kraken", "BTC/USD", 100.0, 1.0, 102.0, 1.0))  # touching: not crossed
    await settle(view)
    assert out.got[-1].crossed is False


async def test_quote_currencies_merged_by_a_group_and_apart_otherwise() -> None:
    hub, view, out = make(groups=(("USD", ("USDT", "USDC")),))
    hub.publish(quote("kraken", "BTC/USD", 100.0, 1.0, 101.0, 1.0))
    hub.publish(quote("binance", "BTC/USDT", 100.3, 1.0, 101.3, 1.0))
    hub.publish(quote("coinbase", "BTC/USDC", 99.0, 1.0, 100.9, 1.0))
    hub.publish(quote("kraken", "BTC/EUR", 90.0, 1.0, 91.0, 1.0))
    hub.publish(quote("okx", "BTC/USDT:USDT", 100.0, 1.0, 100.1, 1.0))  # a perp: its own
    await settle(view)
    last = {r.symbol: r for r in out.got}
    assert set(last) == {"BTC/USD", "BTC/EUR", "BTC/USDT:USDT"}
    usd = last["BTC/USD"]
    assert usd.quotes == ("USD", "USDC", "USDT")
    assert side(usd) == (100.3, 1.0, "binance", 100.9, 1.0, "coinbase", 3)
    assert last["BTC/EUR"].quotes is None


async def test_records_are_throttled_per_symbol_and_sent_only_on_change() -> None:
    hub, view, out = make(interval=0.05)
    for i in range(10):  # within one turn of the loop: one record each, of the latest
        hub.publish(quote("kraken", "BTC/USD", 100.0 + i, 1.0, 200.0, 1.0))
        hub.publish(quote("kraken", "ETH/USD", 10.0 + i, 1.0, 20.0, 1.0))
    await asyncio.sleep(0.01)
    assert sorted(r.bid or 0.0 for r in out.got) == [19.0, 109.0]
    for i in range(10):  # within the interval: held, then the latest
        hub.publish(quote("kraken", "BTC/USD", 110.0 + i, 1.0, 200.0, 1.0))
        hub.publish(quote("kraken", "ETH/USD", 20.0 + i, 1.0, 30.0, 1.0))
        await asyncio.sleep(0)
    assert len(out.got) == 2
    await asyncio.sleep(0.08)
    assert sorted(r.bid or 0.0 for r in out.got) == [19.0, 29.0, 109.0, 119.0]
    # a change undone within the interval sends nothing
    hub.publish(quote("kraken", "BTC/USD", 1.0, 1.0, 200.0, 1.0))
    hub.publish(quote("kraken", "BTC/USD", 119.0, 1.0, 200.0, 1.0))
    await asyncio.sleep(0.08)
    assert len(out.got) == 4
    hub.publish(quote("kraken", "BTC/USD", 2.0, 1.0, 200.0, 1.0))
    view.stop()  # nothing due is left on the loop, nothing more is taken
    assert not any(b.timer for b in view.books.values())
    hub.publish(quote("kraken", "BTC/USD", 3.0, 1.0, 200.0, 1.0))
    await asyncio.sleep(0.08)
    assert len(out.got) == 4


def test_the_bbo_filter_type_and_source() -> None:
    from aggregator.sinks.nats import subject_for
    from aggregator.subscribe import subjects

    assert subject_for("md", "bbo", "consolidated", "BTC/USD") == "md.bbo.consolidated.BTC-USD"
    assert subjects("md", types=["bbo"]) == ["md.bbo.*.*"]
    assert subjects("md", ["consolidated"], ["BTC/USD"], ["bbo"]) == ["md.bbo.consolidated.BTC-USD"]
    f = check(["consolidated"], ["BTC/USD"], ["bbo"]).filter()
    assert f is not None
    r = BBO("consolidated", "BTC/USD", None, 1.0, 1.0, "kraken", 2.0, 1.0, "kraken", 1)
    assert f.match(r)  # type: ignore[arg-type]
    t = Ticker("kraken", "BTC/USD", "XBT/USD")
    assert not f.match(t)


def test_the_config_groups_and_the_web_listen() -> None:
    cfg = loads('[consolidated]\ninterval = 0.5\n[consolidated.groups]\nUSD = ["USDT", "USDC"]\n')
    assert cfg.consolidated == ConsolidatedConfig(False, 0.5, (("USD", ("USDT", "USDC")),))
    bad = {
        '[consolidated.groups]\nUSD = "USDT"\n': "consolidated.groups.USD: expected a list",
        '[consolidated.groups]\nUSD = ["USDT"]\nEUR = ["USDT"]\n': "already in the group 'USD'",
        '[consolidated.groups]\nUSD = ["usdt"]\n': "expected currency codes",
        "[consolidated]\ninterval = 0\n": "consolidated.interval: expected a number",
        '[web]\nlisten = "0.0.0.0:8080"\n': "web.listen: '0.0.0.0:8080' is reachable from other",
        '[web]\nlisten = "8080"\n': "web.listen: expected 'HOST:PORT'",
        "[web]\nport = 1\n": "web.port: unknown key",
        "[consolidated]\ngroup = 1\n": "expected one of: enabled, groups, interval",
    }
    for text, message in bad.items():
        with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
            loads(text)
    web = loads('[web]\nlisten = "0.0.0.0:8080"\nallow_remote = true\n').web
    assert web.listen == "0.0.0.0:8080"


prices = st.sampled_from([None, 99.0, 100.0, 100.5, 101.0])
sizes = st.sampled_from([None, 1.0, 2.0])
updates = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d"]),
        st.none() | st.tuples(prices, sizes, prices, sizes),
    ),
    max_size=40,
)


@settings(max_examples=100, deadline=None)
@given(updates)
def test_the_incremental_best_is_the_best_of_a_full_reading(steps: Any) -> None:
    book = Book("X/Y", None)
    for ex, q in steps:
        book.update((ex, "X/Y"), q)
        assert book.best_bid == book._best(0)
        assert book.best_ask == book._best(2)
