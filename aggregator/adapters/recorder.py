"""Raw capture: a venue's frames and REST answers kept as they came, with their receive time.

With ``capture = true`` in a venue's config, every WebSocket frame (before the codec reads
it), every REST answer and the start of every session go, one JSON line each, to
``<files.dir>/<exchange>[/<kind>]/raw/<exchange>-raw-<YYYY-MM-DDTHH>.jsonl.gz``: gzip
streams, one file an hour (the hour of the receive time), appended in gzip members by a
thread of their own, so the event loop only queues bytes. A line is

    {"recv_ns": 1796648396490142303, "markets": ["BTCUSDT", ...]}         the markets followed
    {"recv_ns": ..., "conn": 0, "open": "wss://..."}                      a session starts
    {"recv_ns": ..., "conn": 0, "ws": "<the text frame>"}                  ("ws_b64": binary)
    {"recv_ns": ..., "conn": null, "rest": "<the body>", "market": "BTCUSDT"}  ("rest_b64")

``recv_ns`` is the ``ts_recv`` the live records of that payload carry, so that `aggregator
normalize` makes the same records again from a capture (aggregator/recapture.py): after a
codec fix, a day can be normalised anew.
"""

from __future__ import annotations

import base64
import gzip
import logging
import queue
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import orjson

log = logging.getLogger(__name__)

_NEWLINE = orjson.OPT_APPEND_NEWLINE
_STOP = None  # (queued: the thread ends)
_TICK = ("", 0, b"")  # (not queued: nothing came in time, write what is held)
FLUSH_EVERY = 1.0  # seconds: what waits is written (one gzip member per file) this often


class RawWriter:
    """The files of every venue's capture, written by one thread."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.written = 0  # lines
        self.failed = 0  # lines that could not be written (logged once per file)
        self._queue: queue.SimpleQueue[tuple[str, int, bytes] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def recorder(self, exchange: str, kind: str = "spot") -> Recorder:
        stream = exchange if kind == "spot" else f"{exchange}/{kind}"
        return Recorder(self, f"{stream}/raw", exchange)

    def put(self, stream: str, ts: int, line: bytes) -> None:
        self._queue.put((stream, ts, line))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="raw-capture", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is queued and end the thread (bounded by ``timeout``)."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        held: dict[Path, list[bytes]] = {}
        due = time.monotonic() + FLUSH_EVERY
        while True:
            try:
                item = self._queue.get(timeout=max(due - time.monotonic(), 0.0))
            except queue.Empty:
                item = _TICK
            if item is None:
                self._write(held)
                return
            if item is not _TICK:
                stream, ts, line = item
                hour = time.strftime("%Y-%m-%dT%H", time.gmtime(ts // 1_000_000_000))
                name = stream.split("/", 1)[0]
                held.setdefault(self.root / stream / f"{name}-raw-{hour}.jsonl.gz", []).append(line)
            if time.monotonic() >= due:
                self._write(held)
                held = {}
                due = time.monotonic() + FLUSH_EVERY

    def _write(self, held: dict[Path, list[bytes]]) -> None:
        for path, lines in held.items():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "ab") as f:  # one gzip member per write: a valid gzip file
                    f.write(gzip.compress(b"".join(lines), compresslevel=6))
                self.written += len(lines)
            except OSError as e:
                self.failed += len(lines)
                log.warning("raw capture: %s: %s (%d lines lost)", path, e, len(lines))


class Recorder:
    """One adapter's capture: what it received, in the order it received it."""

    def __init__(self, writer: RawWriter, stream: str, exchange: str) -> None:
        self._put = writer.put
        self.stream = stream
        self.exchange = exchange

    def markets(self, ts: int, natives: list[str]) -> None:
        """The markets the adapter follows from here on (a capture is read with them)."""
        self._line(ts, {"recv_ns": ts, "markets": natives})

    def opened(self, conn: int | None, ts: int, url: str) -> None:
        self._line(ts, {"recv_ns": ts, "conn": conn, "open": url})

    def frame(self, conn: int | None, ts: int, raw: bytes) -> None:
        try:
            entry = {"recv_ns": ts, "conn": conn, "ws": raw.decode()}
        except UnicodeDecodeError:  # a binary frame (gzip, say)
            entry = {"recv_ns": ts, "conn": conn, "ws_b64": base64.b64encode(raw).decode()}
        self._line(ts, entry)

    def answer(self, conn: int | None, ts: int, body: bytes, market: str | None) -> None:
        try:
            entry = {"recv_ns": ts, "conn": conn, "rest": body.decode(), "market": market}
        except UnicodeDecodeError:
            text = base64.b64encode(body).decode()
            entry = {"recv_ns": ts, "conn": conn, "rest_b64": text, "market": market}
        self._line(ts, entry)

    def _line(self, ts: int, entry: Mapping[str, object]) -> None:
        self._put(self.stream, ts, orjson.dumps(entry, option=_NEWLINE))
