"""Gate (formerly Gate.io) spot: the WebSocket API v4 and the public REST API v4.

WebSocket (wss://api.gateio.ws/ws/v4/): ``spot.tickers`` (24 h statistics with the best bid
and ask, pushed about once a second) and ``spot.book_ticker`` (best bid and ask with their
sizes, on every change), merged into one record per market. Every request carries a
``time`` (s); the client keeps the session alive with ``spot.ping`` (answered ``spot.pong``).
Neither channel numbers its messages consecutively (book_ticker's ``u`` is the order book's
update id), so there is no gap check. A rejected subscription comes back as the request's
echo with an ``error`` object.

``GET /api/v4/spot/tickers`` without ``currency_pair`` returns every spot pair in one list
(some 2,000 entries, a few hundred kB; ``?currency_pair=BTC_USDT`` gives the same shape
with one entry and takes a single pair), so one request per poll covers all subscribed
markets. Tickers carry no timestamp. Markets come from ``/api/v4/spot/currency_pairs``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, TypeVar

import msgspec
import orjson

from ..errors import ParseError, VenueError, VenueNotice
from ..records import Ticker, ms_to_ns, seconds_to_ns
from ..symbols import Market
from ..timestamps import MILLIS, SECONDS
from .base import Codec, RestRequest, json_body, pair_market
from .fields import StructFields, top_of_book
from .routes import Route, TimeAt
from .schema import Num, Schema, Time

CHANNELS = ("spot.tickers", "spot.book_ticker")


class Result(msgspec.Struct):
    """A push's "result": a ticker (spot.tickers, and REST) or a top of book
    (spot.book_ticker); both in one declaration, so that a frame decodes in one pass."""

    # spot.tickers
    currency_pair: str = ""
    last: Num = None
    lowest_ask: Num = None
    highest_bid: Num = None
    lowest_size: Num = None
    highest_size: Num = None
    base_volume: Num = None
    quote_volume: Num = None
    high_24h: Num = None
    low_24h: Num = None
    # spot.book_ticker
    t: Time = None  # ms
    s: str = ""
    b: Num = None
    B: Num = None
    a: Num = None
    A: Num = None


class Push(msgspec.Struct):
    time: Time = None  # s
    time_ms: Time = None
    channel: str | None = None
    event: str | None = None
    result: Result | list[Result] | None = None
    error: Any = None


class Refused(msgspec.Struct):
    """A REST error: {"label": "INVALID_CURRENCY_PAIR", "message": "..."}."""

    label: Any = msgspec.UNSET
    message: Any = None


PUSH = Schema(Push)
R = TypeVar("R")  # a REST answer's row type: spot's Result or the futures'
TICKERS = Schema(list[Result] | Refused)  # type: ignore[arg-type]


class Stamped(Protocol):
    """A push of spot's or the futures' socket, by its times."""

    time: Time
    time_ms: Time


def push_time(msg: Stamped) -> int | None:
    """A push's time: ``time_ms``, else ``time`` in seconds (pushes without ``time_ms``
    were recorded in 2021); spot's and the futures'."""
    ts = ms_to_ns(msg.time_ms)
    return ts if ts is not None else seconds_to_ns(msg.time)


TICKER = StructFields(
    bid="highest_bid", bid_size="highest_size", ask="lowest_ask", ask_size="lowest_size",
    last="last", high="high_24h", low="low_24h", volume="base_volume",
    quote_volume="quote_volume",
)  # fmt: skip


def subscribe(channels: Sequence[str], markets: Sequence[Market]) -> list[str]:
    """One subscribe request per channel, every market in each (spot's and the futures')."""
    ids = [m.native for m in markets]
    now = int(time.time())
    return [
        orjson.dumps(
            {"time": now, "id": n, "channel": ch, "event": "subscribe", "payload": ids}
        ).decode()
        for n, ch in enumerate(channels, start=1)
    ]


def rows(doc: list[R] | Refused) -> list[R]:
    """A REST answer's rows (spot's and the futures', whose row type differs), or the
    venue's refusal raised."""
    if isinstance(doc, Refused):
        if doc.label is not msgspec.UNSET:
            raise VenueError(f"venue error {doc.label}: {doc.message}")
        raise ParseError("expected a list of tickers")
    return doc


def rejection(channel: str | None, event: str | None, error: Any) -> VenueNotice:
    """A refused request's echo ({"error": {"code", "message"}}) as a notice (spot's and
    the futures'); made only when a frame carries an error."""
    detail = f"{error.get('code')}: {error.get('message')}" if isinstance(error, dict) else error
    return VenueNotice(f"{channel} {event} rejected: {detail}")


def ping(prefix: str) -> str:
    """The application ping of the "spot" or "futures" socket."""
    return orjson.dumps({"time": int(time.time()), "channel": f"{prefix}.ping"}).decode()


