"""Kraken Futures: perpetuals (PF_ linear, PI_ inverse) and dated futures (FF_ linear,
FI_ inverse) on the Futures WebSocket API v1 and its REST API v3.

WebSocket (wss://futures.kraken.com/ws/v1): the ``ticker`` feed carries everything in one
message, about once a second per product: best bid and ask with their sizes, last, 24 h
statistics, ``markPrice``, ``index``, ``openInterest``, the funding rate and
``next_funding_rate_time`` (ms). Its ``funding_rate`` is an amount per contract;
``relative_funding_rate`` is the rate, and is the record's. The ``ticker_lite`` feed
(bid, ask, volume; recorded in 2021) parses too. The connection opens with
``{"event":"info"}``; rejections come as ``{"event":"error"}`` or ``subscribed_failed``.

Units: a linear contract (PF_, FF_) is ``contractSize`` of the base currency and the venue
sends its sizes, volume and open interest in it; an inverse one (PI_, FI_) is
``contractSize`` USD, so its sizes are contracts (base units: contracts / price) and its
volume is USD, the quote volume. REST polling: ``GET /derivatives/api/v3/tickers``, every
product in one answer (no relative funding rate, no next funding time: those stay null).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec
import orjson

from ..errors import ParseError, VenueError, VenueNotice
from ..records import Derivative, Ticker, iso_to_ns, ms_to_ns
from ..symbols import Market, derivative_symbol
from ..timestamps import MILLIS
from .base import Codec, RestRequest, json_body
from .contracts import in_base, in_quote
from .routes import MARKET, Call, Route, TimeAt
from .schema import Num, Schema, Time

FEEDS = ("ticker", "ticker_snapshot", "ticker_lite")


class Tick(msgspec.Struct):
    """A ``ticker`` (or ``ticker_lite``) message, or an event ({"event": ...})."""

    feed: str | None = None
    event: str | None = None
    message: Any = None
    product_id: str = ""
    time: Time = None  # ms
    bid: Num = None
    ask: Num = None
    bid_size: Num = None
    ask_size: Num = None
    last: Num = None
    open: Num = None
    high: Num = None
    low: Num = None
    volume: Num = None
    volumeQuote: Num = None
    markPrice: Num = None
    index: Num = None
    openInterest: Num = None
    relative_funding_rate: Num = None
    next_funding_rate_time: Time = None  # ms


class RestTick(msgspec.Struct):
    symbol: str = ""
    bid: Num = None
    bidSize: Num = None
    ask: Num = None
    askSize: Num = None
    last: Num = None
    open24h: Num = None
    high24h: Num = None
    low24h: Num = None
    vol24h: Num = None
    volumeQuote: Num = None
    markPrice: Num = None
    indexPrice: Num = None
    openInterest: Num = None


class Tickers(msgspec.Struct):
    result: Any = None
    tickers: list[RestTick] | None = None
    serverTime: str | None = None
    error: Any = None


TICK = Schema(Tick)
TICKERS = Schema(Tickers)
PREFIX_KIND = {"PF": "perp", "PI": "perp", "FF": "future", "FI": "future"}


def size(n: float | None, m: Market, mark: Any, last: Any, bid: Any) -> float | None:
    """A size in base units, an inverse contract's at the first price sent (``_record``)."""
    return in_base(n, m, mark or last or bid)


def volume(v: float | None, m: Market) -> float | None:
    """The 24 h base volume: an inverse contract's ``volume`` is USD (the quote volume)."""
    return None if m.inverse else in_base(v, m)


def quote_volume(v: float | None, quote: float | None, m: Market) -> float | None:
    return in_quote(v, m) if m.inverse else quote


def _sized(path: str) -> Call:
    return Call(size, path, MARKET, "markPrice?", "last?", "bid?")


