"""JSON Lines to Arrow, and closed JSON Lines files to Parquet.

The file sink runs the conversion of each closed file in a child process
(``python -m aggregator.parquet DIR FILE...``): the daemon neither loads pyarrow nor waits
for it, and a stop can kill it. Each Parquet file is written under a hidden temp name and
renamed into place, so a crash leaves no partial file where readers look, and a file is
converted again (to the same name) rather than twice. Values are exact: integers stay int64
(timestamps as int64 nanoseconds), floats are parsed to the nearest double, as orjson does.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pyarrow.parquet as pq

from . import recordschema as rs
from .datafiles import Source, source, tmp_name

BLOCK_BYTES = 4 << 20  # JSON read this much at a time: a conversion's memory stays bounded
RAW = {"text": pa.string(), "price": pa.float64(), "size": pa.float64(), "rate": pa.float64()}
RAW |= {"ns": pa.int64(), "int": pa.int64(), "bool": pa.bool_(), "flags": pa.list_(pa.string())}
RAW["texts"] = RAW["flags"]


def _parse_options(kinds: Iterable[str]) -> pj.ParseOptions:
    """Every field of these types (any version), as JSON holds them: read, not guessed."""
    raw: dict[str, pa.DataType] = {}
    for kind in kinds:
        for f in rs.all_fields(kind):
            raw.setdefault(f.name, RAW[f.kind])
    schema = pa.schema(list(raw.items()))
    return pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")


def lines_table(data: bytes, kinds: Iterable[str]) -> pa.Table:
    """JSON lines as a table of raw columns; a partial last line (a file being written) is
    left out."""
    data = data[: data.rfind(b"\n") + 1]
    opts = _parse_options(kinds)
    if not data:
        return opts.explicit_schema.empty_table()
    return pj.read_json(pa.BufferReader(data), parse_options=opts)


def _batches(path: Path, kinds: Iterable[str]) -> Iterator[pa.RecordBatch]:
    """A closed file's lines (plain or gzip), a block at a time."""
    opts = _parse_options(kinds)
    if path.stat().st_size == 0:
        return
    with pa.input_stream(str(path)) as stream:  # gzip by the name's .gz
        reader = pj.open_json(
            stream, read_options=pj.ReadOptions(block_size=BLOCK_BYTES), parse_options=opts
        )
        yield from reader


def conform(table: pa.Table | pa.RecordBatch, kind: str, *, stored: bool = False) -> pa.Table:
    """The records of type ``kind`` in ``table`` in that type's schema: all versions'
    fields (null where absent), or with ``stored``, the current version's as Parquet files
    hold it (without the partition columns)."""
    if not isinstance(table, pa.Table):
        table = pa.Table.from_batches([table])
    if "type" in table.column_names and table.num_rows:
        types = table.column("type")
        if pc.any(pc.not_equal(types, kind)).as_py():  # the older layout: both together
            table = table.filter(pc.equal(types, kind))
    schema = rs.arrow_schema(kind, None if stored else 0, stored=stored)
    columns = []
    for f in schema:
        if f.name in table.column_names:
            column = table.column(f.name)
        else:
            column = pa.nulls(table.num_rows, f.type)
        default = rs.DEFAULTS.get((kind, f.name))
        if default is not None and column.null_count:  # a line of a version without it
            column = pc.fill_null(column.cast(pa.string()), default)
        columns.append(column.cast(f.type))
    return pa.Table.from_arrays(columns, schema=schema)


def convert(root: Path, src: Source) -> list[Path]:
    """Write ``src``'s Parquet counterparts (one per record type it holds); return them."""
    outs: dict[str, tuple[Path, Path, pq.ParquetWriter]] = {}
    try:
        for kind in src.types:
            dst = src.parquet(root, kind)
            dst.parent.mkdir(parents=True, exist_ok=True)
            meta = {rs.METADATA_KEY: f"{kind}/{rs.version(kind)}".encode()}
            schema = rs.arrow_schema(kind, stored=True).with_metadata(meta)
            outs[kind] = (dst, tmp_name(dst), pq.ParquetWriter(tmp_name(dst), schema))
        for batch in _batches(src.path, src.types):
            for kind, (_, _, writer) in outs.items():
                part = conform(batch, kind, stored=True)
                if part.num_rows:
                    writer.write_table(part.replace_schema_metadata(writer.schema.metadata))
        for _, tmp, writer in outs.values():
            writer.close()
            _fsync(tmp)
    except BaseException:
        for _, tmp, writer in outs.values():
            with contextlib.suppress(Exception):
                writer.close()
            tmp.unlink(missing_ok=True)
        raise
    for dst, tmp, _ in outs.values():
        os.replace(tmp, dst)
        _fsync(dst.parent)
    return [dst for dst, _, _ in outs.values()]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def main(argv: list[str]) -> int:
    """``DIR FILE...``: convert each closed JSON Lines file of the data directory DIR."""
    with contextlib.suppress(OSError):
        os.nice(10)  # behind the daemon, which shares the machine
    root, failed = Path(argv[0]), 0
    for name in argv[1:]:
        src = source(Path(name))
        if src is None:
            print(f"{name}: not a data file of this daemon", file=sys.stderr)
            failed += 1
            continue
        try:
            convert(root, src)
        except (OSError, pa.ArrowException) as e:
            print(f"{name}: {e}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
