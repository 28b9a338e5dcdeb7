"""Codec faults found on real recorded frames, one test per class.

- Times: every unit (s, ms, µs, ns), every form (int, float, decimal string) and every
  venue's unit, checked against the time the frames were recorded.
- Channels: a frame of a channel that is not a ticker or book channel the codec
  subscribed never becomes a ticker record.

Recorded frames: ../shared/fixtures (copied into tests/fixtures, provenance in each entry's
`source`) and the multi-channel sessions in tests/fixtures/sessions (see its README).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.adapters.registry import codec_class
from aggregator.errors import VenueError
from aggregator.records import Ticker
from aggregator.sim import VenueSim
from aggregator.symbols import Market, MarketTable, snapshot_path
from aggregator.timestamps import (
    MICROS,
    MILLIS,
    NANOS,
    NS_MAX,
    SECONDS,
    epoch_to_ns,
    iso_to_ns,
    ms_to_ns,
    seconds_to_ns,
    to_ns,
    us_to_ns,
)

from .test_adapters_live import start  # noqa: F401 (the fixture)

FIXTURES = Path(__file__).parent / "fixtures"
UNITS = (SECONDS, MILLIS, MICROS, NANOS)
DIGITS = {SECONDS: 9, MILLIS: 6, MICROS: 3, NANOS: 0}
EARLIEST_INFERRED = 10**17  # ns: 1973-03-03T09:46:40Z, where inference starts to be exact


def codec(venue: str):
    cls = codec_class(venue)
    return cls(cls.markets_from(snapshot_path(venue).read_bytes()))


def entries(kind: str, venue: str) -> list[dict]:
    return json.loads((FIXTURES / kind / f"{venue}.json").read_text())


# --- the time helper --------------------------------------------------------------------


@pytest.mark.parametrize("unit", UNITS)
def test_every_unit_at_the_edges_of_its_range(unit: int) -> None:
    last = NS_MAX // unit  # the last time of the unit that the record can carry
    for value in (0, 1, last):
        assert to_ns(value, unit) == value * unit
        assert to_ns(str(value), unit) == value * unit
    for outside in (-1, last + 1, 10**40):
        assert to_ns(outside, unit) is None
        assert to_ns(str(outside), unit) is None
    half = int(float(last // 2))  # a float that holds an integer exactly
    assert to_ns(float(half), unit) == half * unit
    bad: object  # (the values below have no common type but object)
    for bad in (True, False, None, "", " ", "abc", "1.2.3", "NaN", "inf", "-inf", [1], {}):
        assert to_ns(bad, unit) is None
    for bad_float in (float("nan"), float("inf"), -1.0, 1e300):
        assert to_ns(bad_float, unit) is None


@pytest.mark.parametrize("unit", UNITS)
@given(data=st.data())
def test_decimal_strings_keep_every_digit(unit: int, data: st.DataObject) -> None:
    whole = data.draw(st.integers(0, NS_MAX // unit - 1))
    frac = data.draw(st.text("0123456789", min_size=1, max_size=12))
    want = whole * unit + (int(frac[: DIGITS[unit]].ljust(DIGITS[unit], "0")) if unit > 1 else 0)
    assert to_ns(f"{whole}.{frac}", unit) == (want if want <= NS_MAX else None)
    assert to_ns(f" {whole} ", unit) == whole * unit


@pytest.mark.parametrize("unit", UNITS)
@given(data=st.data())
def test_integral_floats_are_exact(unit: int, data: st.DataObject) -> None:
    value = data.draw(st.integers(0, min(2**53, NS_MAX // unit)))
    assert to_ns(float(value), unit) == value * unit


@pytest.mark.parametrize("unit", UNITS)
@given(t=st.integers(EARLIEST_INFERRED, NS_MAX))
def test_the_inferred_unit_is_the_one_the_time_was_written_in(unit: int, t: int) -> None:
    """Any time from 1973 to 2262, written in any unit, as an int or a string."""
    value = t // unit
    assert epoch_to_ns(value) == value * unit
    assert epoch_to_ns(str(value)) == value * unit


def test_inference_thresholds() -> None:
    assert epoch_to_ns(NS_MAX // SECONDS) == NS_MAX // SECONDS * SECONDS  # 2262, in seconds
    assert epoch_to_ns(10**11 - 1) is None  # the year 5138, in seconds: past the record
    assert epoch_to_ns(10**11) == 10**11 * MILLIS  # 1973-03-03, in ms
    assert epoch_to_ns(NS_MAX // MILLIS) == NS_MAX // MILLIS * MILLIS
    assert epoch_to_ns(10**14 - 1) is None  # 5138 in ms
    assert epoch_to_ns(10**14) == 10**14 * MICROS
    assert epoch_to_ns(NS_MAX // MICROS) == NS_MAX // MICROS * MICROS
    assert epoch_to_ns(10**17 - 1) is None  # 5138 in µs
    assert epoch_to_ns(10**17) == 10**17
    assert epoch_to_ns(1786613070.5) == 1786613070500000000
    for bad in (-1, "-1", None, True, "abc", float("nan"), 10**40):
        assert epoch_to_ns(bad) is None


def test_shorthands_are_the_declared_units() -> None:
    assert seconds_to_ns("1710328241.123") == 1710328241123000000
    assert ms_to_ns("1710328237798") == ms_to_ns(1710328237798) == 1710328237798000000
    assert ms_to_ns(1710328237798.5) == 1710328237798500000
    assert us_to_ns(1786614360922940) == 1786614360922940000
    assert ms_to_ns(NS_MAX // MILLIS + 1) is None and ms_to_ns(-1) is None


def test_lbank_times_in_utc8_stay_in_range() -> None:
    from aggregator.adapters.lbank import _ts

    assert _ts("2019-07-01T11:33:55.188") == 1561952035188000000  # 03:33:55.188 UTC
    assert _ts("1970-01-01T07:00:00") is None  # before the epoch once made UTC


# --- Upbit and Bithumb: times in microseconds ---------------------------------------------


# The time each venue's ticker carries: Upbit's is its last trade's, Bithumb's the ticker's
# own where sent (its REST answers), else the last trade's.
TICKER_TIME = {"upbit": ("trade_timestamp",), "bithumb": ("timestamp", "trade_timestamp")}


@pytest.mark.parametrize("venue", ["upbit", "bithumb"])
@pytest.mark.parametrize("as_text", [False, True])
def test_microsecond_times_are_read_as_microseconds(venue: str, as_text: bool) -> None:
    """The recorded ticker frames with their times in µs (the recorded ms * 1000): ts_event
    is the frame's value * 1000, as for the frames in ms it is the value * 1e6."""
    c = codec(venue)
    checked = 0
    for entry in entries("ws", venue):
        for frame in entry["messages"]:
            if frame.get("type") != "ticker":
                continue
            key = next(k for k in TICKER_TIME[venue] if k in frame)
            (rec,) = c.parse_ws(json.dumps(frame), 1)
            assert rec.ts_event == int(frame[key]) * 1_000_000
            micro = {
                k: (str(int(v) * 1000) if as_text else int(v) * 1000)
                if k in ("timestamp", "trade_timestamp")
                else v
                for k, v in frame.items()
            }
            (rec,) = c.parse_ws(json.dumps(micro), 1)
            assert rec.ts_event == int(micro[key]) * 1000
            checked += 1
    assert checked
    # Order books (the top of book's time), as the REST answer gives them.
    book = {
        "market": "KRW-BTC",
        "timestamp": "1786613070431123" if as_text else 1786613070431123,
        "orderbook_units": [{"ask_price": 2.0, "bid_price": 1.0, "ask_size": 1, "bid_size": 1}],
    }
    (rec,) = c.parse_rest(json.dumps([book]).encode(), 1, None)
    assert rec.ts_event == 1786613070431123000


