"""LBank spot: the WebSocket tick and depth channels, merged; REST polling as a fallback.

WebSocket (wss://www.lbkex.net/ws/V2/): one subscribe message per channel and pair. ``tick``
carries the 24 h statistics and no best bid or ask, so the ``depth`` channel (top 10
levels, each push a full snapshot) supplies the top of the book; both are merged. The
server sends {"action":"ping","ping":"<id>"} and closes a connection that has not answered
with the matching pong for a minute. Frame times ("TS") carry no zone; they are taken as
China Standard Time (UTC+8), as the documentation says of the times it accepts and as
recorded frames suggest (a 5-minute bar of 00:20 UTC answered with "TS" 08:29).

REST: GET /v2/ticker/24hr.do?symbol=all answers all spot markets in one response, with no
best bid or ask and "change" in percent, so the open stays null; the best bid and ask
with their sizes come from /v2/supplement/ticker/bookTicker.do, one request per market
(for up to 20 markets; beyond that, polling leaves them null).
Envelope: {"result":"true","data":...,"error_code":0,"ts":...}; "result":"false" with an
error_code is an error. Markets from /v2/accuracy.do, whose ids look like "btc_usdt" (a
few have a network suffix, like "vet_erc20_usdt").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import msgspec
import orjson

from ..errors import ParseError, VenueError, VenueNotice
from ..records import Ticker, best_level, iso_to_ns, ms_to_ns
from ..symbols import Market, MarketTable
from ..timestamps import valid_ns
from .base import Codec, RestRequest, json_body, json_object, pair_market
from .fields import StructFields, TickerFields, Top, top_of_book
from .routes import Call, Route, Text
from .schema import Num, Schema

UTC8_NS = 8 * 3600 * 1_000_000_000
DEPTH = "10"  # the smallest depth offered (10, 50 or 100): only the top is used
# Above this many markets REST polling skips the per-market best bid/ask requests.
MAX_BOOK_REQUESTS = 20


TICKER = TickerFields(last="latest", high="high", low="low", volume="vol", quote_volume="turnover")
BOOK = TickerFields(bid="bidPrice", bid_size="bidQty", ask="askPrice", ask_size="askQty")


class Tick(msgspec.Struct):
    """The tick channel's statistics (REST's "ticker" has the same keys)."""

    latest: Num = None
    high: Num = None
    low: Num = None
    vol: Num = None  # base currency
    turnover: Num = None  # quote currency


class Levels(msgspec.Struct):
    asks: list[list[Num]] | None = None  # [price, size], best first
    bids: list[list[Num]] | None = None


class Push(Levels):
    """A push of tick or depth, a ping, an answer (a depth request's has the levels at the
    top) or an error."""

    type: Any = None
    pair: Any = ""
    TS: Any = None  # "2019-07-01T11:33:55.188", UTC+8
    tick: Tick | None = None
    depth: Levels | None = None
    action: Any = None
    ping: Any = None
    status: Any = None
    message: Any = None
    result: Any = msgspec.UNSET


PUSH = Schema(Push)


def _ts(value: Any) -> int | None:
    """A frame's "TS" ("2019-07-01T11:33:55.188", UTC+8) to ns since the epoch."""
    ns = iso_to_ns(value)
    return None if ns is None else valid_ns(ns - UTC8_NS)


STREAM_TICKER = StructFields(
    last="latest", high="high", low="low", volume="vol", quote_volume="turnover"
)


