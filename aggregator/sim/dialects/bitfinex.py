"""Bitfinex, simulated: its WebSocket API v2 ticker channel and REST v2 tickers."""

from __future__ import annotations

from typing import Any

from . import ConnState, Dialect, Quote, dumps


def _n(x: float, digits: int = 5) -> float:
    """A number as Bitfinex sends it: a JSON number with five significant digits for prices."""
    return float(f"{x:.{digits}g}")


class BitfinexDialect(Dialect):
    venue = "bitfinex"
    ws_path = "/ws/2"
    heartbeat_interval = 1.0  # the venue: every 15 s per channel

    def __init__(self, markets_body: bytes | None = None) -> None:
        super().__init__(markets_body)
        # The venue numbers channels per connection; here each market keeps one number.
        self.chan_ids = {m.native: 17_000 + i for i, m in enumerate(self.markets)}

    def on_connect(self, conn: ConnState) -> list[str]:
        info = {"event": "info", "version": 2, "serverId": "sim", "platform": {"status": 1}}
        return [dumps(info)]

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        event = msg.get("event")
        if event == "ping":
            return [dumps({"event": "pong", "ts": 0, "cid": msg.get("cid")})]
        if event != "subscribe":
            return [dumps({"event": "error", "msg": "unknown event", "code": 10000})]
        symbol = msg.get("symbol", "")
        if msg.get("channel") != "ticker" or symbol not in self.by_native:
            return [
                dumps(
                    {
                        "event": "error",
                        "msg": "symbol: invalid",
                        "code": 10300,
                        "channel": msg.get("channel"),
                        "symbol": symbol,
                    }
                )
            ]
        if symbol in conn.subscribed:
            return [dumps({"event": "error", "msg": "subscribe: dup", "code": 10301})]
        conn.subscribed.add(symbol)
        return [
            dumps(
                {
                    "event": "subscribed",
                    "channel": "ticker",
                    "chanId": self.chan_ids[symbol],
                    "symbol": symbol,
                    "pair": symbol[1:],
                }
            )
        ]

    @staticmethod
    def _row(q: Quote) -> list[Any]:
        """BID, BID_SIZE (sum of 25 levels), ASK, ASK_SIZE, DAILY_CHANGE, .._RELATIVE, LAST,
        VOLUME, HIGH, LOW."""
        last = _n(q.last)
        return [
            _n(q.bid),
            round(q.bid_size * 7, 8),
            _n(q.ask),
            round(q.ask_size * 7, 8),
            _n(last - _n(q.open)),
            round(last / _n(q.open) - 1, 8),
            last,
            round(q.volume, 8),
            _n(q.high),
            _n(q.low),
        ]

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        return [dumps([self.chan_ids[q.native], self._row(q)])]

    def heartbeat(self, conn: ConnState) -> list[str]:
        return [dumps([self.chan_ids[n], "hb"]) for n in conn.subscribed]

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == self.markets_path:
            return 200, self.markets_body
        if path.startswith("/v2/ticker/"):
            q = quotes.get(path.rsplit("/", 1)[-1])
            return (200, self._row(q)) if q else (500, ["error", 10020, "symbol: invalid"])
        if path == "/v2/tickers":
            wanted = query.get("symbols", "ALL")
            natives = list(quotes) if wanted == "ALL" else wanted.split(",")
            return 200, [[n, *self._row(quotes[n])] for n in natives if n in quotes]
        return 404, ["error", 10020, "not found"]
