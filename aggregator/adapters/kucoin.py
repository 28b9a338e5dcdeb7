"""KuCoin spot: the public WebSocket, or REST polling of the all-tickers snapshot.

WebSocket: a POST to /api/v1/bullet-public hands out a token, the endpoint and the ping
interval (pingInterval, ms). The server greets with {"type":"welcome"}; the subscriptions
are sent only then. Topics: /market/ticker:{ids} (best bid/ask with sizes and the last
trade, on every change, at most every 100 ms) and /market/snapshot:{ids} (24 h statistics
with bid/ask, every 2 s), merged. The client pings {"id","type":"ping"} at the server's
pingInterval (answered "pong"). The frames' "sequence" is the market's trade/book sequence,
not a per-connection message count, so there is no gap check.

GET /api/v1/market/allTickers answers every spot market in one response (the venue
refreshes it every 2 s; public weight 15 out of 2000 per 30 s), with the best bid and ask
and their sizes, which the per-symbol /api/v1/market/stats lacks. Envelope:
{"code":"200000","data":...}; any other code is an error. Markets from /api/v2/symbols.

The token flow (POST /api/v1/bullet-public) is still the venue's default and is kept. The
WebSocket that needs no token for public data is the one of KuCoin's "Pro API" (its unified
account), which the venue's documentation marks as in development, not for production, its
URLs and messages subject to change: it is not used.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import msgspec
import orjson

from ..errors import ParseError, VenueError, VenueNotice
from ..records import Ticker, minus, ms_to_ns, num
from ..symbols import Market, MarketTable
from ..timestamps import MILLIS
from .base import Codec, RestRequest, json_body, json_object, pair_market
from .fields import StructFields, TickerFields
from .routes import Call, Route, TimeAt
from .schema import Num, Schema, Time

TOPICS = ("/market/ticker:", "/market/snapshot:")
TOPICS_PER_MESSAGE = 100  # the venue's cap on one (batch) subscription
_connect_ids = itertools.count(1)


class Message(msgspec.Struct):
    """Every frame: a push ({"type":"message","topic","subject","data"}) or a control
    message; "data" is read by the topic's declaration (an error's is a string)."""

    type: Any = None
    topic: Any = None
    subject: Any = ""
    id: Any = None
    code: Any = None
    data: msgspec.Raw = msgspec.Raw()  # empty: not sent


class BestPrices(msgspec.Struct):
    """/market/ticker's data: the best bid and ask and the last trade."""

    bestBid: Num = None
    bestBidSize: Num = None
    bestAsk: Num = None
    bestAskSize: Num = None
    price: Num = None  # the last trade's
    time: Time = None  # ms


class Stats(msgspec.Struct):
    """/market/snapshot's statistics: 24 h with the best bid and ask."""

    symbol: Any = ""
    buy: Num = None
    bidSize: Num = None
    sell: Num = None
    askSize: Num = None
    lastTradedPrice: Num = None
    close: Num = None  # the last price where lastTradedPrice is not sent
    open: Num = None
    high: Num = None
    low: Num = None
    vol: Num = None
    volValue: Num = None
    changePrice: Num = None  # last minus the open, for the open not sent
    datetime: Time = None  # ms


class Snapshot(msgspec.Struct):
    data: Stats | None = None


MESSAGE = Schema(Message)
TICKER = Schema(BestPrices)
SNAPSHOT = Schema(Snapshot)


REST_TICKER = TickerFields(
    bid="buy", bid_size="bestBidSize", ask="sell", ask_size="bestAskSize", last="last",
    high="high", low="low", volume="vol", quote_volume="volValue", change="changePrice",
)  # fmt: skip


STREAM_TICKER = StructFields(
    bid="bestBid", bid_size="bestBidSize", ask="bestAsk", ask_size="bestAskSize", last="price",
    ts_event=("time", ms_to_ns),
)  # fmt: skip


# The last trade's price, or the close where none is sent; the open, or last minus change.
SNAPSHOT_TICKER = StructFields(
    bid="buy", bid_size="bidSize", ask="sell", ask_size="askSize",
    last=("lastTradedPrice", "close"), open="open", change="changePrice", high="high", low="low",
    volume="vol", quote_volume="volValue", ts_event=("datetime", ms_to_ns),
)  # fmt: skip


def open_of(sent: float | None, last: float | None, change: float | None) -> float | None:
    """The open sent, else the last price minus the change (SNAPSHOT_TICKER's)."""
    return minus(last, change) if sent is None else sent


