"""Binance futures: USDⓈ-M (fstream, fapi) and COIN-M (dstream, dapi), perpetuals and dated
(quarterly) futures.

WebSocket: Binance splits the futures streams over two endpoints of fstream.binance.com
(since 2026-04-23 the old ``/ws`` serves neither fully): ``/public/ws`` carries
``<sym>@bookTicker`` (best bid and ask on every change) and ``/market/ws`` carries
``<sym>@markPrice@1s`` (mark and index prices, the funding rate and the next funding time,
every second) and ``<sym>@ticker`` (last and 24 h statistics). So each connection is opened
once per endpoint (``routes``) and the three channels are merged into one record per
contract. Subscriptions, acks and errors are spot Binance's.

COIN-M contracts stream the same three channels from dstream.binance.com/ws (a third route,
opened only for them), and are listed by dapi's exchangeInfo, joined to fapi's into one list.

Sizes are in the base currency on USDⓈ-M (one contract is one unit of the base), the
volume too; ``quote_volume`` is in the quote (margin) currency. A COIN-M contract is worth
``contractSize`` USD: its sizes are contracts (base units: contracts times that over the
price), its 24 h ``v`` is contracts and ``q`` the base volume. Open interest is not on a
stream (only REST ``/fapi/v1/openInterest``, one request per symbol): it stays null.

REST (the fallback): ``/fapi/v1/ticker/bookTicker``, ``/fapi/v1/premiumIndex`` and
``/fapi/v1/ticker/24hr`` (the ``/dapi/v1/`` ones for COIN-M), all symbols each, merged.
Overridden endpoints (a local server) serve both: dapi's paths on the same host, COIN-M's
stream at ``<ws_url>/dstream/ws``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import orjson

from ..errors import ParseError, VenueError
from ..records import Derivative, Ticker, times
from ..symbols import Market, derivative_symbol
from ..timestamps import MILLIS, ms_to_ns
from . import binance
from .base import Codec, RestRequest, json_body
from .binance import control, subscribe_messages
from .contracts import in_base
from .routes import MARKET, Call, Route, TimeAt
from .schema import Num, Schema, Time

REST_PATHS = ("ticker/bookTicker", "premiumIndex", "ticker/24hr")  # under /fapi/v1/, /dapi/v1/
PERPETUAL = "PERPETUAL"
# contractType of the dated futures (a delivery date; the rest are perpetuals or not listed)
DATED = frozenset({"CURRENT_QUARTER", "NEXT_QUARTER", "CURRENT_MONTH", "NEXT_MONTH"})
# The channels on each endpoint.
ROUTE_STREAMS = {
    "public": ("bookTicker",),
    "market": ("markPrice@1s", "ticker"),
    "coinm": ("bookTicker", "markPrice@1s", "ticker"),  # COIN-M: all on dstream's /ws
}
DSTREAM_URL = "wss://dstream.binance.com/ws"
DAPI_URL = "https://dapi.binance.com"


class Message(binance.Message):
    """Spot's frame (events: bookTicker, markPriceUpdate, 24hrTicker) and the mark price's
    fields. ``p`` is the mark price in a markPriceUpdate (the price change, unused, in a
    24hrTicker)."""

    p: Num = None  # mark price
    i: Num = None  # index price
    r: Num = None  # funding rate ("" for a dated future)
    T: Time = None  # next funding time, ms (0 for a dated future); in bookTicker, trade time


MESSAGE = Schema(Message)


def size(n: float | None, m: Market, price: float | None) -> float | None:
    """A size as sent (USDⓈ-M: base units), or a COIN-M count of contracts in base units."""
    return in_base(n, m, price) if m.inverse else n


def volume(v: float | None, q: float | None, m: Market) -> float | None:
    """The 24 h volume in the base currency: ``v``, or a COIN-M contract's ``q``."""
    return q if m.inverse else v


def quote_volume(v: float | None, q: float | None, m: Market) -> float | None:
    """The 24 h volume in the quote currency: ``q``, or a COIN-M contract's ``v`` (contracts)
    times its worth."""
    return times(v, m.contract_size) if m.inverse else q


