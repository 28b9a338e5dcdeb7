"""The per-message path of a WebSocket session: a frame parsed by the codec and its records
handed to the emitter, in the connection's read callback.

Nothing here awaits or allocates per frame beyond what the codec and the emitter do: the
handler binds what it calls once per session.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..errors import ParseError, VenueNotice
from . import routes
from .base import SHAPE_ERRORS, Codec
from .emitter import Connection, Emitter

FrameHandler = Callable[[bytes], "list[str] | None"]


def frame_handler(emitter: Emitter, codec: Codec, conn: Connection) -> FrameHandler:
    """Parse, hand the records to the emitter (for the end of the read), hand back the
    codec's replies to the venue: the codec's routes read in C where they describe the
    frame (routes.reader), its parse_ws for every other frame.

    A VenueError other than a notice ends the session (it propagates to wait_closed).
    """
    parse = codec.parse_ws
    # with a batch publisher (the daemon's hub), records wait for the end of the read
    take = emitter.take if emitter.publish_batch is not None else emitter.emit
    now = time.time_ns
    failed = emitter.parse_failed
    replies = codec.replies

    # raw capture, when configured: each frame before the codec reads it (recorder.py)
    keep = emitter.recorder.frame if emitter.recorder is not None else None
    index = conn.index

    def on_message(raw: bytes) -> list[str] | None:
        ts = now()
        if keep is not None:
            keep(index, ts, raw)
        try:
            records = parse(raw, ts)
        except (ParseError, VenueNotice) as e:
            failed(e, conn)
            return replies
        except SHAPE_ERRORS as e:  # a payload of a shape the codec did not expect
            failed(ParseError(f"unexpected payload: {e!r}"), conn)
            return replies
        if records:
            take(records, conn)
        return replies

    return routes.reader(codec, on_message, emitter, conn) or on_message
