"""CoinEx futures, simulated: the v2 futures socket (state with mark, index, funding and open
interest; bbo) and the futures REST ticker and depth."""

from __future__ import annotations

from typing import Any

from . import Quote, derivative_values, p, s
from .coinex import CoinExDialect


class CoinExFuturesDialect(CoinExDialect):
    venue = "coinex"
    kind = "perp"
    ws_path = "/v2/futures"

    @staticmethod
    def _state(q: Quote) -> dict[str, Any]:
        mark, index, funding, next_funding = derivative_values(q)
        return {
            **CoinExDialect._state(q),
            "open_interest_size": s(q.volume * 3),
            "insurance_fund_size": "1000000",
            "mark_price": p(mark),
            "index_price": p(index),
            "latest_funding_rate": f"{funding:.6f}",
            "next_funding_rate": f"{funding:.6f}",
            "latest_funding_time": next_funding - 8 * 3600 * 1000,
            "next_funding_time": next_funding,
        }

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path in ("/v2/futures/ticker", "/v2/futures/depth"):  # the spot shapes
            return super().rest(path.replace("/futures/", "/spot/"), query, quotes)
        return super().rest(path, query, quotes)
