"""Bit2C (Israel) spot: the public ticker, polled over REST pair by pair.

GET /Exchanges/{pair}/Ticker.json answers one pair without naming it; there is no
all-pairs ticker, so every market is its own request. The ticker has the best bid ("h",
highest buy order) and ask ("l", lowest sell order) without sizes, the last price, the
24 h volume and a 24 h average price; no open, high, low, quote volume or time.

Bit2C publishes no markets endpoint: its pairs ("BtcNis", "EthNis", ...) are listed in
its API documentation, and the package ships that list as the markets snapshot, which the
daemon uses when MARKETS_URL (empty) cannot be fetched. Quotes are in NIS, as the
reference names the shekel here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from ..errors import ParseError, VenueError
from ..records import Ticker
from ..symbols import Market
from .base import Codec, RestRequest, json_body, json_object, pair_market, per_market
from .fields import StructFields
from .schema import Num, Schema

PAIR_RE = re.compile(r"^([A-Z][a-z0-9]+)([A-Z][a-z0-9]+)$")  # "BtcNis" -> Btc, Nis
TICKER_KEYS = ("ll", "h", "l", "a")


class Answer(msgspec.Struct):
    """One pair's ticker, or an error ({"error":"..."}, or "Error")."""

    ll: Num = None  # last
    h: Num = None  # highest buy order: the bid
    l: Num = None  # noqa: E741 (the venue's name) lowest sell order: the ask
    a: Num = None  # 24 h volume
    error: Any = msgspec.UNSET
    Error: Any = None


ANSWER = Schema(Answer)


TICKER = StructFields(bid="h", ask="l", last="ll", volume="a")


class Bit2C(Codec):
    venue: ClassVar[str] = "bit2c"
    REST_URL: ClassVar[str] = "https://bit2c.co.il"
    MARKETS_URL: ClassVar[str] = ""  # none published; the shipped snapshot is used
    # No published limit; the reference library waits 3 s between requests to Bit2C.
    REST_RATE: ClassVar[float] = 1 / 3

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return per_market(markets, f"{base_url}/Exchanges/", "/Ticker.json")

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /Exchanges/BtcNis/Ticker.json:
        {"ll":372150.0,"av":369874.12,"a":3.5172,"h":372001.5,"l":372480.0,"c":0.62,"up":true}
        ll last price, av 24 h average price, a 24 h volume, h highest buy order,
        l lowest sell order, c 24 h change, up direction of the last change.
        Errors: {"error":"..."}.
        """
        t = ANSWER(body)
        err = t.Error if t.error is msgspec.UNSET else t.error
        if err is not None:
            raise VenueError(f"venue error: {err}")
        if t.ll is None and t.h is None and t.l is None and t.a is None:
            doc = json_object(body)  # sent as null, or not sent at all?
            if not any(k in doc for k in TICKER_KEYS):
                raise ParseError("not a ticker: none of ll, h, l, a")
        if market is None:
            raise ParseError("a pair's ticker needs its market")
        return [TICKER.record(self.venue, market, t, ts_recv)]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """The pairs of the API documentation: ["BtcNis","EthNis","LtcNis","UsdcNis"]."""
        return Codec.rows_at(json_body(body))

    @staticmethod
    def market_of(pid: Any) -> Market | None:
        match = PAIR_RE.match(pid) if isinstance(pid, str) else None
        if match is None:
            raise ParseError(f"unexpected pair: {pid!r}")
        base_id, quote_id = match.groups()
        return pair_market(base_id, quote_id, pid)
