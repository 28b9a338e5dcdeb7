"""HTX (formerly Huobi) spot: the market WebSocket and the public REST market API.

WebSocket (wss://api.huobi.pro/ws): ``market.$symbol.ticker`` (24 h statistics with the best
bid and ask) and ``market.$symbol.bbo`` (best bid and ask on every change), merged; the
``.detail`` channel (statistics only) is parsed as well. Every server frame is gzip-compressed
binary; plain JSON text is accepted too. The server sends {"ping": ts} every 5 s and drops
the connection after two unanswered ones: each is answered {"pong": ts}. The channels carry
no consecutive sequence numbers (bbo's seqId is the order book's), so no gap check.

``GET /market/tickers`` returns the 24 h ticker of every spot market in one response, with
the best bid and ask and their sizes, so one request per poll covers all subscribed
markets. The per-market ``/market/detail/merged?symbol=btcusdt`` (the recorded reference
response) is parsed as well. Market ids are lower case ("btcusdt"); markets come from
``/v1/common/symbols``.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, TypeVar

import msgspec
import orjson

from ..errors import ParseError, VenueError, VenueNotice
from ..records import EMPTY, Ticker, ms_to_ns, num
from ..symbols import Market, MarketTable
from ..timestamps import MILLIS
from .base import Codec, RestRequest, gunzip, json_body, json_object, pair_market
from .fields import StructFields, TickerFields
from .routes import Route, TimeAt
from .schema import Num, Schema, Time


class Tick(msgspec.Struct):
    """A stream's "tick": 24 h statistics (ticker, detail) or the best bid and ask (bbo)."""

    bid: Num = None
    bidSize: Num = None
    ask: Num = None
    askSize: Num = None
    close: Num = None  # the last price
    open: Num = None
    high: Num = None
    low: Num = None
    amount: Num = None  # base volume
    vol: Num = None  # quote volume
    quoteTime: Time = None  # ms, bbo only


class Message(msgspec.Struct):
    """A push ({"ch", "ts", "tick"}), a ping (two protocols), an ack or an error."""

    ch: Any = None
    ts: Time = None  # ms
    tick: Tick | None = None
    ping: Any = msgspec.UNSET  # {"ping": ts}, answered with the same value
    action: Any = None
    data: Any = None
    status: Any = None
    id: Any = None
    err_code: Any = msgspec.field(default=None, name="err-code")
    err_msg: Any = msgspec.field(default=None, name="err-msg")


MESSAGE = Schema(Message)
T = TypeVar("T")  # a push's tick type: spot's Tick or the swaps'
# The message's time ("ts", or the bbo's quoteTime) is the record's: given to record().
BBO = StructFields(bid="bid", bid_size="bidSize", ask="ask", ask_size="askSize")
STREAM_TICKER = StructFields(
    bid="bid", bid_size="bidSize", ask="ask", ask_size="askSize", last="close", open="open",
    high="high", low="low", volume="amount", quote_volume="vol",
)  # fmt: skip
# Polled: the best bid and ask are flat in /market/tickers, levels in detail/merged (_level).
REST_TICKER = TickerFields(
    last="close", open="open", high="high", low="low", volume="amount", quote_volume="vol"
)


def route(codec: Codec, ch: str, tick: T | None) -> tuple[Market, str, T] | None:
    """A push's market, channel and tick from its "ch" (market.$id.$channel, then any
    more parts), spot's and the swaps'; None for a market not followed. A push without
    a tick is malformed."""
    parts = ch.split(".")
    if len(parts) < 3 or tick is None:
        raise ParseError(f"unexpected {ch} message")
    m = codec.lookup(parts[1])
    return None if m is None else (m, parts[2], tick)


class Control(Protocol):
    """A frame of spot's or the swaps' market sockets, by its control fields."""

    ping: Any
    status: Any
    id: Any
    err_code: Any
    err_msg: Any


def control(codec: Codec, msg: Control) -> list[Ticker]:
    """A frame that is no push, spot's or the swaps': a server ping answered with its
    value, a refused request raised, an ack passed over."""
    if msg.ping is not msgspec.UNSET:
        codec.replies.append(orjson.dumps({"pong": msg.ping}).decode())
        return []
    if msg.status == "error":
        raise VenueNotice(f"request {msg.id} rejected: {msg.err_code}: {msg.err_msg}")
    return []


