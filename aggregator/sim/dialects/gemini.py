"""Gemini, simulated: its market data v2 WebSocket (l2 feed) and REST v1 pubticker."""

from __future__ import annotations

import time
from typing import Any

from . import ConnState, Dialect, Quote, dumps, p, s

LEVELS = 3  # price levels rendered per side
OWED = "?"  # marks, in ConnState.subscribed, a market whose initial book is still owed


class GeminiDialect(Dialect):
    venue = "gemini"
    ws_path = "/v2/marketdata"
    heartbeat_interval = 1.0

    def __init__(self, markets_body: bytes | None = None) -> None:
        super().__init__(markets_body)
        self.by_upper = {m.native.upper(): m.native for m in self.markets}
        # The simulated book of each market (the same for every connection): the quote
        # update it was rendered from, its levels, and the update frame that led to it.
        self._books: dict[str, tuple[int, list[list[str]], str]] = {}

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        if msg.get("type") != "subscribe":
            return [dumps({"result": "error", "reason": "InvalidJson", "message": "bad type"})]
        wanted = [
            self.by_upper[sym]
            for sub in msg.get("subscriptions", [])
            if sub.get("name") == "l2"
            for sym in sub.get("symbols", [])
            if sym in self.by_upper
        ]
        if not wanted:
            return [dumps({"result": "error", "reason": "NoValidTradingPairs"})]
        out = []
        for native in wanted:
            conn.subscribed.add(native)
            if native in self._books:
                out.append(self._snapshot(native))
            else:  # no price yet: the book follows with the market's first update
                conn.subscribed.add(OWED + native)
        return out

    def _snapshot(self, native: str) -> str:
        return dumps(
            {
                "type": "l2_updates",
                "symbol": native.upper(),
                "changes": self._books[native][1],
                "trades": [],
                "auction_events": [],
            }
        )

    @staticmethod
    def _levels(q: Quote) -> list[list[str]]:
        step = max((q.ask - q.bid) / 2, 0.01)
        bids = [["buy", p(q.bid - i * step), s(q.bid_size * (i + 1))] for i in range(LEVELS)]
        asks = [["sell", p(q.ask + i * step), s(q.ask_size * (i + 1))] for i in range(LEVELS)]
        return bids + asks

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        book = self._books.get(q.native)
        if book is None or book[0] != q.updates:  # first connection to see this update
            old = book[1] if book else []
            new = self._levels(q)
            kept = {(side, price) for side, price, _ in new}
            gone = [[side, price, "0"] for side, price, _ in old if (side, price) not in kept]
            frame = dumps({"type": "l2_updates", "symbol": q.native.upper(), "changes": gone + new})
            book = self._books[q.native] = (q.updates, new, frame)
        if OWED + q.native in conn.subscribed:
            conn.subscribed.discard(OWED + q.native)
            return [self._snapshot(q.native)]
        return [book[2]]

    def heartbeat(self, conn: ConnState) -> list[str]:
        if not conn.subscribed:
            return []
        return [dumps({"type": "heartbeat", "timestamp": time.time_ns() // 1_000_000})]

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == self.markets_path:
            return 200, self.markets_body
        if path.startswith("/v1/pubticker/"):
            native = path.rsplit("/", 1)[-1]
            q = quotes.get(native)
            if q is None:
                return 400, {"result": "error", "reason": "InvalidSymbol", "message": native}
            m = self.by_native[native]
            volume = {m.base_id: s(q.volume), m.quote_id: s(q.quote_volume), "timestamp": q.ts_ms}
            return 200, {"bid": p(q.bid), "ask": p(q.ask), "last": p(q.last), "volume": volume}
        return 404, {"result": "error", "reason": "EndpointNotFound", "message": path}