def _route(event: str, fields: dict[str, Any]) -> Route:
    """An event of either margin (sizes converted by the market's contract), its time "E"."""
    return Route(
        when={"e": event}, market="s", fields={**fields, "ts_event": TimeAt("E", MILLIS)},
        record=Derivative, market_fields={"kind": "kind", "expiry": "expiry"},
    )  # fmt: skip


# parse_ws's three events, USDⓈ-M (one contract: one base unit) and COIN-M alike
ROUTES: tuple[Route, ...] = (
    _route("bookTicker", {
        "bid": "b", "bid_size": Call(size, "B", MARKET, "b"),
        "ask": "a", "ask_size": Call(size, "A", MARKET, "a"),
    }),
    _route("markPriceUpdate", {  # a dated future's "T" is 0: parse_ws's
        "mark": "p", "index": "i", "funding_rate": "r", "funding_ts": TimeAt("T", MILLIS),
    }),
    _route("24hrTicker", {
        "last": "c", "open": "o", "high": "h", "low": "l",
        "volume": Call(volume, "v", "q", MARKET),
        "quote_volume": Call(quote_volume, "v", "q", MARKET),
    }),
)  # fmt: skip


class RestRow(binance.RestTicker):
    """A row of any of the three REST lists (or an error object's fields): spot's 24 h
    ticker with the mark price and funding fields."""

    markPrice: Num = None
    indexPrice: Num = None
    lastFundingRate: Num = None
    nextFundingTime: Time = None
    baseVolume: Num = None  # COIN-M's 24 h volume in the base currency (volume: contracts)
    time: Time = None


REST_ROWS = Schema(list[RestRow] | RestRow)  # type: ignore[arg-type]


