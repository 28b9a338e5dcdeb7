"""AscendEX (BitMax until 2021) spot: the public stream's best bid/ask and REST polling.

Checked against AscendEX's Pro API documentation (ascendex.github.io/ascendex-pro-api, spot,
and ascendex-futures-pro-api-v2 for the v2 stream's endpoints), read in December 2026:

- WebSocket: the public endpoint ``wss://ascendex.com:443/api/pro/v2/stream`` takes no
  account group (the ``/<grp>/`` path segment is for authenticated sessions only); the
  reference library's client used it for spot symbols too. ``{"op":"sub","id","ch":
  "bbo:BTC/USDT,ETH/USDT"}`` (up to 10 symbols a message) is acknowledged
  ``{"m":"sub","id","ch","code":0}`` and pushes ``{"m":"bbo","symbol","data":{"ts","bid":
  [price, size],"ask":[price, size]}}`` on every change of the top of the book. No public
  channel carries the 24 h statistics (the documentation lists depth, bbo, trades, bar and
  ref-px), so streamed records have the best bid and ask only; the REST ticker has the rest.
- The server sends ``{"m":"ping","hp":3}`` when the client has been quiet for a while (hp,
  the "health points", falls with each unanswered one; two missed and the session ends):
  each is answered ``{"op":"pong","hp":3}``, echoing its hp as the recorded client did (the
  documentation's example is ``{"op":"pong"}``). ``{"m":"disconnected",
  "code","reason","info"}`` announces the end of the session.
- REST ``GET /api/pro/v1/spot/ticker`` with no ``symbol`` answers the ticker of every spot
  market in a list (one symbol: one object): open (24 h ago), close (last), high, low,
  volume (base), ask and bid as [price, size]; no quote volume, no time. It replaced
  ``/api/pro/v1/ticker`` (spot and futures, with a "type") in November 2021, which the
  reference library still read (the recorded response). Envelope ``{"code": 0, "data"}``;
  any other code is an error. Markets from ``/api/pro/v1/cash/products`` (the spot list
  since February 2022; ``statusCode`` "Normal"), ids "BTC/USDT". The documentation publishes
  no request limit for public market data; the reference library spaced its requests 400 ms
  apart: one request per poll interval stays well inside that.

Recorded: the REST ticker (tests/fixtures/rest/ascendex.json) and a 2021 session of the v1
stream with its pings and acks (tests/fixtures/ws-beyond/ascendex.json); the bbo frames of
the tests are the documentation's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec
import orjson

from ..errors import ParseError, VenueError, VenueNotice
from ..records import Ticker, best_level, ms_to_ns
from ..symbols import Market
from ..timestamps import MILLIS
from .base import Codec, RestRequest, answer_code, json_body, pair_market
from .fields import StructFields, top_of_book
from .routes import Route, TimeAt
from .schema import Num, Schema, Time

SYMBOLS_PER_MESSAGE = 10  # the venue's cap on one subscription's symbols
ANSWERS = ("connected", "sub", "unsub", "pong", "auth", "error")


class Top(msgspec.Struct):
    """bbo's data: the best bid and ask, each [price, size]."""

    ts: Time = None  # ms
    bid: list[Num] | None = None
    ask: list[Num] | None = None


class Message(msgspec.Struct):
    """A push ({"m", "symbol", "data"}), a ping, an answer to a request, a disconnection."""

    m: Any = None
    symbol: Any = ""
    data: Top | list[Any] | None = None  # a list: trades
    hp: Any = None
    id: Any = None
    ch: Any = None
    code: Any = None
    err: Any = None
    reason: Any = None
    info: Any = None


class Stats(msgspec.Struct):
    """A REST ticker."""

    symbol: Any = ""
    open: Num = None
    close: Num = None
    high: Num = None
    low: Num = None
    volume: Num = None  # base currency
    bid: list[Num] | None = None
    ask: list[Num] | None = None


class Response(msgspec.Struct):
    code: Any = None
    data: Stats | list[Stats] | None = None
    message: Any = None
    reason: Any = None


MESSAGE = Schema(Message)
RESPONSE = Schema(Response)
# The best bid and ask come from the book's levels (_top); no quote volume, no time sent.
STATS = StructFields(last="close", open="open", high="high", low="low", volume="volume")


def _top(bid: list[Any] | None, ask: list[Any] | None) -> tuple[Any, Any, Any, Any]:
    """The best bid and ask sent as one [price, size] each ([]: an empty side)."""
    return (
        *best_level([bid] if bid else bid, highest=True),
        *best_level([ask] if ask else ask, highest=False),
    )


