"""YoBit: REST polling of public API v3, several pairs per request; no stream.

Whether YoBit still serves was not confirmed in December 2026 (the venue publishes no status
and no changelog); the codec follows the documented v3 API (yobit.net/en/api) and the real
response recorded in tests/fixtures/rest/yobit.json.

REST: GET /api/3/ticker/{pair}-{pair}-... answers an object keyed by pair ("btc_usdt") with
the best bid ("buy") and ask ("sell") without sizes, last, 24 h high and low, the average
price, both 24 h volumes (checked on the recording: "vol" is in the quote currency,
"vol_cur" in the base one) and "updated", in seconds. No open. ``ignore_invalid=1``, the
flag of the BTC-e style API that YoBit copied, asks the venue to skip a pair it no longer
lists instead of refusing the whole request (not confirmed for YoBit: where it is not
honoured, the error below ends that poll and the daily markets reload drops the pair); an
error answers
{"success":0,"error":"Invalid pair name: xxx_yyy"}. Pairs are joined into URLs of at most
about 2,000 characters, so many markets take several requests. Responses are cached for
2 s by the venue, and clients pace it at one request every 2 to 3 s (ccxt did), so
polling more often than every 2 s gains nothing. Markets from /api/3/info ("pairs" keyed
by pair, "hidden": 1 for a pair not traded).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from ..errors import VenueError
from ..records import Ticker, seconds_to_ns
from ..symbols import Market
from .base import Codec, RestRequest, json_body, pair_market
from .fields import StructFields
from .schema import Num, Schema, Time

MAX_URL = 2000  # characters of one request's URL: longer ones are refused by some proxies


class Row(msgspec.Struct):
    """One pair's ticker."""

    buy: Num = None
    sell: Num = None
    last: Num = None
    high: Num = None
    low: Num = None
    vol: Num = None  # quote currency
    vol_cur: Num = None  # base currency
    updated: Time = None  # s


ANSWER = Schema(dict[str, msgspec.Raw])
ROW = Schema(Row)


TICKER = StructFields(
    bid="buy", ask="sell", last="last", high="high", low="low", volume="vol_cur",
    quote_volume="vol", ts_event=("updated", seconds_to_ns),
)  # fmt: skip


class YoBit(Codec):
    venue: ClassVar[str] = "yobit"
    RENAMES: ClassVar[dict[str, str]] = {"RUR": "RUB", "DSH": "DASH"}  # the ruble, Dash
    REST_URL: ClassVar[str] = "https://yobit.net"
    MARKETS_URL: ClassVar[str] = "https://yobit.net/api/3/info"
    REST_RATE: ClassVar[float] = 0.5  # one request every 2 s
    POLL_INTERVAL: ClassVar[float] = 2.0  # the venue caches its answers for 2 s

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        """Pairs joined by "-", as many per URL as fit in MAX_URL characters."""
        head = f"{base_url}/api/3/ticker/"
        tail = "?ignore_invalid=1"
        out: list[RestRequest] = []
        batch: list[Market] = []
        size = len(head) + len(tail)
        for m in markets:
            extra = len(m.native) + (1 if batch else 0)
            if batch and size + extra > MAX_URL:
                out.append(_request(head, batch, tail))
                batch, size, extra = [], len(head) + len(tail), len(m.native)
            batch.append(m)
            size += extra
        if batch:
            out.append(_request(head, batch, tail))
        return out

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """{"btc_usdt":{"high":"73333","low":"69000","avg":"71166.5",
        "vol":"151292.61340729","vol_cur":"2.10398282","last":"73049",
        "buy":"73049.00000000","sell":"73333.00000000","updated":"1710328237"}}
        (recorded, tests/fixtures/rest/yobit.json). Errors:
        {"success":0,"error":"Invalid pair name: xxx_usdt"}.
        """
        doc = ANSWER(body)
        if "error" in doc or "success" in doc:
            why = msgspec.json.decode(doc["error"]) if "error" in doc else None
            raise VenueError(f"venue error: {why}")
        venue = self.venue
        return [TICKER.record(venue, m, t, ts_recv) for t, m in self.keyed_as(doc, ROW)]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """{"server_time":1710328240,"pairs":{"btc_usdt":{"decimal_places":8,
        "min_price":0.00000001,"max_price":1000000,"min_amount":0.0001,
        "min_total":1,"hidden":0,"fee":0.2,"fee_buyer":0.2,"fee_seller":0.2}}}"""
        return Codec.entries_at(json_body(body), "pairs", expected="the markets' pairs object")

    @classmethod
    def market_of(cls, row: Any) -> Market | None:
        pair, info = row
        if not isinstance(info, dict):
            raise ValueError("pair info is not an object")
        if info.get("hidden"):
            return None
        base, _, quote = pair.partition("_")
        return pair_market(base, quote, pair, renames=cls.RENAMES)


def _request(head: str, batch: list[Market], tail: str) -> RestRequest:
    """One request for these pairs; a single pair's answer names it all the same."""
    return RestRequest(head + "-".join(m.native for m in batch) + tail)
