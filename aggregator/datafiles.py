"""The data directory's layout, as the file sink writes it and the reader reads it.

    <dir>/kraken/kraken-2026-12-07T07.0000.jsonl[.gz]                 tickers, JSON Lines
    <dir>/kraken/status/kraken-status-2026-12-07T07.0000.jsonl[.gz]   status records
    <dir>/parquet/type=ticker/exchange=kraken/date=2026-12-07/kraken-2026-12-07T07.0000.parquet
    <dir>/parquet/type=status/exchange=kraken/date=2026-12-07/kraken-status-2026-12-07T07.0000.parquet
    <dir>/consolidated/consolidated-2026-12-07T07.0000.jsonl[.gz]     bbo records
    <dir>/binance/perp/binance-perp-2026-12-07T07.0000.jsonl[.gz]     a derivatives kind's
    <dir>/binance/perp/status/binance-perp-status-2026-12-07T07.0000.jsonl[.gz]
    <dir>/parquet/type=ticker/exchange=binance/date=2026-12-07/binance-perp-2026-12-07T07.0000.parquet

Parts are numbered from 0000, so that a plain sort of a directory's names is time order.
Files of the older layout (``kraken/kraken-2026-12-07T07.jsonl.gz``, ``....1.jsonl``, tickers
and status records together) are still read, and converted to Parquet like the others. Each
JSON Lines file has one Parquet counterpart per record type it holds, named after it: the
reader takes the Parquet file where it exists and the JSON Lines otherwise, never both.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .errors import AggregatorError

PARQUET_DIR = "parquet"
STATUS_DIR = "status"
CONSOLIDATED = "consolidated"  # the consolidated view's bbo records, as an exchange's tickers
DERIVATIVE_KINDS = ("perp", "future", "option")  # records.KINDS but spot: directories of their own
_NAME = re.compile(
    r"(?P<prefix>.+?)-(?P<stamp>\d{4}-\d\d-\d\d(?:T\d\d)?)(?:\.(?P<part>\d+))?\.jsonl(?:\.gz)?"
)


@dataclass(frozen=True, slots=True)
class Source:
    """One JSON Lines file of the data directory."""

    path: Path
    exchange: str
    types: tuple[str, ...]  # the record types it holds: one, or both in the older layout
    stamp: str  # its period: "2026-12-07T07" (hourly) or "2026-12-07" (daily)
    part: int
    older: bool  # named the older way (tickers and status records together)
    kind: str = "spot"  # of the markets: a derivatives kind's files are in a directory of its own

    @property
    def stem(self) -> str:
        name = self.path.name
        return name[: name.index(".jsonl")]

    @property
    def date(self) -> str:
        return self.stamp[:10]

    @property
    def order(self) -> tuple[str, str, str, int, bool]:
        """Time order within an exchange's kind: by period, then part (the older names first)."""
        return (self.exchange, self.kind, self.stamp, self.part, not self.older)

    def parquet(self, root: Path, kind: str) -> Path:
        """Its Parquet counterpart for the records of type ``kind``."""
        return (
            root
            / PARQUET_DIR
            / f"type={kind}"
            / f"exchange={self.exchange}"
            / f"date={self.date}"
            / f"{self.stem}.parquet"
        )


def source(path: Path) -> Source | None:
    """What a JSON Lines file of the data directory holds, from its place and name."""
    m = _NAME.fullmatch(path.name)
    if m is None:
        return None
    status = path.parent.name == STATUS_DIR
    folder = path.parent.parent if status else path.parent
    exchange, kind, stream = folder.name, "spot", folder.name
    if folder.name in DERIVATIVE_KINDS:  # <dir>/binance/perp/binance-perp-...
        exchange, kind = folder.parent.name, folder.name
        stream = f"{exchange}-{kind}"
    part = m["part"]
    older = not status and kind == "spot" and (part is None or len(part) < 4)
    if status and m["prefix"] != f"{stream}-status":
        return None
    if not status and m["prefix"] != stream:
        return None
    if exchange == CONSOLIDATED:
        types: tuple[str, ...] = ("bbo",)
    else:
        types = ("status",) if status else ("ticker", "status") if older else ("ticker",)
    return Source(path, exchange, types, m["stamp"], int(part or 0), older, kind)


def sources(
    root: Path, exchanges: frozenset[str] | None = None, kinds: frozenset[str] | None = None
) -> Iterator[Source]:
    """Every JSON Lines file under ``root`` (of these exchanges and kinds of market), in time
    order by exchange (and kind)."""
    found: list[Source] = []
    if not root.is_dir():
        return
    for exdir in sorted(root.iterdir()):
        if exdir.name == PARQUET_DIR or not exdir.is_dir():
            continue
        if exchanges is not None and exdir.name not in exchanges:
            continue
        folders = [exdir] + [exdir / k for k in DERIVATIVE_KINDS]
        for folder in folders if kinds is None else [f for f in folders if _kind(f) in kinds]:
            for d in (folder, folder / STATUS_DIR):
                if d.is_dir():
                    found += [s for p in d.iterdir() if (s := source(p)) is not None]
    # A file being compressed is there twice for a moment (x.jsonl.gz is complete before
    # x.jsonl goes): one of them.
    unique = {(s.path.parent, s.stem): s for s in found}
    yield from sorted(unique.values(), key=lambda s: s.order)


def _kind(folder: Path) -> str:
    """The kind of market of an exchange's folder of files (its own directory: spot)."""
    return folder.name if folder.name in DERIVATIVE_KINDS else "spot"


def tmp_name(path: Path) -> Path:
    """Where a file is written before it is renamed into place: hidden, so that pandas,
    polars and DuckDB reading the directory never see it half written."""
    return path.with_name(f".{path.name}.tmp")


Time = int | str | datetime  # ns since the epoch, ISO 8601 ("2026-12-07", "...T07:30Z"), datetime


def time_ns(value: Time | None, what: str) -> int | None:
    """A time that selects records (``--from``, ``start``) as ns since the epoch; a
    datetime or text without a zone is UTC."""
    if value is None or isinstance(value, int):
        return value
    when = value
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when)
        except ValueError:
            raise AggregatorError(
                f"{what}: expected a time like 2026-12-07 or 2026-12-07T07:30:00Z, got {value!r}"
            ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = when - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000
