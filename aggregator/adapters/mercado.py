"""Mercado Bitcoin (Brazil) spot: the public data API v4 (api.mercadobitcoin.net/api/v4).

REST: GET /api/v4/tickers?symbols=BTC-BRL,ETH-BRL returns the tickers of the listed
markets in one list; there is no all-markets form (symbols is required), so the
subscribed markets are asked for in batches of 50, spaced by the public data limit of
1 request per second per endpoint (the older per-coin /api/{coin}/ticker/ of the v3 data
API would need one request per market). The ticker has no sizes at the top of the book
and no quote volume. Markets: GET /api/v4/symbols, a table of columns, one per field;
the markets listed and traded on the exchange are kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import msgspec

from ..errors import ParseError, VenueError
from ..records import Ticker, seconds_to_ns
from ..symbols import Market
from .base import Codec, RestRequest, json_body, pair_market
from .fields import StructFields
from .schema import Num, Schema, Time

BATCH = 50  # symbols per request, keeping the URL short


class Row(msgspec.Struct):
    """A market's ticker: buy/sell the best bid and ask, vol the 24 h base volume."""

    pair: Any = ""
    buy: Num = None
    sell: Num = None
    last: Num = None
    open: Num = None
    high: Num = None
    low: Num = None
    vol: Num = None
    date: Time = None  # s


class Refused(msgspec.Struct):
    """An error answered in place of the list."""

    code: Any = msgspec.UNSET
    message: Any = msgspec.UNSET


ANSWER: Schema[list[Row] | Refused] = Schema(list[Row] | Refused)  # type: ignore[arg-type]


TICKER = StructFields(
    market_id="pair",
    bid="buy", ask="sell", last="last", open="open", high="high", low="low", volume="vol",
    ts_event=("date", seconds_to_ns),
)  # fmt: skip


class Mercado(Codec):
    venue: ClassVar[str] = "mercado"
    REST_URL: ClassVar[str] = "https://api.mercadobitcoin.net/api/v4"
    MARKETS_URL: ClassVar[str] = "https://api.mercadobitcoin.net/api/v4/symbols"
    REST_RATE: ClassVar[float] = 1.0  # public data endpoints: 1 request per second

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        ids = [m.native for m in markets]
        return [
            RestRequest(
                f"{base_url}/tickers?symbols={quote(','.join(ids[i : i + BATCH]), safe=',')}"
            )
            for i in range(0, len(ids), BATCH)
        ]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """[{"pair":"BTC-BRL","high":"372000.00000000","low":"361250.00000000",
        "vol":"41.31225317","last":"369850.00000000","buy":"369801.00000000",
        "sell":"369850.00000000","open":"363100.00000000","date":1710328240}]
        buy/sell are the best bid and ask, vol the 24 h base volume, date in seconds.
        Errors: {"code":"API_INVALID_SYMBOL","message":"..."}.
        """
        doc = ANSWER(body)
        if isinstance(doc, Refused):
            if doc.code is msgspec.UNSET and doc.message is msgspec.UNSET:
                raise ParseError("expected a list of tickers")
            code = None if doc.code is msgspec.UNSET else doc.code
            message = None if doc.message is msgspec.UNSET else doc.message
            raise VenueError(f"venue error {code}: {message}")
        return TICKER.records(self.venue, self.lookup, doc, ts_recv)

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """{"symbol":["BTC-BRL","ETH-BRL"],"base-currency":["BTC","ETH"],
        "currency":["BRL","BRL"],"exchange-listed":[true,true],
        "exchange-traded":[true,true],"type":["CRYPTO","CRYPTO"],...}
        A row is one index of the columns: (id, base, quote, listed, traded)."""
        doc = json_body(body)
        ids = Codec.rows_at(doc, "symbol")
        bases, quotes = Codec.rows_at(doc, "base-currency"), Codec.rows_at(doc, "currency")
        n = len(ids)
        listed = doc.get("exchange-listed") or [True] * n
        traded = doc.get("exchange-traded") or [True] * n
        if not (len(bases) == len(quotes) == len(listed) == len(traded) == n):
            raise ParseError("columns of different lengths")
        return list(zip(ids, bases, quotes, listed, traded, strict=True))

    @staticmethod
    def market_of(row: Any) -> Market | None:
        native, base, quote_, listed, traded = row
        if listed is not True or traded is not True:
            return None
        return pair_market(base, quote_, native)
