"""Logging, configured once by the CLI: text for people, JSON lines for log shippers.

Records may carry ``exchange`` and ``symbol`` (``extra={"exchange": ...}``; the adapters'
logger adds the exchange): the text format puts them before the message, the JSON format
gives them their own keys. A venue failing the same way over and over is logged once per
minute, the next line carrying how many were held back; an event that comes in a burst (the
same INFO line again and again: connections refused, signals) once per ten seconds, the same
way (``RepeatFilter``).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

FORMATS = ("text", "json")
REPEAT_WINDOW = 60.0  # seconds: one line per (logger, exchange, message) per window
BURST_WINDOW = 10.0  # seconds: the same for an INFO line repeated word for word
MAX_KEYS = 4096  # repeating messages tracked at once; beyond it the oldest are forgotten


def context(record: logging.LogRecord) -> str:
    """``"binance BTC/USDT: "``, ``"binance: "`` or ``""``: what the record is about."""
    exchange = getattr(record, "exchange", None)
    symbol = getattr(record, "symbol", None)
    parts = [str(p) for p in (exchange, symbol) if p]
    return f"{' '.join(parts)}: " if parts else ""


class TextFormatter(logging.Formatter):
    """``2024-05-01 12:00:00,123 WARNING aggregator.adapters.runner: binance: no data for 30s``."""

    def __init__(self, journald: bool = False) -> None:
        # journald stamps every line itself
        fmt = "%(levelname)s %(name)s: %(message)s"
        super().__init__(fmt if journald else "%(asctime)s " + fmt)

    def formatMessage(self, record: logging.LogRecord) -> str:
        saved = record.message
        record.message = context(record) + saved
        try:
            return super().formatMessage(record)
        finally:
            record.message = saved


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, then exchange, symbol, exc if any.

    ``{"ts":"2024-05-01T12:00:00.123Z","level":"warning","logger":"aggregator.adapters.runner",
    "msg":"no data for 30s","exchange":"binance"}``
    """

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC)
        out: dict[str, Any] = {
            "ts": ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("exchange", "symbol"):
            value = getattr(record, key, None)
            if value:
                out[key] = str(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(out, default=str).decode()


@dataclass(slots=True)
class _Repeat:
    since: float  # when the last line of this key was written
    held: int = 0  # lines held back since then
    last: logging.LogRecord | None = None  # the latest of them


class RepeatFilter(logging.Filter):
    """Let one line per (logger, exchange, message template) through per ``window`` seconds.

    WARNING and above: what repeats when a venue keeps failing, grouped by template (its
    values may change from line to line). INFO: transitions, which differ in their values;
    only the same line word for word is grouped, per ``burst_window``: a burst of one event
    (connections refused, signals). DEBUG is asked for and never held. The first line after
    the window (a new occurrence, or ``flush`` once the window is over) says ``(repeated N
    times)``. Per-connection loggers (``picows.stream.17``) count as their family, and a
    message that came formatted (no arguments) counts with its digits masked: repeats that
    differ only by a number are one event.
    """

    def __init__(
        self,
        handler: logging.Handler | None = None,
        window: float = REPEAT_WINDOW,
        clock: Any = time.monotonic,
        burst_window: float = BURST_WINDOW,
    ) -> None:
        super().__init__()
        self.handler = handler  # where ``flush`` writes the held-back counts
        self.window = window
        self.burst_window = burst_window
        self.clock = clock
        self.held_total = 0
        self._keys: dict[_Key, _Repeat] = {}  # WARNING and above, oldest first
        self._bursts: dict[_Key, _Repeat] = {}  # INFO, oldest first
        self._lock = threading.Lock()  # worker threads (file writes) log too

    def filter(self, record: logging.LogRecord) -> bool:
        level = record.levelno
        if level < logging.INFO or getattr(record, "_repeat_flush", False):
            return True
        name = _family(record.name)
        exchange = getattr(record, "exchange", None)
        if level >= logging.WARNING:
            msg = str(record.msg)
            key = (name, exchange, _DIGITS.sub("#", msg) if not record.args else msg)
            keys, window = self._keys, self.window
        else:
            try:
                key = (name, exchange, record.getMessage())
            except Exception:  # a bad format: the handler reports it, as for any line
                return True
            keys, window = self._bursts, self.burst_window
        with self._lock:
            now = self.clock()
            seen = keys.get(key)
            if seen is None or now - seen.since >= window:
                if seen is not None and seen.held:
                    _annotate(record, seen.held)
                if seen is None and len(keys) >= MAX_KEYS:
                    del keys[next(iter(keys))]
                keys.pop(key, None)
                keys[key] = _Repeat(now)  # re-inserted: the dict stays oldest first
                return True
            seen.held += 1
            seen.last = record
            self.held_total += 1
            return False

    def flush(self, force: bool = False) -> int:
        """Write the count of every key whose window is over (every key: ``force``, at exit);
        forget quiet keys. Cheap: the keys are kept oldest first."""
        due: list[logging.LogRecord] = []
        with self._lock:
            now = self.clock()
            for keys, window in ((self._keys, self.window), (self._bursts, self.burst_window)):
                for key, seen in list(keys.items()):
                    if not force and now - seen.since < window:
                        break  # oldest first: the rest are younger
                    del keys[key]
                    if seen.held and seen.last is not None:
                        _annotate(seen.last, seen.held)
                        seen.last._repeat_flush = True
                        due.append(seen.last)
                        keys[key] = _Repeat(now)  # the count starts a new window
        due.sort(key=lambda r: r.created)
        if self.handler is not None:
            for record in due:
                self.handler.handle(record)
        return len(due)


_Key = tuple[str, str | None, str]
_DIGITS = re.compile(r"\d+")
_CONNECTION = re.compile(r"(\.\d+)+$")  # a logger per connection: picows.stream.17


def _family(name: str) -> str:
    """A logger's name without a per-connection number at its end."""
    return _CONNECTION.sub("", name) if name[-1:].isdigit() else name


def _annotate(record: logging.LogRecord, held: int) -> None:
    record.msg = f"{record.msg} (repeated {held} time{'s' if held != 1 else ''})"


_repeats: RepeatFilter | None = None


def flush_repeats(force: bool = False) -> None:
    """Write the counts of repeating lines whose window is over (the daemon calls it each
    second), or of all of them (``force``, at shutdown)."""
    if _repeats is not None:
        _repeats.flush(force)


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    """Configure the root logger once: stderr, ``text`` or ``json``, repeats rate-limited."""
    global _repeats
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter(journald=bool(os.environ.get("JOURNAL_STREAM"))))
    _repeats = RepeatFilter(handler)
    handler.addFilter(_repeats)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.captureWarnings(True)  # Python warnings become log lines (JSON ones, too)
    logging.getLogger("picows").setLevel(logging.WARNING)
    logging.getLogger("aiohttp").setLevel(logging.WARNING)


def log_format() -> str:
    """The format in use: ``json`` when ``setup_logging`` chose it, else ``text``."""
    handlers = logging.getLogger().handlers
    return "json" if any(isinstance(h.formatter, JsonFormatter) for h in handlers) else "text"
