"""BigONE spot, API v3: the public 24 h tickers, polled over REST.

GET /asset_pairs/tickers?pair_names=BTC-USDT,ETH-USDT answers the listed pairs (all pairs
without the parameter) in one request; every ticker names its pair. The ticker has the
best bid and ask with their sizes, but no time and no quote volume. Markets come from
/asset_pairs; the pair name ("BTC-USDT") is the id in requests and responses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import msgspec

from ..errors import ParseError, VenueError
from ..records import Ticker
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body
from .fields import StructFields, Top
from .schema import Num, Schema

# Codes that name another token here than elsewhere (ONE is the BigONE Token, not Harmony):
# the reference gives them display names, which are no currency codes; left out.
LEFT_OUT = {"CRE", "FREE", "MBN", "ONE"}
MAX_IDS_IN_URL = 100


class Level(msgspec.Struct):
    """A side's best level (null, or {}, when the side is empty)."""

    price: Num = None
    quantity: Num = None


class Row(msgspec.Struct):
    asset_pair_name: Any = ""  # looked up as sent
    bid: Level | None = None
    ask: Level | None = None
    open: Num = None
    high: Num = None
    low: Num = None
    close: Num = None
    volume: Num = None


class Answer(msgspec.Struct):
    """The tickers' list, or one ticker (/asset_pairs/{name}/ticker), under "data"."""

    code: Any = None
    message: Any = None
    data: list[Row] | Row | None = None


ANSWER = Schema(Answer)
EMPTY_SIDE = Level()
TICKER = StructFields(last="close", open="open", high="high", low="low", volume="volume")


def _top(t: Row) -> Top:
    bid, ask = t.bid or EMPTY_SIDE, t.ask or EMPTY_SIDE
    return bid.price, bid.quantity, ask.price, ask.quantity


class BigONE(Codec):
    venue: ClassVar[str] = "bigone"
    # The reference's renames of this venue's currency codes, where the new name is a code.
    RENAMES: ClassVar[dict[str, str]] = {"FXT": "FXTTOKEN"}
    REST_URL: ClassVar[str] = "https://big.one/api/v3"
    MARKETS_URL: ClassVar[str] = "https://big.one/api/v3/asset_pairs"

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        if len(markets) > MAX_IDS_IN_URL:
            return [RestRequest(f"{base_url}/asset_pairs/tickers")]
        names = quote(",".join(m.native for m in markets), safe=",")
        return [RestRequest(f"{base_url}/asset_pairs/tickers?pair_names={names}")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """{"code":0,"data":[{"asset_pair_name":"BTC-USDT","bid":{"price":"63900",
        "order_count":1,"quantity":"0.013929"},"ask":{"price":"63912.19","order_count":1,
        "quantity":"0.54"},"open":"64818.81","high":"65112.32","low":"63272.84",
        "close":"63905.62","volume":"2567.460773","daily_change":"-913.19"}]}
        /asset_pairs/{name}/ticker has one such object as "data".
        Errors: {"code":10013,"message":"Resource not found"}.
        """
        doc = ANSWER(body)
        if doc.code not in (0, "0"):
            raise VenueError(f"venue error {doc.code}: {doc.message}")
        data = doc.data
        if isinstance(data, Row):
            data = [data]
        if data is None:
            raise ParseError("response without a data list")
        lookup, venue, record = self.lookup, self.venue, TICKER.record_top
        return [
            record(venue, m, t, _top(t), ts_recv) for t in data if (m := lookup(t.asset_pair_name))
        ]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """/asset_pairs: {"code":0,"data":[{"id":"2aaa1ee0-...","name":"BTC-USDT",
        "quote_scale":2,"quote_asset":{"id":"...","symbol":"USDT","name":"TetherUS"},
        "base_asset":{"id":"...","symbol":"BTC","name":"Bitcoin"},"base_scale":6,
        "min_quote_value":"1","max_quote_value":"1000000"}, ...]}"""
        return Codec.rows_at(json_body(body), "data")

    @classmethod
    def market_of(cls, p: Any) -> Market | None:
        base_id = p["base_asset"]["symbol"]
        quote_id = p["quote_asset"]["symbol"]
        if base_id in LEFT_OUT or quote_id in LEFT_OUT:
            return None
        symbol = unify(base_id, quote_id, renames=cls.RENAMES)
        return Market(symbol, p["name"], base_id=base_id, quote_id=quote_id)
