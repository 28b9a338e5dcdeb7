"""Zaif (Japan) spot: the public API v1 (api.zaif.jp/api/1), polled.

REST: GET /api/1/ticker/{currency_pair} per market (there is no all-markets ticker); the
venue asks for at most 10 public calls per second. The ticker sends no open, no sizes at
the top of the book and no time; its quote volume is the volume times the 24 h VWAP,
exact by definition (the VWAP is rounded by the venue). Numbers are JSON floats.
Markets: GET /api/1/currency_pairs/all. Errors come as {"error":"unsupported currency_pair"}.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from ..errors import ParseError, VenueError
from ..records import Ticker
from ..symbols import Market
from .base import Codec, RestRequest, json_body, json_object, pair_market, per_market
from .fields import StructFields
from .schema import Num, Schema


class Quote(msgspec.Struct):
    """A pair's ticker: vwap the 24 h average price (times the volume: the quote volume)."""

    bid: Num = None
    ask: Num = None
    last: Num = None
    high: Num = None
    low: Num = None
    volume: Num = None
    vwap: Num = None
    error: Any = msgspec.UNSET


QUOTE = Schema(Quote)


TICKER = StructFields(
    bid="bid", ask="ask", last="last", high="high", low="low", volume="volume", vwap="vwap"
)


class Zaif(Codec):
    venue: ClassVar[str] = "zaif"
    REST_URL: ClassVar[str] = "https://api.zaif.jp"
    MARKETS_URL: ClassVar[str] = "https://api.zaif.jp/api/1/currency_pairs/all"
    REST_RATE: ClassVar[float] = 5.0  # the venue asks for at most 10 public calls per second

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return per_market(markets, f"{base_url}/api/1/ticker/")

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /api/1/ticker/btc_jpy: {"last":10305000.0,"high":10420000.0,
        "low":9985000.0,"vwap":10221873.6842,"volume":312.4551,"bid":10300005.0,
        "ask":10305000.0}"""
        t = QUOTE(body)
        if t.error is not msgspec.UNSET:
            raise VenueError(f"venue error: {t.error}")
        if t.last is None and "last" not in json_object(body):  # null, or not sent
            raise ParseError("expected a ticker object")
        if market is None:
            raise ParseError("a ticker needs its market")
        return [TICKER.record(self.venue, market, t, ts_recv)]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """[{"name":"BTC/JPY","title":"BTC/JPY","currency_pair":"btc_jpy",
        "description":"...","is_token":false,"event_number":0,"seq":0,"id":1,
        "item_unit_min":0.0001,"item_unit_step":0.0001,"item_japanese":"ビットコイン",
        "aux_unit_min":5.0,"aux_unit_step":5.0,"aux_unit_point":0,"aux_japanese":"日本円"}]"""
        return Codec.rows_at(json_body(body))

    @staticmethod
    def market_of(p: Any) -> Market | None:
        base, quote_ = p["name"].split("/")
        return pair_market(base, quote_, p["currency_pair"])
