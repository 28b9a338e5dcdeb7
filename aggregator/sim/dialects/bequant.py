"""Bequant, simulated: HitBTC's API v3 under Bequant's host (see hitbtc.py)."""

from __future__ import annotations

from .hitbtc import HitBTCDialect


class BequantDialect(HitBTCDialect):
    venue = "bequant"
    ws_path = "/api/3/ws/public"
