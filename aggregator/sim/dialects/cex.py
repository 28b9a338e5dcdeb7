"""CEX.IO Spot Trading, simulated: its public WebSocket (books, get_ticker) and REST answers.

The simulated book holds one level per side; every price move sends an increment that
adds the new best level and deletes the old one, numbered per pair (``seqId``) on top of
``conn.seq``, so the simulator's gap fault shows up as a sequence gap.
"""

from __future__ import annotations

import time
from typing import Any

from . import ConnState, Dialect, Quote, dumps, iso, p, s

SEQ_START = 8676229
ZERO = "0.00000000"


class CexDialect(Dialect):
    venue = "cex"
    ws_path = "/api/spot/ws-public"

    def __init__(self, markets_body: bytes | None = None) -> None:
        super().__init__(markets_body)
        self._quotes: dict[str, Quote] = {}  # the live quotes seen, for snapshots and tickers
        self._seqs: dict[tuple[int, str], int] = {}  # per client and pair
        self._held: dict[tuple[int, str], tuple[str, str]] = {}  # best prices each client has

    def on_connect(self, conn: ConnState) -> list[str]:
        return [dumps({"e": "connected"})]

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        e = msg.get("e")
        if e == "ping":
            return [dumps({"e": "pong"})]
        oid = msg.get("oid")
        data = msg.get("data") if isinstance(msg.get("data"), dict) else {}
        if not oid or e not in ("order_book_subscribe", "get_ticker"):
            error = {"error": f"Unsupported message type {e}"}
            return [dumps({"e": e, "oid": oid, "data": error}), dumps({"e": "disconnected"})]
        if e == "get_ticker":
            wanted = data.get("pairs") or list(self._quotes)
            tickers = {n: self._ticker(self._quotes[n]) for n in wanted if n in self._quotes}
            return [dumps({"e": e, "oid": oid, "data": tickers, "ok": "ok"})]
        pair = data.get("pair")
        if pair not in self.by_native:
            error = {"error": f"Currency pair {pair} is not supported"}
            return [dumps({"e": e, "oid": oid, "data": error})]
        conn.subscribed.add(pair)
        key = (id(conn), pair)
        self._seqs[key] = SEQ_START
        bids: list[list[str]] = []
        asks: list[list[str]] = []
        q = self._quotes.get(pair)
        if q is None:
            self._held.pop(key, None)
        else:
            self._held[key] = (p(q.bid), p(q.ask))
            bids, asks = [[p(q.bid), s(q.bid_size)]], [[p(q.ask), s(q.ask_size)]]
        book = {"seqId": SEQ_START + conn.seq, "pair": pair, "bids": bids, "asks": asks}
        return [dumps({"e": e, "oid": oid, "data": book, "ok": "ok"})]

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        self._quotes[q.native] = q
        key = (id(conn), q.native)
        seq = self._seqs.get(key, SEQ_START) + 1
        self._seqs[key] = seq
        bid, ask = p(q.bid), p(q.ask)
        bids, asks = [[bid, s(q.bid_size)]], [[ask, s(q.ask_size)]]
        held = self._held.get(key)
        if held is not None:  # the old best levels leave the book (increments are unordered)
            if held[0] != bid:
                bids.append([held[0], ZERO])
            if held[1] != ask:
                asks.insert(0, [held[1], ZERO])
        self._held[key] = (bid, ask)
        data = {"seqId": seq + conn.seq, "pair": q.native, "bids": bids, "asks": asks}
        return [dumps({"e": "order_book_increment", "data": data, "ok": "ok"})]

    @staticmethod
    def _ticker(q: Quote) -> dict[str, Any]:
        return {
            "bestBid": p(q.bid),
            "bestAsk": p(q.ask),
            "low": p(q.low),
            "high": p(q.high),
            "volume30d": s(q.volume * 30),
            "lastTradeDateISO": iso(q.ts_ms, 3),
            "volume": s(q.volume),
            "quoteVolume": f"{q.quote_volume:.2f}",
            "lastTradeVolume": "0.01000000",
            "volumeUSD": f"{q.quote_volume:.2f}",
            "last": p((q.bid + q.ask) / 2),
            "lastTradePrice": p(q.last),
            "priceChange": p(q.last - q.open),
            "priceChangePercentage": f"{(q.last / q.open - 1) * 100:.2f}",
        }

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path.endswith("/get_ticker"):
            data = {n: self._ticker(q) for n, q in quotes.items()}
            return 200, {"ok": "ok", "data": data}
        if path.endswith("/get_server_time"):
            return 200, {"ok": "ok", "data": {"timestamp": str(time.time_ns() // 1_000_000)}}
        return super().rest(path, query, quotes)
