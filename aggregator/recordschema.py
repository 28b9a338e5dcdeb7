"""The records' schema, versioned: the fields of each record type, as JSON Schema (for the
JSON Lines) and as Arrow types (for Parquet and the reader).

A version is a fixed list of fields. Adding fields (derivatives' ``kind``, ``mark``...) makes
a new version, appended to VERSIONS; the old ones stay, so that files written under them are
still read (their missing columns come out null). The current version's fields must be the
records' (``records.TICKER_FIELDS``, ``STATUS_FIELDS``), in their order: a test checks it.

The JSON Schema files shipped in ``aggregator/data/schema/`` are made from this table by
``python -m aggregator.recordschema --write``; a test checks that they match it.

No pyarrow at import: the daemon runs without it; ``arrow_schema`` imports it when called.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import pyarrow as pa

TYPES = ("ticker", "status", "bbo")
SCHEMA_DIR = Path(__file__).parent / "data" / "schema"
METADATA_KEY = b"aggregator.schema"  # in each Parquet file: b"ticker/1"
# The hive partitions of the Parquet tree (type=ticker/exchange=kraken/date=2026-12-07/):
# in the path, not in the files.
PARTITIONS = ("type", "exchange", "date")


class Field(NamedTuple):
    name: str
    kind: str  # "text", "texts", "price", "size", "rate", "ns", "int", "bool", "flags"
    required: bool
    doc: str


def _ticker_v1() -> tuple[Field, ...]:
    price = "a price in the quote currency; null when the venue does not send it"
    size = "in the base currency; null when the venue does not send it"
    return (
        Field("type", "text", True, 'always "ticker"'),
        Field("exchange", "text", True, "the venue's id in this daemon (kraken, binance...)"),
        Field("symbol", "text", True, "the unified symbol, BASE/QUOTE"),
        Field("native", "text", True, "the venue's own id of the market"),
        Field("bid", "price", False, f"best bid: {price}"),
        Field("bid_size", "size", False, f"size at the best bid, {size}"),
        Field("ask", "price", False, f"best ask: {price}"),
        Field("ask_size", "size", False, f"size at the best ask, {size}"),
        Field("last", "price", False, f"last trade: {price}"),
        Field("open", "price", False, f"24 h open: {price}"),
        Field("high", "price", False, f"24 h high: {price}"),
        Field("low", "price", False, f"24 h low: {price}"),
        Field("volume", "size", False, f"24 h volume, {size}"),
        Field("quote_volume", "size", False, "24 h volume in the quote currency"),
        Field("ts_event", "ns", False, "the venue's time, ns since the epoch (UTC), or null"),
        Field("ts_recv", "ns", True, "the time this daemon received it, ns since the epoch"),
        Field("seq", "int", True, "per venue, increasing, shared with its status records"),
        Field("instance", "text", False, "the daemon instance (scale-out), or null"),
        Field("flags", "flags", False, "what was wrong with the values the venue sent"),
    )


def _ticker_v2() -> tuple[Field, ...]:
    """Derivatives: the market's kind, and the fields only derivatives have (absent from
    spot lines, null in their rows)."""
    return (
        *_ticker_v1(),
        Field("kind", "text", True, "spot, perp, future or option (version 1: all spot)"),
        Field("expiry", "ns", False, "a dated future's or option's expiry, ns since the epoch"),
        Field("mark", "price", False, "mark price, in the quote currency"),
        Field("index", "price", False, "index price, in the quote currency"),
        Field("funding_rate", "rate", False, "per funding interval, as the venue states it"),
        Field("funding_ts", "ns", False, "the next funding time, ns since the epoch"),
        Field("open_interest", "size", False, "in base-currency units"),
    )


def _status_v1() -> tuple[Field, ...]:
    return (
        Field("type", "text", True, 'always "status"'),
        Field("exchange", "text", True, 'the venue, or "files" for the file sink itself'),
        Field("state", "text", True, "connecting, live, stale, disconnected, ..."),
        Field("detail", "text", False, "why, in a few words"),
        Field("conn", "int", False, "the connection index, for venues with several"),
        Field("ts_recv", "ns", True, "the time of the transition, ns since the epoch"),
        Field("seq", "int", True, "per venue, increasing, shared with its tickers"),
        Field("instance", "text", False, "the daemon instance (scale-out), or null"),
        Field("symbol", "text", False, "always null (filters treat both types alike)"),
    )


def _status_v2() -> tuple[Field, ...]:
    return (
        *_status_v1(),
        Field("kind", "text", True, "the kind of the adapter's markets (version 1: spot)"),
    )


def _bbo_v1() -> tuple[Field, ...]:
    """The consolidated view's best bid and offer across venues (aggregator/consolidated.py)."""
    return (
        Field("type", "text", True, 'always "bbo"'),
        Field("exchange", "text", True, 'always "consolidated"'),
        Field("symbol", "text", True, "the unified symbol (or BASE/ with merged quotes)"),
        Field("quotes", "texts", False, "the quote currencies merged; null: the symbol's own"),
        Field("bid", "price", False, "the best bid across venues"),
        Field("bid_size", "size", False, "its size, in the base currency"),
        Field("bid_exchange", "text", False, "the venue of the best bid"),
        Field("ask", "price", False, "the best ask across venues"),
        Field("ask_size", "size", False, "its size, in the base currency"),
        Field("ask_exchange", "text", False, "the venue of the best ask"),
        Field("venues", "int", True, "venue markets contributing a side"),
        Field("crossed", "bool", True, "the best bid above the best ask, across venues"),
        Field("ts_recv", "ns", True, "when it was made, ns since the epoch"),
        Field("seq", "int", True, "increasing, per daemon"),
        Field("instance", "text", False, "the daemon instance (scale-out), or null"),
    )


