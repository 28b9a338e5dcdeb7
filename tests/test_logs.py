"""Bursts in the log: RepeatFilter groups what repeats, through a real handler."""

from __future__ import annotations

import logging

from aggregator.logs import RepeatFilter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def logger(name: str, handler: logging.Handler) -> logging.Logger:
    """A logger of its own (not the root's handlers) writing to ``handler``."""
    log = logging.Logger(name, logging.DEBUG)
    log.addHandler(handler)
    return log


def grouped() -> tuple[Collect, RepeatFilter, Clock]:
    clock, out = Clock(), Collect()
    repeats = RepeatFilter(out, window=60.0, clock=clock)  # bursts: 10 s, the default
    out.addFilter(repeats)
    return out, repeats, clock


def test_a_burst_of_one_info_line_is_one_line_then_its_count() -> None:
    out, repeats, clock = grouped()
    log = logger("aggregator.sinks.socket", out)
    for _ in range(200):
        log.info("socket: refused a connection past max_clients=%d", 100)
        clock.now += 0.01
    log.info("socket: refused a connection: daemon stopping")  # other words: its own line
    assert out.lines == [
        "socket: refused a connection past max_clients=100",
        "socket: refused a connection: daemon stopping",
    ]
    assert repeats.flush() == 0  # the burst's window is not over
    clock.now += 10
    assert repeats.flush() == 1
    assert out.lines[-1] == "socket: refused a connection past max_clients=100 (repeated 199 times)"
    clock.now += 10.1
    assert repeats.flush() == 0 and not repeats._bursts  # quiet: forgotten
    log.info("socket: refused a connection past max_clients=%d", 100)  # a new burst
    assert len(out.lines) == 4


def test_info_lines_that_differ_are_all_written_and_debug_is_never_held() -> None:
    out, repeats, _ = grouped()
    log = logger("aggregator.adapters.runner", out)
    for i in range(5):
        log.info("connection %d: live", i)  # transitions: their values are what they say
        log.debug("frame")  # asked for: every one
    assert out.lines == [x for i in range(5) for x in (f"connection {i}: live", "frame")]
    assert repeats.held_total == 0


def test_a_logger_per_connection_counts_as_its_family() -> None:
    """picows names a logger per connection (``picows.stream.<fd>``): one venue failing on
    connection after connection is one repeating line, not one per connection."""
    out, repeats, clock = grouped()
    for fd in range(17, 47):
        log = logger(f"picows.stream.{fd}", out)
        log.warning("WS parser error: %s, initiate disconnect", ("bad frame",))
        clock.now += 0.5
    assert len(out.lines) == 1 and repeats.held_total == 29
    clock.now += 60
    repeats.flush()
    assert out.lines[-1].endswith("(repeated 29 times)")


def test_formatted_messages_that_differ_by_a_number_are_one_event() -> None:
    """A message formatted before logging (no arguments) repeats with its numbers changed:
    grouped with its digits masked; with arguments, the template groups them already."""
    out, repeats, clock = grouped()
    log = logger("websockets.client", out)
    for port in range(40000, 40020):
        log.warning(f"connection to 127.0.0.1:{port} reset")
    log.warning("connection to a host reset")  # different words: its own line
    assert out.lines == ["connection to 127.0.0.1:40000 reset", "connection to a host reset"]
    clock.now += 60
    repeats.flush()
    assert out.lines[-1] == "connection to 127.0.0.1:40019 reset (repeated 19 times)"


def test_repeats_count_per_venue() -> None:
    """The same line from two venues is two events: one venue failing never hides another."""
    out, _, clock = grouped()
    log = logger("aggregator.adapters.runner", out)
    for _ in range(10):
        for venue in ("kraken", "binance"):
            log.warning("no data for %ds; reconnecting", 30, extra={"exchange": venue})
            log.info("live", extra={"exchange": venue})
        clock.now += 0.1
    assert out.lines == ["no data for 30s; reconnecting", "live"] * 2


class Reporting(Collect):
    """Reports a line it cannot format, as logging's own handlers do."""

    def __init__(self) -> None:
        super().__init__()
        self.reported: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            super().emit(record)
        except Exception:
            self.reported.append(record)


def test_a_line_that_cannot_be_formatted_is_reported_by_the_handler_not_raised() -> None:
    out = Reporting()
    out.addFilter(RepeatFilter(out))
    log = logger("aggregator.app", out)
    log.info("%d venues", "three")  # a bug in a log call must not raise where it is logged
    assert len(out.reported) == 1 and out.lines == []
