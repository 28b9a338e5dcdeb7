"""ALP.com (BTC-Alpha's successor): the public WebSocket's ticker pushes, or REST API v3.

Confirmed against the venue's API v3 reference (alp.com, "WebSocket API" and "Public API")
and its Python client's documentation; the 2019 id's v1 API is shut (its format, in
../shared/fixtures/rest-beyond/btcalpha.json, is refused as a payload of another shape).

WebSocket (wss://www.alp.com/ws): every message is a JSON array whose first item is its type
and whose second is the time in seconds. ``["subscribe","ticker.*"]`` subscribes to the
tickers of every pair (a topic per pair, "ticker.BTC_USDT", is documented but was reported
to send nothing), acknowledged as ``["subscribe",ts,"ticker.*"]``; the pushes are
``["tk",ts,[pair,close,base volume,quote volume,change %,high,low,bid,ask],...]`` with a
row per pair that changed. No open and no sizes at the touch are sent. A connection gets
every pair, so the codec keeps those of its own markets. The reference says the server
sends the text ``1`` about every 20 s and closes a client that has not answered ``2``
within 30 s: the codec answers each ``1`` with ``2`` (and sends nothing otherwise: a
client's unsolicited ``1`` or ``2`` was reported to close the connection). Errors come as
``["error",ts,"Invalid topic: ...","subscribe"]``.

REST: GET /api/v3/ticker answers every pair in one list (``?pair=BTC_USDT`` one): best bid
("buy") and ask ("sell") without sizes, last, open, 24 h high and low, "vol" in the base
currency, and "timestamp" in seconds (0 for a pair never traded: no time). No rate limit
is published (429 "TOO_MANY_REQUESTS" exists): one request per poll. Errors:
{"code":"BAD_REQUEST","message":"pair not found"}. Markets from /api/v3/pairs (no status
field: every listed pair counts). The API lives on www.alp.com (alp.com redirects there).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec
import orjson

from ..errors import ParseError, VenueError
from ..records import Ticker, seconds_to_ns
from ..symbols import Market, MarketTable
from .base import Codec, RestRequest, json_body, pair_market
from .fields import StructFields
from .schema import Num, Schema

TOPIC = "ticker.*"
PING, PONG = "1", "2"


class Row(msgspec.Struct, array_like=True):
    """One pair's row of a "tk" push."""

    pair: Any = None
    close: Num = None
    base_volume: Num = None
    quote_volume: Num = None
    change_percent: Num = None
    high: Num = None
    low: Num = None
    bid: Num = None
    ask: Num = None


class Rest(msgspec.Struct):
    """One pair's REST ticker, or the venue's error in its place."""

    pair: Any = None
    last: Num = None
    open: Num = None
    vol: Num = None  # base currency
    buy: Num = None
    sell: Num = None
    high: Num = None
    low: Num = None
    timestamp: Any = None  # s, a float; 0 when the pair never traded
    code: Any = None
    message: Any = None


ROW = Schema(Row)
# An object in place of the list: an error, or the shut v1 API's ticker.
REST: Schema[list[Rest] | Rest] = Schema(list[Rest] | Rest)  # type: ignore[arg-type]


TICKER = StructFields(
    bid="bid", ask="ask", last="close", high="high", low="low", volume="base_volume",
    quote_volume="quote_volume",
)  # fmt: skip


REST_TICKER = StructFields(
    bid="buy",
    ask="sell",
    last="last",
    open="open",
    high="high",
    low="low",
    volume="vol",
    ts_event=("timestamp", lambda at: seconds_to_ns(at) if at else None),  # 0: never traded
)