class Gate(Codec):
    venue: ClassVar[str] = "gate"
    REST_URL: ClassVar[str] = "https://api.gateio.ws/api/v4"
    MARKETS_URL: ClassVar[str] = "https://api.gateio.ws/api/v4/spot/currency_pairs"
    WS_URL: ClassVar[str] = "wss://api.gateio.ws/ws/v4/"
    # No documented cap on subscriptions, but the server drops connections whose client
    # cannot keep up; Gate recommends keeping each connection's load moderate.
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 100
    APP_PING_INTERVAL: ClassVar[float | None] = 15.0
    MERGE: ClassVar[bool] = True
    ROUTES: ClassVar[tuple[Route, ...]] = (  # parse_ws's two channels' updates, read in C
        Route(  # the time: the book's own, else the push's (push_time)
            when={"event": "update", "channel": "spot.book_ticker"}, items="result", market="s",
            fields={"bid": "b", "bid_size": "B", "ask": "a", "ask_size": "A",
                    "ts_event": TimeAt(("t", "$.time_ms", ("$.time", SECONDS)), MILLIS)},
        ),
        Route(
            when={"event": "update", "channel": "spot.tickers"}, items="result",
            market="currency_pair",
            fields={"bid": "highest_bid", "bid_size": "highest_size", "ask": "lowest_ask",
                    "ask_size": "lowest_size", "last": "last", "high": "high_24h",
                    "low": "low_24h", "volume": "base_volume", "quote_volume": "quote_volume",
                    "ts_event": TimeAt(("$.time_ms", ("$.time", SECONDS)), MILLIS)},
        ),
    )  # fmt: skip
    # The reference library's renames of Gate currency codes that clash with other coins.
    RENAMES: ClassVar[dict[str, str]] = {
        "ORT": "XREATORS",
        "ASS": "ASSF",
        "88MPH": "MPH",
        "AXIS": "AXISDEFI",
        "BIFI": "BITCOINFILE",
        "BOX": "DEFIBOX",
        "BYN": "BEYONDFI",
        "EGG": "GOOSEFINANCE",
        "GTC": "GAMECOM",
        "GTC_HT": "GAMECOM_HT",
        "GTC_BSC": "GAMECOM_BSC",
        "HIT": "HITCHAIN",
        "MM": "MILLION",
        "MPH": "MORPHER",
        "POINT": "GATEPOINT",
        "RAI": "RAIREFLEXINDEX",
        "RED": "REDLANG",
        "SBTC": "SUPERBITCOIN",
        "TNC": "TRINITYNETWORKCREDIT",
        "VAI": "VAIOT",
        "TRAC": "TRACO",
    }

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        return subscribe(CHANNELS, markets)

    def app_ping(self) -> str | None:
        return ping("spot")

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """{"time":1786539989,"time_ms":1786539989549,"channel":"spot.tickers",
        "event":"update","result":{"currency_pair":"BTC_USDT","last":"64043.9",
        "lowest_ask":"64043.9","highest_bid":"64043.8","change_percentage":"-0.4034",
        "base_volume":"5291.366688","quote_volume":"337744396.9986996",
        "high_24h":"64473.5","low_24h":"63234.7"}}
        {"time":1606293275,"time_ms":1606293275723,"channel":"spot.book_ticker",
        "event":"update","result":{"t":1606293275123,"u":48733182,"s":"BTC_USDT",
        "b":"19177.79","B":"0.0003341504","a":"19179.38","A":"0.09"}}
        Acks: {..."event":"subscribe","result":{"status":"success"}}; rejections:
        {..."event":"subscribe","error":{"code":2,"message":"unknown currency pair"}};
        {"channel":"spot.pong","event":"","result":null}.
        """
        msg = PUSH(raw)
        channel = msg.channel
        if msg.event == "update":
            result = msg.result
            rows = result if isinstance(result, list) else [result]
            if channel == "spot.book_ticker":
                return [r for t in rows if (r := self._book(t, msg, ts_recv)) is not None]
            if channel == "spot.tickers":
                ts_event = push_time(msg)
                return [r for t in rows if (r := self._ticker(t, ts_event, ts_recv)) is not None]
            return []
        error = msg.error
        if error:
            raise rejection(channel, msg.event, error)
        return []

    def _book(self, t: Result | None, msg: Push, ts_recv: int) -> Ticker | None:
        if t is None:
            raise ParseError("book_ticker result is not an object")
        m = self.lookup(str(t.s))
        if m is None:
            return None
        ts_event = ms_to_ns(t.t) or push_time(msg)
        return top_of_book(self.venue, m, (t.b, t.B, t.a, t.A), ts_recv, ts_event)

    def _ticker(self, t: Result | None, ts_event: int | None, ts_recv: int) -> Ticker | None:
        if t is None:
            raise ParseError("expected ticker objects")
        m = self.lookup(str(t.currency_pair))
        if m is None:
            return None
        return TICKER.record(self.venue, m, t, ts_recv, ts_event)

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [RestRequest(f"{base_url}/spot/tickers")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /api/v4/spot/tickers: [{"currency_pair":"BTC_USDT","last":"73373.9",
        "lowest_ask":"73364.2","highest_bid":"73364.1","change_percentage":"1.71",
        "base_volume":"3410.0783503636","quote_volume":"243764368.46418",
        "high_24h":"73636.3","low_24h":"68629.9"}]
        Newer responses add "lowest_size" and "highest_size", the sizes at the best ask
        and bid (null when absent, as in this recording).
        Errors: {"label":"INVALID_CURRENCY_PAIR","message":"..."}.
        """
        return [r for t in rows(TICKERS(body)) if (r := self._ticker(t, None, ts_recv)) is not None]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """GET /api/v4/spot/currency_pairs: [{"id":"BTC_USDT","base":"BTC","quote":"USDT",
        "fee":"0.2","min_quote_amount":"3","amount_precision":6,"precision":1,
        "trade_status":"tradable","sell_start":1516378650,"buy_start":1516378650,...}]
        trade_status is tradable, buyable, sellable or untradable; the last is skipped.
        """
        return Codec.rows_at(json_body(body))

    @classmethod
    def market_of(cls, p: Any) -> Market | None:
        if p.get("trade_status", "tradable") == "untradable":
            return None
        return pair_market(p["base"], p["quote"], p["id"], renames=cls.RENAMES)
