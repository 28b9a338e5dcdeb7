"""OKX US (OKCoin USA's successor, moved to OKX in 2025): the OKX v5 protocol on its own hosts.

Everything that the OKX codec reads (tickers and bbo-tbt pushes, events, the REST
{"code","msg","data"} wrapper, instruments in state "live") is the same message for message:
the OKCoin recording of 2023 (tests/fixtures/ws-beyond/okcoin.json, `tickers` on
/ws/v5/public) carries the v5 fields the OKX codec maps. Only the hosts differ, as OKX's
API v5 documentation lists them for US users (confirmed there and in the SDKs that
follow it): REST at https://us.okx.com, the public stream at wsus.okx.com, here on port
443 as OKX's own host (8443, which older clients name, is the legacy port). Its markets
are USD, USDT and USDC spot pairs; its limits are OKX's (20 REST requests per 2 s per IP).
"""

from __future__ import annotations

from typing import ClassVar

from .okx import OKX
from .routes import Route


class OKXUS(OKX):
    venue: ClassVar[str] = "okxus"
    REST_URL: ClassVar[str] = "https://us.okx.com"
    MARKETS_URL: ClassVar[str] = "https://us.okx.com/api/v5/public/instruments?instType=SPOT"
    WS_URL: ClassVar[str] = "wss://wsus.okx.com:443/ws/v5/public"
    ROUTES: ClassVar[tuple[Route, ...]] = OKX.ROUTES  # OKX's frames
