"""Bitso: the public API v3 ticker, all books in one request.

``GET /api/v3/ticker/`` without a ``book`` answers ``{"success":true,"payload":[...]}``
with one ticker per book (the documented form names one book and answers a single
object; both are parsed). The public limit is 60 requests per minute per IP, so one
request per poll is the only way to follow several books. A ticker has the best bid and
ask (no sizes), the last price, 24 h high/low/volume/vwap and the 24 h change; quote
volume (vwap x volume) and open (last - change) are derived. The API lives on
``bitso.com/api/v3`` (the older ``api.bitso.com/v3`` host is not used).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from ..errors import ParseError, VenueError
from ..records import Ticker, iso_to_ns
from ..symbols import Market
from .base import Codec, RestRequest, json_body, pair_market
from .fields import StructFields
from .schema import Num, Schema


class Row(msgspec.Struct):
    book: Any = ""  # looked up as sent
    bid: Num = None
    ask: Num = None
    last: Num = None
    high: Num = None
    low: Num = None
    volume: Num = None
    vwap: Num = None  # gives the quote volume
    change_24: Num = None  # gives the open
    created_at: Any = None  # ISO 8601, read by iso_to_ns


class Answer(msgspec.Struct):
    success: Any = None
    error: Any = None
    payload: list[Row] | Row | None = None


ANSWER = Schema(Answer)


TICKER = StructFields(
    market_id="book",
    bid="bid", ask="ask", last="last", change="change_24", high="high", low="low",
    volume="volume", vwap="vwap", ts_event=("created_at", iso_to_ns),
)  # fmt: skip


class Bitso(Codec):
    venue: ClassVar[str] = "bitso"
    REST_URL: ClassVar[str] = "https://bitso.com"
    MARKETS_URL: ClassVar[str] = "https://bitso.com/api/v3/available_books/"
    REST_RATE: ClassVar[float] = 0.5  # public limit: 60 requests per minute per IP

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [RestRequest(f"{base_url}/api/v3/ticker/")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /api/v3/ticker/: {"success":true,"payload":[{"high":"73681",
        "last":"73440","created_at":"2024-03-13T11:10:45+00:00","book":"btc_usdt",
        "volume":"33.96216034","vwap":"71004.0822715099","low":"68696","ask":"73440",
        "bid":"73288","change_24":"1239","rolling_average_change":{"6":"0.2759"}}]}
        With ?book=btc_usdt the payload is that one object. Errors (documented form):
        {"success":false,"error":{"message":"...","code":"..."}}.
        """
        doc = ANSWER(body)
        if doc.success is not True:
            err = doc.error
            if doc.success is False and isinstance(err, dict):
                raise VenueError(f"venue error {err.get('code')}: {err.get('message')}")
            raise ParseError("response without success")
        payload = doc.payload
        if isinstance(payload, Row):
            payload = [payload]
        if payload is None:
            raise ParseError("response without a payload")
        return TICKER.records(self.venue, self.lookup, payload, ts_recv)

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """GET /api/v3/available_books/: {"success":true,"payload":[{"book":"btc_mxn",
        "minimum_price":"500","maximum_price":"10000000","minimum_amount":"0.00005",
        "maximum_amount":"500","minimum_value":"5","maximum_value":"10000000",
        "tick_size":"0.01","fees":{"flat_rate":{"maker":"0.500","taker":"0.650"},...}}]}
        Every listed book trades; the list has no status field."""
        return Codec.rows_at(json_body(body), "payload")

    @staticmethod
    def market_of(p: Any) -> Market | None:
        book = p["book"]
        base, _, quote_ = book.partition("_")
        if not base or not quote_:
            return None
        return pair_market(base, quote_, book, ids=(book,))
