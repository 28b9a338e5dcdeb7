"""Foxbit (Brazil): the public REST API v3.

``GET /rest/v3/markets/ticker/24hr`` returns the 24 h ticker of every market in one list,
the same items as the per-market ``/markets/{symbol}/ticker/24hr``, so one request per
poll covers all subscribed markets. Foxbit limits that bulk endpoint more tightly than
the per-market one (about one call per 2 s), which the default poll interval respects.
Markets are lower case ids ("btcbrl") with base and quote objects in ``/rest/v3/markets``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from ..errors import ParseError, VenueError
from ..records import Ticker, iso_to_ns
from ..symbols import Market
from .base import Codec, RestRequest, json_body, json_object, pair_market
from .schema import Num, Schema


class Trade(msgspec.Struct):
    price: Num = None
    date: Any = None  # RFC 3339


class Day(msgspec.Struct):
    """rolling_24h: volume in the base currency."""

    open: Num = None
    high: Num = None
    low: Num = None
    volume: Num = None


class Level(msgspec.Struct):
    price: Num = None
    volume: Num = None


class Best(msgspec.Struct):
    bid: Level | None = None
    ask: Level | None = None


class Row(msgspec.Struct):
    market_symbol: Any = ""
    last_trade: Trade | None = None
    rolling_24h: Day | None = None
    best: Best | None = None


class Answer(msgspec.Struct):
    data: list[Row] | None = None
    error: Any = msgspec.UNSET


ANSWER = Schema(Answer)
# A part of a row left out, or sent null: its numbers are null.
NO_TRADE, NO_DAY, NO_BEST, NO_LEVEL = Trade(), Day(), Best(), Level()
NESTED = {"last_trade": (), "rolling_24h": (), "best": ("bid", "ask")}


def _answer(body: bytes) -> Answer:
    """The answer as declared; a row's part that is not an object (nor null) is read as not
    sent, as the venue leaving it out would be, rather than refusing the whole answer."""
    try:
        return ANSWER(body)
    except ParseError:
        doc = json_object(body)
        rows = doc.get("data")
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise
        return ANSWER.convert({**doc, "data": [_objects_only(r) for r in rows]})


def _objects_only(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    for key, inner in NESTED.items():
        part = row.get(key)
        if not isinstance(part, dict):
            row[key] = None
            continue
        row[key] = {k: v for k, v in part.items() if k not in inner or isinstance(v, dict)}
    return row


class Foxbit(Codec):
    venue: ClassVar[str] = "foxbit"
    REST_URL: ClassVar[str] = "https://api.foxbit.com.br/rest/v3"
    MARKETS_URL: ClassVar[str] = "https://api.foxbit.com.br/rest/v3/markets"

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [RestRequest(f"{base_url}/markets/ticker/24hr")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /rest/v3/markets/ticker/24hr (as recorded; prices as the venue sent them):
        {"data":[{"market_symbol":"btcbrl","last_trade":{"price":"1.77510000",
        "volume":"55.77150583","date":"2024-08-02T00:12:21.000Z"},
        "rolling_24h":{"price_change":"-0.01120000","price_change_percent":"-0.62699435",
        "volume":"68017.36498606","trades_count":"550","open":"1.78630000",
        "high":"1.80630000","low":"1.67830000"},
        "best":{"ask":{"price":"1.78930000","volume":"3737.61618465"},
        "bid":{"price":"1.78160000","volume":"5116.51950000"}}}]}
        rolling_24h.volume is in the base currency; no quote volume is sent. The event
        time is that of the last trade. Errors: {"error":{"message":"...","code":...}}.
        """
        doc = _answer(body)
        if doc.data is None:
            err = doc.error
            if err is msgspec.UNSET:
                raise ParseError("response without a data list")
            if isinstance(err, dict):
                raise VenueError(f"venue error {err.get('code')}: {err.get('message')}")
            raise VenueError(f"venue error: {err}")
        lookup, venue = self.lookup, self.venue
        out = []
        for t in doc.data:
            m = lookup(t.market_symbol)
            if m is None:
                continue
            trade = t.last_trade or NO_TRADE
            day = t.rolling_24h or NO_DAY
            best = t.best or NO_BEST
            bid, ask = best.bid or NO_LEVEL, best.ask or NO_LEVEL
            out.append(
                Ticker(
                    venue,
                    m.symbol,
                    m.native,
                    bid.price,  # bid
                    bid.volume,  # bid_size
                    ask.price,  # ask
                    ask.volume,  # ask_size
                    trade.price,  # last
                    day.open,  # open
                    day.high,  # high
                    day.low,  # low
                    day.volume,  # volume
                    None,  # quote_volume
                    iso_to_ns(trade.date),  # ts_event
                    ts_recv,
                )
            )
        return out

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """GET /rest/v3/markets: {"data":[{"symbol":"btcbrl","quantity_min":"0.00000236",
        "price_increment":"0.0001","base":{"symbol":"btc","name":"Bitcoin","type":"CRYPTO",
        ...},"quote":{"symbol":"brl","name":"Real","type":"FIAT",...},
        "order_type":["LIMIT","MARKET","INSTANT","STOP_LIMIT","STOP_MARKET"]}]}
        The endpoint lists the markets open for trading; it carries no status field.
        """
        return Codec.rows_at(json_body(body), "data")

    @staticmethod
    def market_of(s: Any) -> Market | None:
        base, quote = s["base"]["symbol"], s["quote"]["symbol"]
        return pair_market(base, quote, s["symbol"])
