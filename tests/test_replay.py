"""`aggregator replay` serves recorded files to `tail` as the daemon would: every line as
recorded, in receive-time order, at the recorded pace or as fast as the socket takes them."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import orjson
import pytest

from aggregator.records import Status, Ticker, dumps

from .test_daemon import short_dir, spawn, wait_for
from .test_parquet import varied

pytestmark = pytest.mark.timeout(30)

H7 = 1796626800 * 10**9  # 2026-12-07T07:00Z
SPAN = 600_000_000  # ns the recording spans


def recording(root: Path) -> list[bytes]:
    """Two venues' tickers and a status record over SPAN, in the new layout and the older
    one; the lines in receive-time order."""
    kraken, binance = varied("kraken", H7, 150), varied("binance", H7, 150, 1000)
    for i, r in enumerate(kraken):
        r.ts_recv = H7 + i * SPAN // 150
    for i, r in enumerate(binance):
        r.ts_recv = H7 + 1 + i * SPAN // 150
    live = Status("kraken", "live", None, None, H7 + SPAN // 2, 500)
    (root / "kraken" / "status").mkdir(parents=True)
    (root / "binance").mkdir()
    (root / "kraken" / "kraken-2026-12-07T07.0000.jsonl").write_bytes(b"".join(map(dumps, kraken)))
    (root / "kraken" / "status" / "kraken-status-2026-12-07T07.0000.jsonl").write_bytes(dumps(live))
    (root / "binance" / "binance-2026-12-07T07.jsonl").write_bytes(b"".join(map(dumps, binance)))
    records: list[Ticker | Status] = [*kraken, *binance, live]
    return [dumps(r) for r in sorted(records, key=lambda r: (r.ts_recv, r.seq))]


async def test_replay_serves_a_recording_to_tail_at_its_pace_and_at_max() -> None:
    root = short_dir()
    want = recording(root / "data")
    runs = {}
    took: dict[str, float] = {}
    for speed in ("1", "max"):
        sock = root / f"{speed}.sock"
        replay = await spawn("replay", str(root / "data"), "--socket", str(sock), "--speed", speed)
        await wait_for(sock.exists)
        tail = await spawn("tail", "--socket", str(sock), "-n", str(len(want)))
        runs[speed] = (replay, tail)
    for speed, (replay, tail) in runs.items():
        out, _ = await asyncio.wait_for(tail.proc.communicate(), 20)
        assert tail.proc.returncode == 0, speed
        assert await replay.wait(20) == 0, replay.log()
        got = out.splitlines(keepends=True)
        assert got == want, speed  # as recorded, byte for byte, in receive-time order
        took[speed] = float(re.findall(r"served in ([\d.]+) s", replay.log())[0])
    assert took["1"] >= 0.5 * SPAN / 1e9 and took["max"] < took["1"], took


async def test_replay_refuses_what_it_cannot_serve(tmp_path: Path) -> None:
    r = await spawn("replay", str(tmp_path / "nothing"), "--socket", str(tmp_path / "s"))
    assert await r.wait() == 1 and "no such file or directory" in r.log()
    r = await spawn("replay", str(tmp_path), "--socket", str(tmp_path / "s"), "--speed", "0")
    assert await r.wait() == 2 and "--speed" in r.log()
    assert orjson.loads(dumps(Status("x", "live")))["type"] == "status"
