"""`aggregator normalize`: the codecs, offline, on captured payloads (one JSON per line).

Captures come from this daemon and from other programs, of markets the shipped snapshot may
not list. Every payload is accounted for: it gives records, or is one with no ticker in it
(an ack, a heartbeat, another channel), or is refused with a line on stderr saying why, or
names a market that could not be identified (counted, with the ids and how to name them).
A summary on stderr adds them up; the exit status is 1 when anything was refused or lost.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import orjson

from . import venues
from .adapters.base import SHAPE_ERRORS
from .adapters.registry import codec_class, kinds, modes
from .capture import CaptureTable, decode, describe, unwrap
from .errors import AggregatorError, ParseError, VenueError
from .recapture import Recapture, is_capture
from .records import Ticker, dumps, now_ns
from .symbols import Market, MarketTable, read_cache, snapshot_path

_DERIVATIVE = re.compile(r"PERP|SWAP|F0|[-_]\d{6}\b|-[CP]$")


def market_table(venue: str, state_dir: Path | None, kind: str = "spot") -> tuple[MarketTable, str]:
    """The venue's markets (of that kind) from the daemon's cache, else the snapshot shipped
    with the package."""
    cls = codec_class(venue, kind)
    from .config import DaemonConfig

    name = venue if kind == "spot" else f"{venue}-{kind}"  # (as the daemon caches them)
    cached = read_cache(state_dir or DaemonConfig().state_dir, name)
    if cached:
        try:
            return _of_kind(cls.markets_from(cached[0]), kind), "markets cache"
        except (ParseError, ValueError):
            pass
    return _of_kind(cls.markets_from(snapshot_path(name).read_bytes()), kind), "markets snapshot"


def _of_kind(table: MarketTable, kind: str) -> MarketTable:
    """The table's markets of one kind (a codec may list a venue's perpetuals and futures)."""
    if all(m.kind == kind for m in table.markets):
        return table
    return MarketTable([m for m in table.markets if m.kind == kind])


class ListedOnly(CaptureTable):
    """A derivatives capture's markets: the venue's list's only. A contract's id does not say
    its size or expiry, so none is derived from it; the ids not listed are counted."""

    def _find(self, native: str) -> Market | None:
        m = self.by_id.get(native) or self.known.by_id.get(native)
        if m is None:
            self.missed.append(native)
        return m


def markets_file(venue: str, path: Path, kind: str = "spot") -> MarketTable:
    """``--markets FILE``: the venue's raw markets response, as its markets endpoint sends it."""
    try:
        return _of_kind(codec_class(venue, kind).markets_from(path.read_bytes()), kind)
    except OSError as e:
        raise AggregatorError(f"--markets {str(path)!r}: {e.strerror or e}") from None
    except (ParseError, ValueError) as e:
        raise AggregatorError(
            f"--markets {str(path)!r}: not a {venue} markets response ({e})"
        ) from None


@dataclass
class Tally:
    """What became of the payloads."""

    payloads: int = 0
    with_records: int = 0
    records: int = 0
    empty: int = 0  # no ticker in them: acks, heartbeats, other channels
    refused: int = 0  # said on stderr, line by line
    unknown: int = 0  # named only markets that could not be identified
    symbols: Counter[str] = field(default_factory=Counter)


