"""INDODAX: REST polling of the tickers of every market at once.

GET /api/ticker_all answers every pair in one response, keyed by ticker id ("btc_idr").
A ticker has the best bid ("buy") and ask ("sell") without sizes, last, 24 h high and low,
and both 24 h volumes under keys named after the currencies ("vol_btc", "vol_idr");
server_time is in seconds. No open. Public limit: 180 requests a minute. Errors:
{"error":"invalid_pair","error_description":"Invalid Pair"}. Markets from /api/pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from ..errors import ParseError, VenueError
from ..records import Ticker, seconds_to_ns
from ..symbols import Market, MarketTable, unify
from .base import Codec, RestRequest, json_body, one_or_all
from .fields import StructFields
from .schema import Num, Schema, Time


class Row(msgspec.Struct):
    """A pair's ticker: buy/sell the best bid and ask. Its volumes are named after its
    currencies, so each market reads them through a Struct of its own (``_row_schema``)."""

    buy: Num = None
    sell: Num = None
    last: Num = None
    high: Num = None
    low: Num = None
    server_time: Time = None  # s


class Answer(msgspec.Struct):
    """Every pair's ticker keyed by ticker id (each read only for a market followed), one
    pair's ticker, or an error."""

    tickers: dict[str, msgspec.Raw] | None = None  # anything else on the permissive path
    ticker: msgspec.Raw = msgspec.Raw()  # empty: not sent
    error: Any = msgspec.UNSET
    error_description: Any = None


ANSWER = Schema(Answer)


def _row_schema(m: Market) -> Schema[Any]:
    """The ticker of market ``m``, its base volume as "vol_<base>", its quote volume as
    "vol_<quote>" (currency ids in lower case)."""
    volumes = [
        ("volume", Num, msgspec.field(default=None, name=f"vol_{m.base_id.lower()}")),
        ("quote_volume", Num, msgspec.field(default=None, name=f"vol_{m.quote_id.lower()}")),
    ]
    return Schema(msgspec.defstruct(f"Row_{m.native}", volumes, bases=(Row,)))


TICKER = StructFields(
    bid="buy", ask="sell", last="last", high="high", low="low", volume="volume",
    quote_volume="quote_volume", ts_event=("server_time", seconds_to_ns),
)  # fmt: skip


class Indodax(Codec):
    venue: ClassVar[str] = "indodax"
    RENAMES: ClassVar[dict[str, str]] = {"STR": "XLM", "NEM": "XEM"}  # ccxt's renames
    REST_URL: ClassVar[str] = "https://indodax.com"
    MARKETS_URL: ClassVar[str] = "https://indodax.com/api/pairs"

    def __init__(self, table: MarketTable) -> None:
        super().__init__(table)
        self._rows: dict[str, Schema[Any]] = {}  # native -> its ticker's declaration

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        one = f"{base_url}/api/ticker/"
        return one_or_all(
            markets, lambda m: one + m.native.replace("_", ""), f"{base_url}/api/ticker_all"
        )

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """{"tickers":{"btc_idr":{"high":"1195000000","low":"1160000000",
        "vol_btc":"93.76384611","vol_idr":"110466291815","last":"1177000000",
        "buy":"1176999000","sell":"1177000000","server_time":1710328244,"name":"Bitcoin"}}}
        Also parsed: one pair's /api/ticker/btcusdt, {"ticker":{...}} naming no pair, so
        its market comes with the request.
        """
        doc = ANSWER(body)
        if doc.error is not msgspec.UNSET:
            raise VenueError(f"venue error {doc.error}: {doc.error_description}")
        if doc.ticker:
            if market is None:
                raise ParseError("a single ticker needs its market")
            return [self._ticker(doc.ticker, market, ts_recv)]
        if not isinstance(doc.tickers, dict):
            raise ParseError("response without a tickers object")
        lookup = self.lookup
        out = []
        for key, raw in doc.tickers.items():
            m = lookup(key)
            if m is not None:
                out.append(self._ticker(raw, m, ts_recv))
        return out

    def _ticker(self, raw: msgspec.Raw, m: Market, ts_recv: int) -> Ticker:
        schema = self._rows.get(m.native)
        if schema is None:
            schema = self._rows[m.native] = _row_schema(m)
        t = schema(raw)
        return TICKER.record(self.venue, m, t, ts_recv)

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """/api/pairs: [{"id":"btcidr","symbol":"BTCIDR","base_currency":"idr",
        "traded_currency":"btc","ticker_id":"btc_idr","is_maintenance":0,...}]
        (base_currency is the quote currency)"""
        return Codec.rows_at(json_body(body))

    @classmethod
    def market_of(cls, p: Any) -> Market | None:
        if p.get("is_maintenance"):
            return None
        return Market(
            unify(p["traded_currency"], p["base_currency"], renames=cls.RENAMES),
            p["ticker_id"],
            ids=(p["id"],),
            base_id=p["traded_currency"],
            quote_id=p["base_currency"],
        )
