"""How a venue session ends and when the next one starts: every error that ends a session
is classified here, once, and the reconnect backoff is kept here.

An error is retryable (the connection, the protocol, a timeout, the venue: the session ends
with a reason and the loop reconnects), fatal (the configuration: retrying cannot help, the
stream stops and REST polling, where the venue has it, stands in), or a bug of ours (an
exception nobody expected: its traceback is logged once, and the loop still backs off and
reconnects, so that one bad frame never takes the venue down for good).

A session also ends when it goes quiet: ``watch`` drops a WebSocket session that made no
record for ``stale_after`` (a subscription that never sends data included), and marks a REST
poller stale until its next good poll.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from ..errors import ConfigError, VenueError
from .base import backoff_delay
from .emitter import Connection
from .stream import SessionClosed, WSError, WSHandshakeError, WSInvalidURL

RETRY, FATAL, BUG = "retry", "fatal", "bug"

# What retrying can fix; checked after FATAL_ERRORS (an invalid URL is also a WSError).
RETRYABLE_ERRORS = (
    OSError,  # refused, reset, unreachable, TLS (ssl.SSLError), a handshake cut short
    TimeoutError,
    WSError,  # the handshake refused or malformed, a protocol violation picows detected
    SessionClosed,  # a protocol violation the listener detected, the venue's close
    aiohttp.ClientError,  # the token request of venues that need one
    VenueError,  # the venue said no (includes an unusable token answer)
)
FATAL_ERRORS = (ConfigError, WSInvalidURL)


@dataclass(frozen=True, slots=True)
class Ending:
    """How a session ended: ``kind`` is RETRY, FATAL or BUG; ``reason`` is for people."""

    kind: str
    reason: str


def classify(e: BaseException) -> Ending:
    """The one place that decides what an error ending a session means (never for
    cancellation, which callers let through)."""
    if isinstance(e, FATAL_ERRORS):
        return Ending(FATAL, f"configuration error: {describe(e)}")
    if isinstance(e, RETRYABLE_ERRORS):
        return Ending(RETRY, describe(e))
    return Ending(BUG, f"internal error: {type(e).__name__}: {describe(e)}")


def describe(e: BaseException) -> str:
    """An error in a few words, for a status record and a log line."""
    if isinstance(e, TimeoutError | asyncio.TimeoutError):
        return "timed out"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    if isinstance(e, WSHandshakeError):
        return f"handshake failed: {str(e)[:180]}"
    return (str(e) or type(e).__name__)[:200]


@dataclass(slots=True)
class Backoff:
    """Capped exponential delays with jitter between attempts; after a healthy run the next
    delay starts again from ``initial``."""

    initial: float
    cap: float
    attempt: int = 0

    def next(self, healthy: bool) -> float:
        self.attempt = 0 if healthy else self.attempt + 1
        return backoff_delay(self.attempt, self.initial, self.cap)


@dataclass(slots=True)
class BugLog:
    """Logs an unexpected error's traceback the first time it is seen (by type and place),
    a one-line warning after that (which the log's repeat filter counts)."""

    log: logging.Logger | logging.LoggerAdapter  # type: ignore[type-arg]
    seen: set[tuple[str, str, int]] = field(default_factory=set)
    MAX_SEEN = 64  # distinct bugs remembered; past it, each logs its traceback again

    def __call__(self, e: BaseException, what: str) -> None:
        tb = e.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = (tb.tb_frame.f_code.co_filename, tb.tb_lineno) if tb is not None else ("", 0)
        key = (type(e).__name__, *where)
        if key in self.seen:
            self.log.warning("%s: %s: %s (seen before)", what, type(e).__name__, describe(e))
            return
        if len(self.seen) >= self.MAX_SEEN:
            self.seen.clear()
        self.seen.add(key)
        self.log.error("%s: %s", what, describe(e), exc_info=e)


STALE_CHECK = 1.0  # seconds between staleness checks
TRIM_EVERY = 10  # beats between the read buffer's trims (about 1.5 us a connection)

# per event loop: the futures waiting for its next beat (one timer for all of them)
_BEATS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = (
    weakref.WeakKeyDictionary()
)


async def beat() -> None:
    """Wait for the next beat of the loop's clock, every STALE_CHECK s: each connection's
    checks (staleness, the REST fallback) wake on one timer for all of them, where a sleep
    each would keep a timer each (hundreds of connections: a timer each every second). The
    first beat comes within STALE_CHECK, the next ones every STALE_CHECK."""
    waiter: asyncio.Future[None] = _enlist(asyncio.get_running_loop())
    await waiter


def _enlist(loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
    """A future for the loop's next beat, in the list of its waiters. (Out of ``beat``'s
    frame: a task cancelled while it waits keeps that frame in its CancelledError, and with
    it anything the frame holds, the list of every other connection's waiter among them.)"""
    waiters = _BEATS.get(loop)
    if waiters is None:
        waiters = _BEATS[loop] = []
        loop.call_later(STALE_CHECK, _ring, loop)
    waiter: asyncio.Future[None] = loop.create_future()
    waiters.append(waiter)
    return waiter


def _ring(loop: asyncio.AbstractEventLoop) -> None:
    for waiter in _BEATS.pop(loop, ()):
        if not waiter.done():  # (a cancelled one)
            waiter.set_result(None)


async def watch(
    conn: Connection,
    stale_after: float,
    status: Callable[[str, str | None, int | None], None],
    log: logging.Logger | logging.LoggerAdapter,  # type: ignore[type-arg]
) -> None:
    """Mark the connection stale and drop it when no record arrived for ``stale_after``;
    every TRIM_EVERY beats, give back what its read buffer grew in a burst (WebSocket.trim)."""
    beats = 0
    while True:
        await beat()
        beats += 1
        if beats % TRIM_EVERY == 0 and conn.ws is not None:
            conn.ws.trim()
        mark = conn.activity + conn.record_count()
        if mark != conn.seen:
            conn.seen = mark
            conn.idle = 0.0
            conn.stale = False
            continue
        conn.idle += STALE_CHECK
        if conn.idle >= stale_after and not conn.stale:
            conn.stale = True
            log.warning("no data for %.0fs", conn.idle)
            if conn.ws is not None:
                conn.ws.abort()  # the session ends; the loop reconnects
                return
            # REST: say so once and keep polling; the next good poll clears it.
            status("stale", f"no data for {conn.idle:.0f}s", conn.index)
            conn.live = False
