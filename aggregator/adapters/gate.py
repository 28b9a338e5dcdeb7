"""Gate (formerly Gate.io) spot: the public REST API v4.

``GET /api/v4/spot/tickers`` without ``currency_pair`` returns every spot pair in one list
(some 2,000 entries, a few hundred kB; ``?currency_pair=BTC_USDT`` gives the same shape
with one entry and takes a single pair), so one request per poll covers all subscribed
markets. Tickers carry no timestamp. Markets come from ``/api/v4/spot/currency_pairs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ..errors import ParseError, VenueError
from ..records import Ticker, num
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body

# The reference library's renames of Gate currency codes that clash with other coins.
_RENAMES = {
    "ORT": "XREATORS",
    "ASS": "ASSF",
    "88MPH": "MPH",
    "AXIS": "AXISDEFI",
    "BIFI": "BITCOINFILE",
    "BOX": "DEFIBOX",
    "BYN": "BEYONDFI",
    "EGG": "GOOSEFINANCE",
    "GTC": "GAMECOM",
    "GTC_HT": "GAMECOM_HT",
    "GTC_BSC": "GAMECOM_BSC",
    "HIT": "HITCHAIN",
    "MM": "MILLION",
    "MPH": "MORPHER",
    "POINT": "GATEPOINT",
    "RAI": "RAIREFLEXINDEX",
    "RED": "REDLANG",
    "SBTC": "SUPERBITCOIN",
    "TNC": "TRINITYNETWORKCREDIT",
    "VAI": "VAIOT",
    "TRAC": "TRACO",
}


def _code(currency: str) -> str:
    code = currency.upper()
    return _RENAMES.get(code, code)


class Gate(Codec):
    venue: ClassVar[str] = "gate"
    REST_URL: ClassVar[str] = "https://api.gateio.ws/api/v4"
    MARKETS_URL: ClassVar[str] = "https://api.gateio.ws/api/v4/spot/currency_pairs"

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [RestRequest(f"{base_url}/spot/tickers")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /api/v4/spot/tickers: [{"currency_pair":"BTC_USDT","last":"73373.9",
        "lowest_ask":"73364.2","highest_bid":"73364.1","change_percentage":"1.71",
        "base_volume":"3410.0783503636","quote_volume":"243764368.46418",
        "high_24h":"73636.3","low_24h":"68629.9"}]
        Newer responses add "lowest_size" and "highest_size", the sizes at the best ask
        and bid (null when absent, as in this recording).
        Errors: {"label":"INVALID_CURRENCY_PAIR","message":"..."}.
        """
        doc = json_body(body)
        if isinstance(doc, dict):
            if "label" in doc:
                raise VenueError(f"venue error {doc['label']}: {doc.get('message')}")
            raise ParseError("expected a list of tickers")
        if not isinstance(doc, list):
            raise ParseError("expected a list of tickers")
        out = []
        for t in doc:
            if not isinstance(t, dict):
                raise ParseError("expected ticker objects")
            m = self.lookup(str(t.get("currency_pair", "")))
            if m is None:
                continue
            out.append(
                Ticker(
                    "gate",
                    m.symbol,
                    m.native,
                    bid=num(t.get("highest_bid")),
                    bid_size=num(t.get("highest_size")),
                    ask=num(t.get("lowest_ask")),
                    ask_size=num(t.get("lowest_size")),
                    last=num(t.get("last")),
                    high=num(t.get("high_24h")),
                    low=num(t.get("low_24h")),
                    volume=num(t.get("base_volume")),
                    quote_volume=num(t.get("quote_volume")),
                    ts_event=None,
                    ts_recv=ts_recv,
                )
            )
        return out

    @staticmethod
    def parse_markets(body: bytes) -> list[Market]:
        """GET /api/v4/spot/currency_pairs: [{"id":"BTC_USDT","base":"BTC","quote":"USDT",
        "fee":"0.2","min_quote_amount":"3","amount_precision":6,"precision":1,
        "trade_status":"tradable","sell_start":1516378650,"buy_start":1516378650,...}]
        trade_status is tradable, buyable, sellable or untradable; the last is skipped.
        """
        doc = json_body(body)
        if not isinstance(doc, list):
            raise ParseError("expected a list of currency pairs")
        return [
            Market(
                unify(_code(p["base"]), _code(p["quote"])),
                p["id"],
                base_id=p["base"],
                quote_id=p["quote"],
            )
            for p in doc
            if p.get("trade_status", "tradable") != "untradable"
        ]
