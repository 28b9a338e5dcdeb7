"""Gate USDT-settled perpetuals, simulated: futures.book_ticker, futures.tickers and the
futures REST tickers and contracts."""

from __future__ import annotations

from typing import Any

import orjson

from . import ConnState, Quote, derivative_values, p
from .gate import GateDialect

CHANNELS = ("futures.book_ticker", "futures.tickers")


class GateFuturesDialect(GateDialect):
    venue = "gate"
    kind = "perp"
    ws_path = "/v4/ws/usdt"
    prefix = "futures"
    channels = CHANNELS
    item = "contract"
    bad_request = "unknown channel"

    def contracts(self, size: float, native: str) -> int:
        """A size in base units as Gate counts it: whole contracts."""
        return max(1, round(size / self.by_native[native].contract_size))

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        out = []
        if f"futures.book_ticker:{q.native}" in conn.subscribed:
            bid_size = self.contracts(q.bid_size, q.native)
            ask_size = str(self.contracts(q.ask_size, q.native))  # strings from 2025 on
            book = self._book(q, bid_size, ask_size)
            out.append(self._frame("futures.book_ticker", "update", result=book))
        if f"futures.tickers:{q.native}" in conn.subscribed and q.updates % 5 == 1:
            out.append(self._frame("futures.tickers", "update", result=[self._futures_ticker(q)]))
        return out

    def _futures_ticker(self, q: Quote) -> dict[str, Any]:
        mark, index, funding, next_funding = derivative_values(q)
        return {
            "contract": q.native,
            "t": q.ts_ms,
            "funding_interval": 28800,
            "funding_next_apply": next_funding // 1000,
            "last": p(q.last),
            "change_percentage": f"{(q.last / q.open - 1) * 100:.4f}",
            "total_size": str(self.contracts(q.volume * 3, q.native)),
            "volume_24h": str(self.contracts(q.volume, q.native)),
            "volume_24h_base": f"{q.volume:.4f}",
            "volume_24h_quote": p(q.quote_volume),
            "mark_price": p(mark),
            "index_price": p(index),
            "funding_rate": f"{funding:.6f}",
            "funding_rate_indicative": f"{funding:.6f}",
            "high_24h": p(q.high),
            "low_24h": p(q.low),
            "highest_bid": p(q.bid),
            "highest_size": str(self.contracts(q.bid_size, q.native)),
            "lowest_ask": p(q.ask),
            "lowest_size": str(self.contracts(q.ask_size, q.native)),
        }

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path.endswith("/futures/usdt/tickers"):
            return 200, [self._futures_ticker(q) for q in quotes.values()]
        if path.endswith("/futures/usdt/contracts"):  # the list, with the next funding time
            rows = orjson.loads(self.markets_body)
            for row in rows:
                if (q := quotes.get(row["name"])) is not None:
                    row["funding_next_apply"] = derivative_values(q)[3] // 1000
            return 200, rows
        return super().rest(path, query, quotes)
