"""``aggregator tail --table``: the latest bid, ask and last of every venue and symbol, live.

One row per (exchange, symbol), redrawn in place about four times a second with rich; a
value older than ``stale`` seconds is dimmed, and a venue whose last status is not ``live``
shows it. A symbol's prices have one number of decimals in every row (the most any venue
sent for it), so that they line up. Rows that do not fit the terminal are counted in the
caption, and keys page through them (n/p, PgDn/PgUp) or filter them (/ then text). Reading
the socket, the keys and drawing run on one event loop: no thread touches the rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import termios
import time
import tty
from dataclasses import dataclass
from typing import Any

import orjson
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .client import Refused, batches, connect, protocol_message, subscribe_line
from .config import kind_of

REFRESH = 0.25  # seconds between redraws
CHROME = 8  # terminal lines the table takes besides its rows: title, borders, header, caption
MAX_DECIMALS = 10


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
        self.decimals: dict[str, int] = {}  # symbol -> decimals shown (only grows)
        self.records = 0

    def update(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        exchange = msg.get("exchange")
        if not isinstance(exchange, str):
            return
        if kind == "status":  # (per adapter: a venue's spot and perp ones apart)
            self.states[_adapter(exchange, str(msg.get("kind", "spot")))] = str(msg.get("state"))
            return
        if kind != "ticker" or not isinstance(msg.get("symbol"), str):
            return
        self.records += 1
        row = self.rows.setdefault((exchange, msg["symbol"]), Row())
        row.bid, row.ask, row.last = msg.get("bid"), msg.get("ask"), msg.get("last")
        row.ts_recv = int(msg.get("ts_recv") or 0)
        places = self.decimals.get(msg["symbol"], 0)
        for v in (row.bid, row.ask, row.last):
            if isinstance(v, int | float):
                places = max(places, _decimals(v))
        self.decimals[msg["symbol"]] = places

    def render(
        self, stale: float, now_ns: int | None = None, height: int = 0, pager: Pager | None = None
    ) -> Table:
        """The table of the rows that match the pager's filter, its page of them when
        ``height`` (terminal lines) is too small for all; the caption says what is hidden."""
        now_ns = time.time_ns() if now_ns is None else now_ns
        pager = pager or Pager()
        venues = len({ex for ex, _ in self.rows})
        rows = sorted(self.rows.items())
        if pager.pattern:
            rows = [r for r in rows if pager.pattern in f"{r[0][0]} {r[0][1]}".lower()]
        fit = max(1, height - CHROME) if height else len(rows) or 1
        pages = max(1, -(-len(rows) // fit))
        pager.page = min(max(pager.page, 0), pages - 1)
        first = pager.page * fit
        shown = rows[first : first + fit]
        caption = f"values older than {stale:g}s are dimmed; Ctrl-C to quit"
        hidden = len(self.rows) - len(shown)
        if hidden:
            caption = (
                f"rows {first + 1 if shown else 0}-{first + len(shown)} of {len(rows)}"
                f"{' matching' if pager.pattern else ''}, {hidden} hidden: "
                f"n/p to page, / to filter; {caption}"
            )
        if pager.typing or pager.pattern:
            caption += f"\nfilter: {pager.pattern}{'_' if pager.typing else ''}"
        table = Table(
            title=f"aggregator: {venues} venues, {len(self.rows)} symbols",
            caption=caption,
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
        for (exchange, symbol), row in shown:
            age = max(0.0, (now_ns - row.ts_recv) / 1e9) if row.ts_recv else None
            old = age is None or age > stale
            state = self.states.get(_adapter(exchange, kind_of(symbol)), "")
            style = "dim" if old else ""
            places = self.decimals.get(symbol, 0)
            table.add_row(
                exchange,
                symbol,
                Text(_price(row.bid, places), style=style),
                Text(_price(row.ask, places), style=style),
                Text(_price(row.last, places), style=style),
                Text("-" if age is None else f"{age:.1f}s", style=style),
                Text(state, style="" if state == "live" else "yellow"),
            )
        return table


@dataclass(slots=True)
class Pager:
    """Which page of the rows is shown, and the filter typed after '/'."""

    page: int = 0
    pattern: str = ""  # lower case; rows whose "exchange symbol" contain it
    typing: bool = False  # keys go to the pattern until Enter (Esc clears it)

    def key(self, data: bytes) -> None:
        """Apply what the terminal sent: one key, or an escape sequence."""
        if self.typing:
            if data in (b"\r", b"\n"):
                self.typing = False
            elif data == b"\x1b":
                self.pattern, self.typing = "", False
            elif data in (b"\x7f", b"\x08"):
                self.pattern = self.pattern[:-1]
            else:
                text = data.decode("utf-8", "ignore")
                self.pattern += "".join(c for c in text if c.isprintable()).lower()
            self.page = 0
        elif data in (b"n", b" ", b"\x1b[6~", b"\x1b[B"):
            self.page += 1  # (render keeps it within the pages)
        elif data in (b"p", b"\x1b[5~", b"\x1b[A"):
            self.page = max(0, self.page - 1)
        elif data == b"/":
            self.typing = True
        elif data == b"\x1b":
            self.pattern, self.page = "", 0


def _decimals(value: float) -> int:
    """Decimals of a venue's number as sent (shortest form), at most MAX_DECIMALS."""
    text = f"{value:.{MAX_DECIMALS}f}".rstrip("0")
    return len(text) - text.index(".") - 1


def _price(value: float | None, places: int) -> str:
    return "-" if value is None else f"{value:.{places}f}"


@contextlib.contextmanager
def _keys(pager: Pager) -> Any:
    """Keys from the terminal to the pager while the table is drawn (none when stdin is not
    a terminal); the terminal's mode is restored on the way out."""
    fd = sys.stdin.fileno() if sys.stdin is not None and sys.stdin.isatty() else -1
    if fd < 0:
        yield
        return
    saved = termios.tcgetattr(fd)
    loop = asyncio.get_running_loop()

    def read() -> None:
        with contextlib.suppress(OSError):
            pager.key(os.read(fd, 32))

    tty.setcbreak(fd)  # keys one by one, unechoed; Ctrl-C still interrupts
    loop.add_reader(fd, read)
    try:
        yield
    finally:
        loop.remove_reader(fd)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


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
    pager = Pager()

    def draw() -> Table:
        return board.render(stale, height=console.size.height, pager=pager)

    try:
        with _keys(pager), Live(draw(), console=console, auto_refresh=False) as live:
            reading = asyncio.ensure_future(_read(reader, board, count))
            try:
                while not reading.done():
                    wait = REFRESH if end is None else min(REFRESH, end - loop.time())
                    if wait <= 0:
                        break
                    await asyncio.wait({reading}, timeout=wait)
                    live.update(draw(), refresh=True)
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


def _adapter(exchange: str, kind: str) -> str:
    """The adapter a status record is of: "binance", "binance:perp"."""
    return exchange if kind == "spot" else f"{exchange}:{kind}"
