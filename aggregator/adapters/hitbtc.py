"""HitBTC spot, API v3: the price ticker and top-of-book streams, merged; REST polling.

WebSocket (/api/3/ws/public): "ticker/price/1s" (24 h statistics, no bid or ask) and
"orderbook/top/100ms" (best bid and ask with their sizes), each subscribed with one
``{"method":"subscribe","ch":...,"params":{"symbols":[...]}}`` per connection and
acknowledged with ``{"result":{"ch":...,"subscriptions":[...]},"id":...}``. Neither channel
numbers its messages or carries a checksum; keep-alive is the WebSocket protocol ping.

REST: GET /public/ticker answers a map of symbol id to ticker for all (or the listed) symbols in
one request; one subscribed market is asked for through /public/ticker/{symbol}, whose
answer does not name its market. The ticker has the best bid and ask but not their
sizes. Markets come from /public/symbol (spot and futures, with a status). Bequant runs
the same API under its own host: its codec subclasses this one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import msgspec
import orjson

from ..errors import ParseError, VenueError, VenueNotice
from ..records import Ticker, iso_to_ns, ms_to_ns
from ..symbols import Market, MarketTable, unify
from ..timestamps import MILLIS
from .base import Codec, RestRequest, json_body, json_object
from .fields import StructFields, TickerFields
from .routes import KEY, Route, Spec, TimeAt
from .schema import Num, Schema, Time

# Codes that name another token here than elsewhere (GET is Themis, STX is STOX): the
# reference gives them display names, which are no currency codes, and keeps BCC apart
# from BCH. Left out, so that no unified symbol names two different markets.
LEFT_OUT = {
    "AUTO",
    "BCC",
    "BDP",
    "BET",
    "BIT",
    "BOX",
    "CPT",
    "GET",
    "GMT",
    "IQ",
    "LNC",
    "PLA",
    "PNT",
    "SBTC",
    "STX",
    "TV",
}
MAX_IDS_IN_URL = 100
TICKER_CHANNEL = "ticker/price/1s"
TOP_CHANNEL = "orderbook/top/100ms"
# The channel families whose data rows are tickers or tops of book (at any speed); the
# rows of other channels (order books in depth, trades, candles) have other fields.
ROW_CHANNELS = ("ticker/price/", "orderbook/top/")
# Error codes of a request that cannot succeed on another try (symbol or currency not
# found, validation error): the rest of the subscription still streams.
REQUEST_ERRORS = {2001, 2002, 10001}


TICKER = TickerFields(
    bid="bid", ask="ask", last="last", open="open", high="high", low="low", volume="volume",
    quote_volume="volume_quote", ts_event=("timestamp", iso_to_ns),
)  # fmt: skip


class Row(msgspec.Struct):
    """One market's update: a ticker/price row (o c h l v q) or a top of book (b B a A);
    both in one declaration, so that a notification decodes in one pass."""

    t: Time = None  # ms
    b: Num = None
    B: Num = None
    a: Num = None
    A: Num = None
    c: Num = None
    o: Num = None
    h: Num = None
    l: Num = None  # noqa: E741 (the venue's key)
    v: Num = None  # base currency
    q: Num = None  # quote currency


class Message(msgspec.Struct):
    """A notification ({"ch", "data"}), an answer ({"result", "id"}) or an error; "data"
    is read once its channel is known to carry rows (order books in depth do not)."""

    ch: Any = msgspec.UNSET
    data: msgspec.Raw = msgspec.Raw()  # empty when not sent (Raw takes no union)
    error: Any = msgspec.UNSET
    result: Any = msgspec.UNSET
    id: Any = None


MESSAGE = Schema(Message)
ROW = Schema(Row)
_ROWS = msgspec.json.Decoder(dict[str, Row], strict=False).decode


def rows_of(data: msgspec.Raw) -> dict[str, Row]:
    """A notification's map of market id to Row (Schema takes no map): on a value that does
    not fit, each object row is read by ROW's permissive path (a bad number BAD), and a row
    that is no object is left out, as it always was."""
    try:
        return _ROWS(data)
    except msgspec.ValidationError:
        pass
    sent = json_body(bytes(data))  # a number out of range (1e400): the ParseError
    if not isinstance(sent, dict):
        return {}
    return {sym: ROW.convert(t) for sym, t in sent.items() if isinstance(t, dict)}


STREAM_TICKER = StructFields(
    bid="b", bid_size="B", ask="a", ask_size="A", last="c", open="o", high="h", low="l",
    volume="v", quote_volume="q", ts_event=("t", ms_to_ns),
)  # fmt: skip
# STREAM_TICKER's fields as a route reads them: each key of a Row may be absent (None)
ROW_FIELDS: dict[str, Spec] = {
    "bid": "b?", "bid_size": "B?", "ask": "a?", "ask_size": "A?", "last": "c?", "open": "o?",
    "high": "h?", "low": "l?", "volume": "v?", "quote_volume": "q?",
    "ts_event": TimeAt("t?", MILLIS),
}  # fmt: skip


class HitBTC(Codec):
    venue: ClassVar[str] = "hitbtc"
    # The reference's renames of this venue's currency codes, where the new name is a code.
    RENAMES: ClassVar[dict[str, str]] = {"STEPN": "GMT", "XMT": "MTL", "XPNT": "PNT", "HSR": "HC"}
    REST_URL: ClassVar[str] = "https://api.hitbtc.com/api/3"
    MARKETS_URL: ClassVar[str] = "https://api.hitbtc.com/api/3/public/symbol"
    WS_URL: ClassVar[str] = "wss://api.hitbtc.com/api/3/ws/public"
    # The venue documents no per-connection cap; two channels of 100 symbols each keep
    # every subscribe message short.
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 100
    MERGE: ClassVar[bool] = True
    REST_RATE: ClassVar[float] = 10.0  # market data: 30 requests per second per IP
    ROUTES: ClassVar[tuple[Route, ...]] = tuple(  # parse_ws's rows of tops and tickers, in C
        Route(when={"ch": ch + "*"}, items="data{}", market=KEY, fields=ROW_FIELDS)
        for ch in ROW_CHANNELS
    )

    def __init__(self, table: MarketTable) -> None:
        super().__init__(table)
        self._asked: dict[int, set[str]] = {}  # subscribe request id -> symbols asked for

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        # The top of book first: every ticker/price update then finds a bid and ask to merge.
        ids = [m.native for m in markets]
        self._asked = {1: set(ids), 2: set(ids)}
        return [
            orjson.dumps(
                {"method": "subscribe", "ch": ch, "params": {"symbols": ids}, "id": n}
            ).decode()
            for n, ch in enumerate((TOP_CHANNEL, TICKER_CHANNEL), start=1)
        ]

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """Notifications map symbols to updates, "t" the event time in ms:

        {"ch":"orderbook/top/100ms","data":{"BTCUSDT":{"t":1790512925999,"a":"85025.34",
         "A":"0.00732","b":"84999.49","B":"0.00724"}}}
        {"ch":"ticker/price/1s","data":{"BTCUSDT":{"t":1790512903472,"o":"84099.79",
         "c":"85015.31","h":"85080.31","l":"83855.37","v":"315.51166","q":"26638810.44"}}}
        Acks: {"result":{"ch":"ticker/price/1s","subscriptions":["BTCUSDT"]},"id":2};
        errors: {"error":{"code":2001,"message":"Symbol not found","description":"..."},"id":1}.
        """
        msg = MESSAGE(raw)
        data, ch = msg.data, msg.ch
        if data and isinstance(ch, str) and ch.startswith(ROW_CHANNELS):
            lookup = self.lookup
            return [
                STREAM_TICKER.record(self.venue, m, t, ts_recv)
                for sym, t in rows_of(data).items()
                if (m := lookup(sym)) is not None
            ]
        err = msg.error
        if err is not msgspec.UNSET:
            code = err.get("code") if isinstance(err, dict) else None
            text = (
                f"{code}: {err.get('message')} ({err.get('description')})"
                if isinstance(err, dict)
                else str(err)
            )
            if code in REQUEST_ERRORS:
                raise VenueNotice(f"request {msg.id} rejected: {text}")
            raise VenueError(f"venue error {text}")  # 429, 500, 503, 504: reconnect
        result = msg.result
        if isinstance(result, dict):
            asked = self._asked.pop(msg.id, None)
            got = result.get("subscriptions")
            if asked and isinstance(got, list) and asked - set(got):
                missing = ", ".join(sorted(asked - set(got)))
                raise VenueNotice(f"not subscribed on {result.get('ch')}: {missing}")
            return []
        if result is not msgspec.UNSET or ch is not msgspec.UNSET:
            return []  # other answers, notifications of other channels
        raise ParseError(f"unexpected message: {raw[:100]!r}")

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        if len(markets) == 1:
            m = markets[0]
            return [RestRequest(f"{base_url}/public/ticker/{quote(m.native, safe='')}", market=m)]
        if len(markets) > MAX_IDS_IN_URL:
            return [RestRequest(f"{base_url}/public/ticker")]
        ids = ",".join(m.native for m in markets)
        return [RestRequest(f"{base_url}/public/ticker?symbols={quote(ids, safe=',')}")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """All tickers: {"BTCUSDT":{"ask":"73369.04","bid":"73369.03","last":"73386.24",
        "low":"68555.00","high":"73619.97","open":"72173.99","volume":"1319.26278",
        "volume_quote":"94847393.3889236","timestamp":"2024-03-13T11:10:43.612Z"}, ...}
        One ticker (/public/ticker/BTCUSDT): the inner object alone.
        Errors: {"error":{"code":2001,"message":"Symbol not found","description":"..."}}.
        """
        data = json_object(body)
        if "error" in data:
            err = data["error"]
            if isinstance(err, dict):
                raise VenueError(f"venue error {err.get('code')}: {err.get('message')}")
            raise VenueError(f"venue error: {err}")
        if market is not None and ("timestamp" in data or "last" in data):
            return [TICKER.record(self.venue, market, data, ts_recv)]
        return [TICKER.record(self.venue, m, t, ts_recv) for t, m in self.keyed(data)]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """/public/symbol: {"BTCUSDT":{"type":"spot","base_currency":"BTC",
        "quote_currency":"USDT","status":"working","quantity_increment":"0.00001",
        "tick_size":"0.01",...}, "BTCUSDT_PERP":{"type":"futures","underlying":"BTC",...}}"""
        return Codec.entries_at(json_body(body), expected="a JSON object of symbols")

    @classmethod
    def market_of(cls, row: Any) -> Market | None:
        sid, s = row
        if s.get("type") != "spot" or s.get("status", "working") != "working":
            return None
        base_id: str = s["base_currency"]
        quote_id: str = s["quote_currency"]
        if base_id in LEFT_OUT or quote_id in LEFT_OUT:
            return None
        symbol = unify(base_id, quote_id, renames=cls.RENAMES)
        return Market(symbol, sid, base_id=base_id, quote_id=quote_id)