# Each table's markets by the "ch" of their pushes, per channel, for the routes: the whole
# name, so that a route takes no other channel. Built once per table (spot's and the swaps').
_BY_CHANNEL: weakref.WeakKeyDictionary[MarketTable, dict[str, dict[str, Market]]] = (
    weakref.WeakKeyDictionary()
)


def by_channel(table: MarketTable, channel: str) -> dict[str, Market]:
    """The table's markets by "market.$id.<channel>"."""
    found = _BY_CHANNEL.setdefault(table, {})
    markets = found.get(channel)
    if markets is None:
        ids = [(k, m) for k, m in table.by_id.items() if "." not in k]  # ch splits at dots
        markets = found[channel] = {f"market.{k}.{channel}": m for k, m in ids}
    return markets


class HTX(Codec):
    venue: ClassVar[str] = "htx"
    # The reference library's renames for this venue where the new name is a currency code;
    # its renames to display names ("Game.com", "Hydro Protocol", ...) are not applied.
    RENAMES: ClassVar[dict[str, str]] = {"GET": "THEMIS", "HIT": "HITCHAIN", "PNT": "PENTA"}
    REST_URL: ClassVar[str] = "https://api.huobi.pro"
    MARKETS_URL: ClassVar[str] = "https://api.huobi.pro/v1/common/symbols"
    WS_URL: ClassVar[str] = "wss://api.huobi.pro/ws"
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 100  # two topics each
    MERGE: ClassVar[bool] = True
    ROUTES: ClassVar[tuple[Route, ...]] = (  # parse_ws's ticker and bbo pushes, read in C
        Route(  # a channel told by its whole name: a bbo's, if it has no quoteTime, declined
            when={"ch": "market.*", "tick.quoteTime": None}, items="tick", market="$.ch",
            lookup="by_ticker",
            fields={"bid": "bid", "bid_size": "bidSize", "ask": "ask", "ask_size": "askSize",
                    "last": "close", "open": "open", "high": "high", "low": "low",
                    "volume": "amount", "quote_volume": "vol", "ts_event": TimeAt("$.ts", MILLIS)},
        ),
        Route(
            when={"ch": "market.*"}, items="tick", market="$.ch", lookup="by_bbo",
            fields={"bid": "bid", "bid_size": "bidSize", "ask": "ask", "ask_size": "askSize",
                    "ts_event": TimeAt(("quoteTime", "$.ts"), MILLIS)},
        ),
    )  # fmt: skip

    @property
    def by_ticker(self) -> dict[str, Market]:
        """The routes' ids of the ticker pushes (built when the routes are compiled)."""
        return by_channel(self.table, "ticker")

    @property
    def by_bbo(self) -> dict[str, Market]:
        return by_channel(self.table, "bbo")

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        return [
            orjson.dumps({"sub": topic, "id": f"subscribe-{topic}"}).decode()
            for m in markets
            for topic in (f"market.{m.native}.ticker", f"market.{m.native}.bbo")
        ]

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """Frames are gzip'd JSON:
        {"ch":"market.btcusdt.ticker","ts":1630982370526,"tick":{"open":51732,
         "high":52785.64,"low":51000,"close":52735.63,"amount":13259.24,"vol":687640987.41,
         "count":448737,"bid":52732.88,"bidSize":0.036,"ask":52732.89,"askSize":0.583653,
         "lastPrice":52735.63,"lastSize":0.03}}
        {"ch":"market.btcusdt.bbo","ts":1630982370526,"tick":{"seqId":161499562790,
         "ask":52732.89,"askSize":0.58,"bid":52732.88,"bidSize":0.036,
         "quoteTime":1630982370520,"symbol":"btcusdt"}}
        {"ch":"market.btcusdt.detail","ts":1786563060051,"tick":{"id":385137365822,
         "low":63292.05,"high":64464,"open":63434.17,"close":63349.89,
         "vol":132702866.21,"amount":2080.06,"version":385137365822,"count":17826}}
        Acks: {"id":"1","status":"ok","subbed":"market.btcusdt.detail","ts":...}; errors:
        {"id":"1","status":"error","err-code":"bad-request","err-msg":"invalid topic ..."};
        server pings {"ping":1786563068868}.
        """
        msg = MESSAGE(gunzip(raw))
        ch, tick = msg.ch, msg.tick
        if isinstance(ch, str):
            if (routed := route(self, ch, tick)) is None:
                return []
            m, channel, tick = routed
            if channel == "bbo":
                ts_event = ms_to_ns(tick.quoteTime or msg.ts)
                return [BBO.record(self.venue, m, tick, ts_recv, ts_event)]
            if channel in ("ticker", "detail"):
                return [STREAM_TICKER.record(self.venue, m, tick, ts_recv, ms_to_ns(msg.ts))]
            return []
        if msg.action == "ping":  # the v2 (account) protocol's form
            self.replies.append(orjson.dumps({"action": "pong", "data": msg.data}).decode())
            return []
        return control(self, msg)

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [RestRequest(f"{base_url}/market/tickers")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /market/tickers: {"status":"ok","ts":1594982700000,"data":[
        {"symbol":"bhdht","open":2.3938,"high":2.4151,"low":2.3323,"close":2.3909,
        "amount":628.992,"vol":1493.71841095,"count":2088,"bid":2.3643,"bidSize":0.7136,
        "ask":2.4061,"askSize":0.4156}]}
        GET /market/detail/merged?symbol=btcusdt: {"ch":"market.btcusdt.detail.merged",
        "status":"ok","ts":1710328245889,"tick":{"id":338582949929,"open":72150.14,
        "close":73360.54,"low":68640.0,"high":73635.99,"amount":2314.593946077937,
        "vol":1.6575393849546936E8,"count":104640,"bid":[73360.53,0.595189],
        "ask":[73360.54,0.566063]}}
        amount is the base volume, vol the quote volume, close the last price; the 24 h
        window is rolling. Errors: {"status":"error","err-code":"invalid-parameter",
        "err-msg":"..."}.
        """
        doc = json_object(body)
        if doc.get("status") == "error":
            raise VenueError(f"venue error {doc.get('err-code')}: {doc.get('err-msg')}")
        ts_event = ms_to_ns(doc.get("ts"))
        if "tick" in doc:
            tick = doc["tick"]
            if not isinstance(tick, dict):
                raise ParseError("tick is not an object")
            ch = doc.get("ch")
            parts = ch.split(".") if isinstance(ch, str) else []
            m = self.lookup(parts[1]) if len(parts) > 2 else market
            if m is None:
                return []
            return [self._ticker(m, tick, ts_event, ts_recv)]
        data = doc.get("data")
        if not isinstance(data, list):
            raise ParseError("response without a data list or a tick")
        return [self._ticker(m, t, ts_event, ts_recv) for t, m in self.followed(data, "symbol")]

    def _ticker(self, m: Market, t: dict[str, Any], ts_event: int | None, ts_recv: int) -> Ticker:
        top = (*_level(t, "bid"), *_level(t, "ask"))
        return REST_TICKER.record_top(self.venue, m, t, top, ts_recv, ts_event)

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """GET /v1/common/symbols: {"status":"ok","data":[{"base-currency":"btc",
        "quote-currency":"usdt","symbol":"btcusdt","state":"online",
        "symbol-partition":"main","api-trading":"enabled",...}]}
        Only "online" markets are kept (others are pre-online, offline or suspend)."""
        return Codec.rows_at(json_body(body), "data")

    @classmethod
    def market_of(cls, s: Any) -> Market | None:
        if s.get("state") != "online":
            return None
        base, quote = s["base-currency"], s["quote-currency"]
        return pair_market(base, quote, s["symbol"], renames=cls.RENAMES)


def _level(t: dict[str, Any], side: str) -> tuple[float | None, float | None]:
    """Best price and size: [price, size] in detail/merged ([] for an empty side: EMPTY),
    "bid"/"bidSize" in tickers."""
    v = t.get(side)
    if isinstance(v, list):
        if not v:
            return EMPTY, EMPTY
        return num(v[0]), (num(v[1]) if len(v) > 1 else None)
    return num(v), num(t.get(f"{side}Size"))
