"""Parquet beside the JSON Lines: closed files converted (in a child process) with the
declared schema, exactly; conversions cut short redone at start; the schema versioned."""

from __future__ import annotations

import gzip
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from aggregator import datafiles, parquet, records, recordschema
from aggregator.config import ConfigError, loads
from aggregator.reader import read
from aggregator.records import Status, Ticker, dumps
from aggregator.sim import VenueSim
from aggregator.sinks.files import FileSink

from .test_daemon import data_lines, short_dir, spawn, wait_for, write_config
from .test_files import HOUR, exists, hour_start, make_cfg, stamp, until

pytestmark = pytest.mark.timeout(30)

# Values a careless reader moves: 17 significant digits, tiny sizes, ns timestamps.
PRICES = (63297.8, 0.1 + 0.2, 1e-8, 123456789.12345679, 2.5e-7, 99999.99999999999)


def varied(exchange: str, t0: int, n: int, seq0: int = 0) -> list[Ticker]:
    out = []
    for i in range(n):
        p = PRICES[i % len(PRICES)]
        out.append(
            Ticker(
                exchange,
                "BTC/USDT" if i % 2 else "ETH/USDT",
                "BTCUSDT" if i % 2 else "ETHUSDT",
                p,
                1e-8 * (i + 1),
                p * 1.0001,
                None if i % 3 else 7.25,
                None if i < 4 else p,  # the first records have no last, as at Kraken
                ts_event=None if i % 4 == 0 else t0 + 123_456_789 + i,
                ts_recv=t0 + 987_654_321 + 7 * i,
                seq=seq0 + i,
                instance="east" if i % 5 == 0 else None,
                flags=("crossed",) if i == 3 else None,
            )
        )
    return out


# Derivatives' fields: in the tables' rows (null for spot), in the lines of derivatives only.
DERIVATIVE_ONLY = ("expiry", "mark", "index", "funding_rate", "funding_ts", "open_interest")


def as_read(lines: list[dict]) -> list[dict]:
    """JSON lines as the reader gives them: a field a line of an older version lacks with
    its default (``kind``: spot)."""
    defaults = recordschema.DEFAULTS.items()
    return [{**{k: v for (t, k), v in defaults if t == x["type"]}, **x} for x in lines]


def as_jsonl(table: pa.Table) -> list[dict]:
    """Rows of a reader's table as the JSON lines hold them (ns as int; a spot market's
    derivatives fields left out, as its line leaves them out)."""
    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(pa.int64()))
    return [
        {k: v for k, v in row.items() if v is not None or k not in DERIVATIVE_ONLY}
        for row in table.to_pylist()
    ]


async def test_conversions_cut_short_are_redone_at_start(tmp_path: Path) -> None:
    """A crash (or a stop) during a conversion leaves a hidden temp file and no Parquet
    file: the next start removes the one and makes the other, also for files of the older
    layout (tickers and statuses in one file), which come out apart."""
    h0 = hour_start() - 5 * HOUR
    older = tmp_path / "kraken" / f"kraken-{stamp(h0)}.jsonl.gz"
    older.parent.mkdir()
    recs: list[Ticker | Status] = [*varied("kraken", h0, 6), Status("kraken", "live", ts_recv=h0)]
    older.write_bytes(gzip.compress(b"".join(map(dumps, recs))))
    day = tmp_path / "parquet" / "type=ticker" / "exchange=kraken" / f"date={stamp(h0, '%Y-%m-%d')}"
    day.mkdir(parents=True)
    stale = day / f".kraken-{stamp(h0)}.parquet.tmp"
    stale.write_bytes(b"PAR1 half")
    sink = FileSink(make_cfg(tmp_path, formats=("jsonl", "parquet")))
    await sink.start()
    done = day / f"kraken-{stamp(h0)}.parquet"
    await until(lambda: exists(done), within=20)
    await sink.stop()
    assert not exists(stale)
    assert pq.read_table(done).num_rows == 6
    assert as_jsonl(read(tmp_path)) == as_read([orjson.loads(dumps(r)) for r in recs[:6]])
    assert read(tmp_path, type="status")["state"].to_pylist() == ["live"]


