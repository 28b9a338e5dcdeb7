"""What the codec tests of several modules do alike: frames through a codec, and the records
settled per market as the adapter's emitter settles them."""

from __future__ import annotations

from collections.abc import Sequence

from aggregator.adapters.base import Codec
from aggregator.records import Ticker


def parse_all(c: Codec, raws: Sequence[str | bytes]) -> list[Ticker]:
    """Every record the frames make, in order (frame i received at time i + 1)."""
    out: list[Ticker] = []
    for i, raw in enumerate(raws):
        out.extend(c.parse_frame(raw, i + 1))
    return out


def merged(records: list[Ticker]) -> dict[str, Ticker]:
    """Each market's last record, the records settled in order against the market's
    previous one (a merged channel's rule), keyed by the venue's id."""
    last: dict[str, Ticker] = {}
    for r in records:
        r.settle(last.get(r.native))
        last[r.native] = r
    return last
