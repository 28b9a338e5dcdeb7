"""``aggregator status``: one table of every venue, asked of the running daemon's socket."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import orjson

from .client import batches, connect

TIMEOUT = 5.0  # seconds for the whole exchange with the daemon
REQUEST = b'{"op":"status"}\n'

COLUMNS = (  # header, key, alignment
    ("exchange", "exchange", "<"),
    ("mode", "mode", "<"),
    ("state", "state", "<"),
    ("records", "records", ">"),
    ("rate/s", "rate", ">"),
    ("last record", "last_record_age", ">"),
    ("reconnects", "reconnects", ">"),
    ("parse err", "parse_errors", ">"),
    ("venue err", "venue_errors", ">"),
    ("429s", "rate_limited", ">"),
)


async def fetch(path: str | None, tcp: str | None) -> dict[str, Any]:
    """The daemon's status report. Records the daemon streams before it are skipped.

    Raises OSError when the daemon cannot be reached, TimeoutError when it does not answer,
    ValueError when it answers with an error.
    """
    reader, writer = await connect(path, tcp)
    try:
        writer.write(REQUEST)
        async with asyncio.timeout(TIMEOUT), contextlib.aclosing(batches(reader)) as stream:
            async for batch in stream:
                for line in batch:
                    if b'"status_report"' not in line and b'"error"' not in line:
                        continue  # a record streamed to every new client
                    msg = orjson.loads(line)
                    if msg.get("type") == "status_report":
                        return dict(msg)
                    if msg.get("type") == "error":
                        raise ValueError(str(msg.get("error")))
        raise ConnectionError("the daemon closed the connection")
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key == "last_record_age":
        return _age(float(value))
    if key == "rate":
        return f"{float(value):.1f}"
    return str(value)


def _age(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m{seconds % 60:02.0f}s"
    return f"{seconds / 3600:.0f}h{seconds % 3600 / 60:02.0f}m"


def table(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Plain aligned columns, one line per venue (and kind of market: "binance perp")."""
    rows = [
        {**row, "exchange": f"{row['exchange']} {row['kind']}"}
        if row.get("kind", "spot") != "spot"
        else row
        for row in rows
    ]
    cells = [[h for h, _, _ in COLUMNS]]
    cells += [[_cell(key, row.get(key)) for _, key, _ in COLUMNS] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
    out = []
    for r in cells:
        parts = [f"{c:{align}{w}}" for c, w, (_, _, align) in zip(r, widths, COLUMNS, strict=True)]
        out.append("  ".join(parts).rstrip())
    return out


def render(report: dict[str, Any]) -> list[str]:
    """The report as lines: the venue table, then the daemon and its sinks."""
    lines = table(report.get("venues", []))
    lines.append("")
    health = "healthy" if report.get("healthy") else "UNHEALTHY"
    lines.append(
        f"daemon: {health}; up {_age(float(report.get('uptime', 0)))}; "
        f"published {report.get('published', 0)}; "
        f"loop lag {float(report.get('loop_lag', 0)) * 1000:.1f} ms "
        f"(max {float(report.get('loop_lag_max', 0)) * 1000:.1f} ms in 60 s)"
    )
    for reason in report.get("reasons", []):
        lines.append(f"  - {reason}")
    for name, stats in sorted(report.get("sinks", {}).items()):
        values = " ".join(f"{k}={v}" for k, v in stats.items())
        lines.append(f"sink {name}: {values}")
    return lines


async def status(path: str | None, tcp: str | None, as_json: bool, out: TextIO) -> int:
    """Print the table (or the JSON report); 1 with the reason when the daemon is not there."""
    where = f"tcp {tcp}" if tcp else f"socket {path}"
    try:
        report = await fetch(path, tcp)
    except (FileNotFoundError, ConnectionRefusedError) as e:
        why = e.strerror or str(e)
        print(
            f"aggregator status: cannot connect to {where}: {why} (is the daemon running?)",
            file=sys.stderr,
        )
        return 1
    except (OSError, TimeoutError, ValueError) as e:
        why = "no answer in time" if isinstance(e, TimeoutError) else str(e)
        print(f"aggregator status: {where}: {why}", file=sys.stderr)
        return 1
    if as_json:
        out.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        out.write("\n".join(render(report)) + "\n")
    return 0