# --- channels: only ticker and book channels the codec subscribed make records -------------


class EveryId(MarketTable):
    """A market table that knows every id, so that only the codec's routing of channels
    decides which frames become records (a real table would hide a misrouted frame of a
    market it does not list)."""

    def __init__(self) -> None:
        super().__init__([])
        self.lookup = self._any

    @staticmethod
    def _any(native: object) -> Market | None:
        return Market(f"{native}/ANY", native) if isinstance(native, str) and native else None


def _params_channel(msg: Any) -> str:
    params = msg.get("params") if isinstance(msg, dict) else None
    return str(params.get("channel", "")) if isinstance(params, dict) else ""


KUCOIN_TOPICS = ("/market/ticker:", "/market/snapshot:")
# Per venue: is this frame of a ticker or book channel the codec subscribes? (Frames of every
# other channel must make no record, and no error either.) Bitfinex's frames name their
# channel by the id its "subscribed" answer gave.
OURS: dict[str, Callable[[Any, dict[int, str]], bool]] = {
    "binance": lambda m, _: "e" not in m or m["e"] == "24hrTicker",  # bookTicker has no "e"
    "bitfinex": lambda m, ids: isinstance(m, list) and ids.get(m[0]) == "ticker",
    "bitflyer": lambda m, _: _params_channel(m).startswith("lightning_ticker_"),
    "bitstamp": lambda m, _: str(m.get("channel", "")).startswith("order_book_"),
    "coinbaseexchange": lambda m, _: m.get("type") == "ticker",
    "deribit": lambda m, _: _params_channel(m).startswith(("ticker.", "quote.")),
    "gate": lambda m, _: m.get("channel") in ("spot.tickers", "spot.book_ticker"),
    "hitbtc": lambda m, _: str(m.get("ch", "")).startswith(("ticker/price/", "orderbook/top/")),
    "htx": lambda m, _: str(m.get("ch", "")).split(".")[2:] in (["ticker"], ["bbo"], ["detail"]),
    "independentreserve": lambda m, _: str(m.get("Event", "")).startswith("OrderBook"),
    "kucoin": lambda m, _: str(m.get("topic", "")).startswith(KUCOIN_TOPICS),
    "okx": lambda m, _: "data" in m and m["arg"].get("channel") in ("tickers", "bbo-tbt"),
    "poloniex": lambda m, _: m.get("channel") in ("ticker", "book"),
}


