"""bitbank (Japan) spot: the public tickers, polled over REST.

GET /tickers answers every pair's ticker in one request (/tickers_jpy only the JPY pairs,
used when every subscribed market is quoted in JPY); /{pair}/ticker answers one pair
without naming it. The ticker has best bid ("buy") and ask ("sell") without sizes, the
24 h open, high, low and base volume, and a time in ms; no quote volume. Markets come
from api.bitbank.cc/v1/spot/pairs; ids are like "btc_jpy" ("bcc" is Bitcoin Cash).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from ..errors import ParseError, VenueError
from ..records import Ticker, ms_to_ns
from ..symbols import Market
from .base import Codec, RestRequest, json_body, pair_market
from .fields import StructFields
from .schema import Num, Schema, Time


class Row(msgspec.Struct):
    """A ticker; an error's data ({"code":10000}) is read through it too."""

    pair: Any = ""  # not in a single pair's ticker
    buy: Num = None
    sell: Num = None
    last: Num = None
    open: Num = None
    high: Num = None
    low: Num = None
    vol: Num = None
    timestamp: Time = None  # ms
    code: Any = None


class Answer(msgspec.Struct):
    success: Any = msgspec.UNSET
    data: list[Row] | Row | None = None


ANSWER = Schema(Answer)


TICKER = StructFields(
    market_id="pair",
    bid="buy", ask="sell", last="last", open="open", high="high", low="low", volume="vol",
    ts_event=("timestamp", ms_to_ns),
)  # fmt: skip


class Bitbank(Codec):
    venue: ClassVar[str] = "bitbank"
    REST_URL: ClassVar[str] = "https://public.bitbank.cc"
    MARKETS_URL: ClassVar[str] = "https://api.bitbank.cc/v1/spot/pairs"

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        jpy_only = bool(markets) and all(m.quote_id == "jpy" for m in markets)
        return [RestRequest(f"{base_url}/tickers_jpy" if jpy_only else f"{base_url}/tickers")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """/tickers: {"success":1,"data":[{"pair":"btc_jpy","sell":"10545010",
        "buy":"10544990","open":"10412345","high":"10618000","low":"10350001",
        "last":"10545000","vol":"412.8836","timestamp":1733961600123}, ...]}
        /{pair}/ticker: the same with "data" one object without "pair".
        Errors: {"success":0,"data":{"code":10000}}.
        """
        doc = ANSWER(body)
        if doc.success is msgspec.UNSET:
            raise ParseError("response without a success flag")
        data = doc.data
        if doc.success != 1:
            code = data.code if isinstance(data, Row) else data
            raise VenueError(f"venue error {code}")
        if isinstance(data, Row):
            if market is None:
                raise ParseError("a single ticker needs its market")
            return [TICKER.record(self.venue, market, data, ts_recv)]
        if data is None:
            raise ParseError("response without a data list")
        return TICKER.records(self.venue, self.lookup, data, ts_recv)

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """/v1/spot/pairs: {"success":1,"data":{"pairs":[{"name":"btc_jpy",
        "base_asset":"btc","quote_asset":"jpy","unit_amount":"0.0001",
        "price_digits":0,"amount_digits":4,"is_enabled":true,"stop_order":false,...}]}}"""
        doc = json_body(body)
        if not isinstance(doc, dict) or doc.get("success") != 1:
            raise ParseError("expected {success: 1, data: {pairs: [...]}}")
        return Codec.rows_at(doc, "data", "pairs")

    @staticmethod
    def market_of(p: Any) -> Market | None:
        if not p.get("is_enabled"):
            return None
        base_id, quote_id = p["base_asset"], p["quote_asset"]
        return pair_market(base_id, quote_id, p["name"])