class BinanceFutures(Codec):
    venue: ClassVar[str] = "binance"
    WS_URL: ClassVar[str] = "wss://fstream.binance.com"  # routes: /public/ws, /market/ws, dstream
    REST_URL: ClassVar[str] = "https://fapi.binance.com"
    MARKETS_URL: ClassVar[str] = "https://fapi.binance.com/fapi/v1/exchangeInfo"
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 300  # 3 streams each on dstream; 1024 allowed
    MERGE: ClassVar[bool] = True
    REST_RATE: ClassVar[float] = 5.0
    POLL_INTERVAL: ClassVar[float] = 5.0
    STALE_AFTER: ClassVar[float] = 10.0  # the mark price comes every second
    ROUTES: ClassVar[tuple[Route, ...]] = ROUTES  # parse_ws's events, read in C

    @classmethod
    def routes(cls) -> tuple[type[Codec], ...]:
        return _ROUTES

    @classmethod
    def route_url(cls, base: str) -> str:
        if cls.ROUTE == "coinm":
            return DSTREAM_URL if base == cls.WS_URL else f"{base.rstrip('/')}/dstream/ws"
        return f"{base.rstrip('/')}/{cls.ROUTE}/ws"

    @classmethod
    def route_markets(cls, markets: Sequence[Market]) -> list[Market]:
        coinm = cls.ROUTE == "coinm"
        return [m for m in markets if m.inverse == coinm]

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        channels = ROUTE_STREAMS.get(self.ROUTE) or ROUTE_STREAMS["coinm"]  # (all, unrouted)
        return subscribe_messages(markets, channels)

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """Three payloads, flat objects keyed by one letter (sizes in the base currency):

        bookTicker: {"e":"bookTicker","u":600859600576,"s":"SUSHIUSDT","b":"7.6110","B":"2",
                     "a":"7.6120","A":"297","T":1626992741012,"E":1626992741017}
        markPriceUpdate: {"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT",
                     "p":"11794.15000000","i":"11784.62659091","P":"11784.25641265",
                     "r":"0.00038167","T":1562306400000}
        24hrTicker: {"e":"24hrTicker","E":123456789,"s":"BTCUSDT","p":"0.0015","c":"0.0025",
                     "o":"0.0010","h":"0.0025","l":"0.0010","v":"10000","q":"18", ...}
        Acks: {"result":null,"id":1}; errors: {"error":{"code":2,"msg":"..."},"id":1}.
        """
        msg = MESSAGE(raw)
        sym = msg.s
        if sym is None:
            return control(msg, raw)
        m = self.lookup(sym)
        if m is None:
            return []
        event = msg.e
        none = None
        if m.inverse:
            return self._coinm(event, msg, m, ts_recv)
        if event == "bookTicker":
            return [
                Derivative(
                    self.venue, m.symbol, sym, msg.b, msg.B, msg.a, msg.A,
                    none, none, none, none, none, none, ms_to_ns(msg.E), ts_recv,
                    0, none, none, m.kind, m.expiry,
                )
            ]  # fmt: skip
        if event == "markPriceUpdate":
            next_funding = msg.T or None  # 0 for a dated future
            return [
                Derivative(
                    self.venue, m.symbol, sym, none, none, none, none,
                    none, none, none, none, none, none, ms_to_ns(msg.E), ts_recv,
                    0, none, none, m.kind, m.expiry, msg.p, msg.i, msg.r, ms_to_ns(next_funding),
                )
            ]  # fmt: skip
        if event == "24hrTicker":
            return [
                Derivative(
                    self.venue, m.symbol, sym, none, none, none, none,
                    msg.c, msg.o, msg.h, msg.l, msg.v, msg.q, ms_to_ns(msg.E), ts_recv,
                    0, none, none, m.kind, m.expiry,
                )
            ]  # fmt: skip
        return []

    def _coinm(self, event: str | None, msg: Message, m: Market, ts_recv: int) -> list[Ticker]:
        """A COIN-M frame: the same events, sizes in contracts, the 24 h ``v`` in contracts
        and ``q`` in the base currency."""
        ts = ms_to_ns(msg.E)
        if event == "bookTicker":
            bid, ask = msg.b, msg.a
            top = {"bid": bid, "bid_size": in_base(msg.B, m, bid), "ask": ask}
            top["ask_size"] = in_base(msg.A, m, ask)
            return [self._record(m, ts, ts_recv, **top)]
        if event == "markPriceUpdate":
            funding = {"funding_rate": msg.r, "funding_ts": ms_to_ns(msg.T or None)}
            return [self._record(m, ts, ts_recv, mark=msg.p, index=msg.i, **funding)]
        if event == "24hrTicker":
            day = {"last": msg.c, "open": msg.o, "high": msg.h, "low": msg.l, "volume": msg.q}
            day["quote_volume"] = times(msg.v, m.contract_size)
            return [self._record(m, ts, ts_recv, **day)]
        return []

    def _record(self, m: Market, ts: int | None, ts_recv: int, **values: Any) -> Ticker:
        return Derivative(
            self.venue, m.symbol, m.native, ts_event=ts, ts_recv=ts_recv, kind=m.kind,
            expiry=m.expiry, **values,
        )  # fmt: skip

    # --- REST --------------------------------------------------------------------------
    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        # All symbols in each (weights 5, 10 and 40): cheaper than one request per symbol.
        out = []
        if any(not m.inverse for m in markets):
            out += [RestRequest(f"{base_url}/fapi/v1/{path}") for path in REST_PATHS]
        if any(m.inverse for m in markets):
            dapi = DAPI_URL if base_url == self.REST_URL else base_url
            out += [RestRequest(f"{dapi}/dapi/v1/{path}") for path in REST_PATHS]
        return out

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """A list of rows of one of the three endpoints, strings for numbers:

        bookTicker: {"symbol":"BTCUSDT","bidPrice":"4.00000000","bidQty":"431.00000000",
                     "askPrice":"4.00000200","askQty":"9.00000000","time":1589437530011}
        premiumIndex: {"symbol":"BTCUSDT","markPrice":"11793.63104562","indexPrice":
                     "11781.80495970","lastFundingRate":"0.00038246","nextFundingTime":
                     1597392000000,"time":1597370495002, ...}
        24hr: {"symbol":"BTCUSDT","lastPrice":"4.00000200","openPrice":"4.00000000",
               "highPrice":"4.00000200","lowPrice":"4.00000000","volume":"8913.30000000",
               "quoteVolume":"15.30000000","closeTime":1499869899040, ...}
        An error: {"code":-1121,"msg":"Invalid symbol."}.
        """
        rows = REST_ROWS(body)
        if isinstance(rows, RestRow):
            if rows.code is not None:
                raise VenueError(f"venue error {rows.code}: {rows.msg}")
            raise ParseError("expected a list of tickers")
        out: list[Ticker] = []
        lookup = self.lookup
        none = None
        for t in rows:
            m = lookup(t.symbol)
            if m is None:
                continue
            ts = ms_to_ns(t.time or t.closeTime)
            next_funding = t.nextFundingTime or None
            if m.inverse:
                bid, ask = t.bidPrice, t.askPrice
                top = {"bid": bid, "bid_size": in_base(t.bidQty, m, bid), "ask": ask}
                top["ask_size"] = in_base(t.askQty, m, ask)
                day = {"last": t.lastPrice, "open": t.openPrice, "high": t.highPrice}
                day |= {"low": t.lowPrice, "volume": t.baseVolume}
                day["quote_volume"] = times(t.volume, m.contract_size)
                funding = {"funding_rate": t.lastFundingRate, "funding_ts": ms_to_ns(next_funding)}
                marks = {"mark": t.markPrice, "index": t.indexPrice}
                out.append(self._record(m, ts, ts_recv, **top, **day, **funding, **marks))
                continue
            out.append(
                Derivative(
                    self.venue, m.symbol, t.symbol, t.bidPrice, t.bidQty, t.askPrice, t.askQty,
                    t.lastPrice, t.openPrice, t.highPrice, t.lowPrice, t.volume, t.quoteVolume,
                    ts, ts_recv, 0, none, none, m.kind, m.expiry, t.markPrice, t.indexPrice,
                    t.lastFundingRate, ms_to_ns(next_funding),
                )
            )  # fmt: skip
        return out

    # --- markets -----------------------------------------------------------------------
    @classmethod
    def markets_urls(cls, url: str) -> list[str]:
        """fapi's list and dapi's (COIN-M): the venue's, or the same host's paths."""
        if url == cls.MARKETS_URL:
            return [url, f"{DAPI_URL}/dapi/v1/exchangeInfo"]
        return [url, url.replace("/fapi/v1/", "/dapi/v1/")]

    @staticmethod
    def joined_markets(bodies: list[bytes]) -> bytes:
        """fapi's and dapi's exchangeInfo as one: {"symbols": [both lists' rows]}."""
        rows = [row for body in bodies for row in Codec.rows_at(json_body(body), "symbols")]
        return orjson.dumps({"symbols": rows})

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """exchangeInfo: {"symbols":[{"symbol":"BTCUSDT","pair":"BTCUSDT","contractType":
        "PERPETUAL","deliveryDate":4133404800000,"status":"TRADING","baseAsset":"BTC",
        "quoteAsset":"USDT","marginAsset":"USDT",...}, {"symbol":"BTCUSDT_261225",
        "contractType":"CURRENT_QUARTER","deliveryDate":1798185600000,...}, ...]}"""
        return Codec.rows_at(json_body(body), "symbols")

    @staticmethod
    def market_of(s: Any) -> Market | None:
        if s.get("status", s.get("contractStatus")) != "TRADING":
            return None
        kind = s["contractType"]
        expiry = None
        if kind in DATED:
            expiry = int(s["deliveryDate"]) * 1_000_000
        elif kind != PERPETUAL:
            return None  # (another product: not followed)
        inverse = s["marginAsset"] == s["baseAsset"]  # COIN-M: contracts worth contractSize USD
        size = float(s["contractSize"]) if inverse else 1.0
        if not size > 0:
            raise ValueError(f"contract size {s['contractSize']!r}")
        symbol = derivative_symbol(s["baseAsset"], s["quoteAsset"], s["marginAsset"], expiry)
        kind = "perp" if expiry is None else "future"
        return Market(
            symbol, s["symbol"], kind=kind, expiry=expiry, contract_size=size, inverse=inverse
        )


class _Public(BinanceFutures):
    ROUTE: ClassVar[str] = "public"
    ROUTES: ClassVar[tuple[Route, ...]] = ROUTES  # the endpoints' frames: one parse_ws


class _Market(BinanceFutures):
    ROUTE: ClassVar[str] = "market"
    ROUTES: ClassVar[tuple[Route, ...]] = ROUTES


class _CoinM(BinanceFutures):
    ROUTE: ClassVar[str] = "coinm"
    ROUTES: ClassVar[tuple[Route, ...]] = ROUTES


_ROUTES: tuple[type[Codec], ...] = (_Public, _Market, _CoinM)
