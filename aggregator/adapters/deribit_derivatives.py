"""Deribit perpetuals and dated futures: the ticker channel of the JSON-RPC API v2.

``ticker.{instrument}.100ms`` carries all of it in one notification, every 100 ms: the best
bid and ask with their amounts, last, the mark and index prices, the open interest, the
funding (``funding_8h``: the rate over 8 hours; Deribit's perpetual funding accrues
continuously, so there is no next funding time and ``funding_ts`` stays null) and the 24 h
statistics. The protocol (heartbeats, answers, errors) is the spot codec's (deribit.py).

Units: an inverse contract's amounts and open interest are in USD (its face value, not a
number of contracts), hence base units are USD over the price (the level's price for a book
side, the mark price for the open interest); a linear (USDC) contract's are in the base
currency already. ``stats.volume`` is in the base currency, ``volume_notional`` in the quote.

REST (the fallback): ``public/ticker`` per instrument, as the spot codec polls. Markets:
``public/get_instruments?currency=any&kind=future`` (perpetuals and dated futures).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from ..errors import ParseError
from ..records import Derivative, Ticker, ms_to_ns
from ..symbols import Market, derivative_symbol
from ..timestamps import MILLIS
from . import deribit
from .contracts import in_base
from .deribit import Deribit, Stats, _side, answer_result
from .routes import MARKET, Call, Route, TimeAt
from .schema import Num, Schema

PERPETUAL = "perpetual"  # settlement_period of a perpetual


class Data(deribit.Data):
    """Spot's ticker (best amounts in USD for an inverse contract) with the derivatives'
    fields."""

    mark_price: Num = None
    index_price: Num = None
    open_interest: Num = None  # USD for an inverse contract
    funding_8h: Num = None


class Params(msgspec.Struct):
    channel: Any = ""
    data: Data | None = None


class Notification(msgspec.Struct):
    """A ticker notification; anything else (an answer, a heartbeat) has no params.data."""

    method: Any = None
    params: Params | None = None


class Answer(deribit.Answer):
    """Spot's REST answer with the derivatives' ticker."""

    result: Data | None = None  # type: ignore[assignment]


NOTIFICATION = Schema(Notification)
ANSWER = Schema(Answer)


def side_price(price: float | None) -> float | None:
    """A book side's best price, EMPTY for an empty side (``_side``)."""
    return _side(price, None)[0]


def side_size(amount: float | None, m: Market, price: float | None) -> float | None:
    """A book side's best amount in base units, EMPTY for an empty side (``_side``)."""
    price, amount = _side(price, amount)
    return amount if not price else in_base(amount, m, price)


def _level(side: str) -> dict[str, Call]:
    price, amount = f"best_{side}_price?", f"best_{side}_amount?"
    return {side: Call(side_price, price), f"{side}_size": Call(side_size, amount, MARKET, price)}


class DeribitDerivatives(Deribit):
    MARKETS_URL: ClassVar[str] = (
        "https://www.deribit.com/api/v2/public/get_instruments?currency=any&kind=future"
    )
    STALE_AFTER: ClassVar[float] = 10.0  # a notification every 100 ms per instrument
    ROUTES: ClassVar[tuple[Route, ...]] = (  # parse_ws's notifications, read in C
        Route(
            when={"method": "subscription"}, items="params.data", market="instrument_name",
            record=Derivative, market_fields={"kind": "kind", "expiry": "expiry"},
            fields={**_level("bid"), **_level("ask"), "last": "last_price?",
                    "high": "stats.high", "low": "stats.low", "volume": "stats.volume",
                    "quote_volume": "stats.volume_notional",
                    "ts_event": TimeAt("timestamp?", MILLIS), "mark": "mark_price?",
                    "index": "index_price?", "funding_rate": "funding_8h?",
                    "open_interest": Call(in_base, "open_interest?", MARKET, "mark_price?")},
        ),
    )  # fmt: skip

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        return self.subscribe_calls([f"ticker.{m.native}.100ms" for m in markets])

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """{"jsonrpc":"2.0","method":"subscription","params":{"channel":
        "ticker.BTC-PERPETUAL.100ms","data":{"timestamp":1786563120494,"state":"open",
        "stats":{"high":64422,"low":63261,"price_change":-0.0095,"volume":2778.68467406,
        "volume_usd":177187410,"volume_notional":177187410},"index_price":63329.18,
        "instrument_name":"BTC-PERPETUAL","last_price":63344,"open_interest":716004750,
        "mark_price":63346.33,"current_funding":2.081e-05,"funding_8h":0.00010036,
        "best_ask_price":63344.5,"best_bid_price":63344,"best_ask_amount":9980,
        "best_bid_amount":58060,...}}}; answers, heartbeats and errors as spot's.
        """
        msg = NOTIFICATION(raw)
        if msg.method != "subscription":
            return super().parse_ws(raw, ts_recv)
        params = msg.params
        data = params.data if params is not None else None
        if data is None:
            raise ParseError("a notification without a data object")
        name = data.instrument_name
        m = self.lookup("" if name is msgspec.UNSET else name)
        return [] if m is None else [self._derivative(data, m, ts_recv)]

    def _derivative(self, t: Data, m: Market, ts_recv: int) -> Ticker:
        bid, bid_amount = _side(t.best_bid_price, t.best_bid_amount)
        ask, ask_amount = _side(t.best_ask_price, t.best_ask_amount)
        stats = t.stats or _NO_STATS
        mark = t.mark_price
        return Derivative(
            self.venue, m.symbol, m.native, bid, in_base(bid_amount, m, bid), ask,
            in_base(ask_amount, m, ask), t.last_price, None, stats.high, stats.low,
            stats.volume, stats.volume_notional, ms_to_ns(t.timestamp), ts_recv, 0, None, None,
            m.kind, m.expiry, mark, t.index_price, t.funding_8h,
            None, in_base(t.open_interest, m, mark),
        )  # fmt: skip

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /public/ticker?instrument_name=BTC-PERPETUAL: {"jsonrpc":"2.0","result":{...
        the notification's data ...}}; errors: {"error":{"code":-32602,"message":...}}."""
        doc = ANSWER(body)
        t = answer_result(doc.error, doc.result)
        name = t.instrument_name
        m = self.lookup(name) if isinstance(name, str) else market
        if m is None:
            if not isinstance(name, str):
                raise ParseError("a ticker without instrument_name needs its market")
            return []
        return [self._derivative(t, m, ts_recv)]

    @staticmethod
    def market_of(i: Any) -> Market | None:
        """{"instrument_name":"BTC-PERPETUAL","kind":"future","settlement_period":
        "perpetual","base_currency":"BTC","quote_currency":"USD","settlement_currency":
        "BTC","instrument_type":"reversed","contract_size":10.0,"expiration_timestamp":
        32503708800000,"is_active":true,...}; a dated one's settlement_period is "week",
        "month" or "quarter" (instrument_name BTC-25DEC26)."""
        if i.get("kind") != "future" or not i.get("is_active", True):
            return None
        perpetual = i["settlement_period"] == PERPETUAL
        expiry = None if perpetual else int(i["expiration_timestamp"]) * 1_000_000
        base, quote = i["base_currency"], i["quote_currency"]
        symbol = derivative_symbol(base, quote, i["settlement_currency"], expiry)
        return Market(
            symbol,
            i["instrument_name"],
            base_id=base,
            quote_id=quote,
            kind="perp" if perpetual else "future",
            expiry=expiry,
            inverse=i.get("instrument_type") == "reversed",  # amounts in USD: contract_size 1
        )


_NO_STATS = Stats()
