"""How each simulated venue speaks: its subscribe/ack exchange, frames and REST bodies.

Frames are rendered in the venue's native format from a simulated quote, so the real
codecs parse them exactly as they parse the venue's own messages.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import unquote

import orjson

from ..adapters.registry import codec_class
from ..symbols import Market, snapshot_path


@dataclass(slots=True)
class Quote:
    """The simulated state of one market."""

    native: str
    bid: float
    ask: float
    bid_size: float
    ask_size: float
    last: float
    open: float
    high: float
    low: float
    volume: float
    quote_volume: float
    updates: int = 0
    ts_ms: int = field(default_factory=lambda: time.time_ns() // 1_000_000)


@dataclass(slots=True)
class ConnState:
    """What one simulated WebSocket connection has subscribed to."""

    subscribed: set[str] = field(default_factory=set)
    seq: int = 0  # per-connection sequence number, for venues that send one


def iso(ts_ms: int, digits: int = 6) -> str:
    dt = datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
    frac = f"{dt.microsecond:06d}"[:digits] if digits <= 6 else f"{dt.microsecond:06d}000"
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + frac + "Z"


def p(x: float) -> str:
    """A price with about seven significant digits, as venues quote them."""
    return f"{x:.{max(2, 7 - len(str(int(x))))}f}"


def s(x: float) -> str:
    return f"{x:.8f}"


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


class Dialect:
    venue: ClassVar[str] = ""
    ws_path: ClassVar[str] = "/ws"
    heartbeat_interval: ClassVar[float | None] = None

    def __init__(self) -> None:
        self.markets_body = snapshot_path(self.venue).read_bytes()
        self.markets: list[Market] = list(
            codec_class(self.venue).markets_from(self.markets_body).markets
        )
        self.by_native = {m.native: m for m in self.markets}

    def on_connect(self, conn: ConnState) -> list[str]:
        return []

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        raise NotImplementedError

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        raise NotImplementedError

    def heartbeat(self, conn: ConnState) -> list[str]:
        return []

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        raise NotImplementedError


class BinanceDialect(Dialect):
    venue = "binance"
    ws_path = "/ws"

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        if msg.get("method") == "SUBSCRIBE":
            lower = {m.native.lower(): m.native for m in self.markets}
            for stream in msg.get("params", []):
                native = lower.get(stream.split("@")[0])
                if native:
                    conn.subscribed.add(native)
            return [dumps({"result": None, "id": msg.get("id")})]
        return [dumps({"error": {"code": 2, "msg": "Invalid request"}, "id": msg.get("id")})]

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        book = dumps(
            {
                "u": q.updates,
                "s": q.native,
                "b": p(q.bid),
                "B": s(q.bid_size),
                "a": p(q.ask),
                "A": s(q.ask_size),
            }
        )
        if q.updates % 10:
            return [book]
        return [book, dumps(self._ticker(q, event=True))]

    @staticmethod
    def _ticker(q: Quote, event: bool = False) -> dict[str, Any]:
        t: dict[str, Any] = {
            "s" if event else "symbol": q.native,
            "c" if event else "lastPrice": p(q.last),
            "b" if event else "bidPrice": p(q.bid),
            "B" if event else "bidQty": s(q.bid_size),
            "a" if event else "askPrice": p(q.ask),
            "A" if event else "askQty": s(q.ask_size),
            "o" if event else "openPrice": p(q.open),
            "h" if event else "highPrice": p(q.high),
            "l" if event else "lowPrice": p(q.low),
            "v" if event else "volume": s(q.volume),
            "q" if event else "quoteVolume": p(q.quote_volume),
            "E" if event else "closeTime": q.ts_ms,
        }
        if event:
            t["e"] = "24hrTicker"
        return t

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == "/api/v3/exchangeInfo":
            return 200, self.markets_body
        if path == "/api/v3/ticker/24hr":
            if "symbols" in query:
                wanted = orjson.loads(unquote(query["symbols"]))
                return 200, [self._ticker(quotes[n]) for n in wanted if n in quotes]
            if "symbol" in query:
                q = quotes.get(query["symbol"])
                return (
                    (200, self._ticker(q))
                    if q
                    else (400, {"code": -1121, "msg": "Invalid symbol."})
                )
            return 200, [self._ticker(q) for q in quotes.values()]
        return 404, {"code": -1, "msg": "not found"}


class CoinbaseExchangeDialect(Dialect):
    venue = "coinbaseexchange"
    ws_path = "/"
    heartbeat_interval = 1.0

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        if msg.get("type") != "subscribe":
            return [
                dumps({"type": "error", "message": "Failed to subscribe", "reason": "bad type"})
            ]
        ids = [i for i in msg.get("product_ids", []) if i in self.by_native]
        conn.subscribed.update(ids)
        chans = [{"name": c, "product_ids": ids} for c in msg.get("channels", [])]
        return [dumps({"type": "subscriptions", "channels": chans})]

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        return [
            dumps(
                {
                    "type": "ticker",
                    "sequence": q.updates,
                    "product_id": q.native,
                    "price": p(q.last),
                    "open_24h": p(q.open),
                    "volume_24h": s(q.volume),
                    "low_24h": p(q.low),
                    "high_24h": p(q.high),
                    "volume_30d": s(q.volume * 30),
                    "best_bid": p(q.bid),
                    "best_bid_size": s(q.bid_size),
                    "best_ask": p(q.ask),
                    "best_ask_size": s(q.ask_size),
                    "side": "buy",
                    "time": iso(q.ts_ms),
                    "trade_id": q.updates,
                    "last_size": "0.01",
                }
            )
        ]

    def heartbeat(self, conn: ConnState) -> list[str]:
        now = iso(time.time_ns() // 1_000_000)
        return [
            dumps(
                {
                    "type": "heartbeat",
                    "sequence": 0,
                    "last_trade_id": 0,
                    "product_id": n,
                    "time": now,
                }
            )
            for n in sorted(conn.subscribed)
        ]

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == "/products":
            return 200, self.markets_body
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "products" and parts[2] == "ticker":
            q = quotes.get(parts[1])
            if q is None:
                return 404, {"message": "NotFound"}
            return 200, {
                "ask": p(q.ask),
                "bid": p(q.bid),
                "volume": s(q.volume),
                "trade_id": q.updates,
                "price": p(q.last),
                "size": "0.01",
                "time": iso(q.ts_ms),
            }
        return 404, {"message": "NotFound"}


class CoinbaseDialect(Dialect):
    venue = "coinbase"
    ws_path = "/"
    heartbeat_interval = 1.0

    def _frame(self, conn: ConnState, channel: str, events: list[Any]) -> str:
        frame = dumps(
            {
                "channel": channel,
                "client_id": "",
                "timestamp": iso(time.time_ns() // 1_000_000, 9),
                "sequence_num": conn.seq,
                "events": events,
            }
        )
        conn.seq += 1
        return frame

    def _t(self, q: Quote) -> dict[str, Any]:
        return {
            "type": "ticker",
            "product_id": q.native,
            "price": p(q.last),
            "volume_24_h": s(q.volume),
            "low_24_h": p(q.low),
            "high_24_h": p(q.high),
            "price_percent_chg_24_h": f"{(q.last / q.open - 1) * 100:.6f}",
            "best_bid": p(q.bid),
            "best_ask": p(q.ask),
            "best_bid_quantity": s(q.bid_size),
            "best_ask_quantity": s(q.ask_size),
        }

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        if msg.get("type") != "subscribe":
            return [dumps({"type": "error", "message": "unknown message type"})]
        if msg.get("channel") == "heartbeats":
            conn.subscribed.add("__heartbeats__")
            return []
        ids = [i for i in msg.get("product_ids", []) if i in self.by_native]
        conn.subscribed.update(ids)
        return [self._frame(conn, "subscriptions", [{"subscriptions": {"ticker": ids}}])]

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        return [self._frame(conn, "ticker", [{"type": "update", "tickers": [self._t(q)]}])]

    def heartbeat(self, conn: ConnState) -> list[str]:
        if "__heartbeats__" not in conn.subscribed:
            return []
        now = iso(time.time_ns() // 1_000_000, 9)
        return [
            self._frame(conn, "heartbeats", [{"current_time": now, "heartbeat_counter": conn.seq}])
        ]

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        prefix = "/api/v3/brokerage/market/products"
        if path == prefix:
            return 200, self.markets_body
        parts = path[len(prefix) :].strip("/").split("/")
        if path.startswith(prefix) and len(parts) == 2 and parts[1] == "ticker":
            q = quotes.get(parts[0])
            if q is None:
                return 404, {"error": "NOT_FOUND", "message": "product not found"}
            trade = {
                "trade_id": str(q.updates),
                "product_id": q.native,
                "price": p(q.last),
                "size": "0.01",
                "time": iso(q.ts_ms),
                "side": "BUY",
                "bid": "",
                "ask": "",
            }
            return 200, {"trades": [trade], "best_bid": p(q.bid), "best_ask": p(q.ask)}
        return 404, {"error": "NOT_FOUND", "message": "not found"}


class KrakenDialect(Dialect):
    venue = "kraken"
    ws_path = "/v2"
    heartbeat_interval = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.keys = {m.ids[1]: m.native for m in self.markets}

    def on_connect(self, conn: ConnState) -> list[str]:
        return [
            dumps(
                {
                    "channel": "status",
                    "type": "update",
                    "data": [
                        {
                            "version": "2.0.10",
                            "system": "online",
                            "api_version": "v2",
                            "connection_id": 1,
                        }
                    ],
                }
            )
        ]

    def _t(self, q: Quote) -> dict[str, Any]:
        return {
            "symbol": q.native,
            "bid": float(p(q.bid)),
            "bid_qty": round(q.bid_size, 8),
            "ask": float(p(q.ask)),
            "ask_qty": round(q.ask_size, 8),
            "last": float(p(q.last)),
            "volume": round(q.volume, 8),
            "vwap": float(p((q.high + q.low) / 2)),
            "low": float(p(q.low)),
            "high": float(p(q.high)),
            "change": float(p(q.last - q.open)),
            "change_pct": round((q.last / q.open - 1) * 100, 2),
            "timestamp": iso(q.ts_ms),
        }

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        method = msg.get("method")
        if method == "ping":
            return [dumps({"method": "pong", "req_id": msg.get("req_id")})]
        if method != "subscribe":
            return [
                dumps({"error": f"unknown method {method}", "method": method, "success": False})
            ]
        out = []
        for sym in msg.get("params", {}).get("symbol", []):
            if sym not in self.by_native:
                out.append(
                    dumps(
                        {
                            "method": "subscribe",
                            "req_id": msg.get("req_id"),
                            "success": False,
                            "error": f"Currency pair not supported {sym}",
                        }
                    )
                )
                continue
            conn.subscribed.add(sym)
            out.append(
                dumps(
                    {
                        "method": "subscribe",
                        "req_id": msg.get("req_id"),
                        "success": True,
                        "result": {
                            "channel": "ticker",
                            "event_trigger": "bbo",
                            "snapshot": True,
                            "symbol": sym,
                        },
                    }
                )
            )
        return out

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        return [dumps({"channel": "ticker", "type": "update", "data": [self._t(q)]})]

    def heartbeat(self, conn: ConnState) -> list[str]:
        return [dumps({"channel": "heartbeat"})] if conn.subscribed else []

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == "/0/public/AssetPairs":
            return 200, self.markets_body
        if path == "/0/public/Ticker":
            keys = query["pair"].split(",") if query.get("pair") else list(self.keys)
            result = {}
            for key in keys:
                q = quotes.get(self.keys.get(key, ""))
                if q is None:
                    return 200, {"error": ["EQuery:Unknown asset pair"], "result": {}}
                result[key] = {
                    "a": [f"{q.ask:.5f}", "1", f"{q.ask_size:.3f}"],
                    "b": [f"{q.bid:.5f}", "1", f"{q.bid_size:.3f}"],
                    "c": [f"{q.last:.5f}", "0.01"],
                    "v": [s(q.volume / 2), s(q.volume)],
                    "p": [p(q.last), p((q.high + q.low) / 2)],
                    "t": [100, 200],
                    "l": [p(q.low), p(q.low)],
                    "h": [p(q.high), p(q.high)],
                    "o": p(q.open),
                }
            return 200, {"error": [], "result": result}
        return 404, {"error": ["EGeneral:Unknown method"]}


DIALECTS: dict[str, type[Dialect]] = {
    d.venue: d for d in (BinanceDialect, CoinbaseExchangeDialect, CoinbaseDialect, KrakenDialect)
}
