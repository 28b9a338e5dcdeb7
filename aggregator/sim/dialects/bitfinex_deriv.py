"""Bitfinex perpetuals, simulated: the ticker and derivatives status channels of the
WebSocket API v2, and the REST tickers and derivatives status."""

from __future__ import annotations

from typing import Any

from . import ConnState, Quote, derivative_values, dumps
from .bitfinex import BitfinexDialect, _n


class BitfinexDerivDialect(BitfinexDialect):
    venue = "bitfinex"
    kind = "perp"

    def __init__(self, markets_body: bytes | None = None) -> None:
        super().__init__(markets_body)
        self.status_ids = {m.native: 27_000 + i for i, m in enumerate(self.markets)}

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        if msg.get("event") != "subscribe" or msg.get("channel") != "status":
            return super().on_message(conn, msg)
        key = str(msg.get("key", ""))
        native = key.removeprefix("deriv:")
        if native not in self.by_native:
            return [dumps({"event": "error", "msg": "key: invalid", "code": 10300})]
        conn.subscribed.add(key)
        chan = self.status_ids[native]
        return [dumps({"event": "subscribed", "channel": "status", "chanId": chan, "key": key})]

    @staticmethod
    def _status(q: Quote) -> list[Any]:
        """MTS, _, DERIV_PRICE, SPOT_PRICE, _, INSURANCE_FUND, _, NEXT_FUNDING_MTS, ACCRUED,
        STEP, _, CURRENT_FUNDING, _, _, MARK_PRICE, _, _, OPEN_INTEREST, _, _, _, CLAMPS."""
        mark, index, funding, next_funding = derivative_values(q)
        return [
            q.ts_ms, None, _n(q.last), _n(index), None, 1.0e6, None, next_funding, 0.0, 0,
            None, funding, None, None, _n(mark), None, None, round(q.volume * 3, 8),
            None, None, None, 0.001, 0.01,
        ]  # fmt: skip

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        out = super().tick(conn, q)
        if f"deriv:{q.native}" in conn.subscribed and q.updates % 3 == 1:
            out.append(dumps([self.status_ids[q.native], self._status(q)]))
        return out

    def heartbeat(self, conn: ConnState) -> list[str]:
        ids = {**self.chan_ids, **{f"deriv:{n}": c for n, c in self.status_ids.items()}}
        return [dumps([ids[n], "hb"]) for n in conn.subscribed]

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == "/v2/status/deriv":
            keys = query.get("keys", "").split(",")
            return 200, [[k, *self._status(quotes[k])] for k in keys if k in quotes]
        return super().rest(path, query, quotes)
