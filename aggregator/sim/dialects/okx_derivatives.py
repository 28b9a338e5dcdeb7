"""OKX perpetual swaps and dated futures, simulated: spot's tickers and bbo-tbt (sizes in
contracts), mark-price, funding-rate (swaps), open-interest and index-tickers, and the
REST lists of the instrument type."""

from __future__ import annotations

from typing import Any, ClassVar

from . import ConnState, Quote, derivative_values, dumps, p
from .okx import CONN_ID, OKXDialect

CHANNELS = ("tickers", "bbo-tbt", "mark-price", "open-interest", "funding-rate")


class OKXSwapDialect(OKXDialect):
    venue = "okx"
    kind = "perp"
    inst_type: ClassVar[str] = "SWAP"

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        if msg.get("op") != "subscribe" or not isinstance(msg.get("args"), list):
            return [self._error("60012", f"Invalid request: {dumps(msg)}")]
        indexes = {self._index(m.native) for m in self.markets}
        out = []
        for arg in msg["args"]:
            ch, inst = arg.get("channel"), arg.get("instId")
            known = inst in indexes if ch == "index-tickers" else inst in self.by_native
            if ch == "funding-rate" and self.inst_type != "SWAP":
                known = False
            if not known or (ch not in CHANNELS and ch != "index-tickers"):
                out.append(self._error("60018", f"Wrong URL or channel:{ch},instId:{inst}"))
                continue
            conn.subscribed.add(f"{ch}|{inst}")
            if ch != "index-tickers":
                conn.subscribed.add(inst)
            out.append(dumps({"event": "subscribe", "arg": arg, "connId": CONN_ID}))
        return out

    def _index(self, native: str) -> str:
        m = self.by_native[native]
        return f"{m.base_id}-{m.quote_id}"

    def contracts(self, size: float, q: Quote, price: float) -> str:
        """A size in base units as OKX counts it: whole contracts."""
        m = self.by_native[q.native]
        value = m.contract_size / price if m.inverse else m.contract_size
        return str(max(1, round(size / value)))

    def _ticker(self, q: Quote) -> dict[str, Any]:  # type: ignore[override]
        m = self.by_native[q.native]
        contracts = q.quote_volume / m.contract_size if m.inverse else q.volume / m.contract_size
        return {
            "instType": self.inst_type,
            "instId": q.native,
            "last": p(q.last),
            "lastSz": "1",
            "askPx": p(q.ask),
            "askSz": self.contracts(q.ask_size, q, q.ask),
            "bidPx": p(q.bid),
            "bidSz": self.contracts(q.bid_size, q, q.bid),
            "open24h": p(q.open),
            "high24h": p(q.high),
            "low24h": p(q.low),
            "volCcy24h": f"{q.volume:.4f}",
            "vol24h": str(round(contracts)),
            "ts": str(q.ts_ms),
        }

    def _values(self, q: Quote) -> dict[str, Any]:
        mark, index, funding, next_funding = derivative_values(q)
        return {
            "mark-price": {"instId": q.native, "markPx": p(mark), "ts": str(q.ts_ms)},
            "funding-rate": {"instId": q.native, "fundingRate": f"{funding:.8f}"}
            | {"fundingTime": str(next_funding), "ts": str(q.ts_ms)},
            "open-interest": {"instId": q.native, "oiCcy": f"{q.volume * 2:.4f}"}
            | {"ts": str(q.ts_ms)},
            "index-tickers": {"instId": self._index(q.native), "idxPx": p(index)}
            | {"ts": str(q.ts_ms)},
        }

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        out = []
        n = q.native
        if f"bbo-tbt|{n}" in conn.subscribed:
            book = {
                "asks": [[p(q.ask), self.contracts(q.ask_size, q, q.ask), "0", "3"]],
                "bids": [[p(q.bid), self.contracts(q.bid_size, q, q.bid), "0", "2"]],
                "ts": str(q.ts_ms),
            }
            out.append(dumps({"arg": {"channel": "bbo-tbt", "instId": n}, "data": [book]}))
        if q.updates % 5 == 1:
            for ch, item in self._values(q).items():
                inst = item["instId"]
                if f"{ch}|{inst}" in conn.subscribed:
                    out.append(dumps({"arg": {"channel": ch, "instId": inst}, "data": [item]}))
        if q.updates % 10 == 0 and f"tickers|{n}" in conn.subscribed:
            out.append(
                dumps({"arg": {"channel": "tickers", "instId": n}, "data": [self._ticker(q)]})
            )
        return out

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        lists = {
            "/api/v5/market/tickers": lambda q: self._ticker(q),
            "/api/v5/public/mark-price": lambda q: self._values(q)["mark-price"],
            "/api/v5/public/open-interest": lambda q: self._values(q)["open-interest"],
        }
        if path in lists:
            if query.get("instType") != self.inst_type:
                return 200, {"code": "51000", "msg": "Parameter instType error", "data": []}
            return 200, {"code": "0", "msg": "", "data": [lists[path](q) for q in quotes.values()]}
        return super().rest(path, query, quotes)


class OKXFuturesDialect(OKXSwapDialect):
    kind = "future"
    inst_type: ClassVar[str] = "FUTURES"
