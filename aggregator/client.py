"""A socket client: ``aggregator tail`` prints the daemon's stream, optionally filtered."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncGenerator, Sequence
from typing import TextIO

import orjson


def subscribe_line(
    exchanges: Sequence[str] | None = None,
    symbols: Sequence[str] | None = None,
    types: Sequence[str] | None = None,
) -> bytes | None:
    """The subscribe request for these filters, or None when there is no filter."""
    given = {"exchanges": exchanges, "symbols": symbols, "types": types}
    msg = {k: list(v) for k, v in given.items() if v}
    return orjson.dumps({"op": "subscribe", **msg}) + b"\n" if msg else None


async def connect(
    path: str | None, tcp: str | None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open ``tcp`` ("host:port") when given, else the Unix socket ``path``."""
    if tcp:
        host, _, port = tcp.rpartition(":")
        if not port.isdigit():
            raise OSError(f"expected host:port, got {tcp!r}")
        return await asyncio.open_connection(host.strip("[]") or "127.0.0.1", int(port))
    if not path:
        raise OSError("no socket path given")
    return await asyncio.open_unix_connection(path)


async def batches(reader: asyncio.StreamReader) -> AsyncGenerator[list[bytes], None]:
    """The complete lines (with their newline) as they arrive, until end of stream."""
    buf = b""
    while data := await reader.read(1 << 16):
        *lines, buf = (buf + data).split(b"\n")
        if lines:
            yield [line + b"\n" for line in lines]


def _kind(line: bytes) -> str | None:
    try:
        msg = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return msg.get("type") if isinstance(msg, dict) else None


def is_record(line: bytes) -> bool:
    """A ticker or status line (not an ack, snapshot_end, notice, pong or error)."""
    return _kind(line) in ("ticker", "status")


async def tail(
    path: str | None,
    tcp: str | None,
    exchanges: Sequence[str] | None,
    symbols: Sequence[str] | None,
    types: Sequence[str] | None,
    count: int | None,
    out: TextIO,
) -> int:
    """Write every line from the daemon to ``out``; stop after ``count`` records.

    Returns 0 once ``count`` records are written, 1 if it cannot connect or the daemon
    closes the connection first (with the reason on stderr).
    """
    where = f"tcp {tcp}" if tcp else f"socket {path}"
    try:
        reader, writer = await connect(path, tcp)
    except OSError as e:
        print(f"aggregator tail: cannot connect to {where}: {e.strerror or e}", file=sys.stderr)
        return 1
    seen = 0
    try:
        request = subscribe_line(exchanges, symbols, types)
        # Lines before the ack were sent under no filter: a filtered tail skips them.
        waiting = request is not None
        if request:
            writer.write(request)
        async with contextlib.aclosing(batches(reader)) as stream:
            async for batch in stream:
                if waiting:
                    acked = [i for i, line in enumerate(batch) if _kind(line) == "ack"]
                    if not acked:
                        continue
                    batch = batch[acked[0] :]
                    waiting = False
                end = len(batch)
                if count is not None:
                    for i, line in enumerate(batch):
                        seen += is_record(line)
                        if seen >= count:
                            end = i + 1
                            break
                out.write(b"".join(batch[:end]).decode("utf-8", "replace"))
                out.flush()
                if count is not None and seen >= count:
                    return 0
        why = "closed by the daemon"
    except ConnectionError as e:
        why = f"lost: {e.strerror or e}"
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    print(f"aggregator tail: connection to {where} {why}", file=sys.stderr)
    return 1
