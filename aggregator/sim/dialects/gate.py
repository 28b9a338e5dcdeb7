"""Gate, simulated: its spot WebSocket v4 protocol (tickers, book_ticker) and REST answers."""

from __future__ import annotations

import time
from typing import Any

from . import ConnState, Dialect, Quote, dumps, p, s

CHANNELS = ("spot.tickers", "spot.book_ticker")


class GateDialect(Dialect):
    venue = "gate"
    ws_path = "/ws/v4/"
    # What tells spot's socket from the futures' (GateFuturesDialect) in on_message.
    prefix = "spot"
    channels: tuple[str, ...] = CHANNELS
    item = "currency pair"
    bad_request = "invalid argument struct"

    @staticmethod
    def _frame(channel: str, event: str, **fields: Any) -> str:
        now_ms = time.time_ns() // 1_000_000
        return dumps(
            {
                "time": now_ms // 1000,
                "time_ms": now_ms,
                "channel": channel,
                "event": event,
                **fields,
            }
        )

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        """Pings, subscribes and unsubscribes, as spot and futures answer them."""
        channel, event = msg.get("channel"), msg.get("event")
        if channel == f"{self.prefix}.ping":
            return [self._frame(f"{self.prefix}.pong", "", result=None)]
        if channel not in self.channels or event not in ("subscribe", "unsubscribe"):
            error = {"code": 1, "message": self.bad_request}
            return [
                self._frame(channel or "", event or "", id=msg.get("id"), error=error, result=None)
            ]
        pairs = msg.get("payload") or []
        unknown = [x for x in pairs if x not in self.by_native]
        if unknown:
            error = {"code": 2, "message": f"unknown {self.item} {unknown[0]}"}
            return [self._frame(channel, event, id=msg.get("id"), error=error, result=None)]
        for pair in pairs:
            if event == "subscribe":
                conn.subscribed.update((pair, f"{channel}:{pair}"))
            else:
                conn.subscribed.discard(f"{channel}:{pair}")
        ok = {"status": "success"}
        return [self._frame(channel, event, id=msg.get("id"), payload=pairs, result=ok)]

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        out = []
        if f"spot.book_ticker:{q.native}" in conn.subscribed:
            book = self._book(q, s(q.bid_size), s(q.ask_size))
            out.append(self._frame("spot.book_ticker", "update", result=book))
        if f"spot.tickers:{q.native}" in conn.subscribed and q.updates % 5 == 1:
            out.append(self._frame("spot.tickers", "update", result=self._ticker(q)))
        return out

    @staticmethod
    def _book(q: Quote, bid_size: Any, ask_size: Any) -> dict[str, Any]:
        """A book_ticker result (spot's and the futures'), with the sizes as sent."""
        return {
            "t": q.ts_ms,
            "u": q.updates,
            "s": q.native,
            "b": p(q.bid),
            "B": bid_size,
            "a": p(q.ask),
            "A": ask_size,
        }

    @staticmethod
    def _ticker(q: Quote) -> dict[str, Any]:
        return {
            "currency_pair": q.native,
            "last": p(q.last),
            "lowest_ask": p(q.ask),
            "lowest_size": s(q.ask_size),
            "highest_bid": p(q.bid),
            "highest_size": s(q.bid_size),
            "change_percentage": f"{(q.last / q.open - 1) * 100:.4f}",
            "base_volume": s(q.volume),
            "quote_volume": p(q.quote_volume),
            "high_24h": p(q.high),
            "low_24h": p(q.low),
        }

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path in ("/spot/tickers", "/api/v4/spot/tickers"):
            pair = query.get("currency_pair")
            if pair is None:
                return 200, [self._ticker(q) for q in quotes.values()]
            if pair not in quotes:
                return 400, {
                    "label": "INVALID_CURRENCY_PAIR",
                    "message": f"Invalid currency pair {pair}",
                }
            return 200, [self._ticker(quotes[pair])]
        return super().rest(path, query, quotes)
