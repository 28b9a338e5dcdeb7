"""Bad values from a venue: the daemon, as a process, against a simulated Binance that sends
prices and sizes that are not numbers, a negative price, a negative size and crossed books.

What must hold on disk and on the socket: each such record has null where the value was bad
or out of range (never the previous record's value), the flags say why, a crossed book keeps
its values; the venue's parse errors count the bad values and its flagged count every
flagged record; the stream goes on (no reconnect), and every accepted record is on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from typing import Any

from .conftest import Chaos
from .daemon import RATES, Daemon, statuses, tickers

# What the venue's bookTicker frames get, in turn, and the flag each must bring.
SPOILS: list[tuple[str, str, Any, str]] = [
    ("bad text", "b", "abc", "bad_value"),
    ("NaN", "a", "NaN", "bad_value"),
    ("a boolean", "b", True, "bad_value"),
    ("an object", "A", {"qty": 1}, "bad_value"),
    ("a negative price", "a", "-1.5", "nonpositive_price"),
    ("a zero price", "b", "0.00000000", "nonpositive_price"),
    ("a negative size", "B", "-0.25", "negative_size"),
    ("a crossed book", "b", None, "crossed"),  # the bid set above the ask
]
EACH = 25  # frames spoiled of each kind


class Spoiler:
    """The simulator's frame rewrite: EACH bookTicker frames of each kind, in turn."""

    def __init__(self) -> None:
        self.done: dict[str, int] = {name: 0 for name, *_ in SPOILS}
        self.n = 0

    @property
    def finished(self) -> bool:
        return self.n >= EACH * len(SPOILS)

    def __call__(self, frame: str) -> str:
        if self.finished or '"u":' not in frame:
            return frame
        d = json.loads(frame)
        name, key, value, _ = SPOILS[self.n % len(SPOILS)]
        if value is None:
            d["b"] = str(float(d["a"]) + 1)
        else:
            d[key] = value
        self.done[name] += 1
        self.n += 1
        return json.dumps(d, separators=(",", ":"))


async def read_socket(d: Daemon, lines: list[dict[str, Any]], stop: asyncio.Event) -> None:
    """A subscriber of the venue's tickers, from its snapshot's end until `stop`."""
    reader, writer = await asyncio.open_unix_connection(str(d.sock))
    try:
        writer.write(b'{"op":"subscribe","exchanges":["binance"],"types":["ticker"]}\n')
        live = False
        async with asyncio.timeout(60):
            while not stop.is_set():
                try:
                    line = await asyncio.wait_for(reader.readline(), 0.2)
                except TimeoutError:
                    continue
                assert line, "the daemon closed the subscriber"
                msg = json.loads(line)
                if msg.get("type") == "snapshot_end":
                    live = True
                elif live and msg.get("type") == "ticker":
                    lines.append(msg)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def test_bad_values_are_null_flagged_and_counted_on_disk_and_socket(chaos: Chaos) -> None:
    d = await Daemon({"binance": RATES["binance"]}).start()
    try:
        sim = d.sims["binance"]
        before = await d.venue("binance")
        assert before["flagged"] == 0 and before["parse_errors"] == 0
        socket_lines: list[dict[str, Any]] = []
        stop = asyncio.Event()
        reading = asyncio.ensure_future(read_socket(d, socket_lines, stop))
        await asyncio.sleep(0.5)  # the subscriber is live
        spoil = Spoiler()
        t0 = time.time_ns()
        sim.faults.rewrite = spoil
        async with asyncio.timeout(20):
            while not spoil.finished:
                await asyncio.sleep(0.05)
        spent = (time.time_ns() - t0) / 1e9
        sim.faults.rewrite = None
        await asyncio.sleep(1.0)  # the last of them through, and clean records after
        venue = await d.venue("binance")
        stop.set()
        await reading
        out = await d.stop()
    finally:
        await d.kill()
    out.check()
    records = out.records["binance"]
    on_disk = tickers(records)
    flagged = [r for r in on_disk if r["flags"] is not None]
    bad = [r for r in flagged if "bad_value" in r["flags"]]
    spoiled = EACH * len(SPOILS)
    bad_sent = sum(EACH for *_, flag in SPOILS if flag == "bad_value")
    # every spoiled frame made one flagged record, and nothing else was flagged
    assert len(flagged) == spoiled, [r["flags"] for r in flagged][:20]
    assert (venue["flagged"], venue["parse_errors"]) == (spoiled, bad_sent)
    assert len(bad) == bad_sent and venue["reconnects"] == 0
    assert Counter(tuple(r["flags"]) for r in flagged) == Counter(
        (flag,) for *_, flag in SPOILS for _ in range(EACH)
    )
    for r in flagged:
        if r["flags"] == ["crossed"]:
            assert r["bid"] > r["ask"]  # kept as sent
        else:
            assert None in (r["bid"], r["ask"], r["bid_size"], r["ask_size"])
    # every other ticker line carries the field, null
    assert all("flags" in r for r in on_disk)
    assert sum(1 for r in on_disk if r["flags"] is None) == len(on_disk) - spoiled
    # the subscriber got the same flagged records
    socket_flagged = [r for r in socket_lines if r["flags"] is not None]
    assert [(r["seq"], r["flags"]) for r in socket_flagged] == [
        (r["seq"], r["flags"]) for r in flagged
    ]
    errors = [s for s in statuses(records) if s["state"] == "error"]
    assert 1 <= len(errors) <= 3 and "not a finite number" in errors[0]["detail"]
    chaos.record(
        "venue: bad values (not numbers, <= 0 prices, negative sizes, crossed books)",
        faults=f"binance: {spoiled} bookTicker frames spoiled ({EACH} of each of "
        f"{len(SPOILS)} kinds) in {spent:.1f}s",
        accepted=out.published,
        written=out.on_disk,
        dropped=out.dropped,
        peak_rss_mb=out.peak_rss_mb,
        notes=f"flagged={venue['flagged']} (on disk {len(flagged)}, on the socket "
        f"{len(socket_flagged)}), parse_errors={venue['parse_errors']} (bad_value on disk "
        f"{len(bad)}), {len(errors)} error status, no reconnect",
    )