def sessions() -> list[Any]:
    return [
        pytest.param(path.stem, entry, id=path.stem)
        for path in sorted((FIXTURES / "sessions").glob("*.json"))
        for entry in json.loads(path.read_text())
    ]


def replay(venue: str, entry: dict) -> list[tuple[Any, list[Ticker]]]:
    """Every frame of a session through the venue's codec: (the frame parsed, its records)."""
    cls = codec_class(venue)
    c = cls(EveryId())
    c.subscribe([])
    out = []
    for m in entry["messages"]:
        ts_recv = round(m.get("recv_ts", 0) * 1e9)
        out.append((json.loads(m["raw"]), c.parse_ws(m["raw"], ts_recv)))
    return out


@pytest.mark.parametrize(("venue", "entry"), sessions())
def test_only_ticker_and_book_channels_make_records(venue: str, entry: dict) -> None:
    """A recorded session with trades, books and candles besides the tickers: the frames of
    other channels make no record and raise nothing; the ticker frames make records."""
    ids: dict[int, str] = {}
    ours = others = made = 0
    for msg, records in replay(venue, entry):
        if isinstance(msg, dict) and msg.get("event") == "subscribed":
            ids[msg["chanId"]] = msg["channel"]
        if OURS[venue](msg, ids):
            ours += 1
            made += len(records)
        else:
            others += 1
            assert records == [], f"a frame of another channel made records: {str(msg)[:200]}"
    assert others
    if ours:
        assert made


def bitfinex_ticker_rows(entry: dict) -> list[tuple[str, list[Any]]]:
    """(symbol, row) of every data frame of a ticker channel in a recorded Bitfinex session,
    the channel told by the "subscribed" answer that gave its id."""
    channels: dict[int, tuple[str, str]] = {}
    out = []
    for m in entry["messages"]:
        msg = json.loads(m["raw"])
        if isinstance(msg, dict) and msg.get("event") == "subscribed":
            channels[msg["chanId"]] = (msg["channel"], msg["symbol"])
        elif isinstance(msg, list) and msg[1] != "hb" and channels[msg[0]][0] == "ticker":
            out.append((channels[msg[0]][1], msg[1]))
    return out


def test_bitfinex_session_makes_tickers_of_ticker_rows_only() -> None:
    """Trades and book snapshots, and their updates, were read as ticker rows: all-null
    records for the snapshots, parse errors for the updates."""
    (entry,) = json.loads((FIXTURES / "sessions" / "bitfinex.json").read_text())
    want = [
        (symbol, row[0], row[2], row[6], row[7], row[8], row[9])
        for symbol, row in bitfinex_ticker_rows(entry)
    ]
    got = [
        (r.native, r.bid, r.ask, r.last, r.volume, r.high, r.low)
        for _, records in replay("bitfinex", entry)
        for r in records
    ]
    assert len(want) >= 14  # 7 markets' snapshots and their updates
    assert got == want


# --- a time under another documented key ------------------------------------------------


