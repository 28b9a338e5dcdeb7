"""Deribit perpetuals and dated futures, simulated: the ticker channel every few updates,
with an inverse contract's amounts and open interest in USD, mark, index and funding."""

from __future__ import annotations

from typing import Any

from . import ConnState, Quote, derivative_values, p
from .deribit import DeribitDialect


class DeribitPerpDialect(DeribitDialect):
    venue = "deribit"
    kind = "perp"

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        ch = f"ticker.{q.native}.100ms"
        if ch not in conn.subscribed or q.updates % 2:
            return []
        return [self._notify(ch, self._ticker(q))]

    def _ticker(self, q: Quote) -> dict[str, Any]:  # type: ignore[override]
        mark, index, funding, _ = derivative_values(q)
        m = self.by_native[q.native]
        usd = (lambda base, price: round(base * price, -1)) if m.inverse else (lambda b, _: b)
        t = super()._ticker(q)
        t |= {
            "best_bid_amount": usd(round(q.bid_size, 4), q.bid),
            "best_ask_amount": usd(round(q.ask_size, 4), q.ask),
            "mark_price": float(p(mark)),
            "index_price": float(p(index)),
            "open_interest": usd(round(q.volume * 2, 4), mark),
            "current_funding": funding / 8,
        }
        if m.expiry is None:
            t["funding_8h"] = funding
        return t


class DeribitFutureDialect(DeribitPerpDialect):
    kind = "future"
