"""KuCoin Futures, simulated: the token handshake, tickerV2 and instrument topics, and the
REST contracts list and tickers."""

from __future__ import annotations

from typing import Any

import orjson

from . import ConnState, Quote, derivative_values
from .kucoin import KuCoinDialect, _now_ms

TOPICS = ("/contractMarket/tickerV2:", "/contract/instrument:", "/contractMarket/snapshot:")


class KuCoinFuturesDialect(KuCoinDialect):
    venue = "kucoin"
    kind = "perp"
    topics = TOPICS

    def lots(self, size: float, q: Quote) -> int:
        """A base-unit size in lots (an inverse lot is one USD)."""
        m = self.by_native[q.native]
        per_lot = m.contract_size / q.bid if m.inverse else m.contract_size
        return max(1, round(size / per_lot))

    def _ticker_v2(self, q: Quote) -> dict[str, Any]:
        return {
            "symbol": q.native,
            "sequence": q.updates,
            "bestBidSize": self.lots(q.bid_size, q),
            "bestBidPrice": f"{q.bid:.1f}",
            "bestAskPrice": f"{q.ask:.1f}",
            "bestAskSize": self.lots(q.ask_size, q),
            "ts": q.ts_ms * 1_000_000,
        }

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        out = []
        if f"/contractMarket/tickerV2:{q.native}" in conn.subscribed:
            out.append(self._message(TOPICS[0], q.native, "tickerV2", self._ticker_v2(q)))
        if f"/contractMarket/snapshot:{q.native}" in conn.subscribed and q.updates % 5 == 1:
            inverse = self.by_native[q.native].inverse
            volume, turnover = round(q.volume, 4), round(q.quote_volume, 2)
            snap = {
                "symbol": q.native,
                "lastPrice": round(q.last, 1),
                "price24HoursBefore": round(q.open, 1),
                "highPrice": round(q.high, 1),
                "lowPrice": round(q.low, 1),
                "volume": turnover if inverse else volume,
                "turnover": volume if inverse else turnover,
                "ts": q.ts_ms * 1_000_000,
            }
            out.append(self._message(TOPICS[2], q.native, "snapshot.24h", snap))
        if f"/contract/instrument:{q.native}" in conn.subscribed and q.updates % 3 == 1:
            mark, index, funding, _ = derivative_values(q)
            prices = {"granularity": 1000, "indexPrice": round(index, 2),
                      "markPrice": round(mark, 2), "timestamp": q.ts_ms}  # fmt: skip
            out.append(self._message(TOPICS[1], q.native, "mark.index.price", prices))
            if self.kind == "perp":
                rate = {"granularity": 60000, "fundingRate": funding, "timestamp": q.ts_ms}
                out.append(self._message(TOPICS[1], q.native, "funding.rate", rate))
        return out

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path.endswith("/api/v1/allTickers"):
            rows = [self._ticker_v2(q) for q in quotes.values()]
            return 200, {"code": "200000", "data": rows}
        if path.endswith("/api/v1/contracts/active"):  # the markets, with today's values
            doc = orjson.loads(self.markets_body)
            for row in doc["data"]:
                q = quotes.get(row["symbol"])
                if q is None:
                    continue
                mark, index, funding, next_funding = derivative_values(q)
                row.update(
                    markPrice=round(mark, 2), indexPrice=round(index, 2),
                    lastTradePrice=round(q.last, 1), highPrice=round(q.high, 1),
                    lowPrice=round(q.low, 1), volumeOf24h=round(q.volume, 4),
                    turnoverOf24h=round(q.quote_volume, 2),
                    openInterest=str(self.lots(q.volume * 3, q)),
                )  # fmt: skip
                if self.kind == "perp":
                    row.update(fundingFeeRate=funding, nextFundingRateDateTime=next_funding)
            doc["time"] = _now_ms()
            return 200, doc
        return super().rest(path, query, quotes)


class KuCoinDatedFuturesDialect(KuCoinFuturesDialect):
    kind = "future"