def _route(feed: str) -> Route:
    """A feed's message (its fields: those sent, the rest null), as ``_record`` makes it."""
    return Route(
        when={"feed": feed, "event": None}, market="product_id", record=Derivative,
        market_fields={"kind": "kind", "expiry": "expiry"},
        fields={"bid": "bid?", "bid_size": _sized("bid_size?"), "ask": "ask?",
                "ask_size": _sized("ask_size?"), "last": "last?", "open": "open?",
                "high": "high?", "low": "low?", "volume": Call(volume, "volume?", MARKET),
                "quote_volume": Call(quote_volume, "volume?", "volumeQuote?", MARKET),
                "ts_event": TimeAt("time?", MILLIS), "mark": "markPrice?", "index": "index?",
                "funding_rate": "relative_funding_rate?",
                "funding_ts": TimeAt("next_funding_rate_time?", MILLIS),
                "open_interest": _sized("openInterest?")},
    )  # fmt: skip


class KrakenFutures(Codec):
    venue: ClassVar[str] = "kraken"
    WS_URL: ClassVar[str] = "wss://futures.kraken.com/ws/v1"
    REST_URL: ClassVar[str] = "https://futures.kraken.com/derivatives/api/v3"
    MARKETS_URL: ClassVar[str] = "https://futures.kraken.com/derivatives/api/v3/instruments"
    MERGE: ClassVar[bool] = True
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 100
    # Public REST: a budget of 500 cost units per 10 s; a tickers request costs 1.
    REST_RATE: ClassVar[float] = 5.0
    ROUTES: ClassVar[tuple[Route, ...]] = tuple(map(_route, FEEDS))  # parse_ws's feeds, in C

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        ids = [m.native for m in markets]
        return [orjson.dumps({"event": "subscribe", "feed": "ticker", "product_ids": ids}).decode()]

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """{"time":1721213867738,"product_id":"PF_SOLUSD","funding_rate":0.001318439968712204,
        "funding_rate_prediction":0.00193406121869099,"relative_funding_rate":8.060811111111e-6,
        "relative_funding_rate_prediction":0.000011884326388889,
        "next_funding_rate_time":1721214000000,"leverage":"50x","premium":0.1,"feed":"ticker",
        "bid":162.74,"ask":162.75,"bid_size":23.4,"ask_size":9.5,"volume":378480.79,"dtm":0,
        "index":162.6634,"last":162.74,"change":3.87,"suspended":false,"tag":"perpetual",
        "pair":"SOL:USD","openInterest":156019.07,"markPrice":162.75734404771,
        "maturityTime":0,"post_only":false,"volumeQuote":60666084.9734,"open":156.67,
        "high":163.89,"low":154.57} (documented)
        {"feed":"ticker_lite","product_id":"FI_XBTUSD_210730","bid":32170.5,"ask":32192.5,
        "change":0.347779978478191,"premium":0.1,"volume":2375190.0,"tag":"month",
        "pair":"XBT:USD","dtm":7,"maturityTime":1627657200000} (recorded 2021-07-22)
        Events: {"event":"info","version":1}, {"event":"subscribed",...},
        {"event":"error","message":"Invalid product id"}.
        """
        t = TICK(raw)
        if t.feed in FEEDS and t.event is None:
            m = self.lookup(t.product_id)
            return [] if m is None else [self._record(m, t, ts_recv)]
        if t.event in ("error", "subscribed_failed", "alert"):
            raise VenueNotice(f"{t.event}: {t.message or t.product_id or t.feed}")
        return []

    def _record(self, m: Market, t: Tick, ts_recv: int) -> Ticker:
        price = t.markPrice or t.last or t.bid
        if m.inverse:  # USD contracts: the volume is the quote volume
            volume, quote_volume = None, in_quote(t.volume, m)
        else:
            volume, quote_volume = in_base(t.volume, m), t.volumeQuote
        return Derivative(
            self.venue, m.symbol, m.native,
            t.bid, in_base(t.bid_size, m, price), t.ask, in_base(t.ask_size, m, price),
            t.last, t.open, t.high, t.low, volume, quote_volume,
            ms_to_ns(t.time), ts_recv,
            kind=m.kind, expiry=m.expiry, mark=t.markPrice, index=t.index,
            funding_rate=t.relative_funding_rate,
            funding_ts=ms_to_ns(t.next_funding_rate_time) or None,
            open_interest=in_base(t.openInterest, m, price),
        )  # fmt: skip

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [RestRequest(f"{base_url}/tickers")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /derivatives/api/v3/tickers: {"result":"success","tickers":[{"symbol":
        "PF_XBTUSD","last":89712.0,"lastTime":"2025-12-07T12:00:00.000Z","tag":"perpetual",
        "pair":"XBT:USD","markPrice":89715.2,"bid":89711.0,"bidSize":0.5,"ask":89712.0,
        "askSize":1.2,"vol24h":3021.5,"volumeQuote":270000000.0,"openInterest":2189.78,
        "open24h":88900.0,"indexPrice":89716.9,"high24h":90100.0,"low24h":88500.0,
        "fundingRate":0.95,"fundingRatePrediction":1.1,"suspended":false,"postOnly":false}],
        "serverTime":"2025-12-07T12:00:00.123Z"} (documented). Errors:
        {"result":"error","error":"..."}. fundingRate is an amount per contract, not a rate.
        """
        doc = TICKERS(body)
        if doc.result == "error" or doc.error:
            raise VenueError(f"venue error: {doc.error}")
        if doc.tickers is None:
            raise ParseError("expected a tickers list")
        ts_event = iso_to_ns(doc.serverTime)
        out: list[Ticker] = []
        for r in doc.tickers:
            m = self.lookup(r.symbol)
            if m is None:
                continue
            t = Tick(
                product_id=r.symbol, bid=r.bid, ask=r.ask, bid_size=r.bidSize,
                ask_size=r.askSize, last=r.last, open=r.open24h, high=r.high24h,
                low=r.low24h, volume=r.vol24h, volumeQuote=r.volumeQuote,
                markPrice=r.markPrice, index=r.indexPrice, openInterest=r.openInterest,
            )  # fmt: skip
            rec = self._record(m, t, ts_recv)
            rec.ts_event = ts_event
            out.append(rec)
        return out

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """GET /derivatives/api/v3/instruments: {"result":"success","instruments":[
        {"symbol":"PF_XBTUSD","type":"flexible_futures","tradeable":true,"tickSize":1,
        "contractSize":1,"base":"BTC","quote":"USD","pair":"BTC:USD",...},
        {"symbol":"PI_XBTUSD","type":"futures_inverse","underlying":"rr_xbtusd",
        "tradeable":true,"contractSize":1,...},
        {"symbol":"FI_XBTUSD_261224","type":"futures_inverse","tradeable":true,
        "contractSize":1,"lastTradingTime":"2026-12-24T16:00:00.000Z",...}]}
        Indices (``in_*``, ``rr_*``) and products not tradeable are skipped.
        """
        return Codec.rows_at(json_body(body), "instruments")

    @staticmethod
    def market_of(row: Any) -> Market | None:
        native = row["symbol"]
        prefix, _, rest = native.partition("_")
        kind = PREFIX_KIND.get(prefix.upper())
        if kind is None or not row.get("tradeable", True):
            return None
        pair = row.get("pair") or ""
        if ":" in pair:
            base, quote = pair.split(":")
        else:  # XBTUSD or XBTUSD_261224
            code = rest.split("_")[0].upper()
            base, quote = code[:-3], code[-3:]
        inverse = prefix.upper() in ("PI", "FI")
        expiry = iso_to_ns(row["lastTradingTime"]) if kind == "future" else None
        if kind == "future" and expiry is None:
            raise ValueError("a dated future without its lastTradingTime")
        return Market(
            derivative_symbol(base, quote, base if inverse else quote, expiry),
            native,
            ids=(native, native.lower()),
            kind=kind,
            expiry=expiry,
            contract_size=float(row["contractSize"]),
            inverse=inverse,
        )