def test_a_new_schema_version_reads_files_of_the_old(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Adding fields is a new version: files written under the old one (version 1, before
    derivatives) are still read, their tickers of kind spot and the new fields null; the
    Parquet files say their version."""
    path = tmp_path / "x" / "x-2026-12-07T07.0000.jsonl"
    path.parent.mkdir()
    recs = varied("x", 1796626800 * 10**9, 5)
    old_lines = [{k: v for k, v in orjson.loads(dumps(r)).items() if k != "kind"} for r in recs]
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in old_lines))
    src = datafiles.source(path)
    assert src is not None
    v1 = recordschema.VERSIONS["ticker"][0]
    with monkeypatch.context() as m:
        m.setitem(recordschema.VERSIONS, "ticker", (v1,))
        (written,) = parquet.convert(tmp_path, src)
    assert pq.read_schema(written).metadata[b"aggregator.schema"] == b"ticker/1"
    assert "kind" not in pq.read_schema(written).names
    table = read(tmp_path)
    assert table.column_names == [f.name for f in recordschema.all_fields("ticker")]
    assert table["kind"].to_pylist() == ["spot"] * 5 and table["mark"].null_count == 5
    assert table["bid"].to_pylist() == [r.bid for r in recs]
    path.with_suffix(".jsonl.x").write_bytes(path.read_bytes())  # (kept: not a data file)
    written.unlink()  # the same records from the version-1 lines
    assert read(tmp_path)["kind"].to_pylist() == ["spot"] * 5


def test_the_schema_is_the_records_and_ships_as_generated() -> None:
    current = [f.name for f in recordschema.fields("ticker")]
    for line in (records.TICKER_FIELDS, getattr(records, "DERIVATIVE_TICKER_FIELDS", ())):
        assert [n for n in current if n in line] == list(line)  # each field, in line order
    status = [f.name for f in recordschema.fields("status")]
    assert [n for n in status if n in records.STATUS_FIELDS] == list(records.STATUS_FIELDS)
    assert records.FLAG_NAMES == recordschema.FLAG_VALUES
    assert recordschema.main([]) == 0, "run: python -m aggregator.recordschema --write"
    shipped = json.loads((recordschema.SCHEMA_DIR / "ticker.v2.schema.json").read_text())
    line = orjson.loads(dumps(varied("x", 0, 4)[3]))
    assert set(shipped["required"]) <= line.keys() <= shipped["properties"].keys()


@pytest.mark.parametrize(
    ("value", "found"),
    [('["parquet"]', "['parquet']"), ('["jsonl", "csv"]', "['jsonl', 'csv']")],
)
def test_formats_must_keep_the_live_format(value: str, found: str) -> None:
    with pytest.raises(ConfigError, match=r"files\.formats") as e:
        loads(f"[files]\nformats = {value}\n", check_paths=False)
    assert found in str(e.value)


@pytest.fixture
async def two_sims() -> AsyncIterator[dict[str, VenueSim]]:
    started = {v: VenueSim(v, rate=300, seed=i) for i, v in enumerate(("binance", "kraken"))}
    for sim in started.values():
        await sim.start()
    yield started
    for sim in started.values():
        await sim.stop()


async def test_the_daemon_converts_closed_parts_and_reads_back_exactly(
    two_sims: dict[str, VenueSim],
) -> None:
    """The daemon as a process, parts closed by size: Parquet made by its child processes
    while it runs; after SIGTERM, the reader's records (Parquet where there is, JSON Lines
    otherwise) are the files' lines, each once, to the last digit and nanosecond."""
    root = short_dir()
    config = write_config(root / "aggregator.toml", root, two_sims, max_bytes="8KiB")
    text = config.read_text().replace("[files]\n", '[files]\nformats = ["jsonl", "parquet"]\n')
    config.write_text(text)
    proc = await spawn("run", "-c", str(config), cwd=root)
    data = root / "data"
    try:
        await wait_for(lambda: any(data.glob("parquet/type=ticker/*/*/*.parquet")), 20)
    finally:
        proc.proc.send_signal(signal.SIGTERM)
        assert await proc.wait() == 0, proc.log()
    assert "Traceback" not in proc.log() and "no Parquet" not in proc.log()
    stored = pq.read_table(next(data.glob("parquet/type=ticker/*/*/*.parquet")))
    version = f"ticker/{recordschema.version('ticker')}".encode()
    assert stored.schema.metadata[b"aggregator.schema"] == version  # the declared schema
    assert stored.schema.field("ts_recv").type == pa.timestamp("ns", tz="UTC")
    assert pa.types.is_dictionary(stored.schema.field("symbol").type)
    assert "exchange" not in stored.column_names  # in the path (hive partitions)
    lines = data_lines(data)
    for kind in ("ticker", "status"):
        want = sorted(
            (r for recs in lines.values() for r in recs if r["type"] == kind),
            key=lambda r: (r["exchange"], r["seq"]),
        )
        got = sorted(as_jsonl(read(data, type=kind)), key=lambda r: (r["exchange"], r["seq"]))
        assert got == as_read(want), kind
    assert not list(data.rglob(".*.tmp"))