def subscriptions(ids: Sequence[str], topics: Sequence[str]) -> list[str]:
    """The subscribe messages of spot's and the futures' sockets, sent on the welcome: each
    topic for up to TOPICS_PER_MESSAGE markets a message."""
    out: list[str] = []
    for i in range(0, len(ids), TOPICS_PER_MESSAGE):
        batch = ",".join(ids[i : i + TOPICS_PER_MESSAGE])
        for topic in topics:
            msg = {
                "id": f"sub{len(out) + 1}",
                "type": "subscribe",
                "topic": topic + batch,
                "privateChannel": False,
                "response": True,
            }
            out.append(orjson.dumps(msg).decode())
    return out


def rejection(msg: Message) -> VenueNotice:
    """An error frame ({"type":"error","code","data"}) as a notice (spot's and the futures')."""
    data = msgspec.json.decode(msg.data) if msg.data else None
    return VenueNotice(f"request {msg.id} rejected: {msg.code}: {data}")


class KuCoin(Codec):
    venue: ClassVar[str] = "kucoin"
    # ccxt's renames for KuCoin (those that are codes; its "FUD" rename is a phrase).
    RENAMES: ClassVar[dict[str, str]] = {
        "BIFI": "BIFIF",
        "VAI": "VAIOT",
        "WAX": "WAXP",
        "ALT": "APTOSLAUNCHTOKEN",
        "KALT": "ALT",
    }
    REST_URL: ClassVar[str] = "https://api.kucoin.com"
    MARKETS_URL: ClassVar[str] = "https://api.kucoin.com/api/v2/symbols"
    WS_URL: ClassVar[str] = "wss://ws-api-spot.kucoin.com/"  # the token response's endpoint
    WS_TOKEN_PATH: ClassVar[str] = "/api/v1/bullet-public"
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 100  # two topics each; the venue allows 400
    # until the token response gives the session's pingInterval
    APP_PING_INTERVAL: ClassVar[float | None] = 18.0
    MERGE: ClassVar[bool] = True
    ROUTES: ClassVar[tuple[Route, ...]] = (  # parse_ws's two topics, read in C
        Route(  # an id not followed ("all" names the market in "subject"): parse_ws
            when={"type": "message", "topic": "/market/ticker:*"}, items="data",
            market="$.topic", market_part=(":", 1),
            fields={"bid": "bestBid", "bid_size": "bestBidSize", "ask": "bestAsk",
                    "ask_size": "bestAskSize", "last": "price", "ts_event": TimeAt("time", MILLIS)},
        ),
        Route(
            when={"type": "message", "topic": "/market/snapshot:*"}, items="data.data",
            market="symbol",
            fields={"bid": "buy", "bid_size": "bidSize", "ask": "sell", "ask_size": "askSize",
                    "last": ("lastTradedPrice?", "close?"),
                    "open": Call(open_of, "open?", ("lastTradedPrice?", "close?"), "changePrice?"),
                    "high": "high", "low": "low", "volume": "vol", "quote_volume": "volValue",
                    "ts_event": TimeAt("datetime", MILLIS)},
        ),
    )  # fmt: skip

    def __init__(self, table: MarketTable) -> None:
        super().__init__(table)
        self._ids: list[str] = []
        self._welcomed = False
        self._connect_id = f"agg{next(_connect_ids)}"
        self._pings = 0

    def ws_url_from_token(self, body: bytes, configured: str) -> str:
        """{"code":"200000","data":{"token":"2neAiuYvAU61ZD...","instanceServers":[
        {"endpoint":"wss://ws-api-spot.kucoin.com/","encrypt":true,"protocol":"websocket",
        "pingInterval":18000,"pingTimeout":10000}]}}
        A configured ws_url replaces the endpoint (a proxy or a local server)."""
        doc = json_body(body)
        if not isinstance(doc, dict) or doc.get("code") != "200000":
            code, text = (doc.get("code"), doc.get("msg")) if isinstance(doc, dict) else (None, doc)
            raise VenueError(f"token request refused: {code}: {text}")
        try:
            token = doc["data"]["token"]
            server = doc["data"]["instanceServers"][0]
            endpoint = configured or server["endpoint"]
            interval = num(server.get("pingInterval"))
        except (KeyError, IndexError, TypeError) as e:
            raise ParseError(f"unexpected token response: {e!r}") from None
        if not isinstance(token, str) or not isinstance(endpoint, str):
            raise ParseError("unexpected token response: no token or endpoint")
        if interval:
            self.app_ping_interval = interval / 1000
        sep = "&" if "?" in endpoint else "?"
        return f"{endpoint}{sep}token={quote(token, safe='')}&connectId={self._connect_id}"

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        self._ids = [m.native for m in markets]
        return []  # sent on the welcome message

    def app_ping(self) -> str | None:
        self._pings += 1
        return orjson.dumps({"id": f"ping{self._pings}", "type": "ping"}).decode()

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """{"type":"message","topic":"/market/ticker:BTC-USDT","subject":"trade.ticker",
        "data":{"sequence":"1545896668986","price":"67400","size":"0.011",
        "bestAsk":"67400","bestAskSize":"0.18","bestBid":"67399.9","bestBidSize":"0.036",
        "time":1704873323416}}
        {"type":"message","topic":"/market/snapshot:BTC-USDT","subject":"trade.snapshot",
        "data":{"sequence":"35487584851","data":{"symbol":"BTC-USDT","buy":64018.6,
        "bidSize":0.95,"sell":64018.7,"askSize":0.039,"lastTradedPrice":64018.7,
        "open":64323.2,"high":64473.3,"low":63237.4,"vol":1959.85,"volValue":125097404.47,
        "changePrice":-304.5,"datetime":1786538851527,...}}}
        Control: {"id":"public","type":"welcome"}, {"id":"1","type":"ack"},
        {"id":"ping1","type":"pong"}, {"id":"1","type":"error","code":404,"data":"..."}.
        """
        msg = MESSAGE(raw)
        kind = msg.type
        if kind == "message":
            topic = msg.topic
            if not isinstance(topic, str) or not msg.data:
                raise ParseError("message without a topic or data")
            if topic.startswith("/market/ticker:"):
                native = topic[len("/market/ticker:") :]
                m = self.lookup(msg.subject if native == "all" else native)
                if m is None:
                    return []
                t = TICKER(bytes(msg.data))
                return [STREAM_TICKER.record(self.venue, m, t, ts_recv)]
            if topic.startswith("/market/snapshot:"):
                snap = SNAPSHOT(bytes(msg.data)).data
                if snap is None:
                    raise ParseError("snapshot without data")
                m = self.lookup(str(snap.symbol))
                return [] if m is None else [SNAPSHOT_TICKER.record(self.venue, m, snap, ts_recv)]
            return []
        if kind == "welcome":
            if not self._welcomed:
                self._welcomed = True
                self.replies.extend(subscriptions(self._ids, TOPICS))
            return []
        if kind == "error":
            raise rejection(msg)
        return []  # ack, pong, notices

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [RestRequest(f"{base_url}/api/v1/market/allTickers")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """allTickers: {"code":"200000","data":{"time":1709897710012,"ticker":[
        {"symbol":"BTC-USDT","symbolName":"BTC-USDT","buy":"67399.9","bestBidSize":"0.52",
         "sell":"67400","bestAskSize":"1.03","changeRate":"0.0089","changePrice":"597.9",
         "high":"67978.8","low":"66541.4","vol":"6442.17728633",
         "volValue":"433203364.463489651","last":"67400","averagePrice":"66654.25",...}]}}
        Also parsed: one market's /api/v1/market/stats, whose data is one such object
        (without the sizes) with its own "time". changePrice is last minus the price 24 h
        ago, so open is derived from it exactly.
        """
        doc = json_object(body)
        if doc.get("code") != "200000":
            raise VenueError(f"venue error {doc.get('code')}: {doc.get('msg')}")
        data = doc.get("data")
        if not isinstance(data, dict):
            raise ParseError("response without a data object")
        ts_event = ms_to_ns(data.get("time"))
        rows = data.get("ticker", [data])
        if not isinstance(rows, list):
            raise ParseError("expected a list of tickers")
        return [
            REST_TICKER.record(self.venue, m, t, ts_recv, ts_event)
            for t, m in self.followed(rows, "symbol")
        ]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """/api/v2/symbols: {"code":"200000","data":[{"symbol":"BTC-USDT","name":"BTC-USDT",
        "baseCurrency":"BTC","quoteCurrency":"USDT","market":"USDS","enableTrading":true,...}]}"""
        return Codec.rows_at(json_body(body), "data")

    @classmethod
    def market_of(cls, s: Any) -> Market | None:
        if not s.get("enableTrading"):
            return None
        return pair_market(s["baseCurrency"], s["quoteCurrency"], s["symbol"], renames=cls.RENAMES)