class AscendEX(Codec):
    venue: ClassVar[str] = "ascendex"
    # The reference library's renames for this venue where the new name is a currency code
    # (its "BYN" and "PLN" became display names: not applied).
    RENAMES: ClassVar[dict[str, str]] = {"BOND": "BONDED", "BTCBEAR": "BEAR", "BTCBULL": "BULL"}
    REST_URL: ClassVar[str] = "https://ascendex.com"
    MARKETS_URL: ClassVar[str] = "https://ascendex.com/api/pro/v1/cash/products"
    WS_URL: ClassVar[str] = "wss://ascendex.com:443/api/pro/v2/stream"
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 100  # ten subscribe messages
    REST_RATE: ClassVar[float] = 1.0  # one request per poll; no published limit
    ROUTES: ClassVar[tuple[Route, ...]] = (  # parse_ws's bbo channel, read in C
        Route(
            when={"m": "bbo"}, market="symbol",
            fields={"bid": "!data.bid.0", "bid_size": "!data.bid.1", "ask": "!data.ask.0",
                    "ask_size": "!data.ask.1", "ts_event": TimeAt("data.ts", MILLIS)},
        ),
    )  # fmt: skip

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        ids = [m.native for m in markets]
        out: list[str] = []
        for i in range(0, len(ids), SYMBOLS_PER_MESSAGE):
            ch = "bbo:" + ",".join(ids[i : i + SYMBOLS_PER_MESSAGE])
            out.append(orjson.dumps({"op": "sub", "id": f"bbo{len(out) + 1}", "ch": ch}).decode())
        return out

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """{"m":"bbo","symbol":"BTC/USDT","data":{"ts":1573068442532,
         "bid":["9309.11","0.0197172"],"ask":["9309.12","0.8851266"]}}  (documented)
        Recorded (2021): {"m":"connected","type":"unauth"}, {"m":"sub","ch":"depth:ZIG/USDT",
        "code":0}, {"m":"ping","hp":3}; documented: {"m":"pong","code":0,"ts":1574260701259,
        "hp":2}, {"m":"disconnected","code":100005,"reason":"INVALID_WS_REQUEST_DATA",
        "info":"Session is disconnected due to missing pong message from the client"}.
        """
        msg = MESSAGE(raw)
        kind = msg.m
        if kind == "bbo":
            m = self.lookup(msg.symbol)
            if m is None:
                return []
            data = msg.data
            if not isinstance(data, Top):
                raise ParseError("bbo without data")
            return [
                top_of_book(self.venue, m, _top(data.bid, data.ask), ts_recv, ms_to_ns(data.ts))
            ]
        if kind == "ping":
            self.replies.append(orjson.dumps({"op": "pong", "hp": msg.hp}).decode())
            return []
        if kind == "disconnected":
            raise VenueError(f"disconnected by the venue: {msg.code} {msg.reason}: {msg.info}")
        if kind in ANSWERS:
            if msg.code not in (0, None):
                why = msg.err or msg.info or msg.reason
                raise VenueNotice(f"request {msg.id or msg.ch} refused: {msg.code}: {why}")
            return []
        if isinstance(kind, str):
            return []  # pushes of channels not subscribed (trades, depth, bar)
        raise ParseError(f"unexpected message: {raw[:100]!r}")

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [RestRequest(f"{base_url}/api/pro/v1/spot/ticker")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """{"code":"0","data":{"symbol":"BTC/USDT","open":"71865","close":"73374.18",
        "high":"73635.73","low":"68700","volume":"999.01458","ask":["73377.9","0.0027"],
        "bid":["73358.53","0.0023"],"type":"spot"}}  (recorded: one symbol's object; with no
        symbol asked, "data" is a list of them). Errors: {"code":100002,"reason":
        "DATA_NOT_AVAILABLE","message":"..."}.
        """
        doc = RESPONSE(body)
        answer_code(doc.code, doc.message or doc.reason)
        data = doc.data
        if data is None:
            raise ParseError("response without data")
        rows = data if isinstance(data, list) else [data]
        lookup, venue, record = self.lookup, self.venue, STATS.record_top
        return [
            record(venue, m, t, _top(t.bid, t.ask), ts_recv)
            for t in rows
            if (m := lookup(t.symbol)) is not None
        ]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """GET /api/pro/v1/cash/products: {"code":0,"data":[{"symbol":"BTC/USDT",
        "displayName":"BTC/USDT","domain":"USDS","tradingStartTime":1546300800000,
        "statusCode":"Normal","statusMessage":"","tickSize":"0.01","lotSize":"0.00001",
        ...}]}; the general product list adds "baseAsset", "quoteAsset" and "status"."""
        return Codec.rows_at(json_body(body), "data")

    @classmethod
    def market_of(cls, row: Any) -> Market | None:
        if (row.get("statusCode") or row.get("status")) != "Normal":
            return None
        native = row["symbol"]
        base, quote = (row.get("baseAsset"), row.get("quoteAsset"))
        if not base or not quote:
            base, quote = native.split("/")
        return pair_market(base, quote, native, renames=cls.RENAMES)
