"""The simulated venue's protocol, one module per venue: subscribe/ack, frames, REST bodies.

Frames are rendered in the venue's native format from a simulated quote, so the real
codecs parse them exactly as they parse the venue's own messages.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import orjson

from ...adapters.registry import DERIVATIVES, codec_class
from ...symbols import Market, snapshot_path


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
    path: str = ""  # the WebSocket's path (for venues with several endpoints: ws_routes)


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


FUNDING_INTERVAL_MS = 8 * 3600 * 1000


def derivative_values(q: Quote) -> tuple[float, float, float, int]:
    """A simulated derivative's mark and index prices, funding rate and next funding time
    (ms): the mark at the mid, the index a little under it, the funding every 8 h."""
    mark = (q.bid + q.ask) / 2
    next_funding = (q.ts_ms // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS
    return mark, mark * 0.9998, 0.0001 * (1 + q.updates % 3), next_funding


class Dialect:
    """One venue's side of the protocol; subclass per venue in dialects/<venue>.py."""

    venue: ClassVar[str] = ""
    kind: ClassVar[str] = "spot"  # a derivatives dialect's: its codec is DERIVATIVES'
    ws_path: ClassVar[str] = "/ws"
    ws_routes: ClassVar[tuple[str, ...]] = ()  # more WebSocket paths, for routed venues
    heartbeat_interval: ClassVar[float | None] = None

    def __init__(self, markets_body: bytes | None = None) -> None:
        """``markets_body``: the markets endpoint's answer (default: the shipped snapshot,
        ``VENUE-KIND.json`` for a derivatives dialect)."""
        codec = codec_class(self.venue, self.kind)
        shipped = self.venue if self.kind == "spot" else f"{self.venue}-{self.kind}"
        self.markets_body = markets_body or snapshot_path(shipped).read_bytes()
        self.markets: list[Market] = list(codec.markets_from(self.markets_body).markets)
        self.by_native = {m.native: m for m in self.markets}
        # The markets endpoint is served at the path of the venue's own.
        self.markets_path = urlsplit(codec.MARKETS_URL).path

    def on_connect(self, conn: ConnState) -> Sequence[str | bytes]:
        return []

    def on_message(self, conn: ConnState, msg: Any) -> Sequence[str | bytes]:
        raise NotImplementedError

    def tick(self, conn: ConnState, q: Quote) -> Sequence[str | bytes]:
        raise NotImplementedError

    def heartbeat(self, conn: ConnState) -> Sequence[str | bytes]:
        return []

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        """The REST answer for a path: by default the markets snapshot, else 404."""
        if path == self.markets_path:
            return 200, self.markets_body
        return 404, {"error": "not found"}


def dialect_class(venue: str, kind: str = "spot") -> type[Dialect]:
    """The dialect of a venue's markets of a kind, from aggregator/sim/dialects/<venue>.py
    (spot), or from the module named as the kind's codec module (gate_futures.py, say)."""
    name = venue if kind == "spot" else DERIVATIVES.get((venue, kind), ("", ""))[0]
    try:
        found = vars(importlib.import_module(f"{__name__}.{name}")).values() if name else ()
    except ModuleNotFoundError:
        found = ()
    classes = [
        c
        for c in found
        if isinstance(c, type) and issubclass(c, Dialect) and (c.venue, c.kind) == (venue, kind)
    ]
    if not classes:
        raise LookupError(f"no simulated dialect for {venue} {kind}")
    return classes[0]


def simulated() -> list[str]:
    """The venues with a simulated spot dialect."""
    here = Path(__file__).parent
    derivatives = {module for module, _ in DERIVATIVES.values()}
    return sorted(
        p.stem for p in here.glob("*.py") if p.stem != "__init__" and p.stem not in derivatives
    )


def simulated_derivatives() -> list[tuple[str, str]]:
    """The (venue, kind) pairs of derivatives with a simulated dialect."""
    here = Path(__file__).parent
    return sorted(k for k, (module, _) in DERIVATIVES.items() if (here / f"{module}.py").is_file())
