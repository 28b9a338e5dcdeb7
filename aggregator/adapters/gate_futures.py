"""Gate USDT-settled perpetual futures: the futures WebSocket API v4 and the REST API v4.

WebSocket (wss://fx-ws.gateio.ws/v4/ws/usdt): ``futures.book_ticker`` (best bid and ask with
their sizes, on every change) and ``futures.tickers`` (last, 24 h statistics, mark and index
prices, the funding rate and ``total_size``, the open interest, about once a second), merged
into one record per contract. The protocol is the spot one's (``gate``): requests carry a
``time``, ``futures.ping`` keeps the session, rejections echo the request with an ``error``.

Sizes are contracts: ``quanto_multiplier`` of the contract list is what one is worth in the
base currency. Gate is moving sizes from integers to strings (fractional contracts, from
December 2025), and both decode alike. Tickers carry the next funding time
(``funding_next_apply``, s) since 2025; the REST fallback polls ``/futures/usdt/tickers``
(bid, ask and their sizes, mark, index, funding) and ``/futures/usdt/contracts`` (whose
``funding_next_apply`` the REST tickers lack), merged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from ..errors import ParseError
from ..records import Derivative, Ticker, ms_to_ns, seconds_to_ns
from ..symbols import Market
from ..timestamps import MILLIS, SECONDS
from .base import Codec, RestRequest, json_body
from .contracts import in_base, linear_perp
from .gate import Gate, Refused, ping, push_time, rejection, rows, subscribe
from .routes import MARKET, Call, Route, TimeAt
from .schema import Num, Schema, Time

CHANNELS = ("futures.book_ticker", "futures.tickers")
# An item's own time, else the push's (push_time)
PUSH_TIME = TimeAt(("t?", "$.time_ms", ("$.time", SECONDS)), MILLIS)


def _route(channel: str, items: str, market: str, fields: dict[str, Any]) -> Route:
    """A channel's update; a ticker of one contract (a REST contract's "name": parse_ws's)."""
    absent = {"result.0.name": None} if channel == "futures.tickers" else {}
    return Route(
        when={"event": "update", "channel": channel, **absent}, items=items, market=market,
        fields={**fields, "ts_event": PUSH_TIME}, record=Derivative,
        market_fields={"kind": "kind"},
    )  # fmt: skip


class Result(msgspec.Struct):
    """A push's result: a top of book (futures.book_ticker), a ticker (futures.tickers and
    REST tickers) or a contract (REST contracts), in one declaration."""

    # futures.book_ticker
    t: Time = None  # ms
    s: str = ""
    b: Num = None
    B: Num = None  # contracts, an integer or (from 2025) a string
    a: Num = None
    A: Num = None
    # futures.tickers and REST tickers
    contract: str = ""
    last: Num = None
    total_size: Num = None  # open interest, contracts
    high_24h: Num = None
    low_24h: Num = None
    volume_24h_base: Num = None
    volume_24h_quote: Num = None
    mark_price: Num = None
    index_price: Num = None
    funding_rate: Num = None
    highest_bid: Num = None
    highest_size: Num = None
    lowest_ask: Num = None
    lowest_size: Num = None
    funding_next_apply: Num = None  # s (tickers since 2025, and REST contracts)
    # REST contracts
    name: str = ""


class Push(msgspec.Struct):
    time: Time = None
    time_ms: Time = None
    channel: str | None = None
    event: str | None = None
    result: Result | list[Result] | None = None
    error: Any = None


PUSH = Schema(Push)
ROWS = Schema(list[Result] | Refused)  # type: ignore[arg-type]


