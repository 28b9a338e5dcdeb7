"""DigiFinex spot: the public REST API v3.

``GET /v3/ticker`` without a symbol returns every spot market in one response (with
``?symbol=btc_usdt`` the same shape with one entry), so one request per poll covers all
subscribed markets. Ticker symbols are lower case (``btc_usdt``); the markets endpoint
``/v3/spot/symbols`` names them in upper case (``BTC_USDT``). Beware the names: ``vol``
is the base volume and ``base_vol`` the quote volume; ``change`` is a percentage.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from ..errors import ParseError, VenueError
from ..records import Ticker, seconds_to_ns
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body
from .fields import StructFields
from .schema import Num, Schema, Time


class Row(msgspec.Struct):
    """One market's ticker: buy/sell the best bid and ask, vol the base volume, base_vol
    the quote volume."""

    symbol: Any = ""
    buy: Num = None
    sell: Num = None
    last: Num = None
    high: Num = None
    low: Num = None
    vol: Num = None
    base_vol: Num = None


class Answer(msgspec.Struct):
    """The tickers' answer, or an error ({"code":10004}, no ticker list)."""

    code: Any = None
    msg: Any = None
    ticker: list[Row] | None = None
    date: Time = None  # s


ANSWER = Schema(Answer)


TICKER = StructFields(
    market_id="symbol",
    bid="buy", ask="sell", last="last", high="high", low="low", volume="vol",
    quote_volume="base_vol",
)  # fmt: skip


class Digifinex(Codec):
    venue: ClassVar[str] = "digifinex"
    # The reference library's renames for this venue where the new name is a currency code;
    # its renames to display names ("Black House Test", "Mobilian Coin") are not applied.
    RENAMES: ClassVar[dict[str, str]] = {"TEL": "TEL666", "FREE": "FREEROSSDAO"}
    REST_URL: ClassVar[str] = "https://openapi.digifinex.com/v3"
    MARKETS_URL: ClassVar[str] = "https://openapi.digifinex.com/v3/spot/symbols"

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [RestRequest(f"{base_url}/ticker")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /v3/ticker: {"ticker":[{"vol":19018.83725,"change":1.71,
        "base_vol":1362205687.8796,"sell":73368.21,"last":73374.31,"symbol":"btc_usdt",
        "low":68697.21,"buy":73368.2,"high":73628.03}],"date":1710328246,"code":0}
        buy/sell are the best bid/ask prices (no sizes); date is in seconds.
        Errors: {"code":10004} and the like, with no ticker list.
        """
        doc = ANSWER(body)
        code = doc.code
        if code not in (0, "0", None):
            raise VenueError(f"venue error code {code}" + (f": {doc.msg}" if doc.msg else ""))
        if doc.ticker is None:
            raise ParseError("response without a ticker list")
        ts_event = seconds_to_ns(doc.date)
        return TICKER.records(self.venue, self.lookup, doc.ticker, ts_recv, ts_event)

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """GET /v3/spot/symbols: {"code":0,"symbol_list":[{"symbol":"BTC_USDT",
        "base_asset":"BTC","quote_asset":"USDT","status":"TRADING","zone":"MAIN",...}]}

        The reference library reports every market as "HALT" at times although all trade;
        so "TRADING" markets are kept, or all of them if none says "TRADING".
        """
        rows = Codec.rows_at(json_body(body), "symbol_list")
        if not any(isinstance(s, dict) and s.get("status") == "TRADING" for s in rows):
            return rows
        # (a row that is not an object stays, to be counted as malformed)
        return [s for s in rows if not isinstance(s, dict) or s.get("status") == "TRADING"]

    @classmethod
    def market_of(cls, s: Any) -> Market | None:
        native = s["symbol"]
        base, quote = s["base_asset"], s["quote_asset"]
        return Market(
            unify(base, quote, renames=cls.RENAMES),
            native.lower(),
            (native.lower(), native),
            base_id=base,
            quote_id=quote,
        )
