"""Luno, simulated: its market stream (one pair per connection) and REST tickers.

The stream's URL names the pair (/api/1/stream/XBTZAR); the dialect reads it from
``conn.path``, which the server does not set yet, nor does it serve paths below ws_path
(``ws_path_prefix``): the Luno codec's stream is not enabled until it does.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from . import ConnState, Dialect, Quote, dumps, p, s

OWED = "?"  # marks, in ConnState.subscribed, a pair whose order book is still owed
_ORDER_IDS = itertools.count(1)


class LunoDialect(Dialect):
    venue = "luno"
    ws_path = "/api/1/stream"
    ws_path_prefix = True  # the pair follows: /api/1/stream/XBTZAR
    heartbeat_interval = 1.0

    def __init__(self, markets_body: bytes | None = None) -> None:
        super().__init__(markets_body)
        # The simulated book of each pair, the same for every connection: the quote update
        # it was rendered from, its bid and ask orders, and the updates that led to it.
        self._books: dict[str, tuple[int, dict[str, Any], dict[str, Any], list[Any]]] = {}

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        if not isinstance(msg, dict):
            return []  # a client keep-alive ("")
        pair = str(getattr(conn, "path", "")).rsplit("/", 1)[-1]
        if not msg.get("api_key_id") or not msg.get("api_key_secret") or conn.subscribed:
            return [dumps({"error": "unauthorised", "error_code": "ErrUnauthorised"})]
        if pair not in self.by_native:
            return [dumps({"error": "unknown pair", "error_code": "ErrMarketNotFound"})]
        conn.subscribed.add(pair)
        if pair not in self._books:  # no price yet: the book follows the first update
            conn.subscribed.add(OWED + pair)
            return []
        return [self._snapshot(conn, pair)]

    def _snapshot(self, conn: ConnState, pair: str) -> str:
        _, bid, ask, _ = self._books[pair]
        return dumps(
            {
                "sequence": str(conn.seq),
                "asks": [{"id": ask["order_id"], "price": ask["price"], "volume": ask["volume"]}],
                "bids": [{"id": bid["order_id"], "price": bid["price"], "volume": bid["volume"]}],
                "status": "ACTIVE",
                "timestamp": time.time_ns() // 1_000_000,
            }
        )

    def _step(self, q: Quote) -> tuple[int, dict[str, Any], dict[str, Any], list[Any]]:
        """The book after quote update ``q.updates``: each side's order replaced by a new one."""
        book = self._books.get(q.native)
        if book is not None and book[0] == q.updates:
            return book
        bid = {"order_id": f"BXB{next(_ORDER_IDS)}", "type": "BID", "price": p(q.bid)}
        ask = {"order_id": f"BXA{next(_ORDER_IDS)}", "type": "ASK", "price": p(q.ask)}
        bid["volume"], ask["volume"] = s(q.bid_size), s(q.ask_size)
        sides = [(book[1], bid), (book[2], ask)] if book else [(None, bid), (None, ask)]
        if book and q.ask > float(book[2]["price"]):
            sides.reverse()  # moving up: the ask side first, so the book never crosses
        updates = []
        for old, new in sides:
            trades = []
            if old is not None and q.updates % 5 == 0:  # now and then a trade eats into it
                trades.append(
                    {
                        "base": "0.001",
                        "counter": p(float(old["price"]) * 0.001),
                        "maker_order_id": old["order_id"],
                        "taker_order_id": f"BXT{next(_ORDER_IDS)}",
                    }
                )
            delete = None if old is None else {"order_id": old["order_id"]}
            updates.append((trades, new, delete))
        book = self._books[q.native] = (q.updates, bid, ask, updates)
        return book

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        book = self._step(q)
        if OWED + q.native in conn.subscribed:
            conn.subscribed.discard(OWED + q.native)
            return [self._snapshot(conn, q.native)]
        out = []
        for trades, create, delete in book[3]:
            conn.seq += 1
            out.append(
                dumps(
                    {
                        "sequence": str(conn.seq),
                        "trade_updates": trades,
                        "create_update": create,
                        "delete_update": delete,
                        "status_update": None,
                        "timestamp": q.ts_ms,
                    }
                )
            )
        return out

    def heartbeat(self, conn: ConnState) -> list[str]:
        return [dumps("")] if conn.subscribed else []  # the venue's keep-alive

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == self.markets_path:
            return 200, self.markets_body
        if path == "/api/1/tickers":
            return 200, {"tickers": [self._ticker(q) for q in quotes.values()]}
        if path == "/api/1/ticker":
            q = quotes.get(query.get("pair", ""))
            if q is None:
                return 404, {"error": "market not found", "error_code": "ErrMarketNotFound"}
            return 200, self._ticker(q)
        return 404, {"error": "not found", "error_code": "ErrNotFound"}

    @staticmethod
    def _ticker(q: Quote) -> dict[str, Any]:
        return {
            "pair": q.native,
            "timestamp": q.ts_ms,
            "bid": p(q.bid),
            "ask": p(q.ask),
            "last_trade": p(q.last),
            "rolling_24_hour_volume": s(q.volume),
            "status": "ACTIVE",
        }
