"""The compiled frame paths (``_fastpath.c``), for the venues that carry most of the traffic.

A fast path takes a raw frame and does, in one C call, what the codec, the merge and the
serialiser do in Python: it appends the merged record's JSON line and a light record (what
the sinks read: exchange, symbol, ts_recv, seq, key()) to the adapter's batch, or says the
frame is of a market not followed, or that it does not take the frame, which then goes to
the codec. The merged Ticker is made once per market per batch, for the merge state and
the hub's latest values. Lines and Tickers are the ones the Python path makes, to the byte
(tests/test_fastpath.py).

The extension is built when the package is installed with a C compiler at hand; without
it, or with ``AGGREGATOR_PURE_PYTHON=1`` in the environment, every frame takes the Python
path.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from typing import Any, Protocol

import orjson

from ..records import Record, Ticker
from ..symbols import MarketTable
from .stream import FrameCallback

try:
    from ._fastpath import BinanceFeed, FrameReader, check_frame_layout
except ImportError:  # built without a C compiler
    BinanceFeed = FrameReader = check_frame_layout = None

log = logging.getLogger(__name__)


class FastPath(Protocol):
    seq: int

    def feed(self, raw: bytes, ts_recv: int = ...) -> int:
        """1: a record and its line appended; 0: a market not followed; -1: not taken
        (then sync() and the codec). ts_recv: now, unless given."""

    def sync(self) -> None:
        """Put the latest record of each market it made into ``last`` (for the codec)."""

    def take_latest(self) -> list[Record]:
        """sync(); the latest record of each market made since the last call, oldest first."""


def available() -> bool:
    """The compiled paths are built and not switched off."""
    return BinanceFeed is not None and not os.environ.get("AGGREGATOR_PURE_PYTHON")


def binance_feed(
    venue: str,
    table: MarketTable,
    last: dict[str, Ticker],
    records: list[Any],
    lines: list[bytes],
    instance: str | None,
) -> FastPath | None:
    """The compiled path of Binance's bookTicker and 24hrTicker frames, if available."""
    if not available():
        return None
    markets = {}
    for native, m in table.by_id.items():  # every id the codec's lookup knows
        head = orjson.dumps(
            {"type": "ticker", "exchange": venue, "symbol": m.symbol, "native": native}
        )
        markets[native] = (m.symbol, head[:-1] + b",")  # the line up to the first number
    feed: FastPath = BinanceFeed(
        venue, markets, last, records, lines, Ticker, orjson.dumps, instance
    )
    return feed


@functools.cache
def frames_in_c() -> bool:
    """Whether picows's frames can be read in C: its WSFrame has the layout the compiled
    path was written for (checked on test frames, once).

    The check needs a private helper of picows (``_make_test_ws_frame``): if a version of
    picows moves, changes or drops it, that is said once in the log and frames are read in
    Python, never a failed start."""
    if not available():
        return False
    try:
        from picows import WSFrame, WSMsgType
        from picows.picows import _make_test_ws_frame

        return bool(
            check_frame_layout(
                WSFrame, _make_test_ws_frame, WSMsgType.TEXT.value, WSMsgType.BINARY.value
            )
        )
    except Exception as e:  # whatever the library's change makes the check raise
        log.warning(
            "picows frames read in Python: their layout cannot be checked (%s: %s)",
            type(e).__name__,
            e,
        )
        return False


def frame_reader(
    feed: FastPath,
    fallback: FrameCallback,
    on_made: Callable[[], None],
    fail: Callable[[Any, BaseException], None],
    flush_at: int,
) -> FrameCallback | None:
    """A session's on_ws_frame that hands whole text frames to `feed` from picows's read
    buffer, with no Python call per frame; None if frames cannot be read in C.

    `fallback(transport, frame)` gets every other frame and those the feed does not take;
    `on_made()` is called when a record begins a batch, fills one (`flush_at`) or is the
    session's first; `fail(transport, error)` gets an error raised on the way. The reader's
    `records` counts what it made; set its `held` while a fragmented message is open."""
    if not frames_in_c():
        return None
    reader: FrameCallback = FrameReader(feed, fallback, on_made, fail, flush_at)
    return reader
