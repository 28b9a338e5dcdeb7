"""Fuzz: every venue's codec on mutated recorded payloads raises nothing but VenueError.

Seeds per venue: the recorded payloads of tests/fixtures (rest/, rest-doc/, ws/) and, where
the directory is there, of ../shared/fixtures beside the repository; the frames and REST
bodies of the venue's simulated dialect (acks, data, heartbeats); the markets snapshot.
Each is fed as recorded and mutated (see tests/chaos/fuzz.py) to the stream parser (through
``Codec.parse_frame``, on a codec that went through ``subscribe`` as the runner's does), the
REST parser and the markets parser. Allowed outcomes: records whose fields have the right
types (floats finite or null, integer-ns times that serialise), [] or a VenueError
(ParseError, VenueNotice, RateLimited). Anything else fails the test with its input.
"""

from __future__ import annotations

import functools
import json
import math
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.adapters.base import Codec
from aggregator.adapters.registry import available, codec_class, modes
from aggregator.errors import ParseError, VenueError, VenueNotice
from aggregator.records import FLAGS, MARKET_FIELDS, PRICE_FIELDS, SIZE_FIELDS, Ticker, dumps
from aggregator.sim.dialects import ConnState, simulated
from aggregator.sim.server import VenueSim
from aggregator.symbols import Market, MarketTable, snapshot_path
from aggregator.venues import VENUES
from tests.chaos.conftest import Chaos
from tests.chaos.fuzz import examples, fuzz_settings, mutated
from tests.test_codecs import FIXTURES, codec, fixture_entries

SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
ROOTS = [FIXTURES, *([SHARED] if SHARED.is_dir() else [])]
EXAMPLES = {"ws": 100, "rest": 80, "markets": 30}  # per venue, in CI
TS = 1_786_562_853_489_674_268


@dataclass
class Seeds:
    ws: list[str | bytes] = field(default_factory=list)
    rest: list[tuple[bytes, str | None]] = field(default_factory=list)  # body, its symbol


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _symbol(entry: dict) -> str | None:
    inputs = entry.get("input") or [None]
    symbol = inputs[0][0] if isinstance(inputs[0], list) and inputs[0] else inputs[0]
    return symbol if isinstance(symbol, str) else None


@functools.cache
def seeds(venue: str) -> Seeds:
    out = Seeds()
    for root in ROOTS:
        for kind in ("rest", "rest-doc", "ws"):
            for path, _, e in fixture_entries(kind, root):
                if path.stem != venue:
                    continue
                symbol = _symbol(e)
                if kind == "ws":
                    out.ws.extend(_text(m) for m in e.get("messages", []))
                elif "httpResponse" in e:
                    out.rest.append((_text(e["httpResponse"]).encode(), symbol))
    if venue in simulated():
        _simulated(venue, out)
    out.ws = list(dict.fromkeys(out.ws))
    out.rest = list(dict.fromkeys(out.rest))
    return out


def _simulated(venue: str, out: Seeds) -> None:
    """What the venue's simulated dialect sends to a client of our codec, and its REST bodies."""
    sim = VenueSim(venue, seed=1)
    dialect, quotes = sim.dialect, sim.quotes
    c = subscribed(venue)
    markets = list(c.table.markets)
    if "ws" in modes(venue):
        state = ConnState()
        out.ws.extend(dialect.on_connect(state))
        for message in c.subscribe(markets):
            out.ws.extend(dialect.on_message(state, orjson.loads(message)))
        for native in sorted(state.subscribed):
            if native in quotes:
                out.ws.extend(dialect.tick(state, quotes[native]))
                out.ws.extend(dialect.tick(state, quotes[native]))
        out.ws.extend(dialect.heartbeat(state))
    for req in c.rest_requests("http://127.0.0.1", markets):
        url = urlsplit(req.url)
        status, body = dialect.rest(url.path, dict(parse_qsl(url.query)), quotes)
        if status == 200:
            data = body if isinstance(body, bytes) else orjson.dumps(body)
            out.rest.append((data, req.market.symbol if req.market else None))


@functools.cache
def table(venue: str) -> MarketTable:
    """The markets a connection subscribes to: those the fixtures name, and a few more."""
    full = codec(venue).table
    named = [full.by_symbol[s] for s in seeds_symbols(venue) if s in full.by_symbol]
    return MarketTable(list(dict.fromkeys([*named, *full.markets[:3]])))


def seeds_symbols(venue: str) -> list[str]:
    symbols = []
    for root in ROOTS:
        for kind in ("rest", "rest-doc", "ws"):
            for path, _, e in fixture_entries(kind, root):
                if path.stem == venue and (symbol := _symbol(e)):
                    symbols.append(symbol)
    return symbols


def subscribed(venue: str) -> Codec:
    """A codec for one connection, after its subscribe messages (the runner's order)."""
    c = codec_class(venue)(table(venue))
    if "ws" in modes(venue):
        c.subscribe(list(c.table.markets))
    return c


