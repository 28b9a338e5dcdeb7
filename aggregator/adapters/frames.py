"""The per-message path of a WebSocket session: a frame parsed by the codec (or taken by
the compiled path) and its records handed to the emitter, in the connection's read callback.

Nothing here awaits or allocates per frame beyond what the codec and the emitter do: the
handlers bind what they call once per session.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from ..errors import ParseError, VenueNotice
from . import fastpath
from .base import SHAPE_ERRORS, Codec
from .emitter import Connection, Emitter
from .stream import CompiledFrames, FrameCallback

FrameHandler = Callable[[bytes], "list[str] | None"]


def frame_handler(emitter: Emitter, codec: Codec, conn: Connection) -> FrameHandler:
    """Parse, emit, hand back the codec's replies to the venue.

    A VenueError other than a notice ends the session (it propagates to wait_closed).
    With the compiled path, a frame it does not take (-1) goes to the codec.
    """
    parse = codec.parse_ws
    emit = emitter.emit
    now = time.time_ns
    failed = emitter.parse_failed
    replies = codec.replies
    fast = emitter.fast
    if fast is not None:
        feed = fast.feed
        sync = fast.sync
        batch = emitter.batch
        flush_at = emitter.FLUSH_AT
        on_record = emitter.compiled_record

        def on_fast_message(raw: bytes) -> list[str] | None:
            made = feed(raw)  # (it reads the clock itself)
            if made > 0:
                conn.records += 1
                n = len(batch)
                if n == 1 or n >= flush_at or not conn.live:  # as the C reader decides
                    on_record(conn)
                return replies
            if made == 0:
                return replies
            sync()
            return on_message(raw)

    def on_message(raw: bytes) -> list[str] | None:
        try:
            records = parse(raw, now())
        except (ParseError, VenueNotice) as e:
            failed(e, conn)
            return replies
        except SHAPE_ERRORS as e:  # a payload of a shape the codec did not expect
            failed(ParseError(f"unexpected payload: {e!r}"), conn)
            return replies
        if records:
            emit(records, conn)
        return replies

    return on_message if fast is None else on_fast_message


def frame_reader(emitter: Emitter, conn: Connection) -> CompiledFrames | None:
    """With the compiled path, what makes the session's frame callback in C (picows's
    frames into the feed, no Python call per frame): see fastpath.frame_reader. What it
    does not take goes to the listener's handler, and so to `frame_handler`'s."""
    fast = emitter.fast
    if fast is None:
        return None

    on_record = functools.partial(emitter.compiled_record, conn)

    def compiled(
        fallback: FrameCallback, fail: Callable[[Any, BaseException], None]
    ) -> FrameCallback | None:
        conn.reader = fastpath.frame_reader(fast, fallback, on_record, fail, emitter.FLUSH_AT)
        return conn.reader  # type: ignore[no-any-return]

    return compiled
