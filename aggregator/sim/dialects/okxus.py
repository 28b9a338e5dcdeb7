"""OKX US, simulated: the OKX v5 protocol of the OKX dialect, with OKX US's markets."""

from __future__ import annotations

from .okx import OKXDialect


class OKXUSDialect(OKXDialect):
    venue = "okxus"
