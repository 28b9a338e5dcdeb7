"""CoinEx spot: the v2 market WebSocket (24 h state and best bid/ask, merged) and REST polling.

Checked in December 2026 against the text of CoinEx's API v2 documentation
(docs.coinex.com/api/v2) and the field names of the JKorf/CoinEx.Net SDK's v2 models:

- WebSocket ``wss://socket.coinex.com/v2/spot``: requests ``{"method", "params", "id"}``
  answered ``{"id", "code", "message"}`` (code 0: done). ``state.subscribe`` with
  ``{"market_list": [...]}`` (an empty list: every market) pushes ``state.update`` with a
  ``state_list`` of 24 h statistics about every 200 ms; ``bbo.subscribe`` pushes
  ``bbo.update``, the best bid and ask with their sizes and ``updated_at`` (ms), on every
  change. The two are merged. Every server frame is gzip-compressed binary (plain JSON text
  is read as well). The client's keepalive is ``server.ping``, answered with
  ``{"data": {"result": "pong"}}``; the documentation gives no idle limit, so it is sent
  every 20 s, as for the other venues. A refused request (20001, a parameter) is a notice;
  the errors a new session may cure (2300x timeouts and "too frequent", 2400x internal or
  unavailable) end the session.
- State's ``volume_buy``/``volume_sell`` are labelled "best bid/ask size" in the push's
  table but "taker buy/sell volume" for the same fields of the REST ticker, and their values
  (about a third of the day's volume in its example) are volumes: they are not read as
  sizes. The sizes come from ``bbo.update``; state pushes carry no time, bbo's do.
- REST ``GET /v2/spot/ticker`` answers every market when ``market`` is left out (the same
  fields as state, no best bid/ask): one request per poll covers the statistics of all
  subscribed markets, and ``GET /v2/spot/depth?market=..&limit=5&interval=0`` each market's
  best bid and ask (merged, as on the stream), paced at 20 requests a second where the IP
  limit is 400. Envelope ``{"code": 0, "data", "message"}``; any other code is the venue's
  error, 4213 ("too frequent") a rate limit. Markets from ``/v2/spot/market``, status
  "online" (others: "bidding", "counting_down"); ids like "BTCUSDT".

The reference library's one rename for CoinEx ("ACM" to the name "Actinium") is a display
name, not a currency code: no renames. The recorded REST response
(tests/fixtures/rest/coinex.json) is the venue's own, from a reference library's test data;
the WebSocket frames of the tests are the documentation's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec
import orjson

from ..errors import ParseError, RateLimited, VenueError, VenueNotice
from ..records import Ticker, best_level, ms_to_ns
from ..symbols import Market, MarketTable
from ..timestamps import MILLIS
from .base import Codec, RestRequest, gunzip, json_body, pair_market
from .fields import StructFields, top_of_book
from .routes import Route, TimeAt
from .schema import Num, Schema, Time

SUBSCRIBE = ("state.subscribe", "bbo.subscribe")
# WebSocket errors a new session may cure: timeout, too frequent, internal, unavailable.
SESSION_ERRORS = {23001, 23002, 24001, 24002}
TOO_FREQUENT = 4213  # REST: "the request is too frequent"


class State(msgspec.Struct):
    """One market's 24 h statistics: a state.update item, or a REST ticker."""

    market: Any = ""
    last: Num = None
    open: Num = None
    high: Num = None
    low: Num = None
    volume: Num = None  # base currency
    value: Num = None  # quote currency


class Depth(msgspec.Struct):
    """REST depth's book: levels of [price, size]."""

    asks: list[list[Num]] | None = None
    bids: list[list[Num]] | None = None
    last: Num = None
    updated_at: Time = None  # ms


