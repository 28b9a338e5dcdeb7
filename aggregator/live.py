"""``aggregator tail --table``: the latest bid, ask and last of every venue and symbol, live.

One row per (exchange, symbol), redrawn in place about four times a second with rich; a
value older than ``stale`` seconds is dimmed, and a venue whose last status is not ``live``
shows it. Reading the socket and drawing run on one event loop: no thread touches the rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from dataclasses import dataclass
from typing import Any

import orjson
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .client import Refused, batches, connect, protocol_message, subscribe_line

REFRESH = 0.25  # seconds between redraws


@dataclass(slots=True)
class Row:
    bid: float | None = None
    ask: float | None = None
    last: float | None = None
    ts_recv: int = 0  # ns, the daemon's receive time of the latest record


class Board:
    """The latest values per (exchange, symbol) and the latest state per exchange."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Row] = {}
        self.states: dict[str, str] = {}
        self.records = 0

    def update(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        exchange = msg.get("exchange")
        if not isinstance(exchange, str):
            return
        if kind == "status":
            self.states[exchange] = str(msg.get("state"))
            return
        if kind != "ticker" or not isinstance(msg.get("symbol"), str):
            return
        self.records += 1
        row = self.rows.setdefault((exchange, msg["symbol"]), Row())
        row.bid, row.ask, row.last = msg.get("bid"), msg.get("ask"), msg.get("last")
        row.ts_recv = int(msg.get("ts_recv") or 0)

    def render(self, stale: float, now_ns: int | None = None) -> Table:
        now_ns = time.time_ns() if now_ns is None else now_ns
        venues = len({ex for ex, _ in self.rows})
        table = Table(
            title=f"aggregator: {venues} venues, {len(self.rows)} symbols",
            caption=f"values older than {stale:g}s are dimmed; Ctrl-C to quit",
            expand=False,
        )
        for name, justify in (
            ("exchange", "left"),
            ("symbol", "left"),
            ("bid", "right"),
            ("ask", "right"),
            ("last", "right"),
            ("age", "right"),
            ("state", "left"),
        ):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for (exchange, symbol), row in sorted(self.rows.items()):
            age = max(0.0, (now_ns - row.ts_recv) / 1e9) if row.ts_recv else None
            old = age is None or age > stale
            state = self.states.get(exchange, "")
            style = "dim" if old else ""
            table.add_row(
                exchange,
                symbol,
                Text(_price(row.bid), style=style),
                Text(_price(row.ask), style=style),
                Text(_price(row.last), style=style),
                Text("-" if age is None else f"{age:.1f}s", style=style),
                Text(state, style="" if state == "live" else "yellow"),
            )
        return table


def _price(value: float | None) -> str:
    return "-" if value is None else f"{value:.10g}"


async def live_table(
    path: str | None,
    tcp: str | None,
    exchanges: list[str] | None,
    symbols: list[str] | None,
    count: int | None,
    duration: float | None,
    stale: float,
) -> int:
    """Draw the table until Ctrl-C, ``duration`` seconds, or ``count`` tickers.

    The table starts once the daemon has acknowledged the filter: what it says of it
    (notices) is printed first, and a filter it refuses ends the command (2)."""
    where = f"tcp {tcp}" if tcp else f"socket {path}"
    try:
        reader, writer = await connect(path, tcp)
    except OSError as e:
        print(f"aggregator tail: cannot connect to {where}: {e.strerror or e}", file=sys.stderr)
        return 1
    board = Board()
    # Tickers for the rows, status records for the state column; the snapshot fills the rows.
    request = subscribe_line(exchanges, symbols, ["ticker", "status"])
    assert request is not None
    writer.write(request)
    try:
        await _acknowledged(reader, list(exchanges or ()))
    except (Refused, ConnectionError) as e:
        writer.close()
        refused = isinstance(e, Refused)
        why = str(e) if refused else f"connection to {where} closed by the daemon"
        print(f"aggregator tail: {why}", file=sys.stderr)
        return 2 if refused else 1
    console = Console()
    loop = asyncio.get_running_loop()
    end = loop.time() + duration if duration else None
    rc = 0
    try:
        with Live(board.render(stale), console=console, auto_refresh=False) as live:
            reading = asyncio.ensure_future(_read(reader, board, count))
            try:
                while not reading.done():
                    wait = REFRESH if end is None else min(REFRESH, end - loop.time())
                    if wait <= 0:
                        break
                    await asyncio.wait({reading}, timeout=wait)
                    live.update(board.render(stale), refresh=True)
            finally:
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    closed = await reading
                    if closed:
                        rc = 1
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    if rc:
        print(f"aggregator tail: connection to {where} closed by the daemon", file=sys.stderr)
    return rc


async def _acknowledged(reader: asyncio.StreamReader, asked: list[str]) -> None:
    """Skip to the ack of the subscribe (lines before it were sent under no filter), saying
    its notices; Refused if the daemon refuses the filter, ConnectionError if it closes."""
    while line := await reader.readline():
        try:
            msg = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(msg, dict) and msg.get("type") in ("ack", "error"):
            protocol_message(msg, asked, sys.stderr, answering=True)
            if msg["type"] == "ack":
                return
    raise ConnectionError("closed")


async def _read(reader: asyncio.StreamReader, board: Board, count: int | None) -> bool:
    """Apply every line to the board; True when the daemon closed the connection."""
    with contextlib.suppress(ConnectionError):
        async with contextlib.aclosing(batches(reader)) as stream:
            async for batch in stream:
                for line in batch:
                    try:
                        msg = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        continue
                    if not isinstance(msg, dict):
                        continue
                    board.update(msg)
                    if count is not None and board.records >= count:
                        return False
    return True
