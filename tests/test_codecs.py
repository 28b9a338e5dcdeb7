"""Codecs on recorded venue payloads: our records against the reference parse.

Fixtures in tests/fixtures (see its README for provenance). Only spot entries are
checked: derivative symbols (with a settle currency, "BTC/USDT:USDT") are out of scope.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Set
from pathlib import Path
from typing import Any

import pytest

from aggregator.adapters.registry import codec_class
from aggregator.errors import ParseError, VenueError
from aggregator.records import EMPTY, MARKET_FIELDS, Ticker
from aggregator.symbols import snapshot_path

FIXTURES = Path(__file__).parent / "fixtures"
FIELDS = {
    "bid": "bid",
    "ask": "ask",
    "last": "last",
    "open": "open",
    "high": "high",
    "low": "low",
    "baseVolume": "volume",
    "quoteVolume": "quote_volume",
    "bidVolume": "bid_size",
    "askVolume": "ask_size",
}


def fixture_entries(kind: str, root: Path = FIXTURES) -> Iterator[tuple[Path, int, dict]]:
    """Every entry of the fixture files of one kind (rest, rest-doc, ws), in file order."""
    for path in sorted((root / kind).glob("*.json")):
        for i, e in enumerate(json.loads(path.read_text())):
            yield path, i, e


def entries(*kinds: str):
    """Spot ticker entries of the fixture files: recorded (rest/, ws/) or from the docs (rest-doc/).

    An entry may carry "ours": {"skip": {field: reason}, "derived": [field, ...]}: fields the
    reference fills that we leave null on purpose, and fields the reference computes from
    others (compared with a relative tolerance).
    """
    for kind in kinds:
        for path, i, e in fixture_entries(kind):
            if not e.get("input") or e["input"][0] is None:
                continue  # all tickers with no symbol named: covered by the per-symbol entries
            symbol = e["input"][0]
            if isinstance(symbol, list):
                symbol = symbol[0]
            if not e["method"].startswith(("fetchTicker", "watchTicker", "watchBidsAsks")):
                continue
            if ":" in symbol:
                continue
            yield pytest.param(path.stem, symbol, e, id=f"{kind}-{path.stem}-{i}-{e['method']}")


def codec(venue: str):
    cls = codec_class(venue)
    return cls(cls.markets_from(snapshot_path(venue).read_bytes()))


def uncertain(entry: dict) -> set[str]:
    """Fields where the reference disagrees with itself, or that we leave null on purpose."""
    diffs = {d["field"] for d in (entry.get("replayCheck") or {}).get("diffs", [])}
    return diffs | set(entry.get("ours", {}).get("skip", {}))


def check(
    venue: str, rec: Ticker, ref: dict, skip: set[str], derived: Set[str] = frozenset()
) -> int:
    """Compare one record with one reference ticker; the number of fields compared."""
    assert rec.symbol == ref["symbol"]
    compared = 0
    for theirs, ours in FIELDS.items():
        want = ref.get(theirs)
        if want is None or theirs in skip:
            continue
        got = getattr(rec, ours)
        assert got is not None, f"{ours}: reference has {want}, we have null"
        if theirs in derived:
            assert math.isclose(got, want, rel_tol=1e-12), f"{ours}: {got} != {want}"
        else:
            assert got == want, f"{ours}: {got!r} != {want!r}"
        compared += 1
    if ref.get("timestamp") is not None:
        assert rec.ts_event is not None and rec.ts_event // 1_000_000 == ref["timestamp"]
        compared += 1
    return compared


def derived(entry: dict) -> set[str]:
    return set(entry.get("ours", {}).get("derived", []))


@pytest.mark.parametrize(("venue", "symbol", "entry"), list(entries("rest", "rest-doc")))
def test_rest_fixture_matches_reference(venue: str, symbol: str, entry: dict) -> None:
    c = codec(venue)
    market = c.table.by_symbol[symbol]
    body = json.dumps(entry["httpResponse"]).encode()
    records = c.parse_rest(body, 1, market)
    ours = [r for r in records if r.symbol == symbol]
    assert len(ours) == 1
    refs = entry["parsedResponse"]
    ref = refs[symbol] if symbol in refs and isinstance(refs[symbol], dict) else refs
    assert check(venue, ours[0], ref, uncertain(entry), derived(entry)) >= 3


@pytest.mark.parametrize(("venue", "symbol", "entry"), list(entries("ws")))
def test_ws_fixture_matches_reference(venue: str, symbol: str, entry: dict) -> None:
    c = codec(venue)
    records: list[Ticker] = []
    for frame in entry["messages"]:
        records.extend(c.parse_ws(json.dumps(frame), 1))
    refs = entry.get("parsedResponses") or [entry["parsedResponse"]]
    refs = [r[symbol] if symbol in r and isinstance(r[symbol], dict) else r for r in refs]
    assert len(records) >= len(refs)
    for rec, ref in zip(records, refs, strict=False):
        assert check(venue, rec, ref, uncertain(entry), derived(entry)) >= 2


def test_binance_merges_book_and_ticker_in_the_adapter_order() -> None:
    """bookTicker frames carry only the top of the book: the other fields stay null."""
    c = codec("binance")
    book = c.parse_ws('{"u":1,"s":"BTCUSDT","b":"1.5","B":"2","a":"1.6","A":"3"}', 5)
    assert len(book) == 1
    r = book[0]
    assert (r.bid, r.bid_size, r.ask, r.ask_size) == (1.5, 2.0, 1.6, 3.0)
    assert r.last is None and r.volume is None and r.ts_event is None and r.ts_recv == 5


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"<html><body>502 Bad Gateway</body></html>",
        b'{"truncated": ',
        b"[1, 2, 3]",
        b"null",
        b'"text"',
    ],
)
@pytest.mark.parametrize("venue", ["binance", "coinbase", "coinbaseexchange", "kraken"])
def test_bad_payloads_raise_only_parse_errors(venue: str, payload: bytes) -> None:
    c = codec(venue)
    market = next(iter(c.table.markets))
    for parse in (lambda: c.parse_ws(payload, 1), lambda: c.parse_rest(payload, 1, market)):
        try:
            records = parse()
        except (ParseError, VenueError):
            continue
        assert records == []


@pytest.mark.parametrize("value", [None, "", "NaN", "nan", "inf", "abc"])
def test_missing_or_invalid_numbers_are_null_never_zero(value: object) -> None:
    c = codec("binance")
    frame = json.dumps({"u": 1, "s": "BTCUSDT", "b": value, "B": "1", "a": "2", "A": "1"})
    (r,) = c.parse_ws(frame, 1)
    r.settle(None)  # as the runner does with every record
    assert r.bid is None
    assert r.ask == 2.0


def test_decimal_strings_keep_their_value() -> None:
    """Up to 15 significant digits come out exactly as sent (shortest round trip)."""
    from aggregator.records import dumps

    c = codec("binance")
    frame = json.dumps(
        {
            "u": 1,
            "s": "BTCUSDT",
            "b": "73369.8300000000",
            "B": "0.000012345678901",
            "a": "1",
            "A": "1",
        }
    )
    (r,) = c.parse_ws(frame, 1)
    line = json.loads(dumps(r))
    assert repr(line["bid"]) == "73369.83"
    assert repr(line["bid_size"]) == "1.2345678901e-05"


def test_unsubscribed_markets_yield_nothing() -> None:
    c = codec("binance")
    assert c.parse_ws('{"u":1,"s":"NOPEUSDT","b":"1","B":"1","a":"1","A":"1"}', 1) == []


def test_kraken_maps_legacy_and_new_ids_to_one_symbol() -> None:
    c = codec("kraken")
    assert c.lookup("XXBTZUSD").symbol == "BTC/USD"
    assert c.lookup("XBTUSD").symbol == "BTC/USD"
    assert c.lookup("BTC/USD").symbol == "BTC/USD"
    assert c.lookup("XDGUSDT").symbol == "DOGE/USDT"


def test_venue_error_messages_are_reported() -> None:
    c = codec("binance")
    with pytest.raises(VenueError):
        c.parse_ws('{"error":{"code":2,"msg":"Invalid request"},"id":1}', 1)
    k = codec("kraken")
    with pytest.raises(VenueError, match="rejected"):
        k.parse_ws(
            '{"method":"subscribe","success":false,"error":"Currency pair not supported"}', 1
        )
    with pytest.raises(VenueError, match="EQuery"):
        k.parse_rest(b'{"error":["EQuery:Unknown asset pair"],"result":{}}', 1, None)


def test_coinbase_sequence_gap_is_an_error() -> None:
    c = codec("coinbase")
    frame = {"channel": "heartbeats", "timestamp": "2026-08-12T19:27:33.489674268Z", "events": []}
    c.parse_ws(json.dumps({**frame, "sequence_num": 0}), 1)
    c.parse_ws(json.dumps({**frame, "sequence_num": 1}), 1)
    with pytest.raises(VenueError, match="sequence gap"):
        c.parse_ws(json.dumps({**frame, "sequence_num": 3}), 1)


def test_iso_timestamps_keep_nanoseconds() -> None:
    from aggregator.records import iso_to_ns

    assert iso_to_ns("2026-08-12T19:27:33.489674268Z") == 1786562853489674268
    assert iso_to_ns("2026-08-12T19:27:33Z") == 1786562853000000000
    assert iso_to_ns("2026-08-12T19:27:33.5Z") == 1786562853500000000
    assert iso_to_ns("garbage") is None
    assert iso_to_ns(None) is None


def test_implied_values_and_seconds() -> None:
    from aggregator.records import minus, seconds_to_ns, times

    assert minus(63297.8, 0.7) == 63297.1
    assert minus(0.00001, 0.000002) == 0.000008
    assert minus(None, 1.0) is None and times(2.0, None) is None
    assert times(2.5, 4.0) == 10.0
    assert seconds_to_ns("1710328241.123") == 1710328241123000000
    assert seconds_to_ns(1710328241) == 1710328241000000000
    assert seconds_to_ns("soon") is None and seconds_to_ns(None) is None


def book_entries():
    for path, i, e in fixture_entries("ws"):
        if e["method"] != "watchOrderBook" or ":" in e["input"][0]:
            continue
        if "diff_order_book" in json.dumps(e["messages"][:1]):
            continue  # Bitstamp's diff channel: we stream its snapshot channel instead
        yield pytest.param(path.stem, e, id=f"{path.stem}-{i}")


@pytest.mark.parametrize(("venue", "entry"), list(book_entries()))
def test_top_of_book_from_recorded_order_book_frames(venue: str, entry: dict) -> None:
    """Venues streaming only an order book: our best bid/ask equal the reference book's top.

    A frame after a sequence gap must not be applied: the codec raises (the runner then
    renews the session), and the last record is the top before the gap, as in the reference.
    """
    cls = codec_class(venue)
    c = cls(cls.markets_from(snapshot_path(venue).read_bytes()))
    c.subscribe([c.table.by_symbol[entry["input"][0]]])  # a connection knows its markets
    records: list[Ticker] = []
    for frame in entry["messages"]:
        try:
            records.extend(c.parse_ws(json.dumps(frame), 1))
        except VenueError as e:
            assert "sequence gap" in str(e)
            assert "gap" in entry["description"]
            break
    assert records
    last = records[-1]
    assert last.symbol == entry["input"][0]
    ref = entry.get("parsedResponse")
    if ref is None:  # the reference kept no parse: the top must at least be sane
        assert last.bid is not None and last.ask is not None and last.bid < last.ask
        return
    bids, asks = ref["bids"], ref["asks"]
    assert (last.bid, last.bid_size) == ((bids[0][0], bids[0][1]) if bids else (None, None))
    assert (last.ask, last.ask_size) == ((asks[0][0], asks[0][1]) if asks else (None, None))


def test_merge_fills_missing_fields_but_not_an_emptied_side() -> None:
    from aggregator.records import EMPTY, dumps

    prev = Ticker("x", "BTC/USD", "BTCUSD", bid=1.0, bid_size=2.0, ask=3.0, ask_size=4.0, last=2.5)
    book = Ticker("x", "BTC/USD", "BTCUSD", bid=EMPTY, bid_size=EMPTY, ask=3.5, ask_size=1.0)
    book.settle(prev)
    assert (book.bid, book.bid_size, book.ask, book.last) == (None, None, 3.5, 2.5)
    first = Ticker("x", "BTC/USD", "BTCUSD", bid=EMPTY, ask=3.0)
    first.settle(None)  # no previous record: EMPTY still becomes None
    assert first.bid is None and json.loads(dumps(first))["bid"] is None


def btc_ticker(fields: dict[str, Any]) -> Ticker:
    """A BTC/USD ticker with these fields, named at run time (they differ in type)."""
    return Ticker("x", "BTC/USD", "BTCUSD", **fields)


@pytest.mark.parametrize("name", MARKET_FIELDS)
def test_merge_covers_every_market_field(name: str) -> None:
    prev = btc_ticker({n: float(i + 1) for i, n in enumerate(MARKET_FIELDS)})
    missing = Ticker("x", "BTC/USD", "BTCUSD")
    missing.settle(prev)
    assert getattr(missing, name) == getattr(prev, name)
    emptied = btc_ticker({name: EMPTY})
    emptied.settle(prev)
    assert getattr(emptied, name) is None
    kept = btc_ticker({name: 99.5})
    kept.settle(prev)
    assert getattr(kept, name) == 99.5


def test_deribit_empty_book_side_is_not_refilled() -> None:
    c = codec("deribit")
    market = next(iter(c.table.markets))
    base = {
        "instrument_name": market.native,
        "timestamp": 1,
        "last_price": 10.0,
        "best_bid_price": 9.0,
        "best_bid_amount": 1.0,
        "stats": {},
    }
    frame: dict[str, Any] = {
        "jsonrpc": "2.0",
        "method": "subscription",
        "params": {"channel": f"ticker.{market.native}.100ms", "data": base},
    }
    (first,) = c.parse_ws(json.dumps(frame), 1)
    frame["params"]["data"] = {**base, "best_bid_price": 0, "best_bid_amount": 0}
    (second,) = c.parse_ws(json.dumps(frame), 2)
    second.settle(first)
    assert first.bid == 9.0 and second.bid is None and second.bid_size is None


def test_records_serialise_every_field_in_declared_order() -> None:
    """`type` first, then every field in the order TICKER_FIELDS / STATUS_FIELDS name, and
    each way of making the lines (one record, a batch) writes the same bytes."""
    import msgspec

    from aggregator.records import STATUS_FIELDS, TICKER_FIELDS, Status, dumps, lines_of

    ticker = Ticker("x", "BTC/USD", "BTCUSD", bid=1.0, ts_recv=5)
    records: list[Ticker | Status] = [
        ticker,
        msgspec.structs.replace(ticker, ask=2.0),
        Status("x", "live", "ok"),
    ]
    for rec in records:
        out = json.loads(dumps(rec))
        assert tuple(out) == (TICKER_FIELDS if rec.type == "ticker" else STATUS_FIELDS)
        assert out["type"] == rec.type
    assert lines_of(records) == [dumps(r) for r in records]


def test_kucoin_pings_at_the_interval_its_token_response_gives() -> None:
    c = codec("kucoin")
    assert c.app_ping_interval == 18.0  # until the session's own is known
    body = json.dumps(
        {
            "code": "200000",
            "data": {
                "token": "abc",
                "instanceServers": [
                    {"endpoint": "wss://ws.example/", "pingInterval": 25000, "pingTimeout": 10000}
                ],
            },
        }
    ).encode()
    url = c.ws_url_from_token(body, "")
    assert url.startswith("wss://ws.example/?token=abc&connectId=")
    assert c.app_ping_interval == 25.0
    assert codec("kucoin").app_ping_interval == 18.0  # per connection, not per class
    first, second = json.loads(c.app_ping()), json.loads(c.app_ping())
    assert first["type"] == second["type"] == "ping" and first["id"] != second["id"]


def test_rest_lists_keep_followed_markets_and_refuse_other_shapes() -> None:
    c = codec("binance")
    native = next(iter(c.table.markets)).native
    body = [{"symbol": "NOTLISTED", "bidPrice": "1"}, {"symbol": native, "bidPrice": "2"}]
    (rec,) = c.parse_rest(json.dumps(body).encode(), 1, None)
    assert rec.native == native and rec.bid == 2.0
    with pytest.raises(ParseError, match=r"unexpected payload: .* at `\$\[1\]`"):
        c.parse_rest(json.dumps([{"symbol": native}, "x"]).encode(), 1, None)
    with pytest.raises(ParseError):  # an id of the wrong type is a shape error, not a crash
        c.parse_rest(json.dumps([{"symbol": [native]}]).encode(), 1, None)
