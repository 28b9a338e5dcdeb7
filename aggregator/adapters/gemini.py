"""Gemini spot: the best bid and ask over the WebSocket API, or REST ``pubticker`` polls.

WebSocket: the WebSocket API at wss://ws.gemini.com, with Binance-style streams: one
``{symbol}@bookTicker`` stream per market (lower-case ids, "btcusd@bookTicker"), subscribed
with ``{"id":..,"method":"subscribe","params":[streams]}`` (the method in lower case as in
the venue's samples; its SDK sends "SUBSCRIBE", which the venue takes too). Each update is a
flat object: the best bid and ask with their sizes, an update id and the event time in
nanoseconds. The market data v1 and v2 feeds (wss://api.gemini.com/v2/marketdata, the
level 2 book from which the top used to be derived) are marked archived and are not used.
The answer to a subscribe request is an object with its "id" (and "result" or "status");
its exact shape is not shown in the documentation, so any object without "s" that carries
an "error", or a status other than 200, is taken as the venue refusing the request.

REST: Gemini's one all-markets endpoint, ``/v1/pricefeed``, sends only a price and a 24 h
percentage change per pair: no bid, ask or volume. ``/v1/pubticker/{symbol}`` sends the
best bid and ask, the last price and the 24 h volume in both currencies, so the markets
are polled one by one with it (the recorded reference response is of this endpoint too).
``/v2/ticker`` adds open/high/low but no volume and would double the requests. The REST API
did not change with the new WebSocket API.

``/v1/symbols`` is a bare list of ids ("btcusd", "ethbtc", "btcgusdperp"); base and quote
are split off by the known quote currencies, as the reference library does.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, ClassVar

import msgspec
import orjson

from ..errors import ParseError, VenueError
from ..records import Ticker, ms_to_ns, num
from ..symbols import Market
from ..timestamps import NANOS, to_ns
from .base import Codec, RestRequest, json_body, json_object, pair_market, per_market
from .fields import StructFields
from .routes import Route, TimeAt
from .schema import Num, Schema, Time

# Quote currencies, tried in order: "GUSD" must come before "USD", which it ends with.
_QUOTES = (
    "USDT",
    "GUSD",
    "USD",
    "DAI",
    "EUR",
    "GBP",
    "SGD",
    "BTC",
    "ETH",
    "LTC",
    "BCH",
    "SOL",
    "USDC",
)
# Ids the suffix rule would split wrongly ("paxgusd" is PAXG/USD, not PAX/GUSD).
_SPLITS = {"PAXGUSD": ("PAXG", "USD")}
STREAMS_PER_MESSAGE = 100  # no published cap; Binance's protocol allows 1024 a connection


class Message(msgspec.Struct):
    """A bookTicker update, or the answer to a request (its "id" and result or error)."""

    s: str | None = None  # the market; absent from answers
    u: Any = None  # the update id (of the book: not a message count)
    E: Time = None  # ns
    b: Num = None
    B: Num = None
    a: Num = None
    A: Num = None
    id: Any = None
    status: Any = None
    error: Any = msgspec.UNSET
    result: Any = msgspec.UNSET


MESSAGE = Schema(Message)
BOOK_TICKER = StructFields(
    bid="b", bid_size="B", ask="a", ask_size="A", ts_event=("E", partial(to_ns, unit=NANOS))
)


class Gemini(Codec):
    venue: ClassVar[str] = "gemini"
    WS_URL: ClassVar[str] = "wss://ws.gemini.com"
    REST_URL: ClassVar[str] = "https://api.gemini.com"
    MARKETS_URL: ClassVar[str] = "https://api.gemini.com/v1/symbols"
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 100
    # Public endpoints allow 120 requests a minute; Gemini asks for at most 1 per second.
    REST_RATE: ClassVar[float] = 1.0
    ROUTES: ClassVar[tuple[Route, ...]] = (  # parse_ws's book ticker, read in C
        Route(
            when={}, market="s",
            fields={"bid": "b", "bid_size": "B", "ask": "a", "ask_size": "A",
                    "ts_event": TimeAt("E", NANOS)},
        ),
    )  # fmt: skip

    # --- WebSocket ---------------------------------------------------------------------
    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        streams = [f"{m.native.lower()}@bookTicker" for m in markets]
        n = STREAMS_PER_MESSAGE
        return [
            orjson.dumps({"id": i, "method": "subscribe", "params": streams[j : j + n]}).decode()
            for i, j in enumerate(range(0, len(streams), n), start=1)
        ]

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """{"u":1751505576085,"E":1751508438600117161,"s":"btcusd","b":"45000.50",
        "B":"1.25000000","a":"45001.00","A":"0.75000000"}: the best bid and ask with their
        sizes; E is the event time in ns. Answers to requests carry their "id".
        """
        msg = MESSAGE(raw)
        sym = msg.s
        if sym is None:
            if msg.error is not msgspec.UNSET or msg.status not in (None, 200):
                raise VenueError(f"venue error {msg.status}: {msg.error}")
            if msg.id is not None or msg.result is not msgspec.UNSET:
                return []  # the answer to a request
            raise ParseError(f"unexpected message: {raw[:100]!r}")
        market = self.lookup(sym)
        if market is None:
            return []
        return [BOOK_TICKER.record(self.venue, market, msg, ts_recv)]

    # --- REST --------------------------------------------------------------------------
    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return per_market(markets, f"{base_url}/v1/pubticker/")

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /v1/pubticker/btcusdt: {"bid":"73367.96","ask":"73385.27","last":"73268.24",
        "volume":{"BTC":"3.5434218","USDT":"259620.278863632","timestamp":1710328245000}}
        The volume keys are the base and quote currency codes. Errors:
        {"result":"error","reason":"InvalidSymbol","message":"..."}.
        """
        t = json_object(body)
        if t.get("result") == "error":
            raise VenueError(f"venue error {t.get('reason')}: {t.get('message')}")
        volume = t.get("volume")
        if not isinstance(volume, dict) or not ({"bid", "ask", "last"} & t.keys()):
            raise ParseError("not a pubticker object")
        if market is None:
            raise ParseError("a pubticker response needs its market")
        return [
            Ticker(
                self.venue,
                market.symbol,
                market.native,
                bid=num(t.get("bid")),
                ask=num(t.get("ask")),
                last=num(t.get("last")),
                volume=num(volume.get(market.base_id)),
                quote_volume=num(volume.get(market.quote_id)),
                ts_event=ms_to_ns(volume.get("timestamp")),
                ts_recv=ts_recv,
            )
        ]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """GET /v1/symbols: ["btcusd","ethbtc","ethusd","btcusdt","btcgusdperp",...]
        Perpetuals ("...perp") are skipped; so is an id with no known quote currency."""
        return Codec.rows_at(json_body(body))

    @staticmethod
    def market_of(native: Any) -> Market | None:
        if not isinstance(native, str):
            raise ParseError("expected symbol strings")
        upper = native.upper()
        if upper.endswith("PERP"):
            return None
        split = _SPLITS.get(upper) or _split(upper)
        if split is None:
            return None
        base, quote_ = split
        # REST and the WebSocket API name markets in lower case; the archived feed and some
        # of the venue's examples in upper case.
        ids = (native, upper)
        return pair_market(base, quote_, native, ids=ids)


def _split(upper: str) -> tuple[str, str] | None:
    for q in _QUOTES:
        if upper.endswith(q) and len(upper) > len(q):
            return upper[: -len(q)], q
    return None
