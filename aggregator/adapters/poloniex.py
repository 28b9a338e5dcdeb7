"""Poloniex spot: the v3 public market API (api.poloniex.com), polled.

REST: GET /markets/ticker24h returns the 24 h ticker of every market in one list; the
per-market /markets/{symbol}/ticker24h returns one such object. Markets: GET /markets,
those in state NORMAL (or POST_ONLY, where the book is still live). Errors come as
{"code":24101,"message":"Invalid symbol!"}.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ..errors import ParseError, VenueError
from ..records import Ticker, ms_to_ns, num
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body

# ccxt's renames for Poloniex currency codes (the part of its commonCurrencies that are
# codes, not names).
_RENAMES = {
    "STR": "XLM",
    "REPV2": "REP",
    "SOC": "SOCC",
    "UST": "USTC",
    "GPUC": "GPU",
    "ETHTRON": "ETH",
    "TRXETH": "TRX",
    "USDTTRON": "USDT",
    "USDTETH": "USDT",
    "USDTBSC": "USDT",
}
_TRADING = ("NORMAL", "POST_ONLY")


class Poloniex(Codec):
    venue: ClassVar[str] = "poloniex"
    REST_URL: ClassVar[str] = "https://api.poloniex.com"
    MARKETS_URL: ClassVar[str] = "https://api.poloniex.com/markets"
    REST_RATE: ClassVar[float] = 5.0  # one request per poll covers every market

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [RestRequest(f"{base_url}/markets/ticker24h")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """[{"symbol":"BTC_USDT","open":"72144.71","low":"68715.75","high":"73562.48",
        "close":"73380.47","quantity":"2626.111269","amount":"188276700.82567151",
        "tradeCount":143700,"startTime":1710241800000,"closeTime":1710328237713,
        "displayName":"BTC/USDT","dailyChange":"0.0171","bid":"73354.86",
        "bidQuantity":"0.022699","ask":"73392.83","askQuantity":"0.266277",
        "ts":1710328238600,"markPrice":"73370.07"}, ...]
        quantity is the base volume, amount the quote volume; ts the ticker's time.
        """
        data = json_body(body)
        if isinstance(data, dict):
            if "symbol" not in data:
                if "code" in data or "message" in data:
                    raise VenueError(f"venue error {data.get('code')}: {data.get('message')}")
                raise ParseError("expected a ticker object")
            data = [data]
        if not isinstance(data, list):
            raise ParseError("expected a list of tickers")
        out = []
        for t in data:
            if not isinstance(t, dict):
                raise ParseError("expected ticker objects")
            m = self.lookup(t.get("symbol", ""))
            if m is None:
                continue
            out.append(
                Ticker(
                    "poloniex",
                    m.symbol,
                    m.native,
                    bid=num(t.get("bid")),
                    bid_size=num(t.get("bidQuantity")),
                    ask=num(t.get("ask")),
                    ask_size=num(t.get("askQuantity")),
                    last=num(t.get("close")),
                    open=num(t.get("open")),
                    high=num(t.get("high")),
                    low=num(t.get("low")),
                    volume=num(t.get("quantity")),
                    quote_volume=num(t.get("amount")),
                    ts_event=ms_to_ns(t.get("ts")),
                    ts_recv=ts_recv,
                )
            )
        return out

    @staticmethod
    def parse_markets(body: bytes) -> list[Market]:
        """[{"symbol":"BTC_USDT","baseCurrencyName":"BTC","quoteCurrencyName":"USDT",
        "displayName":"BTC/USDT","state":"NORMAL","visibleStartTime":1659018819512,
        "tradableStartTime":1659018819512,"symbolTradeLimit":{...},"crossMargin":{...}}]"""
        data = json_body(body)
        if not isinstance(data, list):
            raise ParseError("expected a list of markets")
        out = []
        for p in data:
            if p.get("state") not in _TRADING:
                continue
            base, quote = p["baseCurrencyName"], p["quoteCurrencyName"]
            symbol = unify(_RENAMES.get(base, base), _RENAMES.get(quote, quote))
            out.append(Market(symbol, p["symbol"], base_id=base, quote_id=quote))
        return out
