"""The data directory's layout, as the file sink writes it and the reader reads it.

    <dir>/kraken/kraken-2026-12-07T07.0000.jsonl[.gz]                 tickers, JSON Lines
    <dir>/kraken/status/kraken-status-2026-12-07T07.0000.jsonl[.gz]   status records
    <dir>/parquet/type=ticker/exchange=kraken/date=2026-12-07/kraken-2026-12-07T07.0000.parquet
    <dir>/parquet/type=status/exchange=kraken/date=2026-12-07/kraken-status-2026-12-07T07.0000.parquet
    <dir>/consolidated/consolidated-2026-12-07T07.0000.jsonl[.gz]     bbo records

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

    @property
    def stem(self) -> str:
        name = self.path.name
        return name[: name.index(".jsonl")]

    @property
    def date(self) -> str:
        return self.stamp[:10]

    @property
    def order(self) -> tuple[str, str, int, bool]:
        """Time order within an exchange: by period, then part (the older names first)."""
        return (self.exchange, self.stamp, self.part, not self.older)

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
    exchange = path.parent.parent.name if status else path.parent.name
    part = m["part"]
    older = not status and (part is None or len(part) < 4)
    if status and m["prefix"] != f"{exchange}-status":
        return None
    if not status and m["prefix"] != exchange:
        return None
    if exchange == CONSOLIDATED:
        types: tuple[str, ...] = ("bbo",)
    else:
        types = ("status",) if status else ("ticker", "status") if older else ("ticker",)
    return Source(path, exchange, types, m["stamp"], int(part or 0), older)


def sources(root: Path, exchanges: frozenset[str] | None = None) -> Iterator[Source]:
    """Every JSON Lines file under ``root`` (of these exchanges), in time order by exchange."""
    found: list[Source] = []
    if not root.is_dir():
        return
    for exdir in sorted(root.iterdir()):
        if exdir.name == PARQUET_DIR or not exdir.is_dir():
            continue
        if exchanges is not None and exdir.name not in exchanges:
            continue
        for d in (exdir, exdir / STATUS_DIR):
            if d.is_dir():
                found += [s for p in d.iterdir() if (s := source(p)) is not None]
    # A file being compressed is there twice for a moment (x.jsonl.gz is complete before
    # x.jsonl goes): one of them.
    unique = {(s.path.parent, s.stem): s for s in found}
    yield from sorted(unique.values(), key=lambda s: s.order)


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
