"""``aggregator tail``: the daemon's stream on standard output, optionally filtered."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from typing import TextIO

from .wire import (
    RECORD_PREFIXES,
    Refused,
    batches,
    connect,
    message,
    protocol_message,
    subscribe_line,
)


async def tail(
    path: str | None,
    tcp: str | None,
    exchanges: Sequence[str] | None,
    symbols: Sequence[str] | None,
    types: Sequence[str] | None,
    count: int | None,
    out: TextIO,
    *,
    err: TextIO | None = None,
    protocol: bool = False,
    kinds: Sequence[str] | None = None,
) -> int:
    """Write the daemon's records to ``out``, and only them (``| jq`` reads records); stop
    after ``count`` records.

    Protocol lines (ack, snapshot_end, pong, notices) are not records: what a person must
    know of them goes to ``err`` (standard error by default); with ``protocol`` they are
    also written to ``out``, in order. Returns 0 once ``count`` records are written; 1 if
    it cannot connect or the daemon closes the connection first; 2 if the daemon refuses
    the filter, or can never send anything it names (with the reason on ``err``).
    """
    err = err or sys.stderr  # (looked up now: it may have been replaced since import)
    where = f"tcp {tcp}" if tcp else f"socket {path}"
    try:
        reader, writer = await connect(path, tcp)
    except OSError as e:
        print(f"aggregator tail: cannot connect to {where}: {e.strerror or e}", file=err)
        return 1
    seen = 0
    asked = list(exchanges or ())
    try:
        request = subscribe_line(exchanges, symbols, types, kinds)
        # Lines before the ack were sent under no filter: a filtered tail skips them.
        waiting = request is not None
        if request:
            writer.write(request)
        async with contextlib.aclosing(batches(reader)) as stream:
            async for batch in stream:
                kept: list[bytes] = []
                for line in batch:
                    record = line.startswith(RECORD_PREFIXES)
                    if not record:
                        msg = message(line)
                        kind = msg.get("type") if msg is not None else None
                        record = kind in ("ticker", "status", "bbo")
                        if not record and msg is not None:
                            if kind in ("ack", "error") or not waiting:
                                protocol_message(msg, asked, err, answering=waiting)
                            waiting = waiting and kind != "ack"
                    if waiting:
                        continue
                    if record or protocol:
                        kept.append(line)
                    if record and count is not None:
                        seen += 1
                        if seen >= count:
                            break
                if kept:
                    out.write(b"".join(kept).decode("utf-8", "replace"))
                    out.flush()
                if count is not None and seen >= count:
                    return 0
        why = "closed by the daemon"
    except Refused as e:
        print(f"aggregator tail: {e}", file=err)
        return 2
    except ConnectionError as e:
        why = f"lost: {e.strerror or e}"
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    print(f"aggregator tail: connection to {where} {why}", file=err)
    return 1