# Each record type's versions, oldest first; the last is the one written now. (Derivatives'
# fields, from version 2, are in the lines of derivatives only: none is required.)
VERSIONS: dict[str, tuple[tuple[Field, ...], ...]] = {
    "ticker": (_ticker_v1(), _ticker_v2()),
    "status": (_status_v1(), _status_v2()),
    "bbo": (_bbo_v1(),),
}
# What a field added by a later version is in a record of an earlier one.
# (before version 2, every record was of a spot market)
DEFAULTS = {("ticker", "kind"): "spot", ("status", "kind"): "spot"}
FLAG_VALUES = ("bad_value", "nonpositive_price", "negative_size", "crossed")


def version(kind: str) -> int:
    """The version written now of a record type (1, 2, ...)."""
    return len(VERSIONS[kind])


def fields(kind: str, ver: int | None = None) -> tuple[Field, ...]:
    return VERSIONS[kind][(ver or version(kind)) - 1]


def all_fields(kind: str) -> tuple[Field, ...]:
    """Every field any version had, newest order first: what the reader returns."""
    seen: dict[str, Field] = {}
    for fs in reversed(VERSIONS[kind]):
        for f in fs:
            seen.setdefault(f.name, f)
    return tuple(seen.values())


def arrow_type(kind: str) -> pa.DataType:
    import pyarrow as pa

    return {
        "text": pa.dictionary(pa.int32(), pa.string()),
        "price": pa.float64(),
        "size": pa.float64(),
        "rate": pa.float64(),
        "ns": pa.timestamp("ns", tz="UTC"),
        "int": pa.int64(),
        "bool": pa.bool_(),
        "texts": pa.list_(pa.string()),
        "flags": pa.list_(pa.string()),
    }[kind]


def arrow_schema(kind: str, ver: int | None = None, *, stored: bool = False) -> pa.Schema:
    """The Arrow schema of a record type (all versions' fields when ``ver`` is 0); with
    ``stored``, without the partition columns, as in the Parquet files."""
    import pyarrow as pa

    fs = all_fields(kind) if ver == 0 else fields(kind, ver)
    return pa.schema(
        [
            pa.field(f.name, arrow_type(f.kind), nullable=not f.required)
            for f in fs
            if not (stored and f.name in PARTITIONS)
        ]
    )


def json_schema(kind: str, ver: int | None = None) -> dict[str, Any]:
    """The JSON Schema of one line of a record type."""
    ver = ver or version(kind)
    props: dict[str, Any] = {}
    for f in fields(kind, ver):
        props[f.name] = _json_property(kind, f)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"aggregator/{kind}/{ver}",
        "title": f"aggregator {kind} record, version {ver}",
        "description": "One JSON object per line. Later versions add fields; a reader of this "
        "version ignores fields it does not know.",
        "type": "object",
        "properties": props,
        "required": [f.name for f in fields(kind, ver) if f.required],
    }


def _json_property(kind: str, f: Field) -> dict[str, Any]:
    out: dict[str, Any]
    if f.name == "type":
        out = {"const": kind}
    elif f.name == "kind":
        out = {"enum": ["spot", "perp", "future", "option"]}
    elif f.kind == "text":
        out = {"type": "string"}
    elif f.kind == "price":
        out = {"type": "number", "exclusiveMinimum": 0}
    elif f.kind == "size":
        out = {"type": "number", "minimum": 0}
    elif f.kind == "rate":
        out = {"type": "number"}
    elif f.kind == "bool":
        out = {"type": "boolean"}
    elif f.kind == "texts":
        out = {"type": "array", "items": {"type": "string"}, "minItems": 1}
    elif f.kind == "flags":
        out = {"type": "array", "items": {"enum": list(FLAG_VALUES)}, "minItems": 1}
    else:  # "ns", "int"
        out = {"type": "integer"}
    if f.name == "symbol" and kind == "status":
        out = {"type": "null"}
    elif not f.required:
        out = {"anyOf": [out, {"type": "null"}]}
    return {"description": f.doc, **out}


def schema_files() -> dict[Path, str]:
    """The JSON Schema files as they should be: every version of every type."""
    files: dict[Path, str] = {}
    for kind in TYPES:
        for ver in range(1, version(kind) + 1):
            text = json.dumps(json_schema(kind, ver), indent=2) + "\n"
            files[SCHEMA_DIR / f"{kind}.v{ver}.schema.json"] = text
    return files


def main(argv: list[str]) -> int:
    """``--write``: write the JSON Schema files; ``--check``: exit 1 if they differ."""
    stale = [p for p, text in schema_files().items() if not p.exists() or p.read_text() != text]
    if "--write" in argv:
        SCHEMA_DIR.mkdir(parents=True, exist_ok=True)
        for path, text in schema_files().items():
            path.write_text(text)
        return 0
    for path in stale:
        print(f"{path} is not what aggregator.recordschema makes: run it with --write")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
