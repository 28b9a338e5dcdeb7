"""Coinmate: the public REST tickers, all pairs in one request.

GET /api/tickerAll answers {"data": {pair: ticker}} for every pair; GET
/api/ticker?currencyPair=BTC_EUR answers one ticker that does not name its pair (parsed
too, given its market). Markets come from GET /api/tradingPairs. Every body is wrapped in
{"error": bool, "errorMessage": str|null, "data": ...}; an error comes with HTTP 200.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ..errors import ParseError, VenueError
from ..records import Ticker, seconds_to_ns
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body, json_object
from .fields import TickerFields

TICKER = TickerFields(
    bid="bid",
    ask="ask",
    last="last",
    open="open",
    high="high",
    low="low",
    volume="amount",
    ts_event="timestamp",
    time=seconds_to_ns,
)


class Coinmate(Codec):
    venue: ClassVar[str] = "coinmate"
    REST_URL: ClassVar[str] = "https://coinmate.io"
    MARKETS_URL: ClassVar[str] = "https://coinmate.io/api/tradingPairs"
    REST_RATE: ClassVar[float] = 1.0  # one request per poll: poll_interval sets the pace

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        if len(markets) == 1:  # one market: its own, lighter endpoint
            m = markets[0]
            return [RestRequest(f"{base_url}/api/ticker?currencyPair={m.native}", market=m)]
        return [RestRequest(f"{base_url}/api/tickerAll")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """tickerAll: {"error":false,"errorMessage":null,"data":{"BTC_EUR":{"last":"61200.5",
        "high":"62150","low":"60511.3","amount":"12.83312514","bid":"61190.1",
        "ask":"61210.4","change":"0.94553201","open":"60627.3","timestamp":"1728630559"}}}
        ticker?currencyPair=BTC_USDT: the same ticker object directly under "data".
        amount: base, 24 h; change: percent; timestamp: seconds.
        """
        doc = json_object(body)
        if doc.get("error"):
            raise VenueError(f"venue error: {doc.get('errorMessage')}")
        data = doc.get("data")
        if not isinstance(data, dict):
            raise ParseError("response without a data object")
        if "last" in data or "timestamp" in data:  # one ticker: GET /api/ticker
            if market is None:
                raise ParseError("a single coinmate ticker needs its market")
            return [TICKER.record(self.venue, market, data, ts_recv)]
        return [TICKER.record(self.venue, m, t, ts_recv) for t, m in self.keyed(data)]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """tradingPairs: {"error":false,"errorMessage":null,"data":[{"name":"BTC_EUR",
        "firstCurrency":"BTC","secondCurrency":"EUR","priceDecimals":2,"lotDecimals":8,
        "minAmount":0.0002,"tradesWebSocketChannelId":"trades-BTC_EUR",...}]}"""
        doc = json_body(body)
        if isinstance(doc, dict) and doc.get("error"):
            raise VenueError(f"venue error: {doc.get('errorMessage')}")
        return Codec.rows_at(doc, "data")

    @staticmethod
    def market_of(p: Any) -> Market | None:
        return Market(
            unify(p["firstCurrency"], p["secondCurrency"]),
            p["name"],
            base_id=p["firstCurrency"],
            quote_id=p["secondCurrency"],
        )
