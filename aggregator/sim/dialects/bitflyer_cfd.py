"""bitFlyer Crypto CFD, simulated: the spot dialect's ticker channel and HTTP ticker for
FX_BTC_JPY, and its funding rate."""

from __future__ import annotations

from typing import Any

from . import Quote, derivative_values, iso
from .bitflyer import BitflyerDialect


class BitflyerCFDDialect(BitflyerDialect):
    venue = "bitflyer"
    kind = "perp"

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == "/v1/getfundingrate":
            q = quotes.get(query.get("product_code", ""))
            if q is None:
                return 400, {"status": -1, "error_message": "Invalid product", "data": None}
            _, _, funding, next_funding = derivative_values(q)
            settle = iso(next_funding, 3)[:-5]  # "2026-12-07T16:00:00": UTC, no zone
            return 200, {"current_funding_rate": funding, "next_funding_rate_settledate": settle}
        return super().rest(path, query, quotes)
