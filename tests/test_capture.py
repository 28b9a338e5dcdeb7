"""Raw capture: what the daemon received, kept with its receive time, normalises again into
the records the daemon made live (aggregator/adapters/recorder.py, aggregator/recapture.py).

A daemon process with `capture = true` on two simulated venues: Binance streaming (two
channels merged per market, a gap in the stream's fields filled from the previous record)
and Kraken polled over REST (unchanged answers dropped). After a stop, `aggregator normalize`
reads each venue's capture files and must print the live records, field for field (but
`seq` and `instance`, which the daemon gives on the way out)."""

from __future__ import annotations

import gzip
import io
import json
import signal
from pathlib import Path

import pytest

from aggregator.normalize import normalize
from aggregator.sim import VenueSim

from .test_daemon import short_dir, spawn, wait_for


def _config(root: Path, sims: dict[str, VenueSim]) -> Path:
    lines = [
        "[daemon]",
        f'state_dir = "{root / "state"}"',
        "[files]",
        f'dir = "{root / "data"}"',
        "flush_interval = 0.2",
        "[socket]",
        f'path = "{root / "agg.sock"}"',
        "[exchanges.binance]",
        'symbols = ["BTC/USDT", "ETH/USDT"]',
        "capture = true",
        "[exchanges.kraken]",
        'symbols = ["BTC/USD", "ETH/USD"]',
        'mode = "rest"',
        "poll_interval = 0.1",
        "capture = true",
    ]
    for venue in ("binance", "kraken"):
        at = lines.index(f"[exchanges.{venue}]") + 1
        for k, v in sims[venue].endpoints().items():
            lines.insert(at, f'{k} = "{v}"')
    path = root / "aggregator.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _live(data: Path, venue: str) -> list[dict]:
    """The venue's ticker records in the data files, in the order the daemon made them."""
    recs = [
        json.loads(line)
        for f in sorted((data / venue).glob(f"{venue}-*.jsonl*"))
        for line in (gzip.decompress(f.read_bytes()) if f.suffix == ".gz" else f.read_bytes())
        .decode()
        .splitlines()
    ]
    return sorted(recs, key=lambda r: r["seq"])


def _without_numbering(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k not in ("seq", "instance")}


@pytest.mark.timeout(60)
async def test_a_capture_normalises_into_the_live_records(tmp_path: Path) -> None:
    sims = {"binance": VenueSim("binance", rate=200, seed=3), "kraken": VenueSim("kraken", seed=4)}
    for s in sims.values():
        await s.start()
    root = short_dir()
    try:
        proc = await spawn("run", "-c", str(_config(root, sims)), cwd=root)
        data = root / "data"
        await wait_for(lambda: len(list(data.glob("*/raw/*.jsonl.gz"))) == 2, timeout=20)
        await wait_for(lambda: len(_live(data, "kraken")) >= 5, timeout=20)
        proc.proc.send_signal(signal.SIGTERM)
        assert await proc.wait() == 0, proc.log()
    finally:
        for s in sims.values():
            await s.stop()
    for venue in ("binance", "kraken"):
        live = [_without_numbering(r) for r in _live(data, venue)]
        captured = b"".join(
            gzip.decompress(f.read_bytes()) for f in sorted((data / venue / "raw").glob("*.gz"))
        ).decode()
        lines = [json.loads(x) for x in captured.splitlines()]
        assert any("markets" in x for x in lines)
        assert any(("ws" if venue == "binance" else "rest") in x for x in lines)
        out, err = io.StringIO(), io.StringIO()
        rc = normalize(venue, "ws" if venue == "binance" else "rest", None, root / "state",
                       io.StringIO(captured), out, err)  # fmt: skip
        again = [_without_numbering(json.loads(x)) for x in out.getvalue().splitlines()]
        assert rc == 0, err.getvalue()
        assert len(live) >= 5 and again == live, (venue, len(again), len(live))
    # the merge was at work: Binance book records carry the 24 h fields of a ticker frame
    merged = [r for r in _live(data, "binance") if r["last"] is not None]
    assert merged, "no Binance record carried a 24 h field"


def test_a_capture_that_cannot_be_written_is_counted_and_said_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The data directory is a file (removed and replaced, say): the writer thread counts the
    lines it lost and says so, once per file and flush, and the daemon goes on."""
    from aggregator.adapters.recorder import RawWriter

    blocked = tmp_path / "data"
    blocked.write_text("not a directory")
    writer = RawWriter(blocked)
    writer.start()
    rec = writer.recorder("kraken")
    for i in range(5):
        rec.frame(0, 1_796_000_000_000_000_000 + i, b'{"channel":"heartbeat"}')
    writer.stop()
    assert (writer.written, writer.failed) == (0, 5)
    assert [r.getMessage() for r in caplog.records if "raw capture" in r.getMessage()] == [
        f"raw capture: {blocked}/kraken/raw/kraken-raw-2026-11-30T00.jsonl.gz: "
        f"[Errno 20] Not a directory: '{blocked}/kraken/raw' (5 lines lost)"
    ]


def test_capture_lines_normalize_refuses_name_the_line_and_why() -> None:
    """A capture line whose payload cannot be read is refused with its line number, the rest
    of the capture goes on; binary frames come back byte for byte."""
    import base64

    frame = b'{"channel":"heartbeat"}'
    lines = [
        {"recv_ns": 1, "markets": ["BTC/USD"]},
        {"recv_ns": 2, "conn": 0, "ws_b64": "not base64!"},
        {"recv_ns": 3, "conn": 0, "ws_b64": base64.b64encode(frame).decode()},
    ]
    out, err = io.StringIO(), io.StringIO()
    text = "\n".join(json.dumps(x) for x in lines) + "\n"
    rc = normalize("kraken", "ws", None, None, io.StringIO(text), out, err)
    assert rc == 1 and out.getvalue() == ""
    assert "line 2: a capture line with no readable 'ws' payload" in err.getvalue()
    assert "line 3" not in err.getvalue()
