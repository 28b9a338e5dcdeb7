"""Gemini spot: the public REST API v1, one ``pubticker`` request per market.

Gemini's one all-markets endpoint, ``/v1/pricefeed``, sends only a price and a 24 h
percentage change per pair: no bid, ask or volume. ``/v1/pubticker/{symbol}`` sends the
best bid and ask, the last price and the 24 h volume in both currencies, so the markets
are polled one by one with it (the recorded reference response is of this endpoint too).
``/v2/ticker`` adds open/high/low but no volume and would double the requests.

``/v1/symbols`` is a bare list of ids ("btcusd", "ethbtc", "btcgusdperp"); base and quote
are split off by the known quote currencies, as the reference library does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar
from urllib.parse import quote

from ..errors import ParseError, VenueError
from ..records import Ticker, ms_to_ns, num
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body

# Quote currencies, tried in order: "GUSD" must come before "USD", which it ends with.
_QUOTES = (
    "USDT",
    "GUSD",
    "USD",
    "DAI",
    "EUR",
    "GBP",
    "SGD",
    "BTC",
    "ETH",
    "LTC",
    "BCH",
    "SOL",
    "USDC",
)
# Ids the suffix rule would split wrongly ("paxgusd" is PAXG/USD, not PAX/GUSD).
_SPLITS = {"PAXGUSD": ("PAXG", "USD")}


class Gemini(Codec):
    venue: ClassVar[str] = "gemini"
    REST_URL: ClassVar[str] = "https://api.gemini.com"
    MARKETS_URL: ClassVar[str] = "https://api.gemini.com/v1/symbols"
    # Public endpoints allow 120 requests a minute; Gemini asks for at most 1 per second.
    REST_RATE: ClassVar[float] = 1.0

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [
            RestRequest(f"{base_url}/v1/pubticker/{quote(m.native, safe='')}", market=m)
            for m in markets
        ]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /v1/pubticker/btcusdt: {"bid":"73367.96","ask":"73385.27","last":"73268.24",
        "volume":{"BTC":"3.5434218","USDT":"259620.278863632","timestamp":1710328245000}}
        The volume keys are the base and quote currency codes. Errors:
        {"result":"error","reason":"InvalidSymbol","message":"..."}.
        """
        t = json_body(body)
        if not isinstance(t, dict):
            raise ParseError("expected a JSON object")
        if t.get("result") == "error":
            raise VenueError(f"venue error {t.get('reason')}: {t.get('message')}")
        volume = t.get("volume")
        if not isinstance(volume, dict) or not ({"bid", "ask", "last"} & t.keys()):
            raise ParseError("not a pubticker object")
        if market is None:
            raise ParseError("a pubticker response needs its market")
        return [
            Ticker(
                "gemini",
                market.symbol,
                market.native,
                bid=num(t.get("bid")),
                ask=num(t.get("ask")),
                last=num(t.get("last")),
                volume=num(volume.get(market.base_id)),
                quote_volume=num(volume.get(market.quote_id)),
                ts_event=ms_to_ns(volume.get("timestamp")),
                ts_recv=ts_recv,
            )
        ]

    @staticmethod
    def parse_markets(body: bytes) -> list[Market]:
        """GET /v1/symbols: ["btcusd","ethbtc","ethusd","btcusdt","btcgusdperp",...]
        Perpetuals ("...perp") are skipped; so is an id with no known quote currency."""
        doc = json_body(body)
        if not isinstance(doc, list):
            raise ParseError("expected a list of symbols")
        out = []
        for native in doc:
            if not isinstance(native, str):
                raise ParseError("expected symbol strings")
            upper = native.upper()
            if upper.endswith("PERP"):
                continue
            split = _SPLITS.get(upper) or _split(upper)
            if split is None:
                continue
            base, quote_ = split
            out.append(Market(unify(base, quote_), native, base_id=base, quote_id=quote_))
        return out


def _split(upper: str) -> tuple[str, str] | None:
    for q in _QUOTES:
        if upper.endswith(q) and len(upper) > len(q):
            return upper[: -len(q)], q
    return None
