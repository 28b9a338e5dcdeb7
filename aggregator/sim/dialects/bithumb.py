"""Bithumb (generation 2), simulated: Upbit's quotation protocol at its own endpoints.

Differences kept from the venue: text frames, and order book times in microseconds (as a
string) on the WebSocket.
"""

from __future__ import annotations

from typing import Any, ClassVar

from . import Quote
from .upbit import UpbitDialect


class BithumbDialect(UpbitDialect):
    venue = "bithumb"
    ws_path = "/websocket/v1"
    binary: ClassVar[bool] = False

    def book_time(self, q: Quote, ws: bool) -> Any:
        return str(q.ts_ms * 1000) if ws else q.ts_ms
