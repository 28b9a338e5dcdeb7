"""Records made again from a raw capture (``capture = true``, adapters/recorder.py).

A capture holds, in the order they came, what an adapter received: the markets it followed,
the start of each WebSocket session, every frame and every REST answer, each with the
``ts_recv`` its records carried. `aggregator normalize` runs them through the codec as the
daemon did: a fresh codec per session of each connection, the records of a market merged
with its previous one where the venue sends partial updates, a poll's unchanged records
dropped, every value checked. So a day captured before a codec fix can be made again with
the fix, and the records of a capture equal the live ones (but for ``seq`` and
``instance``, which the daemon gives on the way out).
"""

from __future__ import annotations

import base64
from typing import Any

from .adapters.base import Codec
from .errors import ParseError
from .records import Ticker
from .settling import settle
from .symbols import MarketTable

_PAYLOADS = ("open", "ws", "ws_b64", "rest", "rest_b64", "markets")


def is_capture(entry: Any) -> bool:
    """A line of a raw capture (a JSON object with ``recv_ns`` and one payload key)."""
    return (
        isinstance(entry, dict)
        and type(entry.get("recv_ns")) is int
        and any(k in entry for k in _PAYLOADS)
    )


class Recapture:
    """One venue's capture, line by line, into its records."""

    def __init__(self, codec_cls: type[Codec], table: MarketTable) -> None:
        self.codec_cls = codec_cls
        self.table = table
        self.followed = table  # the markets the adapter followed, once the capture says
        self.sessions: dict[Any, Codec] = {}  # connection -> its WebSocket session's codec
        self.pollers: dict[Any, Codec] = {}  # connection -> its REST poller's codec
        self.last: dict[str, Ticker] = {}  # each market's last record (the merge)

    def feed(self, entry: dict[str, Any]) -> list[Ticker]:
        """The records the daemon made of this line (none for a session start or a markets
        list); VenueError (ParseError among them) as the codec raises it."""
        ts, conn = entry["recv_ns"], entry.get("conn")
        if "markets" in entry:
            found = (self.table.lookup(str(native)) for native in entry["markets"])
            self.followed = MarketTable([m for m in found if m is not None])
            self.sessions.clear()
            self.pollers.clear()
            return []
        if "open" in entry:
            self.sessions[conn] = self.codec_cls(self.followed)
            return []
        if "ws" in entry or "ws_b64" in entry:
            codec = self.sessions.get(conn)
            if codec is None:
                codec = self.sessions[conn] = self.codec_cls(self.followed)
            return self._settled(codec.parse_frame(_payload(entry, "ws"), ts), dedupe=False)
        codec = self.pollers.get(conn)
        if codec is None:
            codec = self.pollers[conn] = self.codec_cls(self.followed)
        native = entry.get("market")
        market = self.followed.lookup(native) if isinstance(native, str) else None
        body = _payload(entry, "rest")
        return self._settled(codec.parse_rest(body, ts, market), dedupe=True)

    def _settled(self, records: list[Ticker], dedupe: bool) -> list[Ticker]:
        """What the adapter's emitter does to a payload's records (emitter.py)."""
        merge = self.codec_cls.MERGE
        last = self.last
        out = []
        for rec in records:
            prev = last.get(rec.native)
            settle(rec, prev if merge else None)
            if dedupe and prev is not None and rec.same_market_values(prev):
                continue
            last[rec.native] = rec
            out.append(rec)
        return out


def _payload(entry: dict[str, Any], key: str) -> bytes:
    text = entry.get(key)
    if isinstance(text, str):
        return text.encode()
    try:
        return base64.b64decode(entry[f"{key}_b64"], validate=True)
    except (KeyError, TypeError, ValueError):
        raise ParseError(f"a capture line with no readable {key!r} payload") from None