def check_records(venue: str, records: object, ts_recv: int) -> int:
    """Records of the right shape (as the runner merges them); their number."""
    assert isinstance(records, list), f"not a list: {records!r}"
    for r in records:
        assert type(r) is Ticker, r
        flags = r.settle(None)  # EMPTY (an emptied book side) and BAD become null here
        assert r.flags == FLAGS[flags] and (flags == 0) == (r.flags is None), r.flags
        # what is left is a price > 0 or a size >= 0; a crossed book says so
        assert all(getattr(r, n) is None or getattr(r, n) > 0 for n in PRICE_FIELDS), r
        assert all(getattr(r, n) is None or getattr(r, n) >= 0 for n in SIZE_FIELDS), r
        crossed = r.bid is not None and r.ask is not None and r.bid > r.ask
        assert crossed == ("crossed" in (r.flags or ())), r
        assert r.exchange == venue and r.type == "ticker"
        assert isinstance(r.symbol, str) and isinstance(r.native, str), r
        for name in MARKET_FIELDS:
            v = getattr(r, name)
            assert v is None or (type(v) is float and math.isfinite(v)), f"{name}={v!r}"
        assert r.ts_event is None or type(r.ts_event) is int, f"ts_event={r.ts_event!r}"
        assert r.ts_recv == ts_recv
        assert orjson.loads(dumps(r))["symbol"] == r.symbol  # what every sink does with it
    return len(records)


class Tally:
    """Outcomes over all venues, for the chaos report."""

    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.venues: set[str] = set()
        self.seconds = 0.0

    def outcome(self, target: str, records: int | None, error: Exception | None) -> None:
        if error is not None:
            kind = "notice" if isinstance(error, VenueNotice) else type(error).__name__
            self.outcomes[f"{target}: {kind}"] += 1
        else:
            self.outcomes[f"{target}: {'records' if records else 'empty'}"] += 1


@pytest.fixture(scope="module")
def tally(chaos: Chaos) -> Iterator[Tally]:
    t = Tally()
    yield t
    total = sum(t.outcomes.values())
    by: Counter[str] = Counter()
    for key, n in t.outcomes.items():
        by[key.split(": ")[1]] += n
    chaos.record(
        "fuzz: codecs",
        faults=f"{total} mutated or recorded payloads over {len(t.venues)} venues "
        f"(stream, REST, markets parsers)",
        notes=f"0 unexpected exceptions; outcomes: {dict(sorted(by.items()))}; {t.seconds:.1f} s",
        extra={"outcomes": dict(t.outcomes)},
    )


def _targets() -> Iterator[object]:
    for venue in available():
        for target in ("ws", "rest", "markets"):
            if target in ("ws", "rest") and target not in modes(venue):
                continue
            yield pytest.param(venue, target, id=f"{venue}-{target}")


def test_every_venue_has_seeds() -> None:
    """The fuzz starts from real payloads for every parser of every venue."""
    assert len(available()) == len(VENUES)
    for venue in available():
        s = seeds(venue)
        assert s.rest, f"{venue}: no REST payload to start from"
        if "ws" in modes(venue):
            assert s.ws, f"{venue}: no stream frame to start from"


@pytest.mark.parametrize(("venue", "target"), list(_targets()))
def test_codec_fuzz(venue: str, target: str, tally: Tally, chaos: Chaos) -> None:
    s = seeds(venue)
    cls = codec_class(venue)
    tally.venues.add(venue)
    started = time.monotonic()
    n = examples(EXAMPLES[target], chaos.soak)

    if target == "ws":

        @fuzz_settings(n)
        @given(st.lists(mutated(s.ws), min_size=1, max_size=4))
        def fuzz_ws(frames: list[str | bytes]) -> None:
            c = subscribed(venue)
            for frame in frames:
                try:
                    records = c.parse_frame(frame, TS)
                except VenueError as e:
                    tally.outcome("ws", None, e)
                    if not isinstance(e, ParseError | VenueNotice):
                        c = subscribed(venue)  # the runner renews the session
                    continue
                tally.outcome("ws", check_records(venue, records, TS), None)
                assert all(isinstance(r, str) for r in c.replies), c.replies
                c.replies.clear()

        fuzz_ws()
    elif target == "rest":
        markets = table(venue).by_symbol

        @fuzz_settings(n)
        @given(
            st.sampled_from(s.rest).flatmap(
                lambda seed: st.tuples(mutated([seed[0]]), st.sampled_from([seed[1], None]))
            )
        )
        def fuzz_rest(case: tuple[str | bytes, str | None]) -> None:
            body, symbol = case
            raw = body.encode() if isinstance(body, str) else body
            market: Market | None = markets.get(symbol) if symbol else None
            c = subscribed(venue)
            try:
                records = c.parse_rest(raw, TS, market)
            except VenueError as e:
                tally.outcome("rest", None, e)
                return
            tally.outcome("rest", check_records(venue, records, TS), None)

        fuzz_rest()
    else:
        snapshot = snapshot_path(venue).read_bytes()

        @fuzz_settings(n)
        @given(mutated([snapshot]))
        def fuzz_markets(body: str | bytes) -> None:
            raw = body.encode() if isinstance(body, str) else body
            try:
                found = cls.markets_from(raw)
            except VenueError as e:
                tally.outcome("markets", None, e)
                return
            for m in found.markets:
                assert type(m) is Market
                assert isinstance(m.symbol, str) and isinstance(m.native, str), m
                assert all(isinstance(i, str) for i in m.all_ids()), m
            tally.outcome("markets", len(found), None)

        fuzz_markets()
    tally.seconds += time.monotonic() - started
