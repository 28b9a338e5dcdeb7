"""Buda.com: REST polling of each market's ticker; no stream.

Confirmed against the venue's API reference (api.buda.com: the URL scheme, Markets, Ticker)
and the clients that follow it (the ticker's fields; the unauthenticated limit).

REST (API v2): GET /api/v2/markets/{id}/ticker answers
{"ticker":{...}} with the last price, the best ask ("min_ask") and bid ("max_bid") without
sizes, the 24 h volume in the base currency and the price's change over 24 h and 7 days,
as fractions. Every amount is a pair [value, currency]. No high, low, open, quote volume or
time is sent (the record's ts_event stays null; the change is not turned into an open, a
price the venue did not send). Unauthenticated clients may make 120 requests a minute per
IP: markets are polled one by one at 1.5 requests a second. Markets from /api/v2/markets
({"markets":[{"id":"BTC-CLP","name":"btc-clp","base_currency":"BTC",
"quote_currency":"CLP",...}]}); a market marked "disabled" (if the venue sends that) is
left out.

Streaming is not enabled: the realtime service (wss://realtime.buda.com/sub?channel=
book%40btcclp) is named but not documented in the public API reference, and the clients
that use it disagree on its messages (a "book-sync" snapshot, then "book-changed" updates
of one level or of several): without a confirmed message format the top of the book cannot
be kept reliably, so Buda is polled over REST only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from ..errors import ParseError, VenueError
from ..records import Ticker
from ..symbols import Market
from .base import Codec, RestRequest, json_body, pair_market
from .schema import Num, Schema


class Amount(msgspec.Struct, array_like=True):
    """An amount as the venue sends it: [value, currency]."""

    value: Num = None
    currency: Any = None


class Row(msgspec.Struct):
    market_id: Any = None
    last_price: Amount | None = None
    min_ask: Amount | None = None
    max_bid: Amount | None = None
    volume: Amount | None = None  # base currency


class Answer(msgspec.Struct):
    """One market's ticker ({"ticker":{...}}), every market's ({"tickers":[...]}), or an
    error ({"message":"...","code":"not_found"})."""

    ticker: Row | None = None
    tickers: list[Row] | None = None
    message: Any = None
    code: Any = None


ANSWER = Schema(Answer)


class Buda(Codec):
    venue: ClassVar[str] = "buda"
    REST_URL: ClassVar[str] = "https://www.buda.com"
    MARKETS_URL: ClassVar[str] = "https://www.buda.com/api/v2/markets"
    REST_RATE: ClassVar[float] = 1.5  # the limit is 120 requests a minute

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [
            RestRequest(f"{base_url}/api/v2/markets/{m.native.lower()}/ticker", market=m)
            for m in markets
        ]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """{"ticker":{"market_id":"BTC-CLP","last_price":["63245211.0","CLP"],
        "min_ask":["63301000.0","CLP"],"max_bid":["63245212.0","CLP"],
        "volume":["28.52143221","BTC"],"price_variation_24h":"-0.012",
        "price_variation_7d":"0.034"}}
        Also parsed: {"tickers":[...]} of the same rows. Errors: {"message":"Not found",
        "code":"not_found"}.
        """
        doc = ANSWER(body)
        if doc.code is not None or doc.message is not None:
            raise VenueError(f"venue error {doc.code}: {doc.message}")
        rows = doc.tickers if doc.tickers is not None else [doc.ticker] if doc.ticker else None
        if rows is None:
            raise ParseError("response without a ticker")
        lookup, venue = self.lookup, self.venue
        out = []
        for t in rows:
            m = lookup(t.market_id) if isinstance(t.market_id, str) else None
            if m is None:
                continue
            out.append(
                Ticker(
                    venue,
                    m.symbol,
                    m.native,
                    _value(t.max_bid),  # bid
                    None,  # bid_size
                    _value(t.min_ask),  # ask
                    None,  # ask_size
                    _value(t.last_price),  # last
                    None,  # open
                    None,  # high
                    None,  # low
                    _value(t.volume),  # volume
                    None,  # quote_volume
                    None,  # ts_event: not sent
                    ts_recv,
                )
            )
        return out

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """{"markets":[{"id":"BTC-CLP","name":"btc-clp","base_currency":"BTC",
        "quote_currency":"CLP","minimum_order_amount":["0.001","BTC"],"disabled":false,
        ...}]}"""
        return Codec.rows_at(json_body(body), "markets")

    @staticmethod
    def market_of(p: Any) -> Market | None:
        if p.get("disabled"):
            return None
        base, quote = p["base_currency"], p["quote_currency"]
        ids = (p["id"], p["name"]) if p.get("name") else (p["id"],)
        return pair_market(base, quote, p["id"], ids=ids)


def _value(amount: Amount | None) -> float | None:
    return None if amount is None else amount.value