class ALP(Codec):
    venue: ClassVar[str] = "alp"
    WS_URL: ClassVar[str] = "wss://www.alp.com/ws"
    REST_URL: ClassVar[str] = "https://www.alp.com"
    MARKETS_URL: ClassVar[str] = "https://www.alp.com/api/v3/pairs"
    # One topic carries every pair: one connection is enough (the venue allows 20 topics).
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 10_000
    REST_RATE: ClassVar[float] = 2.0

    def __init__(self, table: MarketTable) -> None:
        super().__init__(table)
        self._mine: frozenset[str] | None = None  # the natives of this connection's markets

    # --- WebSocket ---------------------------------------------------------------------
    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        self._mine = frozenset(m.native for m in markets)
        return [orjson.dumps(["subscribe", TOPIC]).decode()]

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """["tk",1694003337,["BTC_USDT","25725.53000000","6074.90520117",
        "156489295.23543299","0.09369121","25889.00000000","25629.43000000",
        "25717.69000000","25747.69000000"],...]  (pair, close, base volume, quote volume,
        change %, high, low, bid, ask)
        Also: ["welcome",1694002700,30000000000,65000000000,"5c00d9c2-..."],
        ["subscribe",1790139140,"ticker.*"], ["error",1790139264,"Invalid topic: x",
        "subscribe"], and the keepalive 1 (answered 2).
        """
        if raw == PING or raw == b"1":
            self.replies.append(PONG)
            return []
        # The array mixes a type, a time and rows: read as a list, each row as declared.
        msg = json_body(raw)
        if not isinstance(msg, list) or not msg:
            raise ParseError(f"unexpected message: {raw[:100]!r}")
        kind = msg[0]
        if kind == "tk":
            return self._tickers(msg, ts_recv)
        if kind == "error":
            why = msg[2] if len(msg) > 2 else None
            raise VenueError(f"venue error: {why}")
        if kind in ("welcome", "subscribe", "unsubscribe", "t", "p", "d"):
            return []
        raise ParseError(f"unexpected message: {raw[:100]!r}")

    def _tickers(self, msg: list[Any], ts_recv: int) -> list[Ticker]:
        if len(msg) < 2:
            raise ParseError("ticker push without its time")
        ts_event = seconds_to_ns(msg[1])
        lookup, mine, venue = self.lookup, self._mine, self.venue
        out = []
        for item in msg[2:]:
            if not isinstance(item, list) or not item or not isinstance(item[0], str):
                raise ParseError(f"ticker row is not a [pair, ...] list: {item!r:.80}")
            m = lookup(item[0])
            if m is None or (mine is not None and m.native not in mine):
                continue
            r = ROW.convert(item)
            out.append(TICKER.record(venue, m, r, ts_recv, ts_event))
        return out

    # --- REST --------------------------------------------------------------------------
    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [RestRequest(f"{base_url}/api/v3/ticker")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """[{"pair":"BTC_USDT","last":45000.0,"open":44990.0,"vol":1000.0,"buy":44990.0,
        "sell":45010.0,"high":45500.0,"low":44500.0,"diff":10.0,"diff_percent":0.02,
        "price_precision":2,"amount_precision":8,"timestamp":1630862400.0}, ...]
        (the reference's example; "vol" is in the base currency). An object in place of
        the list is an error ({"code":"BAD_REQUEST","message":"pair not found"}) or the v1
        API's ticker ({"timestamp":"1710328.217553","pair":"BTC_USDT",...}): refused.
        """
        doc = REST(body)
        if not isinstance(doc, list):
            if doc.code is not None:
                raise VenueError(f"venue error {doc.code}: {doc.message}")
            raise ParseError("expected a list of tickers (a single object is the shut v1 API's)")
        lookup, venue = self.lookup, self.venue
        out = []
        for t in doc:
            if not isinstance(t.pair, str):
                raise ParseError("ticker without a pair")
            m = lookup(t.pair)
            if m is None:
                continue
            out.append(REST_TICKER.record(venue, m, t, ts_recv))
        return out

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """[{"name":"BTC_USDT","currency1":"BTC","currency2":"USDT","price_precision":2,
        "amount_precision":8,"minimum_order_size":0.001,"maximum_order_size":10.0,
        "minimum_order_value":10.0}, ...]"""
        return Codec.rows_at(json_body(body))

    @staticmethod
    def market_of(p: Any) -> Market:
        base, quote = p["currency1"], p["currency2"]
        return pair_market(base, quote, p["name"])