def test_gate_pushes_without_time_ms_take_time_in_seconds() -> None:
    """Gate's 2021 pushes carry only ``time`` (s); today's add ``time_ms``."""
    (entry,) = json.loads((FIXTURES / "sessions" / "gate.json").read_text())
    checked = 0
    for msg, records in replay("gate", entry):
        if msg.get("channel") != "spot.tickers" or msg.get("event") != "update":
            continue
        assert "time_ms" not in msg
        assert [r.ts_event for r in records] == [msg["time"] * 1_000_000_000]
        checked += 1
    assert checked >= 5
    c = codec_class("gate")(EveryId())
    book = {"time": 1606293275, "channel": "spot.book_ticker", "event": "update"}
    book["result"] = {"u": 48733182, "s": "BTC_USDT", "b": "19177.79", "B": "0.5", "a": "19179.38"}
    (rec,) = c.parse_ws(json.dumps(book), 1)
    assert rec.ts_event == 1606293275 * 1_000_000_000  # no "t": the push's time
    (rec,) = c.parse_ws(json.dumps({**book, "time_ms": 1606293275723}), 1)
    assert rec.ts_event == 1606293275723 * 1_000_000


# --- every venue's times against the time its frames were recorded ----------------------

DAY_NS = 86_400 * SECONDS
# Times a frame may carry: 2015 to 2030, in any unit (epoch_to_ns), or RFC 3339 text.
PLAUSIBLE = (1_420_070_400 * SECONDS, 1_893_456_000 * SECONDS)


def carried_times(value: Any) -> list[int]:
    """Every value in a frame that reads as a time between 2015 and 2030, in ns."""
    if isinstance(value, dict):
        return [t for v in value.values() for t in carried_times(v)]
    if isinstance(value, list):
        return [t for v in value for t in carried_times(v)]
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return []
    ns = iso_to_ns(value) if isinstance(value, str) and "T" in value else epoch_to_ns(value)
    return [ns] if ns is not None and PLAUSIBLE[0] <= ns <= PLAUSIBLE[1] else []


def frame_text(m: dict) -> str:
    return m["raw"] if "raw" in m else json.dumps(m["frame"])


def live_sessions() -> list[tuple[str, str, dict]]:
    """(venue, label, entry) of every recording with receipt times that a codec reads:
    the multi-channel sessions, OKCoin (OKX's protocol) and the derivatives captures."""
    out = []
    for kind, venues in (
        ("sessions", None),
        ("ws-beyond", {"okcoin": "okx", "ascendex": "ascendex"}),
        (
            "ws-derivatives",
            {
                "okx": "okx",
                "deribit": "deribit",
                "bitflyer": "bitflyer",
                "gate": "gate",
                "htx": "htx",
            },
        ),
    ):
        for path in sorted((FIXTURES / kind).glob("*.json")):
            venue = path.stem if venues is None else venues.get(path.stem)
            if venue is None:
                continue
            for i, entry in enumerate(json.loads(path.read_text())):
                out.append((venue, f"{kind}/{path.stem}[{i}]", entry))
    return out


def reference_times_of(entry: dict) -> list[int]:
    """The times (ns) the reference parse gave for one recorded entry."""
    out = []
    for ref in entry.get("parsedResponses") or [entry.get("parsedResponse")]:
        if isinstance(ref, dict) and "timestamp" not in ref and ref:
            ref = next(iter(ref.values()))
        if isinstance(ref, dict) and isinstance(ref.get("timestamp"), int):
            out.append(ref["timestamp"] * MILLIS)
    return out


def reference_times(venue: str) -> list[int]:
    """The times (ns) the reference parse gave for a venue's recorded entries."""
    out = []
    for kind in ("ws", "rest"):
        path = FIXTURES / kind / f"{venue}.json"
        if not path.exists():
            continue
        for entry in json.loads(path.read_text()):
            out += reference_times_of(entry)
    return out


def check_times(label: str, frame: Any, records: list[Ticker], near: tuple[int, int]) -> int:
    """Each record of a frame that carries a time has a ts_event within ``near``."""
    if not records or not carried_times(frame):
        return 0
    for r in records:
        assert r.ts_event is not None, f"{label}: the frame carries a time, ts_event is null"
        assert near[0] <= r.ts_event <= near[1], f"{label}: ts_event {r.ts_event} not in {near}"
    return len(records)


def corpus_window() -> tuple[int, int]:
    """From the first to the last time the reference parsed, over every recorded venue."""
    times = [t for p in (FIXTURES / "rest").glob("*.json") for t in reference_times(p.stem)]
    times += [t for p in (FIXTURES / "ws").glob("*.json") for t in reference_times(p.stem)]
    return min(times) - DAY_NS, max(times) + DAY_NS


