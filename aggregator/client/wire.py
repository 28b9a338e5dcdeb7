"""The socket protocol seen from a client: connecting, the subscribe line, lines as they
come, a line decoded into the daemon's record types, what an ack or error means."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from typing import Any, TextIO

import orjson

from ..consolidated import BBO, BBO_FIELDS
from ..records import (
    DERIVATIVE_TICKER_FIELDS,
    STATUS_FIELDS,
    TICKER_FIELDS,
    Derivative,
    Status,
    Ticker,
)

# What a subscriber receives as records: a venue's tickers and status records, and the
# consolidated view's best bid and offer.
Received = Ticker | Status | BBO


def subscribe_line(
    exchanges: Sequence[str] | None = None,
    symbols: Sequence[str] | None = None,
    types: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
) -> bytes | None:
    """The subscribe request for these filters, or None when there is no filter."""
    given = {"exchanges": exchanges, "symbols": symbols, "types": types, "kinds": kinds}
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


# Every record line starts so (records.dumps writes the "type" tag first).
RECORD_PREFIXES = (b'{"type":"ticker",', b'{"type":"status",', b'{"type":"bbo",')


def message(line: bytes) -> dict[str, Any] | None:
    """A line as a JSON object, or None when it is not one."""
    try:
        msg = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return msg if isinstance(msg, dict) else None


# The constructor's arguments of each record type: the fields of its line but those the
# type sets itself.
_TICKER_ARGS = tuple(f for f in TICKER_FIELDS if f != "type")
_DERIVATIVE_ARGS = tuple(f for f in DERIVATIVE_TICKER_FIELDS if f != "type")
_STATUS_ARGS = tuple(f for f in STATUS_FIELDS if f not in ("type", "symbol"))
_BBO_ARGS = tuple(f for f in BBO_FIELDS if f != "type")


def decode(msg: dict[str, Any]) -> Received | None:
    """A record line (already parsed) as the daemon's own record, None for another line."""
    kind = msg.get("type")
    if kind == "ticker":
        spot = msg.get("kind", "spot") == "spot"  # (else a Derivative, with mark, funding, ...)
        args = {k: msg[k] for k in (_TICKER_ARGS if spot else _DERIVATIVE_ARGS) if k in msg}
        if args.get("flags") is not None:
            args["flags"] = tuple(args["flags"])
        return Ticker(**args) if spot else Derivative(**args)
    if kind == "status":
        return Status(**{k: msg[k] for k in _STATUS_ARGS if k in msg})
    if kind == "bbo":
        args = {k: msg[k] for k in _BBO_ARGS if k in msg}
        if args.get("quotes") is not None:
            args["quotes"] = tuple(args["quotes"])
        return BBO(**args)
    return None


class Refused(Exception):
    """The daemon answered a request with an error, or can never send what was asked."""


def refusal(msg: dict[str, Any], asked: Sequence[str], *, answering: bool) -> str | None:
    """Why nothing asked for can come, from an ack or an error ``answering`` the subscribe
    line; None when something can."""
    kind = msg.get("type")
    if kind == "ack":
        notices = [n for n in msg.get("notices", ()) if isinstance(n, dict)]
        idle = {n.get("value") for n in notices if n.get("event") == "not_running"}
        if asked and idle.issuperset(asked):
            return "no exchange asked for runs in this daemon; nothing would come"
    elif kind == "error" and answering:
        return f"the daemon refused the filter: {msg.get('error')}"
    return None


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
    why = refusal(msg, asked, answering=answering)
    if kind == "ack":
        for n in msg.get("notices", ()):
            if isinstance(n, dict):
                print(f"{prog}: {n.get('message')}", file=err)
    if why is not None:
        raise Refused(why)
    if kind == "error":
        print(f"{prog}: the daemon says: {msg.get('error')}", file=err)
    elif kind == "notice" and msg.get("event") == "conflated":
        print(
            f"{prog}: behind the daemon: {msg.get('missed')} updates skipped "
            "(the latest value of each key was kept)",
            file=err,
        )
