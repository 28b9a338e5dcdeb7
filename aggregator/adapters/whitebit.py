"""WhiteBIT spot: the WebSocket 24 h market channel and book ticker, merged; REST polling.

WebSocket (JSON-RPC at wss://api.whitebit.com/ws): ``market_subscribe`` streams the 24 h
statistics (no bid, ask or time), ``bookTicker_subscribe`` the best bid and ask with their
sizes on every change, so both are subscribed and merged. A new subscription of a kind
replaces the previous one, so each kind is one message naming all markets of the
connection. The server closes a connection after 60 s without a client message: a
``ping`` request goes out every 30 s. Limits: 200 requests a minute per connection.

REST: GET /api/v1/public/tickers returns every market's ticker (best bid and ask, 24 h
high, low, last, base and quote volume, and the time) in one response, limit 1000
requests per 10 s. It has no open price (only the change in percent, from which the open
is not exact); the v4 /api/v4/public/ticker has no bid, ask, high or low, and the
single-market /api/v1/public/ticker?market= (which does send the open) would cost one
request per market, so the v1 all-tickers endpoint is polled. Both v1 shapes are parsed.
Markets: GET /api/v4/public/markets, spot markets with trading enabled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec
import orjson

from ..errors import ParseError, VenueError, VenueNotice
from ..records import Ticker, seconds_to_ns
from ..symbols import Market, MarketTable
from .base import Codec, RestRequest, json_body, json_object, one_or_all, pair_market
from .fields import StructFields, top_of_book
from .routes import Call, Route
from .schema import Num, Schema

# Request ids of the two subscriptions (the ping uses 0, as the documentation does).
SUBSCRIPTIONS = {1: "market", 2: "bookTicker"}


class Message(msgspec.Struct):
    """A JSON-RPC push ({"id":null,"method","params"}) or answer ({"id","result","error"});
    "params" is read by the method's declaration."""

    id: Any = None
    method: Any = None
    params: msgspec.Raw = msgspec.Raw()  # empty: not sent
    result: Any = msgspec.UNSET
    error: Any = None


class BookRow(msgspec.Struct, array_like=True):
    """[transaction time, message time, market, update id, bid, bid amount, ask, amount]"""

    time: Num  # s, with microseconds, which a float keeps (a number or a string alike)
    message_time: Any
    market: Any
    update_id: Any
    bid: Num
    bid_size: Num
    ask: Num
    ask_size: Num


class Stats(msgspec.Struct):
    """24 h statistics: market_update's, and the REST tickers' (with the best bid and ask)."""

    bid: Num = None
    ask: Num = None
    last: Num = None
    open: Num = None  # not in the all-tickers REST answer
    high: Num = None
    low: Num = None
    vol: Num = None  # base volume, in the all-tickers REST answer
    volume: Num = None  # base volume, elsewhere
    deal: Num = None  # quote volume


class MarketUpdate(msgspec.Struct, array_like=True):
    """market_update's params: [market, statistics]"""

    name: Any = None
    stats: Stats | None = None


MESSAGE = Schema(Message)
BOOK_ROWS = Schema(list[BookRow])
NOT_SENT = (b"", b"null")  # params absent or null: no rows
MARKET_UPDATE = Schema(MarketUpdate)
STATS = Schema(Stats)


# The volume is "vol" in one answer and "volume" in another.
TICKER = StructFields(
    bid="bid", ask="ask", last="last", open="open", high="high", low="low",
    volume=("vol", "volume"), quote_volume="deal",
)  # fmt: skip