def recorded_venues() -> list[str]:
    venues = {v for v, _, _ in live_sessions()}
    venues |= {p.stem for kind in ("ws", "rest") for p in (FIXTURES / kind).glob("*.json")}
    return sorted(venues)


def ccxt_entries(kind: str, venue: str) -> list[tuple[str, dict]]:
    path = FIXTURES / kind / f"{venue}.json"
    if not path.exists():
        return []
    return [(f"{kind}/{venue}[{i}]", e) for i, e in enumerate(json.loads(path.read_text()))]


def entry_symbol(entry: dict) -> str | None:
    symbol = (entry.get("input") or [None])[0]
    return symbol[0] if isinstance(symbol, list) else symbol


@pytest.mark.parametrize("venue", recorded_venues())
def test_recorded_times_are_near_the_recording(venue: str) -> None:
    """Every record made of a recorded frame (or REST answer) that carries a time has a
    ts_event, within a day of when it was recorded: the recorder's receipt time where the
    recording has one; else the reference library's parse of the same entry; else any of
    its parses of the venue's entries; else the span of all its parses (a time in the wrong
    unit is off by a factor of 1,000 or more, far outside any of these)."""
    refs = reference_times(venue)
    window = (min(refs) - DAY_NS, max(refs) + DAY_NS) if refs else corpus_window()
    checked = 0
    for v, label, entry in live_sessions():
        if v != venue:
            continue
        c = codec_class(venue)(EveryId())
        c.subscribe([])
        for m in entry["messages"]:
            text = frame_text(m)
            records = c.parse_ws(text, 1)
            near = window
            if "recv_ts" in m:
                at = round(m["recv_ts"] * SECONDS)
                near = (at - DAY_NS, at + DAY_NS)
            checked += check_times(label, json.loads(text), records, near)
    table = None
    for kind in ("ws", "rest"):
        for label, entry in ccxt_entries(kind, venue):
            table = table or codec(venue).table
            market = table.by_symbol.get(entry_symbol(entry) or "")
            if market is None:
                continue  # a derivative, or a market the venue has since delisted
            c = codec_class(venue)(table)
            refs_here = reference_times_of(entry)
            near = (min(refs_here) - DAY_NS, max(refs_here) + DAY_NS) if refs_here else window
            if kind == "ws":
                c.subscribe([market])
                for frame in entry["messages"]:
                    try:
                        records = c.parse_ws(json.dumps(frame), 1)
                    except VenueError:
                        break  # a recorded sequence gap: the session would end here
                    checked += check_times(label, frame, records, near)
            elif entry["method"].startswith("fetchTicker"):
                records = c.parse_rest(json.dumps(entry["httpResponse"]).encode(), 1, market)
                checked += check_times(label, entry["httpResponse"], records, near)
    if venue not in NO_RECORDED_TIME:
        assert checked, f"no record of {venue} carries a time"


# Venues whose recorded frames and answers carry no time at all.
NO_RECORDED_TIME = {"ascendex", "bitfinex", "bigone", "coinex", "whitebit"}


async def test_bitfinex_session_replayed_to_an_adapter_over_a_socket(start) -> None:  # noqa: F811
    """The recorded session sent by a local server to a running adapter: the records are the
    ticker rows, and no frame of the trades or book channels is counted as an error."""
    (entry,) = json.loads((FIXTURES / "sessions" / "bitfinex.json").read_text())
    frames = [m["raw"] for m in entry["messages"]]
    subscribed = [json.loads(f) for f in frames if '"subscribed"' in f]
    pairs = sorted({s["pair"] for s in subscribed})
    markets = json.dumps([pairs]).encode()  # the venue's markets answer, of the session's pairs
    table = codec_class("bitfinex").markets_from(markets)
    want = [
        (symbol, row[0], row[2], row[6])
        for symbol, row in bitfinex_ticker_rows(entry)
        if table.lookup(symbol) is not None
    ]
    sim = VenueSim("bitfinex", rate=0, replay=frames, markets_body=markets)
    await sim.start()
    run = await start(
        "bitfinex", sim=sim, symbols=tuple(m.symbol for m in table.markets), stale_after=30.0
    )
    await run.until(lambda: len(run.tickers()) >= len(want))
    await asyncio.sleep(0.3)  # the rest of the replay, had it made any more
    assert [(r.native, r.bid, r.ask, r.last) for r in run.tickers()] == want
    assert "error" not in run.states()
