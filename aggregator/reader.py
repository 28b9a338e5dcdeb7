"""``aggregator.read``: a data directory's records as one Arrow table, exact.

It reads the Parquet files where the file sink wrote them, and the JSON Lines otherwise (the
current hour, files closed before Parquet was enabled, the older layout), never both for the
same records. Timestamps come out as ``timestamp[ns, UTC]`` with every nanosecond, prices and
sizes as float64 equal to the JSON values, strings dictionary-encoded. Files of any schema
version are read; fields a file lacks come out null.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import recordschema as rs
from .datafiles import DERIVATIVE_KINDS, PARQUET_DIR, Time, sources, time_ns
from .errors import AggregatorError
from .parquet import conform, lines_table


def read(
    data_dir: str | Path,
    exchanges: str | Iterable[str] | None = None,
    symbols: str | Iterable[str] | None = None,
    type: str = "ticker",
    start: Time | None = None,
    end: Time | None = None,
    kinds: str | Iterable[str] | None = None,
) -> pa.Table:
    """The records of one ``type`` ("ticker", "status" or "bbo") in ``data_dir`` (the file sink's
    ``files.dir``) whose ``ts_recv`` is in [start, end), of these exchanges, symbols and kinds
    of market ("spot", "perp", "future": each kind's files apart, the others are not read;
    all when None), sorted by ``ts_recv`` (then exchange and seq).

    ``table.to_pandas()`` and ``polars.from_arrow(table)`` give datetimes to the nanosecond.
    """
    if type not in rs.TYPES:
        raise AggregatorError(f"type: expected one of {', '.join(rs.TYPES)}, got {type!r}")
    root = Path(data_dir)
    if not root.is_dir():
        raise AggregatorError(f"data directory {str(root)!r} does not exist")
    exs = _names(exchanges)
    lo, hi = time_ns(start, "start"), time_ns(end, "end")
    kind_names = _names(kinds)
    tables = [
        _partition(conform(pq.read_table(path), type), exchange, type)
        for path, exchange in _parquet_files(root, type, exs, lo, hi)
        if kind_names is None or _kind_of(path.stem, exchange) in kind_names
    ]
    for src in sources(root, exs, kind_names if type != "bbo" else None):
        if type not in src.types or src.parquet(root, type).exists():
            continue
        first, period = _period(src.stamp)
        if not _overlaps(first, first + period, lo, hi):
            continue
        raw = src.path.read_bytes()
        data = gzip.decompress(raw) if src.path.suffix == ".gz" else raw
        tables.append(conform(lines_table(data, src.types), type))
    schema = rs.arrow_schema(type, 0)
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    mask = None
    if lo is not None:
        mask = _and(mask, pc.greater_equal(table["ts_recv"], pa.scalar(lo, _ns_type())))
    if hi is not None:
        mask = _and(mask, pc.less(table["ts_recv"], pa.scalar(hi, _ns_type())))
    wanted = _names(symbols)
    if wanted is not None:
        mask = _and(mask, pc.is_in(table["symbol"].cast(pa.string()), pa.array(sorted(wanted))))
    if mask is not None:
        table = table.filter(mask)
    keys = pa.table(
        [table["ts_recv"], table["exchange"].cast(pa.string()), table["seq"]], ["t", "e", "s"]
    )
    order = pc.sort_indices(keys, [("t", "ascending"), ("e", "ascending"), ("s", "ascending")])
    return table.take(order).unify_dictionaries().combine_chunks()


def _kind_of(stem: str, exchange: str) -> str:
    """The kind of market of a Parquet file, from its name: binance-perp-2026-12-07T07.0000."""
    rest = stem[len(exchange) + 1 :]
    for kind in DERIVATIVE_KINDS:
        if rest.startswith(f"{kind}-"):
            return kind
    return "spot"


def _ns_type() -> pa.DataType:
    return rs.arrow_type("ns")


def _names(value: str | Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset([value] if isinstance(value, str) else value)


def _period(stamp: str) -> tuple[int, int]:
    """The first ns of a file's period ("2026-12-07T07" or "2026-12-07"), and its length."""
    first = time_ns(stamp + ":00" if "T" in stamp else stamp, "stamp")
    assert first is not None
    return first, (3600 if "T" in stamp else 86400) * 10**9


def _overlaps(first: int, after: int, lo: int | None, hi: int | None) -> bool:
    return (hi is None or first < hi) and (lo is None or after > lo)


def _parquet_files(
    root: Path, kind: str, exs: frozenset[str] | None, lo: int | None, hi: int | None
) -> list[tuple[Path, str]]:
    """The Parquet files of a type (exchange, day) that may hold records in [lo, hi)."""
    found: list[tuple[Path, str]] = []
    base = root / PARQUET_DIR / f"type={kind}"
    if not base.is_dir():
        return found
    for exdir in sorted(base.glob("exchange=*")):
        exchange = exdir.name.partition("=")[2]
        if exs is not None and exchange not in exs:
            continue
        for day in sorted(exdir.glob("date=*")):
            first = time_ns(day.name.partition("=")[2], "date")
            if first is None or not _overlaps(first, first + 86400 * 10**9, lo, hi):
                continue
            found += [(p, exchange) for p in sorted(day.glob("*.parquet"))]
    return found


def _partition(table: pa.Table, exchange: str, kind: str) -> pa.Table:
    """A Parquet file's table with the columns its path holds (type, exchange)."""
    n = table.num_rows
    for name, value in (("type", kind), ("exchange", exchange)):
        i = table.schema.get_field_index(name)
        column = pa.array([value] * n, pa.string()).dictionary_encode()
        table = table.set_column(i, table.schema.field(i), column)
    return table


def _and(mask: pa.Array | None, other: pa.Array) -> pa.Array:
    return other if mask is None else pc.and_(mask, other)


def export(table: pa.Table, out: Path) -> None:
    """Write a reader's table to ``out``: Parquet (``.parquet``) or CSV (``.csv``: timestamps
    in ISO 8601 to the nanosecond, flags joined by "|"). Written under a temp name first."""
    import pyarrow.csv as pcsv

    if out.suffix not in (".parquet", ".csv"):
        raise AggregatorError(f"{str(out)!r}: expected a file name ending .parquet or .csv")
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        if out.suffix == ".parquet":
            pq.write_table(table, tmp)
        else:
            i = table.schema.get_field_index("flags")
            if i >= 0:
                joined = pc.binary_join(table.column(i), "|")
                table = table.set_column(i, "flags", joined)
            pcsv.write_csv(table, tmp)
        tmp.replace(out)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise AggregatorError(f"cannot write {str(out)!r}: {e.strerror or e}") from None
