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

from ..errors import ParseError, VenueError
from ..records import Ticker, iso_to_ns, num
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body, json_object


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
        doc = json_object(body)
        if "error" in doc and "data" not in doc:
            err = doc["error"]
            if isinstance(err, dict):
                raise VenueError(f"venue error {err.get('code')}: {err.get('message')}")
            raise VenueError(f"venue error: {err}")
        data = doc.get("data")
        if not isinstance(data, list):
            raise ParseError("response without a data list")
        out = []
        for t, m in self.followed(data, "market_symbol"):
            trade = _obj(t, "last_trade")
            day = _obj(t, "rolling_24h")
            best = _obj(t, "best")
            bid, ask = _obj(best, "bid"), _obj(best, "ask")
            out.append(
                Ticker(
                    self.venue,
                    m.symbol,
                    m.native,
                    bid=num(bid.get("price")),
                    bid_size=num(bid.get("volume")),
                    ask=num(ask.get("price")),
                    ask_size=num(ask.get("volume")),
                    last=num(trade.get("price")),
                    open=num(day.get("open")),
                    high=num(day.get("high")),
                    low=num(day.get("low")),
                    volume=num(day.get("volume")),
                    ts_event=iso_to_ns(trade.get("date")),
                    ts_recv=ts_recv,
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
        return Market(unify(base, quote), s["symbol"], base_id=base, quote_id=quote)


def _obj(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """A nested object of the payload, or {} where the venue left it out or sent null."""
    value = parent.get(key)
    return value if isinstance(value, dict) else {}
