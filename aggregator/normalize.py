"""`aggregator normalize`: the codecs, offline, on captured payloads (one JSON per line)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from . import venues
from .adapters.registry import codec_class, modes
from .errors import AggregatorError, ParseError, VenueError
from .records import dumps, now_ns
from .symbols import FixedSymbol, MarketTable, read_cache, snapshot_path


def market_table(venue: str, state_dir: Path | None) -> tuple[MarketTable, str]:
    """The venue's markets from the daemon's cache, else the snapshot shipped with the package."""
    cls = codec_class(venue)
    from .config import DaemonConfig

    cached = read_cache(state_dir or DaemonConfig().state_dir, venue)
    if cached:
        try:
            return cls.markets_from(cached[0]), "markets cache"
        except (ParseError, ValueError):
            pass
    return cls.markets_from(snapshot_path(venue).read_bytes()), "markets snapshot"


def normalize(
    exchange: str,
    mode: str,
    symbol: str | None,
    state_dir: Path | None,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    stderr: TextIO = sys.stderr,
) -> int:
    venue = venues.resolve(exchange).venue
    if mode not in modes(venue):
        raise AggregatorError(f"{venue} has no {mode} adapter (it has: {', '.join(modes(venue))})")
    table = FixedSymbol(symbol) if symbol else market_table(venue, state_dir)[0]
    codec = codec_class(venue)(table)
    market = table.lookup("") if symbol else None
    out = stdout.buffer if hasattr(stdout, "buffer") else None
    bad = 0
    for n, line in enumerate(stdin, start=1):
        line = line.strip()
        if not line:
            continue
        try:
            if mode == "ws":
                records = codec.parse_frame(line, now_ns())
            else:
                records = codec.parse_rest(line.encode(), now_ns(), market)
        except VenueError as e:  # ParseError too: both parsers convert shape errors
            bad += 1
            hint = (
                " (pass --symbol: this response does not name its market)"
                if ("needs its market" in str(e))
                else ""
            )
            print(f"line {n}: {e}{hint}", file=stderr)
            continue
        for r in records:
            r.settle(None)  # checked as the daemon does (not merged: one payload, one record)
            if out is not None:
                out.write(dumps(r))
            else:
                stdout.write(dumps(r).decode())
        if out is not None:
            out.flush()
    return 1 if bad else 0
