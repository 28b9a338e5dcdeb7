"""One WebSocket session on picows: frames go from the socket's read callback straight into
the codec and on to the sinks, with no queue, task switch or await per message.

picows was chosen by measurement (bench/README.md, "Choosing the WebSocket client"). It
hands over raw frames; this module adds reassembly of fragmented messages (bounded), the
venue's close code and reason, and a handler's error ending the session with that error.
Only this module and its compiled parts (compiled.py, _listen.pyx) know picows: what it
raises comes out as OSError, TimeoutError, WSError or SessionClosed, its log lines go to the
logger given.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
from collections.abc import Callable

from picows import (
    WSError,
    WSHandshakeError,
    WSInvalidURL,
    WSProtocolError,
    WSTransport,
    ws_connect,
)

from .compiled import READ_BUFFER, trim
from .listener import TEXT, Listener, OnMessage, Opening, SessionClosed

__all__ = [
    "SessionClosed",
    "WSError",
    "WSHandshakeError",
    "WSInvalidURL",
    "WebSocket",
    "open_websocket",
]

Logger = logging.Logger | logging.LoggerAdapter  # type: ignore[type-arg]


class WebSocket:
    """An open session: send text, wait for its end, drop it."""

    def __init__(self, transport: WSTransport, listener: Listener) -> None:
        self._transport = transport
        self._listener = listener

    def send(self, message: str | bytes) -> None:
        data = message.encode() if isinstance(message, str) else message
        self._transport.send(TEXT, data)

    def trim(self) -> int:
        """Give back what the read buffer grew in a burst (compiled.trim): the bytes."""
        return trim(self._transport)

    def abort(self) -> None:
        """Drop the connection now (a stale session); `wait_closed` then returns."""
        self._transport.disconnect(graceful=False)

    def close(self) -> None:
        if not self._transport.is_disconnected:
            if not self._transport.is_close_frame_sent:
                self._transport.send_close()
            self._transport.disconnect()

    async def wait_closed(self) -> SessionClosed:
        """Wait for the session to end; returns why, or raises the handler's error (a
        SessionClosed for a protocol violation the listener saw)."""
        try:
            await self._transport.wait_disconnected()
        except WSProtocolError as e:  # we closed: a frame over the size limit, say
            code = getattr(e.code, "value", e.code)
            what = "message too big" if code == 1009 else "protocol error"
            return SessionClosed(f"{what}, closed with {code}: {e.args[-1]}")
        except WSError as e:
            return SessionClosed(f"protocol error: {e}")
        except Exception as e:  # anything else picows raised: this session's end all the same
            if self._listener.error is None:
                return SessionClosed(f"WebSocket client error: {type(e).__name__}: {e}"[:200])
        if self._listener.error is not None:  # handed over, not kept: see take_error
            raise self._listener.take_error()
        handshake = self._transport.close_handshake
        if handshake is not None and handshake.recv is not None:
            info = handshake.recv
            code = getattr(info.code, "value", info.code)
            reason = f" {info.reason}" if info.reason else ""
            return SessionClosed(f"closed by the venue: {code}{reason}")
        return SessionClosed("connection lost")


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The system's trust store (or $SSL_CERT_FILE), loaded once per process."""
    return ssl.create_default_context()


async def open_websocket(
    url: str,
    on_message: OnMessage,
    first: list[str],
    on_open: Callable[[], None],
    *,
    on_read_end: Callable[[], None] | None = None,
    open_timeout: float,
    ping_interval: float | None,
    max_size: int,
    logger: Logger | None = None,
) -> WebSocket:
    """Connect and complete the handshake within `open_timeout`.

    `first` (the subscriptions) is sent as soon as the handshake completes, then `on_open`
    is called, before any message of the venue is handled. `on_message` gets every message
    (text or binary, reassembled) and may return messages to send back: the listener sends
    them and empties the list. `on_read_end`, if given, is called once the frames of one
    read of the socket have all been handled (picows marks the last of them), so a caller
    can hand on what the read made without waiting for another turn of the loop.

    Protocol pings are sent when the venue has been quiet for `ping_interval` seconds; no
    pong within as long again drops the connection. Raises OSError (a connection closed
    during the handshake: ConnectionError), TimeoutError, WSError, or SessionClosed for
    anything else picows raises.

    `logger` gets picows's own lines; a LoggerAdapter (one per venue, say) is used as it
    is, where a Logger would get a child per connection, named after its socket.
    """
    context = _tls_context() if url.startswith("wss:") else None
    opening = Opening()
    try:
        async with asyncio.timeout(open_timeout):
            transport, listener = await ws_connect(
                lambda: Listener(on_message, first, on_open, max_size, on_read_end, opening),
                url,
                ssl_context=context,
                websocket_handshake_timeout=open_timeout,
                enable_auto_ping=bool(ping_interval),
                auto_ping_idle_timeout=ping_interval or 20.0,
                auto_ping_reply_timeout=ping_interval or 20.0,
                max_frame_size=max_size,
                logger_name=logger or "stream",
                read_buffer_init_size=READ_BUFFER,
            )
    except (OSError, TimeoutError, WSError):
        opening.give_up()
        raise
    except Exception as e:
        opening.give_up()
        raise SessionClosed(f"WebSocket client error: {type(e).__name__}: {e}"[:200]) from e
    except BaseException:  # cancelled: the same
        opening.give_up()
        raise
    opening.transport = None  # (open: the opening is over, and holds the session no more)
    if not isinstance(listener, Listener):  # picows returns no listener when the
        # connection ended before the venue's answer was complete (EOF or a reset)
        if transport is not None:
            transport.disconnect(graceful=False)
        raise ConnectionError("connection closed during the opening handshake")
    return WebSocket(transport, listener)
