"""A socket client: ``aggregator tail`` prints the daemon's stream, optionally filtered."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncGenerator, Sequence
from typing import Any, TextIO

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


# Every record line starts so (records.dumps and the compiled path write "type" first).
RECORD_PREFIXES = (b'{"type":"ticker",', b'{"type":"status",', b'{"type":"bbo",')


def _message(line: bytes) -> dict[str, Any] | None:
    try:
        msg = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return msg if isinstance(msg, dict) else None


class Refused(Exception):
    """The daemon answered a request with an error, or can never send what was asked."""


def protocol_message(
    msg: dict[str, Any],
    asked: Sequence[str],
    err: TextIO,
    *,
    answering: bool,
    prog: str = "aggregator tail",
) -> None:
    """Say on ``err`` what a person must know of a protocol line: the ack's notices, an
    error, a conflation. Raise Refused when nothing asked for can come: an error
    ``answering`` the subscribe, or an ack saying that no exchange ``asked`` for runs in
    the daemon."""
    kind = msg.get("type")
    if kind == "ack":
        notices = [n for n in msg.get("notices", ()) if isinstance(n, dict)]
        for n in notices:
            print(f"{prog}: {n.get('message')}", file=err)
        idle = {n.get("value") for n in notices if n.get("event") == "not_running"}
        if asked and idle.issuperset(asked):
            raise Refused("no exchange asked for runs in this daemon; nothing would come")
    elif kind == "error":
        if answering:
            raise Refused(f"the daemon refused the filter: {msg.get('error')}")
        print(f"{prog}: the daemon says: {msg.get('error')}", file=err)
    elif kind == "notice" and msg.get("event") == "conflated":
        print(
            f"{prog}: behind the daemon: {msg.get('missed')} updates skipped "
            "(the latest value of each key was kept)",
            file=err,
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
        request = subscribe_line(exchanges, symbols, types)
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
                        msg = _message(line)
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
