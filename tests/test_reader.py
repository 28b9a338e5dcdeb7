"""The reader and `export` on a data directory of every kind of file (Parquet, JSON Lines
current and closed, the older layout), and the README's examples run as written."""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import aggregator
from aggregator import datafiles, parquet
from aggregator.cli import main
from aggregator.consolidated import BBO
from aggregator.errors import AggregatorError
from aggregator.records import Status, dumps

from .test_parquet import as_jsonl, as_read, varied

H7 = 1796626800 * 10**9  # 2026-12-07T07:00Z
HOUR = 3600 * 10**9
README = Path(__file__).parent.parent / "README.md"


def jsonl(path: Path, lines: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(lines) if path.suffix == ".gz" else lines)
    return path


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, list[dict]]:
    """2026-12-07: T05 in the older layout (JSON Lines only); T07 closed and in Parquet;
    T08 the current hour, with a partial last line. Returns every whole record."""
    root = tmp_path / "data"
    kept: list[bytes] = []

    def put(path: Path, recs: list, tail: bytes = b"") -> Path:
        lines = b"".join(map(dumps, recs))
        kept.append(lines)
        return jsonl(path, lines + tail)

    put(
        root / "kraken" / "kraken-2026-12-07T05.jsonl.gz",
        [*varied("kraken", H7 - 2 * HOUR, 3), Status("kraken", "live", ts_recv=H7 - 2 * HOUR)],
    )
    for ex in ("kraken", "binance"):
        done = put(root / ex / f"{ex}-2026-12-07T07.0000.jsonl.gz", varied(ex, H7, 8, 10))
        status = Status(ex, "stale", "no data for 60 s", None, H7 + 5, 30)
        closed = put(root / ex / "status" / f"{ex}-status-2026-12-07T07.0000.jsonl.gz", [status])
        for path in (done, closed):
            src = datafiles.source(path)
            assert src is not None
            parquet.convert(root, src)
    # The current hour: a file being written, whose partial last line is not a record yet.
    put(
        root / "kraken" / "kraken-2026-12-07T08.0000.jsonl",
        varied("kraken", H7 + HOUR, 4, 40),
        b'{"type":"tic',
    )
    return root, as_read([orjson.loads(x) for chunk in kept for x in chunk.splitlines()])


def test_every_record_once_exactly_with_filters(data: tuple[Path, list[dict]]) -> None:
    root, every = data
    tickers = sorted(
        (r for r in every if r["type"] == "ticker"),
        key=lambda r: (r["ts_recv"], r["exchange"], r["seq"]),
    )
    assert as_jsonl(aggregator.read(root)) == tickers
    kraken = aggregator.read(root, "kraken", "BTC/USDT", start="2026-12-07T07:00", end=H7 + HOUR)
    assert as_jsonl(kraken) == [
        r
        for r in tickers
        if r["exchange"] == "kraken"
        and r["symbol"] == "BTC/USDT"
        and H7 <= r["ts_recv"] < H7 + HOUR
    ]
    status = aggregator.read(root, type="status")
    assert status["state"].to_pylist() == ["live", "stale", "stale"]
    assert aggregator.read(root, "nowhere").num_rows == 0
    with pytest.raises(AggregatorError, match="start: expected a time"):
        aggregator.read(root, start="yesterday")


def test_export_parquet_and_csv(data: tuple[Path, list[dict]], tmp_path: Path) -> None:
    root, _ = data
    out = tmp_path / "kraken.parquet"
    assert (
        main(["export", str(root), "-o", str(out), "-e", "kraken", "--from", "2026-12-07T06"]) == 0
    )
    got = as_jsonl(pq.read_table(out))
    assert [r["seq"] for r in got] == [*range(10, 18), *range(40, 44)]
    csv = tmp_path / "status.csv"
    assert main(["export", str(root), "-o", str(csv), "-t", "status"]) == 0
    assert csv.read_text().count("\n") == 4  # a header and three records
    assert main(["export", str(root), "-o", str(tmp_path / "x.xlsx")]) == 1


def readme_examples() -> list[str]:
    """The Python blocks of the README's section on reading the files."""
    text = README.read_text()
    section = text[text.index("### Parquet and reading the files") :]
    section = section[: section.index("\n## ")]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_readme_examples_read_exactly(
    data: tuple[Path, list[dict]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each example as written, in a directory where "data" is the data directory: the
    timestamps they give are the JSON Lines' to the nanosecond."""
    root, every = data
    monkeypatch.chdir(root.parent)
    blocks = readme_examples()
    assert len(blocks) == 4 and all(len([x for x in b.splitlines() if x]) <= 3 for b in blocks)
    closed = [r for r in every if r["type"] == "ticker" and r["exchange"] == "kraken"]
    parquet_hour = [r for r in closed if H7 <= r["ts_recv"] < H7 + HOUR]
    for block in blocks:
        lib = re.match(r"import (\w+)", block)
        assert lib is not None
        pytest.importorskip(lib[1])
        scope: dict = {}
        exec(block, scope)
        if "rel" in scope:
            table = scope["rel"].arrow()
            table = table.read_all() if isinstance(table, pa.RecordBatchReader) else table
        elif lib[1] == "polars":
            table = scope["df"].to_arrow()
        else:
            table = pa.Table.from_pandas(scope["df"], preserve_index=False)
        want = closed if lib[1] == "aggregator" else parquet_hour
        got = sorted(
            zip(
                table["ts_recv"].cast(pa.int64()).to_pylist(),
                table["bid"].to_pylist(),
                table["seq"].to_pylist(),
                strict=True,
            )
        )
        assert got == sorted((r["ts_recv"], r["bid"], r["seq"]) for r in want), lib[1]
    assert os.getcwd() == str(root.parent)


def test_bbo_records_converted_and_read(tmp_path: Path) -> None:
    """The consolidated view's records (consolidated/): Parquet under type=bbo, read back."""
    best = [
        BBO("consolidated", "BTC/USD", None, 63297.8, 0.5, "kraken", 63298.1, 1e-8, "coinbase")
        for _ in range(3)
    ]
    for i, r in enumerate(best):
        r.venues, r.ts_recv, r.seq = 2, H7 + i, i
    merged = BBO("consolidated", "BTC/", ("USD", "USDT"), ts_recv=H7 + 9, seq=3, crossed=True)
    lines = [dumps(r) for r in (*best, merged)]
    path = jsonl(
        tmp_path / "consolidated" / "consolidated-2026-12-07T07.0000.jsonl", b"".join(lines)
    )
    src = datafiles.source(path)
    assert src is not None and src.types == ("bbo",)
    (done,) = parquet.convert(tmp_path, src)
    assert done.parent.parent.parent.name == "type=bbo"
    assert as_jsonl(aggregator.read(tmp_path, type="bbo")) == [orjson.loads(x) for x in lines]
    assert aggregator.read(tmp_path).num_rows == 0  # no tickers there
