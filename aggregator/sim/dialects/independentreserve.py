"""Independent Reserve, simulated: its order book WebSocket protocol and REST answers.

The simulated book holds one level per side: every price move deletes the old best level
and adds the new one, with the CRC32 of the resulting book, as the venue sends them.
"""

from __future__ import annotations

import time
from typing import Any

from ...adapters.independentreserve import book_checksum
from . import ConnState, Dialect, Quote, dumps, iso, p

Level = tuple[float, float]


class IndependentReserveDialect(Dialect):
    venue = "independentreserve"
    ws_path = "/orderbook/10"
    heartbeat_interval = 1.0

    def __init__(self, markets_body: bytes | None = None) -> None:
        super().__init__(markets_body)
        self.tokens: dict[str, str] = {}  # subscription token -> native id
        self.channels: dict[str, str] = {}  # native id -> channel name
        for m in self.markets:
            self.tokens[f"{m.base_id}-{m.quote_id}".lower()] = m.native
            base, quote = m.symbol.lower().split("/")
            self.tokens[f"{base}-{quote}"] = m.native
            self.channels[m.native] = f"orderbook/10/{base}/{quote}"
        self._quotes: dict[str, Quote] = {}  # the live quotes seen, for snapshots
        self._held: dict[tuple[int, str], tuple[Level, Level]] = {}  # what each client has

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        now = time.time_ns() // 1_000_000
        if msg.get("Event") != "Subscribe" or not isinstance(msg.get("Data"), list):
            return [dumps({"Event": "Error", "Data": "Invalid message", "Time": now})]
        out = []
        natives: list[str] = []
        for token in msg["Data"]:
            token = str(token).lower()
            found = list(self.by_native) if token == "all" else [self.tokens.get(token)]
            if found == [None]:
                out.append(dumps({"Event": "Error", "Data": f"Invalid token {token}"}))
            natives.extend(n for n in found if n is not None)
        conn.subscribed.update(natives)
        subs = sorted({self.channels[n] for n in conn.subscribed})
        out.append(dumps({"Data": subs, "Time": now, "Event": "Subscriptions"}))
        for n in natives:
            q = self._quotes.get(n)
            bids: list[Level] = []
            offers: list[Level] = []
            if q is not None:
                bid, ask = self._levels(q)
                self._held[(id(conn), n)] = (bid, ask)
                bids, offers = [bid], [ask]
            else:
                self._held.pop((id(conn), n), None)
            out.append(self._frame(n, "OrderBookSnapshot", bids, offers, bids, offers, now))
        return out

    @staticmethod
    def _levels(q: Quote) -> tuple[Level, Level]:
        return (float(p(q.bid)), round(q.bid_size, 8)), (float(p(q.ask)), round(q.ask_size, 8))

    def _frame(
        self,
        native: str,
        event: str,
        bids: list[Level],
        offers: list[Level],
        book_bids: list[Level],
        book_offers: list[Level],
        ts_ms: int,
    ) -> str:
        data = {
            "Bids": [{"Price": price, "Volume": volume} for price, volume in bids],
            "Offers": [{"Price": price, "Volume": volume} for price, volume in offers],
            "Crc32": book_checksum(book_bids, book_offers),
        }
        return dumps(
            {"Channel": self.channels[native], "Data": data, "Time": ts_ms, "Event": event}
        )

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        self._quotes[q.native] = q
        key = (id(conn), q.native)
        bid, ask = self._levels(q)
        bids, offers = [bid], [ask]
        held = self._held.get(key)
        if held is not None:  # delete the old best levels first, then add the new ones
            bids.insert(0, (held[0][0], 0))
            offers.insert(0, (held[1][0], 0))
        self._held[key] = (bid, ask)
        return [self._frame(q.native, "OrderBookChange", bids, offers, [bid], [ask], q.ts_ms)]

    def heartbeat(self, conn: ConnState) -> list[str]:
        return [dumps({"Time": time.time_ns() // 1_000_000, "Event": "Heartbeat"})]

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == "/Public/GetMarketSummary":
            primary = query.get("primaryCurrencyCode", "")
            secondary = query.get("secondaryCurrencyCode", "")
            q = quotes.get(f"{primary}/{secondary}")
            if q is None:
                return 400, {"Message": "Invalid primaryCurrencyCode or secondaryCurrencyCode"}
            return 200, {
                "CreatedTimestampUtc": iso(q.ts_ms),
                "CurrentHighestBidPrice": float(p(q.bid)),
                "CurrentLowestOfferPrice": float(p(q.ask)),
                "DayAvgPrice": float(p((q.high + q.low) / 2)),
                "DayHighestPrice": float(p(q.high)),
                "DayLowestPrice": float(p(q.low)),
                "DayVolumeXbt": round(q.volume * 2, 8),
                "DayVolumeXbtInSecondaryCurrrency": round(q.volume, 8),
                "LastPrice": float(p(q.last)),
                "PrimaryCurrencyCode": primary,
                "SecondaryCurrencyCode": secondary,
            }
        return super().rest(path, query, quotes)