class WhiteBIT(Codec):
    venue: ClassVar[str] = "whitebit"
    REST_URL: ClassVar[str] = "https://whitebit.com"
    MARKETS_URL: ClassVar[str] = "https://whitebit.com/api/v4/public/markets"
    REST_RATE: ClassVar[float] = 5.0  # one request per poll; the limit is 100 per second
    WS_URL: ClassVar[str] = "wss://api.whitebit.com/ws"
    # No documented cap on markets per subscription; keep messages and bursts moderate.
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 100
    APP_PING_INTERVAL: ClassVar[float | None] = 30.0  # the server wants one within 60 s
    MERGE: ClassVar[bool] = True
    ROUTES: ClassVar[tuple[Route, ...]] = (  # parse_ws's two pushes, read in C
        Route(  # the time: seconds with microseconds, as seconds_to_ns reads them
            when={"method": "bookTicker_update"}, items="params[]", market="2",
            fields={"bid": "4", "bid_size": "5", "ask": "6", "ask_size": "7",
                    "ts_event": Call(seconds_to_ns, "0")},
        ),
        Route(  # [market, statistics], which have no bid or ask (REST's have); an unknown
            # market's statistics are checked by parse_ws (it refuses any that are no object)
            when={"method": "market_update", "params.2": None}, market="params.0",
            fields={"bid": "params.1.bid?", "ask": "params.1.ask?", "last": "params.1.last",
                    "open": "params.1.open", "high": "params.1.high", "low": "params.1.low",
                    "volume": ("params.1.vol?", "params.1.volume"),
                    "quote_volume": "params.1.deal"},
        ),
    )  # fmt: skip

    def __init__(self, table: MarketTable) -> None:
        super().__init__(table)
        self._rejected: set[int] = set()  # subscription ids the venue refused

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        names = [m.native for m in markets]
        return [
            orjson.dumps({"id": i, "method": f"{kind}_subscribe", "params": names}).decode()
            for i, kind in SUBSCRIPTIONS.items()
        ]

    def app_ping(self) -> str | None:
        return '{"id":0,"method":"ping","params":[]}'

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """Two pushes (id null), shortened:

        {"id":null,"method":"bookTicker_update","params":[[1751958383.593387,
         1751958383.593557,"BTC_USDT",80670102,"63704.53","0.1234","63704.54","1.5"]]}
         (transaction time, message time, market, update id, bid, bid amount, ask, amount)
        {"id":null,"method":"market_update","params":["BTC_USDT",{"open":"64045.76",
         "close":"63704.54","high":"64457.25","low":"63310.44","volume":"4455.128839",
         "deal":"283610761.07060643","last":"63704.54","period":86400}]}
        Answers: {"id":1,"result":{"status":"success"},"error":null},
        {"id":0,"result":"pong","error":null}; errors {"id":1,"result":null,
        "error":{"code":1,"message":"invalid argument"}}.
        """
        msg = MESSAGE(raw)
        method = msg.method
        if method == "bookTicker_update":
            params = bytes(msg.params)
            out = []
            for row in BOOK_ROWS(params) if params not in NOT_SENT else ():
                m = self.lookup(row.market)
                if m is None:
                    continue
                top = (row.bid, row.bid_size, row.ask, row.ask_size)
                out.append(top_of_book(self.venue, m, top, ts_recv, seconds_to_ns(row.time)))
            return out
        if method == "market_update":
            if not msg.params:
                raise ParseError("market_update without params")
            update = MARKET_UPDATE(bytes(msg.params))
            m = self.lookup(update.name)
            if m is None:
                return []
            if update.stats is None:
                raise ParseError("market_update without statistics")
            return [TICKER.record(self.venue, m, update.stats, ts_recv)]
        error = msg.error
        if error:
            return self._error(msg.id, error)
        if msg.result is not msgspec.UNSET or method is not None:
            return []  # acks, pongs, other pushes
        raise ParseError(f"unexpected message: {raw[:100]!r}")

    def _error(self, req_id: Any, error: Any) -> list[Ticker]:
        text = error.get("message") if isinstance(error, dict) else error
        if req_id in SUBSCRIPTIONS:
            self._rejected.add(req_id)
            what = f"{SUBSCRIPTIONS[req_id]} subscription rejected: {text}"
            if len(self._rejected) == len(SUBSCRIPTIONS):
                raise VenueError(what)  # nothing left on this connection
            raise VenueNotice(what)
        raise VenueNotice(f"venue error: {text}")

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        # one market: its own endpoint, which also sends the open
        one = f"{base_url}/api/v1/public/ticker?market="
        return one_or_all(markets, lambda m: one + m.native, f"{base_url}/api/v1/public/tickers")

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """All markets: {"success":true,"message":null,"result":{"BTC_USDT":{
        "ticker":{"bid":"73368.43","ask":"73371.13","low":"68701.12","high":"73636.72",
        "last":"73363.07","vol":"17340.923796","deal":"1237525361.99814163",
        "change":"1.66"},"at":1710328244}, ...}}
        One market (/api/v1/public/ticker?market=BTC_USDT): {"success":true,"message":null,
        "result":{"open":"72165.04","bid":"73368.43","ask":"73371.13","low":"68701.12",
        "high":"73636.72","last":"73363.07","volume":"17340.923796",
        "deal":"1237525361.99814163","change":"1.66"}}
        vol/volume is in the base currency, deal in the quote currency; at in seconds.
        """
        doc = json_object(body)
        if doc.get("success") is False:
            raise VenueError(f"venue error: {doc.get('message')}")
        result = doc.get("result")
        if not isinstance(result, dict):
            raise ParseError("response without a result object")
        if "last" in result:  # one market's ticker, which does not name its market
            if market is None:
                raise ParseError("a single-market ticker needs its market")
            return [TICKER.record(self.venue, market, STATS.convert(result), ts_recv)]
        out = []
        for key, entry in result.items():
            m = self.lookup(key)
            if m is None:
                continue
            if not isinstance(entry, dict) or not isinstance(entry.get("ticker"), dict):
                raise ParseError(f"ticker of {key} is not an object")
            stats = STATS.convert(entry["ticker"])
            out.append(TICKER.record(self.venue, m, stats, ts_recv, seconds_to_ns(entry.get("at"))))
        return out

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """[{"name":"BTC_USDT","stock":"BTC","money":"USDT","stockPrec":"6",
        "moneyPrec":"2","tradesEnabled":true,"isCollateral":true,"type":"spot",...}]"""
        return Codec.rows_at(json_body(body))

    @staticmethod
    def market_of(p: Any) -> Market | None:
        if p.get("type", "spot") != "spot" or p.get("tradesEnabled") is not True:
            return None
        return pair_market(p["stock"], p["money"], p["name"])
