"""HTX USDT-margined swaps, simulated: the three gzip'd sockets (bbo and detail on
/linear-swap-ws, mark and index candles on /ws_index, funding on /linear-swap-notification,
each refusing the others' topics) and the REST answers polling uses."""

from __future__ import annotations

from typing import Any

from . import ConnState, Quote, derivative_values
from .htx import HTXDialect, _gz, _now_ms

NOTIFY = "/linear-swap-notification"
ROUTE_CHANNELS = {"/linear-swap-ws": ("bbo", "detail"), "/ws_index": ("mark_price", "index")}


class HTXSwapDialect(HTXDialect):
    venue = "htx"
    kind = "perp"
    ws_path = ""  # the host's root: the codec adds each route's path
    ws_routes = (*ROUTE_CHANNELS, NOTIFY)
    topic_parts = (3, 4)
    item = "contract code"

    def on_message(self, conn: ConnState, msg: Any) -> list[Any]:
        if conn.path == NOTIFY:
            return self._notification(conn, msg)
        return super().on_message(conn, msg)

    def channels(self, conn: ConnState) -> tuple[str, ...]:
        return ROUTE_CHANNELS.get(conn.path, ())

    def _notification(self, conn: ConnState, msg: Any) -> list[Any]:
        op, topic = msg.get("op"), str(msg.get("topic", ""))
        if op == "pong":
            return []
        parts = topic.split(".")
        ok = op == "sub" and len(parts) == 3 and parts[0] == "public" and parts[2] == "funding_rate"
        ack = {"op": op, "cid": msg.get("cid"), "topic": topic, "ts": _now_ms()}
        if not ok or parts[1] not in self.by_native:
            return [_gz({**ack, "err-code": 2002, "err-msg": f"invalid topic {topic}"})]
        conn.subscribed.update((parts[1], topic))
        return [_gz({**ack, "err-code": 0})]

    def heartbeat(self, conn: ConnState) -> list[Any]:
        if conn.path == NOTIFY:
            return [_gz({"op": "ping", "ts": str(_now_ms())})]
        return super().heartbeat(conn)

    def contracts(self, size: float, native: str) -> int:
        return max(1, round(size / self.by_native[native].contract_size))

    def top(self, q: Quote) -> dict[str, Any]:
        return {
            "bid": [round(q.bid, 2), self.contracts(q.bid_size, q.native)],
            "ask": [round(q.ask, 2), self.contracts(q.ask_size, q.native)],
        }

    def detail(self, q: Quote) -> dict[str, Any]:
        return {
            "id": q.ts_ms // 1000,
            "open": round(q.open, 2),
            "close": round(q.last, 2),
            "high": round(q.high, 2),
            "low": round(q.low, 2),
            "amount": f"{q.volume:.3f}",
            "vol": self.contracts(q.volume, q.native),
            "trade_turnover": round(q.quote_volume, 4),
            "count": q.updates,
            **self.top(q),
        }

    def tick(self, conn: ConnState, q: Quote) -> list[Any]:
        out = []
        if f"market.{q.native}.bbo" in conn.subscribed:
            bbo = {"mrid": q.updates, "id": q.ts_ms // 1000, "ts": q.ts_ms, **self.top(q)}
            out.append(_gz({"ch": f"market.{q.native}.bbo", "ts": q.ts_ms, "tick": bbo}))
        if f"market.{q.native}.detail" in conn.subscribed and q.updates % 5 == 1:
            ch = f"market.{q.native}.detail"
            out.append(_gz({"ch": ch, "ts": q.ts_ms, "tick": self.detail(q)}))
        if q.updates % 3 == 1:
            mark, index, funding, next_funding = derivative_values(q)
            for name, price in (("mark_price", mark), ("index", index)):
                ch = f"market.{q.native}.{name}.1min"
                if ch in conn.subscribed:
                    candle = {"id": q.ts_ms // 60000 * 60, "open": f"{price:.2f}",
                              "close": f"{price:.2f}", "amount": "0", "vol": "0"}  # fmt: skip
                    out.append(_gz({"ch": ch, "ts": q.ts_ms, "tick": candle}))
            topic = f"public.{q.native}.funding_rate"
            if topic in conn.subscribed:
                item = {
                    "contract_code": q.native,
                    "funding_rate": f"{funding:.6f}",
                    "funding_time": str(q.ts_ms),
                    "settlement_time": str(next_funding),
                }
                out.append(_gz({"op": "notify", "topic": topic, "ts": q.ts_ms, "data": [item]}))
        return out

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        now = _now_ms()
        qs = list(quotes.values())
        if path.endswith("/market/detail/batch_merged"):
            ticks = [{"contract_code": q.native, "ts": q.ts_ms, **self.detail(q)} for q in qs]
            return 200, {"status": "ok", "ticks": ticks, "ts": now}
        data: list[dict[str, Any]]
        if path.endswith("/swap_batch_funding_rate"):
            data = []
            for q in qs:
                _, _, funding, next_funding = derivative_values(q)
                data.append(
                    {
                        "contract_code": q.native,
                        "funding_rate": f"{funding:.6f}",
                        "funding_time": str(next_funding),
                        "estimated_rate": None,
                    }
                )
        elif path.endswith("/swap_open_interest"):
            data = [
                {
                    "contract_code": q.native,
                    "volume": self.contracts(q.volume * 3, q.native),
                    "amount": round(q.volume * 3, 3),
                }
                for q in qs
            ]
        elif path.endswith("/swap_index"):
            data = [
                {"contract_code": q.native, "index_price": round(derivative_values(q)[1], 2)}
                for q in qs
            ]
        elif path.endswith("/linear_swap_mark_price_kline"):
            one = quotes.get(query.get("contract_code", ""))
            if one is None:
                return 200, {"status": "error", "err_code": 1332, "err_msg": "invalid contract"}
            mark = round(derivative_values(one)[0], 2)
            candle = {"id": one.ts_ms // 60000 * 60, "open": str(mark), "close": str(mark)}
            return 200, {"ch": f"market.{one.native}.mark_price.1min", "status": "ok",
                         "ts": now, "data": [candle]}  # fmt: skip
        else:
            return super().rest(path, query, quotes)
        return 200, {"status": "ok", "data": data, "ts": now}
