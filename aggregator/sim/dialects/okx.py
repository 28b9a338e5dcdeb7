"""OKX (API v5), simulated: its public WebSocket protocol and REST answers.

The venue also answers the text "ping" with "pong"; the simulator only reads JSON client
messages, so that exchange is not played here.
"""

from __future__ import annotations

from typing import Any

from . import ConnState, Dialect, Quote, dumps, p, s

CHANNELS = ("tickers", "bbo-tbt")
CONN_ID = "5e2a1c0f"


class OKXDialect(Dialect):
    venue = "okx"
    ws_path = "/ws/v5/public"

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        if msg.get("op") != "subscribe" or not isinstance(msg.get("args"), list):
            return [self._error("60012", f"Invalid request: {dumps(msg)}")]
        out = []
        for arg in msg["args"]:
            ch, inst = arg.get("channel"), arg.get("instId")
            if ch not in CHANNELS or inst not in self.by_native:
                out.append(
                    self._error(
                        "60018",
                        f"Wrong URL or channel:{ch},instId:{inst} doesn't exist. Please use "
                        "the correct URL, channel and parameters referring to API document.",
                    )
                )
                continue
            conn.subscribed.add(inst)
            conn.subscribed.add(f"{ch}|{inst}")
            out.append(dumps({"event": "subscribe", "arg": arg, "connId": CONN_ID}))
        return out

    @staticmethod
    def _error(code: str, text: str) -> str:
        return dumps({"event": "error", "code": code, "msg": text, "connId": CONN_ID})

    @staticmethod
    def _ticker(q: Quote) -> dict[str, Any]:
        return {
            "instType": "SPOT",
            "instId": q.native,
            "last": p(q.last),
            "lastSz": "0.01",
            "askPx": p(q.ask),
            "askSz": s(q.ask_size),
            "bidPx": p(q.bid),
            "bidSz": s(q.bid_size),
            "open24h": p(q.open),
            "high24h": p(q.high),
            "low24h": p(q.low),
            "sodUtc0": p(q.open),
            "sodUtc8": p(q.open),
            "volCcy24h": p(q.quote_volume),
            "vol24h": s(q.volume),
            "ts": str(q.ts_ms),
        }

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        out = []
        if f"bbo-tbt|{q.native}" in conn.subscribed:
            book = {
                "asks": [[p(q.ask), s(q.ask_size), "0", "3"]],
                "bids": [[p(q.bid), s(q.bid_size), "0", "2"]],
                "ts": str(q.ts_ms),
                "seqId": q.updates * 7,  # the book's sequence: not contiguous at the top
            }
            out.append(dumps({"arg": {"channel": "bbo-tbt", "instId": q.native}, "data": [book]}))
        if q.updates % 10 == 0 and f"tickers|{q.native}" in conn.subscribed:
            arg = {"channel": "tickers", "instId": q.native}
            out.append(dumps({"arg": arg, "data": [self._ticker(q)]}))
        return out

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == self.markets_path:
            return 200, self.markets_body
        if path == "/api/v5/market/tickers":
            if query.get("instType") != "SPOT":
                return 200, {"code": "51000", "msg": "Parameter instType error", "data": []}
            return 200, {"code": "0", "msg": "", "data": [self._ticker(q) for q in quotes.values()]}
        if path == "/api/v5/market/ticker":
            q = quotes.get(query.get("instId", ""))
            if q is None:
                return 200, {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
            return 200, {"code": "0", "msg": "", "data": [self._ticker(q)]}
        return 404, {"code": "50000", "msg": "not found", "data": []}
