"""Coinmate: the public REST tickers, all pairs in one request.

GET /api/tickerAll answers {"data": {pair: ticker}} for every pair; GET
/api/ticker?currencyPair=BTC_EUR answers one ticker that does not name its pair (parsed
too, given its market). Markets come from GET /api/tradingPairs. Every body is wrapped in
{"error": bool, "errorMessage": str|null, "data": ...}; an error comes with HTTP 200.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from ..errors import ParseError, VenueError
from ..records import Ticker, seconds_to_ns
from ..symbols import Market
from .base import Codec, RestRequest, json_body, json_object, one_or_all, pair_market
from .schema import Num, Schema, Time


class Row(msgspec.Struct):
    last: Num = None
    bid: Num = None
    ask: Num = None
    open: Num = None
    high: Num = None
    low: Num = None
    amount: Num = None  # base volume, 24 h
    timestamp: Time = None  # s


class Tickers(msgspec.Struct):
    """tickerAll's answer; an error's too (with "data" null)."""

    error: Any = None
    errorMessage: Any = None  # the venue's name, as sent
    data: dict[str, Row] | None = None


class One(Row):
    """One pair's ticker (GET /api/ticker); a last price or a time tells it from a keyed
    answer's object, as the venue sends it null at times."""

    last: Num | msgspec.UnsetType = msgspec.UNSET  # type: ignore[assignment]
    timestamp: Time | msgspec.UnsetType = msgspec.UNSET  # type: ignore[assignment]


class OneTicker(msgspec.Struct):
    error: Any = None
    errorMessage: Any = None
    data: One | None = None


# The declared decoders alone: schema.py's permissive twin takes an object keyed by pair as
# sent, so an answer with a bad value (or of another shape) is read by _read_as_sent.
TICKERS = msgspec.json.Decoder(Tickers, strict=False).decode
ONE = msgspec.json.Decoder(OneTicker, strict=False).decode
ROW = Schema(Row)


class Coinmate(Codec):
    venue: ClassVar[str] = "coinmate"
    REST_URL: ClassVar[str] = "https://coinmate.io"
    MARKETS_URL: ClassVar[str] = "https://coinmate.io/api/tradingPairs"
    REST_RATE: ClassVar[float] = 1.0  # one request per poll: poll_interval sets the pace

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        one = f"{base_url}/api/ticker?currencyPair="
        return one_or_all(markets, lambda m: one + m.native, f"{base_url}/api/tickerAll")

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """tickerAll: {"error":false,"errorMessage":null,"data":{"BTC_EUR":{"last":"61200.5",
        "high":"62150","low":"60511.3","amount":"12.83312514","bid":"61190.1",
        "ask":"61210.4","change":"0.94553201","open":"60627.3","timestamp":"1728630559"}}}
        ticker?currencyPair=BTC_USDT: the same ticker object directly under "data".
        amount: base, 24 h; change: percent; timestamp: seconds.
        """
        if market is not None:  # one pair asked for: its ticker first
            try:
                one = ONE(body)
            except msgspec.MsgspecError:
                return self._read_as_sent(body, ts_recv, market)
            t = one.data
            sent = t is not None and (
                t.last is not msgspec.UNSET or t.timestamp is not msgspec.UNSET
            )
            if sent and not one.error:
                return [self._ticker(market, t, ts_recv)]  # type: ignore[arg-type]
        try:
            doc = TICKERS(body)
        except msgspec.MsgspecError:  # a bad value, one ticker, a row not an object, not JSON
            return self._read_as_sent(body, ts_recv, market)
        if doc.error:
            raise VenueError(f"venue error: {doc.errorMessage}")
        if doc.data is None:
            raise ParseError("response without a data object")
        lookup = self.lookup
        return [
            self._ticker(m, t, ts_recv)
            for key, t in doc.data.items()
            if (m := lookup(key)) is not None
        ]

    def _read_as_sent(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """An answer that is not all tickers keyed by pair: read as an object, each ticker
        declared on its own, so that a row that is not an object drops only itself (unless
        it is of a market followed)."""
        doc = json_object(body)
        if doc.get("error"):
            raise VenueError(f"venue error: {doc.get('errorMessage')}")
        data = doc.get("data")
        if not isinstance(data, dict):
            raise ParseError("response without a data object")
        if "last" in data or "timestamp" in data:  # one ticker: GET /api/ticker
            if market is None:
                raise ParseError("a single coinmate ticker needs its market")
            return [self._ticker(market, ROW.convert(data), ts_recv)]
        return [self._ticker(m, ROW.convert(t), ts_recv) for t, m in self.keyed(data)]

    def _ticker(self, m: Market, t: Row, ts_recv: int) -> Ticker:
        last, ts = t.last, t.timestamp
        return Ticker(
            self.venue,
            m.symbol,
            m.native,
            t.bid,  # bid
            None,  # bid_size
            t.ask,  # ask
            None,  # ask_size
            None if last is msgspec.UNSET else last,  # last
            t.open,  # open
            t.high,  # high
            t.low,  # low
            t.amount,  # volume
            None,  # quote_volume
            None if ts is msgspec.UNSET else seconds_to_ns(ts),
            ts_recv,
        )

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
        return pair_market(p["firstCurrency"], p["secondCurrency"], p["name"])