class LBank(Codec):
    venue: ClassVar[str] = "lbank"
    # ccxt's renames for LBank.
    RENAMES: ClassVar[dict[str, str]] = {"HIT": "HIVER", "VET_ERC20": "VEN", "PNT": "PENTA"}
    WS_URL: ClassVar[str] = "wss://www.lbkex.net/ws/V2/"
    REST_URL: ClassVar[str] = "https://api.lbank.info"
    MARKETS_URL: ClassVar[str] = "https://api.lbank.info/v2/accuracy.do"
    # Two subscribe messages per market; no documented cap per connection.
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 50
    MERGE: ClassVar[bool] = True
    REST_RATE: ClassVar[float] = 5.0  # bookTicker.do is one request per market
    ROUTES: ClassVar[tuple[Route, ...]] = (  # parse_ws's tick pushes, read in C (depth: its own)
        Route(
            when={"type": "tick"}, items="tick", market="$.pair",
            fields={"last": "latest?", "high": "high?", "low": "low?", "volume": "vol?",
                    "quote_volume": "turnover?", "ts_event": Call(_ts, Text("$.TS?"))},
        ),
    )  # fmt: skip

    def __init__(self, table: MarketTable) -> None:
        super().__init__(table)
        self._tops: dict[str, Top] = {}  # the last top of book sent, per pair

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        out = []
        for m in markets:
            for channel in ("depth", "tick"):
                msg = {"action": "subscribe", "subscribe": channel, "pair": m.native}
                if channel == "depth":
                    msg["depth"] = DEPTH
                out.append(orjson.dumps(msg).decode())
        return out

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """Pushes, shortened:

        {"tick":{"to_cny":76643.5,"high":0.02719761,"vol":497529.7686,"low":0.02603071,
         "change":2.54,"usd":299.12,"to_usd":11083.66,"dir":"sell","turnover":13224.0186,
         "latest":0.02698749,"cny":2068.41},"type":"tick","pair":"eth_btc","SERVER":"V2",
         "TS":"2019-07-01T11:33:55.188"}
        {"depth":{"asks":[[0.0252,0.5833],[0.025215,4.377]],"bids":[[0.025135,3.962]]},
         "count":10,"type":"depth","pair":"eth_btc","SERVER":"V2","TS":"2019-06-28T17:49:22.722"}
        Also {"action":"ping","ping":"0ca8f854-..."} (answered with a pong) and errors
        {"SERVER":"V2","message":"Missing parameter ['kbar']","status":"error","TS":"..."}.
        """
        msg = PUSH(raw)
        kind = msg.type
        if kind == "depth":
            return self._depth(msg, ts_recv)
        if kind == "tick":
            m = self.lookup(msg.pair)
            t = msg.tick
            if m is None or t is None:
                return []
            return [STREAM_TICKER.record(self.venue, m, t, ts_recv, _ts(msg.TS))]
        action = msg.action
        if action == "ping":
            self.replies.append(orjson.dumps({"action": "pong", "pong": msg.ping}).decode())
            return []
        if msg.status == "error":
            raise VenueNotice(f"venue error: {msg.message}")
        if kind is None and action is None and msg.result is msgspec.UNSET:
            raise ParseError(f"unexpected message: {raw[:100]!r}")
        return []  # pongs, acks, other channels

    def _depth(self, msg: Push, ts_recv: int) -> list[Ticker]:
        m = self.lookup(msg.pair)
        if m is None:
            return []
        book = (
            msg.depth if msg.depth is not None else msg
        )  # a request's answer has the levels at the top
        bid, bid_size = best_level(book.bids, highest=True)
        ask, ask_size = best_level(book.asks, highest=False)
        top = (bid, bid_size, ask, ask_size)
        if top == self._tops.get(m.native) or (bid is None and ask is None):
            return []
        self._tops[m.native] = top
        return [top_of_book(self.venue, m, top, ts_recv, _ts(msg.TS))]

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        books = []
        if len(markets) <= MAX_BOOK_REQUESTS:
            path = "/v2/supplement/ticker/bookTicker.do?symbol="
            books = [RestRequest(base_url + path + quote(m.native, safe=""), m) for m in markets]
        return [*books, RestRequest(f"{base_url}/v2/ticker/24hr.do?symbol=all")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """{"result":"true","data":[{"symbol":"btc_usdt","ticker":{"high":"73640.51",
        "vol":"12127.5132","low":"68677.55","change":"1.77","turnover":"869993132.77",
        "latest":"73380.29"},"timestamp":"1710328237047"}],"error_code":"0",
        "ts":"1710328244598"}
        vol is in the base currency, turnover in the quote currency, change in percent.
        bookTicker.do: {"result":true,"data":{"symbol":"btc_usdt","bidPrice":"73380.28",
        "bidQty":"0.5","askPrice":"73380.3","askQty":"1.2"},"error_code":0,"ts":...}
        """
        doc = json_object(body)
        if str(doc.get("result")).lower() == "false" or str(doc.get("error_code", 0)) != "0":
            raise VenueError(f"venue error {doc.get('error_code')}: {doc.get('msg')}")
        data = doc.get("data")
        if isinstance(data, dict):  # one market's best bid and ask
            data = [data]
        if not isinstance(data, list):
            raise ParseError("response without a data list")
        out = []
        for row, m in self.followed(data, "symbol"):
            if "bidPrice" in row or "askPrice" in row:
                out.append(BOOK.record(self.venue, m, row, ts_recv, ms_to_ns(doc.get("ts"))))
                continue
            t = row.get("ticker")
            if not isinstance(t, dict):
                raise ParseError(f"ticker of {m.native} is not an object")
            out.append(TICKER.record(self.venue, m, t, ts_recv, ms_to_ns(row.get("timestamp"))))
        return out

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """/v2/accuracy.do: {"result":"true","data":[{"symbol":"btc_usdt",
        "quantityAccuracy":"4","minTranQua":"0.0001","priceAccuracy":"2"}],
        "error_code":0,"ts":1691560288484}  (no status: every listed pair trades)"""
        return Codec.rows_at(json_body(body), "data")

    @classmethod
    def market_of(cls, p: Any) -> Market | None:
        base, quote_ = p["symbol"].rsplit("_", 1)
        return pair_market(base, quote_, p["symbol"], renames=cls.RENAMES)