def normalize(
    exchange: str,
    mode: str,
    symbol: str | None,
    state_dir: Path | None,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    stderr: TextIO = sys.stderr,
    markets: Path | None = None,
    kind: str = "spot",
) -> int:
    venue = venues.resolve(exchange).venue
    if kind not in kinds(venue):
        raise AggregatorError(
            f"{venue} has no adapter for {kind!r} markets (its kinds: {', '.join(kinds(venue))})"
        )
    if mode not in modes(venue, kind):
        has = ", ".join(modes(venue, kind))
        raise AggregatorError(f"{venue} ({kind}) has no {mode} adapter (it has: {has})")
    cls = codec_class(venue, kind)
    if markets is not None:
        known, where = markets_file(venue, markets, kind), f"the markets in {markets}"
    else:
        known, where = market_table(venue, state_dir, kind)
        where = f"the {where}"
    table = (CaptureTable if kind == "spot" else ListedOnly)(known, venue, cls.RENAMES, symbol)
    codec = cls(table)
    given = table.symbol_market if symbol else None
    url = cls.WS_URL if mode == "ws" else cls.REST_URL
    out = stdout.buffer if hasattr(stdout, "buffer") else None
    tally = Tally()

    def refuse(n: int, why: str) -> None:
        tally.refused += 1
        print(f"line {n}: {why}", file=stderr)

    def parse(text: str, ts_recv: int | None) -> list[Ticker]:
        ts = now_ns() if ts_recv is None else ts_recv
        if mode == "ws":
            return codec.parse_frame(text, ts)
        return codec.parse_rest(text.encode(), ts, given)

    recapture: Recapture | None = None  # a raw capture of the daemon's, once one is seen

    def emit(records: list[Ticker]) -> None:
        tally.with_records += 1
        for r in records:
            tally.records += 1
            tally.symbols[r.symbol] += 1
            if out is not None:
                out.write(dumps(r))
            else:
                stdout.write(dumps(r).decode())
        if out is not None:
            out.flush()

    for n, line in enumerate(stdin, start=1):
        line = line.strip()
        if not line:
            continue
        tally.payloads += 1
        table.missed.clear()
        payload = decode(line)
        if is_capture(payload):  # each line says what it is: --ws/--rest do not apply
            recapture = recapture or Recapture(cls, table)
            try:
                records = recapture.feed(payload)
            except VenueError as e:
                refuse(n, str(e))
                continue
            except SHAPE_ERRORS:
                refuse(n, f"a captured payload of another shape than the {venue} codec reads")
                continue
            if records:
                emit(records)
            else:
                tally.empty += 1
            continue
        inner, ts_recv = unwrap(payload)
        if inner is not payload:
            line = orjson.dumps(inner).decode()
        try:
            try:
                records = parse(line, ts_recv)
            except ParseError:
                # Arrays of tickers (Binance's !ticker@arr, a recorder's batch): each alone.
                if not (
                    isinstance(inner, list) and inner and all(isinstance(x, dict) for x in inner)
                ):
                    raise
                records = [r for x in inner for r in parse(orjson.dumps(x).decode(), ts_recv)]
        except VenueError as e:  # ParseError too: both parsers convert shape errors
            refuse(n, _why(venue, mode, url, payload, inner, e))
            continue
        except SHAPE_ERRORS:
            refuse(n, f"{describe(venue, inner)}, not what the {venue} codec reads ({url})")
            continue
        if symbol is not None:
            other = next((r for r in records if r.symbol != symbol), None)
            if other is not None or table.missed:
                named = other.native if other is not None else table.missed[0]
                what = f"{named} ({other.symbol})" if other is not None else named
                refuse(
                    n,
                    f"names market {what}, not {symbol}: --symbol is for payloads that do not "
                    "name their market; leave it out (or pass --markets FILE)",
                )
                continue
        if not records and _names_no_market(inner, table.missed):
            refuse(n, "this payload does not name its market: pass --symbol")
            continue
        for missed in table.missed:
            table.unknown[missed] += 1
        if not records:
            if table.missed:
                tally.unknown += 1
            else:
                tally.empty += 1
            continue
        for r in records:
            r.settle(None)  # checked as the daemon does (not merged: one payload, one record)
        emit(records)
    _summary(venue, tally, table, where, stderr, kind)
    return 1 if tally.refused or tally.unknown or table.unknown else 0


def _names_no_market(payload: object, missed: list[str]) -> bool:
    """An empty id looked up, or every key of an object (a single ticker's fields, read as
    a table of tickers keyed by market): the payload does not say its market."""
    if "" in missed:
        return True
    return isinstance(payload, dict) and bool(missed) and set(missed) == set(payload)


def _why(venue: str, mode: str, url: str, payload: object, inner: object, e: VenueError) -> str:
    text = str(e)
    if "needs its market" in text or "which pair this stream is for" in text:
        return f"{text} (pass --symbol: this payload does not name its market)"
    if payload is None:
        return text  # not JSON: the codec's message quotes it
    if text.startswith("unexpected payload") or isinstance(e, ParseError):
        shape = describe(venue, inner)
        if text.startswith("unexpected payload"):
            return f"{shape}, not what the {venue} codec reads ({mode}: {url})"
        return f"{shape}: {text}"
    return text


def _summary(
    venue: str, t: Tally, table: CaptureTable, where: str, err: TextIO, kind: str = "spot"
) -> None:
    parts = [
        f"{t.payloads} payloads: {t.records} records from {t.with_records}",
        f"{t.empty} with no ticker (acks, heartbeats, other channels)",
    ]
    if t.refused:
        parts.append(f"{t.refused} refused (above)")
    if t.unknown:
        parts.append(f"{t.unknown} of markets that could not be identified (below)")
    print(f"normalize {venue}: " + "; ".join(parts), file=err)
    if table.derived:
        made = sorted({f"{m.symbol} ({i})" for i, m in table.derived.items()})
        shown = ", ".join(made[:20]) + (f" and {len(made) - 20} more" if len(made) > 20 else "")
        print(f"  markets not in {where}, named from their ids: {shown}", file=err)
    if table.unknown:
        ids = ", ".join(f"{i} ({k})" for i, k in table.unknown.most_common(20))
        more = f" and {len(table.unknown) - 20} more" if len(table.unknown) > 20 else ""
        hint = "pass --markets FILE (the venue's markets response) to name them"
        if kind == "spot" and any(_DERIVATIVE.search(i) for i in table.unknown):
            hint += "; derivatives (perpetuals, futures) are read with --kind perp or future"
        print(f"  ids of markets not in {where}, not records: {ids}{more}; {hint}", file=err)