class Data(msgspec.Struct):
    """A push's "data": state.update's list, or bbo.update's fields (one pass for both);
    REST depth's answer; a request's answer (server.ping's {"result": "pong"})."""

    state_list: list[State] | None = None
    depth: Depth | None = None
    market: Any = ""
    updated_at: Time = None  # ms
    best_bid_price: Num = None
    best_bid_size: Num = None
    best_ask_price: Num = None
    best_ask_size: Num = None


class Message(msgspec.Struct):
    """A push ({"method", "data", "id": null}), an answer ({"id", "code", "message"}), or a
    REST response ({"code", "data": [...], "message"})."""

    method: Any = None
    data: Data | list[State] | None = None
    id: Any = None
    code: Any = None
    message: Any = None


MESSAGE = Schema(Message)
# state: the 24 h statistics, no best bid or ask and no time (the bbo channel has those).
STATE = StructFields(
    market_id="market",
    last="last",
    open="open",
    high="high",
    low="low",
    volume="volume",
    quote_volume="value",
)
DEPTH = StructFields(last="last", ts_event=("updated_at", ms_to_ns))  # and the book's top


class CoinEx(Codec):
    venue: ClassVar[str] = "coinex"
    REST_URL: ClassVar[str] = "https://api.coinex.com"
    MARKETS_URL: ClassVar[str] = "https://api.coinex.com/v2/spot/market"
    WS_URL: ClassVar[str] = "wss://socket.coinex.com/v2/spot"
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 100  # one list per channel
    APP_PING_INTERVAL: ClassVar[float | None] = 20.0  # server.ping
    MERGE: ClassVar[bool] = True
    REST_RATE: ClassVar[float] = 20.0  # the depth requests; the IP limit is 400/s

    MESSAGES: ClassVar[Schema[Any]] = MESSAGE  # (the futures codec: its own)
    ROUTES: ClassVar[tuple[Route, ...]] = (  # parse_ws's two channels' updates, read in C
        Route(
            when={"method": "bbo.update"}, items="data", market="market",
            fields={"bid": "best_bid_price", "bid_size": "best_bid_size",
                    "ask": "best_ask_price", "ask_size": "best_ask_size",
                    "ts_event": TimeAt("updated_at", MILLIS)},
        ),
        Route(
            when={"method": "state.update"}, items="data.state_list[]", market="market",
            fields={"last": "last", "open": "open", "high": "high", "low": "low",
                    "volume": "volume", "quote_volume": "value"},
        ),
    )  # fmt: skip

    def __init__(self, table: MarketTable) -> None:
        super().__init__(table)
        self._requests = 0

    def _request(self, method: str, params: dict[str, Any]) -> str:
        self._requests += 1
        return orjson.dumps({"method": method, "params": params, "id": self._requests}).decode()

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        ids = [m.native for m in markets]
        return [self._request(method, {"market_list": ids}) for method in SUBSCRIBE]

    def app_ping(self) -> str | None:
        return self._request("server.ping", {})

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """Frames are gzip'd JSON:
        {"method":"state.update","data":{"state_list":[{"market":"LATUSDT",
         "last":"0.008157","open":"0.008286","close":"0.008157","high":"0.008390",
         "low":"0.008106","volume":"807714.49139758","volume_sell":"286170.69645599",
         "volume_buy":"266161.23236408","value":"6689.21644207","period":86400}]},"id":null}
        {"method":"bbo.update","data":{"market":"BTCUSDT","updated_at":1642145331234,
         "best_bid_price":"20000","best_bid_size":"0.1","best_ask_price":"20001",
         "best_ask_size":"0.15"},"id":null}
        Answers: {"id":1,"code":0,"message":"OK"}; server.ping's
        {"id":1,"code":0,"data":{"result":"pong"},"message":"OK"}; a refusal
        {"id":1,"code":20001,"message":"..."}.
        """
        msg = self.MESSAGES(gunzip(raw))
        method, data = msg.method, msg.data
        if method == "bbo.update":
            if not isinstance(data, Data):
                raise ParseError("bbo.update without data")
            m = self.lookup(data.market)
            if m is None:
                return []
            return [self._top(m, data, ts_recv)]
        if method == "state.update":
            if not isinstance(data, Data) or data.state_list is None:
                raise ParseError("state.update without a state_list")
            return self._tickers(data.state_list, ts_recv)
        if method is None and msg.code not in (0, None):
            text = f"request {msg.id} refused: {msg.code}: {msg.message}"
            if msg.code in SESSION_ERRORS:
                raise VenueError(text)
            raise VenueNotice(text)  # a parameter refused (20001): the rest still streams
        return []  # answers, and pushes of channels not subscribed

    # What the futures codec (coinex_futures.py) makes its own records with: the rest is one.
    def _tickers(self, states: list[State], ts_recv: int) -> list[Ticker]:
        """state.update's items (and REST tickers) of the markets followed."""
        return STATE.records(self.venue, self.lookup, states, ts_recv)

    def _top(self, m: Market, data: Data, ts_recv: int) -> Ticker:
        """bbo.update's best bid and ask."""
        top = (data.best_bid_price, data.best_bid_size, data.best_ask_price, data.best_ask_size)
        return top_of_book(self.venue, m, top, ts_recv, ms_to_ns(data.updated_at))

    def _book(self, m: Market, book: Depth, ts_recv: int) -> Ticker:
        """REST depth's top, with the last price."""
        top = (*best_level(book.bids, highest=True), *best_level(book.asks, highest=False))
        return DEPTH.record_top(self.venue, m, book, top, ts_recv)

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        # The books first: each market's first record has its best bid and ask.
        depth = f"{base_url}/v2/spot/depth?limit=5&interval=0&market="
        return [
            *(RestRequest(depth + m.native, m) for m in markets),
            RestRequest(f"{base_url}/v2/spot/ticker"),
        ]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /v2/spot/ticker: {"code":0,"data":[{"close":"64291.34","high":"65183.04",
        "last":"64291.34","low":"59650.01","market":"BTCUSDT","open":"61276.48",
        "period":86400,"value":"35007188.7843427438","volume":"558.59137629",
        "volume_buy":"9.28992397","volume_sell":"10.84781116"}],"message":"OK"}
        (recorded). No best bid or ask; no time.
        GET /v2/spot/depth: {"code":0,"data":{"market":"BTCUSDT","is_full":true,"depth":{
        "asks":[["30740.00","0.31763545"],["30769.00","1.45155000"]],"bids":[["30736.00",
        "0.04857373"]],"last":"30746.28","updated_at":1689152421692,"checksum":2578768879}},
        "message":"OK"} (documented).
        """
        msg = self.MESSAGES(body)
        if msg.code is None:
            raise ParseError("response without a code")
        if msg.code != 0:
            text = f"venue error {msg.code}: {msg.message}"
            raise RateLimited(text) if msg.code == TOO_FREQUENT else VenueError(text)
        data = msg.data
        if isinstance(data, list):
            return self._tickers(data, ts_recv)
        if data is None or data.depth is None:
            raise ParseError("response without a data list or a depth")
        m = self.lookup(data.market) if data.market else market  # another market's: none
        if m is None:
            return []
        return [self._book(m, data.depth, ts_recv)]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """GET /v2/spot/market: {"code":0,"data":[{"market":"BTCUSDT","taker_fee_rate":"0.002",
        "maker_fee_rate":"0.002","min_amount":"0.0005","base_ccy":"BTC","quote_ccy":"USDT",
        "base_ccy_precision":8,"quote_ccy_precision":2,"status":"online",...}],"message":"OK"}"""
        return Codec.rows_at(json_body(body), "data")

    @classmethod
    def market_of(cls, row: Any) -> Market | None:
        if row.get("status") != "online":
            return None
        base, quote = row["base_ccy"], row["quote_ccy"]
        return pair_market(base, quote, row["market"], renames=cls.RENAMES)
