"""OKX spot: the v5 public WebSocket's tickers and bbo-tbt channels, merged; REST polling.

WebSocket (wss://ws.okx.com:443/ws/v5/public; 8443 is the legacy port, which some SDKs
still name and ``ws_url`` in the config can select): "tickers" (24 h statistics with the best
bid and ask, pushed at most every 100 ms) and "bbo-tbt" (the top of the book, tick by tick),
subscribed with ``{"op":"subscribe","args":[{"channel":...,"instId":...}, ...]}`` and
acknowledged per argument. The venue drops a connection that stays quiet for 30 s, so the
client sends the text "ping" every 25 s and the venue answers "pong". bbo-tbt's seqId
belongs to the whole book (it jumps between two top-of-book changes), so it cannot reveal a
lost message, and neither channel has a checksum. A "notice" event (code 64008) announces
that the connection closes soon for a service upgrade: the session is renewed at once.

REST: GET /api/v5/market/tickers?instType=SPOT returns every spot ticker in one response
(limit 20 requests per 2 s), so one request per poll covers all subscribed markets; the
single-instrument /api/v5/market/ticker answers in the same shape. Every response is
wrapped as {"code":"0","msg":"","data":[...]}; a non-zero code is the venue's error.
Markets: GET /api/v5/public/instruments?instType=SPOT, instruments in state "live".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec
import orjson

from ..errors import ParseError, VenueError, VenueNotice
from ..records import Ticker, best_level, ms_to_ns
from ..symbols import Market, unify
from ..timestamps import MILLIS
from .base import Codec, RestRequest, answer_code, json_body
from .fields import StructFields, top_of_book
from .routes import Route, TimeAt
from .schema import Num, Schema, Time

CHANNELS = ("tickers", "bbo-tbt")
ARGS_PER_MESSAGE = 100  # a subscribe request must stay under 64 KB
# Errors that a new session may cure: requests too frequent, internal error.
SESSION_ERRORS = {"60014", "63999"}


class Arg(msgspec.Struct):
    channel: str = ""
    instId: str = ""


class Data(msgspec.Struct):
    """One item of a push's "data": a ticker (tickers, and REST) or a top of book (bbo-tbt).

    Both channels in one declaration: a frame decodes in one pass, whichever it is.
    """

    # tickers
    instId: str = ""
    last: Num = None
    askPx: Num = None
    askSz: Num = None
    bidPx: Num = None
    bidSz: Num = None
    open24h: Num = None
    high24h: Num = None
    low24h: Num = None
    volCcy24h: Num = None  # quote currency, for spot
    vol24h: Num = None  # base currency, for spot
    # bbo-tbt: levels of [price, size, 0, number of orders]
    asks: list[list[Num]] | None = None
    bids: list[list[Num]] | None = None
    ts: Time = None  # ms


class Push(msgspec.Struct):
    """A push ({"arg", "data"}), an event ({"event", "code", "msg"}) or a REST response
    ({"code", "msg", "data"})."""

    arg: Arg | None = None
    data: list[Data] | None = None
    event: str | None = None
    code: Any = None
    msg: Any = None


PUSH = Schema(Push)
TICKER = StructFields(
    market_id="instId",
    bid="bidPx", bid_size="bidSz", ask="askPx", ask_size="askSz", last="last", open="open24h",
    high="high24h", low="low24h", volume="vol24h", quote_volume="volCcy24h",
    ts_event=("ts", ms_to_ns),
)  # fmt: skip


def subscribe_messages(args: list[dict[str, str]]) -> list[str]:
    """Subscribe requests (spot's and the derivatives') for these channel arguments,
    ARGS_PER_MESSAGE each."""
    return [
        orjson.dumps({"op": "subscribe", "args": args[i : i + ARGS_PER_MESSAGE]}).decode()
        for i in range(0, len(args), ARGS_PER_MESSAGE)
    ]


def _unwrap(body: bytes) -> list[Any]:
    doc = json_body(body)
    if not isinstance(doc, dict):
        raise ParseError("expected a JSON object")
    answer_code(doc.get("code"), doc.get("msg"))
    data = doc.get("data")
    if not isinstance(data, list):
        raise ParseError("response without a data list")
    return data


class OKX(Codec):
    venue: ClassVar[str] = "okx"
    REST_URL: ClassVar[str] = "https://www.okx.com"
    MARKETS_URL: ClassVar[str] = "https://www.okx.com/api/v5/public/instruments?instType=SPOT"
    WS_URL: ClassVar[str] = "wss://ws.okx.com:443/ws/v5/public"
    # No cap on channels per connection; the limits are 64 KB per subscribe request and
    # 480 subscribe requests per hour per connection: 200 symbols are 4 requests.
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 200
    APP_PING_INTERVAL: ClassVar[float | None] = 25.0  # quiet for 30 s: disconnected
    MERGE: ClassVar[bool] = True
    REST_RATE: ClassVar[float] = 5.0  # one request per poll; the limit is 20 per 2 s
    ROUTES: ClassVar[tuple[Route, ...]] = (  # parse_ws's tickers and bbo-tbt, read in C
        Route(
            when={"arg.channel": "tickers"}, items="data[]", market="instId",
            fields={"bid": "bidPx", "bid_size": "bidSz", "ask": "askPx", "ask_size": "askSz",
                    "last": "last", "open": "open24h", "high": "high24h", "low": "low24h",
                    "volume": "vol24h", "quote_volume": "volCcy24h",
                    "ts_event": TimeAt("ts", MILLIS)},
        ),
        Route(  # a side's one level (best_level); an empty side or more levels: parse_ws
            when={"arg.channel": "bbo-tbt"}, items="data[]", market="$.arg.instId",
            fields={"bid": "!bids.[only].0", "bid_size": "!bids.[only].1",
                    "ask": "!asks.[only].0", "ask_size": "!asks.[only].1",
                    "ts_event": TimeAt("ts", MILLIS)},
        ),
    )  # fmt: skip
    RENAMES: ClassVar[dict[str, str]] = {"AE": "AET", "WIN": "WINTOKEN"}  # ccxt's

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        args = [{"channel": ch, "instId": m.native} for m in markets for ch in CHANNELS]
        return subscribe_messages(args)

    def app_ping(self) -> str | None:
        return "ping"

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """Pushes name their channel and market in "arg"; "ts" is the event time in ms.

        tickers: {"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instType":"SPOT",
          "instId":"BTC-USDT","last":"63707.3","lastSz":"0.00164251","askPx":"63707.3",
          "askSz":"0.15455902","bidPx":"63707.2","bidSz":"1.70080521","open24h":"63958.9",
          "high24h":"64496.9","low24h":"63309.4","volCcy24h":"229576048.730317321",
          "vol24h":"3601.1585121","ts":"1786613174873",...}]}
        bbo-tbt: {"arg":{"channel":"bbo-tbt","instId":"BTC-USDT"},"data":[{
          "asks":[["63707.3","0.15455902","0","3"]],"bids":[["63707.2","1.70","0","5"]],
          "ts":"1786613174873","seqId":3925417338}]}  (price, size, 0, number of orders)
        Events: {"event":"subscribe","arg":{...},"connId":"d604ccd0"},
        {"event":"error","code":"60018","msg":"Wrong URL or channel:tickers,instId:X doesn't
        exist...","connId":"..."}, {"event":"notice","code":"64008","msg":"The connection will
        soon be closed for a service upgrade. Please reconnect.","connId":"..."}; "pong".
        """
        if raw == "pong" or raw == b"pong":
            return []
        msg = PUSH(raw)
        arg, data = msg.arg, msg.data
        if arg is not None and data is not None:
            channel = arg.channel
            if channel == "tickers":
                return TICKER.records(self.venue, self.lookup, data, ts_recv)
            if channel == "bbo-tbt":
                m = self.lookup(arg.instId)
                if m is None:
                    return []
                return [self._top(m, b, ts_recv) for b in data]
            return []
        event = msg.event
        if event in ("subscribe", "unsubscribe", "channel-conn-count"):
            return []
        if event == "notice":
            raise VenueError(f"venue notice {msg.code}: {msg.msg}")
        if event == "error":
            text = f"venue error {msg.code}: {msg.msg}"
            if str(msg.code) in SESSION_ERRORS:
                raise VenueError(text)
            # A rejected argument (unknown instId, say): the other markets still stream.
            raise VenueNotice(text)
        raise ParseError(f"unexpected message: {raw[:100]!r}")

    def _top(self, m: Market, book: Data, ts_recv: int) -> Ticker:
        """bbo-tbt: {"asks":[["73384.8","0.4","0","3"]],"bids":[[...]],"ts":"..."}; a side
        with no level is empty (EMPTY: null, not the previous value)."""
        top = (*best_level(book.bids, highest=True), *best_level(book.asks, highest=False))
        return top_of_book(self.venue, m, top, ts_recv, ms_to_ns(book.ts))

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [RestRequest(f"{base_url}/api/v5/market/tickers?instType=SPOT")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """{"code":"0","msg":"","data":[{"instType":"SPOT","instId":"BTC-USDT",
        "last":"73384.8","lastSz":"0.00007722","askPx":"73384.8","askSz":"0.40193728",
        "bidPx":"73384.7","bidSz":"0.0655768","open24h":"72166.8","high24h":"73625.6",
        "low24h":"68600","volCcy24h":"1519926359.597266598","vol24h":"21266.19145051",
        "ts":"1710328243709","sodUtc0":"71450","sodUtc8":"71702"}, ...]}
        For spot, vol24h is in the base currency and volCcy24h in the quote currency.
        """
        msg = PUSH(body)
        answer_code(msg.code, msg.msg)
        if msg.data is None:
            raise ParseError("response without a data list")
        return TICKER.records(self.venue, self.lookup, msg.data, ts_recv)

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """{"code":"0","msg":"","data":[{"instType":"SPOT","instId":"BTC-USDT",
        "baseCcy":"BTC","quoteCcy":"USDT","state":"live","tickSz":"0.1",...}]}"""
        return _unwrap(body)

    @classmethod
    def market_of(cls, p: Any) -> Market | None:
        if p.get("instType", "SPOT") != "SPOT" or p.get("state") != "live":
            return None
        base, quote = p["baseCcy"], p["quoteCcy"]
        symbol = unify(base, quote, renames=cls.RENAMES)
        return Market(symbol, p["instId"], base_id=base, quote_id=quote)