class GateFutures(Codec):
    venue: ClassVar[str] = "gate"
    REST_URL: ClassVar[str] = "https://api.gateio.ws/api/v4"
    MARKETS_URL: ClassVar[str] = "https://api.gateio.ws/api/v4/futures/usdt/contracts"
    WS_URL: ClassVar[str] = "wss://fx-ws.gateio.ws/v4/ws/usdt"
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 100
    APP_PING_INTERVAL: ClassVar[float | None] = 15.0
    MERGE: ClassVar[bool] = True
    # Public REST endpoints: 200 requests per 10 s per IP; a poll makes two.
    REST_RATE: ClassVar[float] = 10.0
    # parse_ws's two channels' updates, read in C (sizes: contracts converted)
    ROUTES: ClassVar[tuple[Route, ...]] = (
        _route("futures.book_ticker", "result", "s", {
            "bid": "b", "bid_size": Call(in_base, "B", MARKET),
            "ask": "a", "ask_size": Call(in_base, "A", MARKET),
        }),
        _route("futures.tickers", "result.[only]", "contract", {
            "bid": "highest_bid?", "bid_size": Call(in_base, "highest_size?", MARKET),
            "ask": "lowest_ask?", "ask_size": Call(in_base, "lowest_size?", MARKET),
            "last": "last", "high": "high_24h", "low": "low_24h",
            "volume": "volume_24h_base", "quote_volume": "volume_24h_quote",
            "mark": "mark_price", "index": "index_price", "funding_rate": "funding_rate",
            "funding_ts": TimeAt("funding_next_apply?", SECONDS),
            "open_interest": Call(in_base, "total_size", MARKET),
        }),
    )  # fmt: skip

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        return subscribe(CHANNELS, markets)

    def app_ping(self) -> str | None:
        return ping("futures")

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """{"time":1684930165,"time_ms":1684930165631,"channel":"futures.book_ticker",
        "event":"update","result":{"t":1684930165621,"u":6159967,"s":"PHB_USDT",
        "b":"0.7379","B":814,"a":"0.739","A":677}} (recorded 2023-05-24)
        {"time":1541659086,"time_ms":1541659086123,"channel":"futures.tickers",
        "event":"update","result":[{"contract":"BTC_USDT","last":"118.4",
        "change_percentage":"0.77","funding_rate":"-0.000114","mark_price":"118.35",
        "index_price":"118.36","total_size":"73648","volume_24h":"745487577",
        "volume_24h_base":"7454875","volume_24h_quote":"883090000","high_24h":"119.7",
        "low_24h":"116.2","funding_rate_indicative":"0.01875"}]} (documented); since 2025
        tickers add "funding_interval":28800,"funding_next_apply":1789459200 and "t" (ms).
        Acks: {..."event":"subscribe","result":{"status":"success"}}; rejections carry
        an "error" object; {"channel":"futures.pong","event":"","result":null}.
        """
        msg = PUSH(raw)
        if msg.event == "update":
            result = msg.result
            rows = result if isinstance(result, list) else [result]
            if msg.channel == "futures.book_ticker":
                return [r for t in rows if (r := self._book(t, msg, ts_recv)) is not None]
            if msg.channel == "futures.tickers":
                ts_event = push_time(msg)
                return [r for t in rows if (r := self._ticker(t, ts_event, ts_recv)) is not None]
            return []
        error = msg.error
        if error:
            raise rejection(msg.channel, msg.event, error)
        return []

    def _book(self, t: Result | None, msg: Push, ts_recv: int) -> Ticker | None:
        if t is None:
            raise ParseError("book_ticker result is not an object")
        m = self.lookup(t.s)
        if m is None:
            return None
        return Derivative(
            self.venue, m.symbol, m.native, t.b, in_base(t.B, m), t.a, in_base(t.A, m),
            ts_event=ms_to_ns(t.t) or push_time(msg), ts_recv=ts_recv, kind=m.kind,
        )  # fmt: skip

    def _ticker(self, t: Result | None, ts_event: int | None, ts_recv: int) -> Ticker | None:
        if t is None:
            raise ParseError("expected ticker objects")
        if t.name:  # a REST contract: the next funding time
            m = self.lookup(t.name)
            if m is None:
                return None
            return Derivative(
                self.venue, m.symbol, m.native, ts_recv=ts_recv, kind=m.kind,
                funding_ts=seconds_to_ns(t.funding_next_apply),
            )  # fmt: skip
        m = self.lookup(t.contract)
        if m is None:
            return None
        return Derivative(
            self.venue,
            m.symbol,
            m.native,
            t.highest_bid,  # bid (REST only)
            in_base(t.highest_size, m),
            t.lowest_ask,
            in_base(t.lowest_size, m),
            t.last,
            None,  # open
            t.high_24h,
            t.low_24h,
            t.volume_24h_base,
            t.volume_24h_quote,
            ms_to_ns(t.t) or ts_event,
            ts_recv,
            kind=m.kind,
            mark=t.mark_price,
            index=t.index_price,
            funding_rate=t.funding_rate,
            funding_ts=seconds_to_ns(t.funding_next_apply),
            open_interest=in_base(t.total_size, m),
        )

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [
            RestRequest(f"{base_url}/futures/usdt/tickers"),
            RestRequest(f"{base_url}/futures/usdt/contracts"),
        ]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /api/v4/futures/usdt/tickers: [{"contract":"BTC_USDT","last":"6432",
        "low_24h":"6278","high_24h":"6790","change_percentage":"4.43","total_size":"32323904",
        "volume_24h_base":"28613220","volume_24h_quote":"2016138000","mark_price":"6534",
        "funding_rate":"0.0001","index_price":"6531","highest_bid":"34089.7",
        "highest_size":"100","lowest_ask":"34217.9","lowest_size":"1000"}] (documented);
        GET /api/v4/futures/usdt/contracts: the market rows (below), whose
        "funding_next_apply" (s) is the next funding time.
        Errors: {"label":"CONTRACT_NOT_FOUND","message":"..."}.
        """
        return [r for t in rows(ROWS(body)) if (r := self._ticker(t, None, ts_recv)) is not None]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """GET /api/v4/futures/usdt/contracts: [{"name":"BTC_USDT","type":"direct",
        "quanto_multiplier":"0.0001","mark_price":"89270.4","index_price":"89289.2",
        "funding_rate":"0.000042","funding_interval":28800,"funding_next_apply":1765137600,
        "position_size":487621033,"in_delisting":false,"status":"trading",...}]
        A contract in delisting is skipped; "direct" contracts are linear, settled in USDT.
        """
        return Codec.rows_at(json_body(body))

    @classmethod
    def market_of(cls, row: Any) -> Market | None:
        if row.get("in_delisting") or row.get("status", "trading") != "trading":
            return None
        base, quote = row["name"].split("_")
        size = float(row["quanto_multiplier"])
        return linear_perp(base, quote, row["name"], renames=Gate.RENAMES, contract_size=size)
